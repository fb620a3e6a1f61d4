"""nomic's models against nomic's own vectors (../shared/nomic-reference), loaded as the registry loads them.

The reference folders are tiny random-weight checkpoints in the Hub repos' layout with the vectors nomic's own code
gives (see their README). They are put into a Hugging Face cache under the registry models' pinned revisions, so the
spec that applies is the registry's (prompts, layer norm, 8,192-token RoPE scaling, the selector's vector), only the
dimension is the tiny model's 64. Then the refusals: a config asking for what the module does not implement, and
checkpoints with missing, extra or misshapen tensors, each one line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

from pokembed.embedding.encoders import load_image_encoder, load_text_encoder
from pokembed.errors import ModelLoadError
from pokembed.embedding.registry import MODELS, get_model_spec

TINY_DIMENSION = 64
COSINE_FLOOR = 0.9999
# Without the layer norm before normalisation the text vectors still reach cosine 0.99991 with these, so every
# check also bounds each component (expected.json has 7 decimals; with the layer norm the worst is ~1e-7).
MAX_ABS = 1e-4


@pytest.fixture(scope="module")
def reference(shared_dir) -> Path:
    folder = shared_dir / "nomic-reference"
    for name in ("nomic-embed-text-tiny", "nomic-embed-vision-tiny"):
        if not (folder / name / "expected.json").is_file():
            pytest.skip(f"nomic's golden vectors absent: {folder / name / 'expected.json'} not found")
    return folder


def snapshot_dir(hf_home: Path, key: str) -> Path:
    """Where the Hugging Face cache under ``hf_home`` keeps registry model ``key`` at its pinned revision."""
    spec = MODELS[key]
    return hf_home / "hub" / f"models--{spec.model_id.replace('/', '--')}" / "snapshots" / spec.revision


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory, reference) -> Path:
    """HF_HOME whose cache holds the tiny nomic checkpoints as the registry's pinned nomic snapshots."""
    home = tmp_path_factory.mktemp("hf-home")
    for key, tiny in (("nomic-embed-text-v1.5", "nomic-embed-text-tiny"), ("nomic-embed-vision-v1.5", "nomic-embed-vision-tiny")):
        snapshot = snapshot_dir(home, key)
        snapshot.mkdir(parents=True)
        for path in (reference / tiny).iterdir():
            if path.name != "expected.json":
                shutil.copyfile(path, snapshot / path.name)  # plain copies: the shared files are read-only
        (snapshot.parents[1] / "refs").mkdir()
        (snapshot.parents[1] / "refs" / "main").write_text(snapshot.name)
    return home


def unit(vectors) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def cosines(vectors: np.ndarray, expected: list[list[float]]) -> np.ndarray:
    """Cosine similarities, both sides normalised (so a vector's own length cannot help or hide)."""
    return (unit(vectors) * unit(expected)).sum(axis=1)


def assert_reproduces(vectors: np.ndarray, expected: list[list[float]], what: str) -> None:
    """Our vectors are unit length, point where nomic's do, and agree component by component."""
    np.testing.assert_allclose(np.linalg.norm(vectors.astype(np.float64), axis=1), 1.0, atol=1e-5, err_msg=what)
    assert cosines(vectors, expected).min() >= COSINE_FLOOR, what
    assert np.abs(vectors - unit(expected)).max() <= MAX_ABS, what


def tiny(spec):
    return dataclasses.replace(spec, dimension=TINY_DIMENSION)


# --- golden vectors ------------------------------------------------------------------------------------------------


def test_vision_reproduces_nomics_vectors(hf_home, reference):
    from PIL import Image

    folder = reference / "nomic-embed-vision-tiny"
    expected = json.loads((folder / "expected.json").read_text())
    spec = get_model_spec(str(snapshot_dir(hf_home, "nomic-embed-vision-v1.5")), "image")
    assert (spec.name, spec.architecture, spec.revision) == ("nomic-embed-vision-v1.5", "nomic_vision", MODELS[spec.name].revision)
    encoder = load_image_encoder(tiny(spec), device="cpu", progress=False)
    images = [Image.open(folder / name).convert("RGB") for name in expected["images"]]
    pixels = encoder.processor(images=images, return_tensors="pt")["pixel_values"]
    assert np.allclose(pixels.sum(dim=(1, 2, 3)).numpy(), expected["pixel_values_sum"], rtol=1e-6)
    vectors = encoder.embed_images(images)
    assert_reproduces(vectors, expected["vectors"], "images")
    # the published vector is the selector's: the encoder's own CLS token is measurably another vector
    import torch

    with torch.inference_mode():
        cls = torch.nn.functional.normalize(encoder.model(pixels).encoder_hidden_state[:, 0], dim=1).numpy()
    assert cosines(cls, expected["vectors"]).max() < COSINE_FLOOR


@pytest.fixture(scope="module")
def reference_documents(shared_dir, reference) -> list[str]:
    """The documents nomic's vectors were made from: pokembed's CSV source and document text for ids 10322, 25, 794."""
    from pokembed.sources.documents import document_text
    from pokembed.sources.choice import load_records

    expected = json.loads((reference / "nomic-embed-text-tiny" / "expected.json").read_text())
    records = {record["id"]: record for record in load_records(f"csv:{shared_dir / 'pokeapi' / 'csv'}", progress=False)}
    return [document_text(records[pokemon_id]) for pokemon_id in expected["documents"]["pokemon_ids"]]


def test_text_reproduces_nomics_vectors_with_layer_norm_and_rope_scaling(hf_home, reference, reference_documents):
    expected = json.loads((reference / "nomic-embed-text-tiny" / "expected.json").read_text())
    spec = get_model_spec(str(snapshot_dir(hf_home, "nomic-embed-text-v1.5")), "text")
    assert (spec.name, spec.layer_norm, spec.rope_scaling_factor, spec.max_tokens) == ("nomic-embed-text-v1.5", True, 2.0, 8192)
    encoder = load_text_encoder(tiny(spec), device="cpu", progress=False)
    documents = encoder.embed_documents(reference_documents)
    assert documents.tokens.tolist() == expected["documents"]["tokens"]  # 595, 7,642, 2,900: two past 2,048
    assert not documents.truncated.any()
    queries = encoder.embed_queries(expected["queries"]["texts"])
    for vectors, part in ((documents.vectors, "documents"), (queries, "queries")):
        assert_reproduces(vectors, expected[part]["vectors"], part)


def test_registry_names_load_offline_from_the_hugging_face_cache(hf_home, reference):
    """HF_HUB_OFFLINE=1, the pinned snapshots in the cache: both nomic models load by registry name (a fresh process,
    so huggingface_hub reads the environment as a user's run does)."""
    vision = reference / "nomic-embed-vision-tiny"
    expected_images = json.loads((vision / "expected.json").read_text())
    expected_text = json.loads((reference / "nomic-embed-text-tiny" / "expected.json").read_text())
    script = (
        "import dataclasses, json, sys\n"
        "from PIL import Image\n"
        "from pokembed.embedding.encoders import load_image_encoder, load_text_encoder\n"
        "from pokembed.embedding.registry import get_model_spec\n"
        "image = get_model_spec('nomic-embed-vision-v1.5', 'image')\n"
        "text = get_model_spec('nomic-embed-text-v1.5', 'text')\n"
        "assert image.snapshot is None and text.snapshot is None\n"
        f"encoder = load_image_encoder(dataclasses.replace(image, dimension={TINY_DIMENSION}), device='cpu', progress=False)\n"
        "images = encoder.embed_images([Image.open(p) for p in json.loads(sys.argv[1])])\n"
        f"query = load_text_encoder(dataclasses.replace(text, dimension={TINY_DIMENSION}), device='cpu', progress=False)\n"
        "queries = query.embed_queries(json.loads(sys.argv[2]))\n"
        "print(json.dumps({'images': images.tolist(), 'queries': queries.tolist()}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.update({"HF_HUB_OFFLINE": "1", "HF_HOME": str(hf_home), "PYTHONPATH": str(ROOT)})
    paths = json.dumps([str(vision / name) for name in expected_images["images"]])
    run = subprocess.run([sys.executable, "-c", script, paths, json.dumps(expected_text["queries"]["texts"])],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert_reproduces(np.asarray(out["images"]), expected_images["vectors"], "images")
    assert_reproduces(np.asarray(out["queries"]), expected_text["queries"]["vectors"], "queries")


@pytest.mark.cuda
@pytest.mark.skipif("not __import__('torch').cuda.is_available()", reason="needs CUDA (the bf16 path)")
def test_cuda_bf16_stays_close_to_nomics_vectors(hf_home, reference):
    from PIL import Image

    folder = reference / "nomic-embed-vision-tiny"
    expected = json.loads((folder / "expected.json").read_text())
    spec = get_model_spec(str(snapshot_dir(hf_home, "nomic-embed-vision-v1.5")), "image")
    encoder = load_image_encoder(tiny(spec), device="cuda", progress=False)
    assert str(encoder.dtype) == "torch.bfloat16"
    vectors = encoder.embed_images([Image.open(folder / name) for name in expected["images"]])
    assert cosines(vectors, expected["vectors"]).min() >= 0.995


# --- loading: every tensor, and one line for what is not implemented ------------------------------------------------


def test_the_tiny_image_model_loads_every_tensor_of_its_checkpoint(tiny_models):
    from safetensors.torch import load_file

    config = json.loads((tiny_models / "image" / "config.json").read_text())
    assert config["architectures"] == ["NomicVisionModel"] and config["n_embd"] == 32 and config["patch_size"] == 16
    encoder = load_image_encoder(str(tiny_models / "image"), device="cpu", progress=False)
    stored = load_file(str(tiny_models / "image" / "model.safetensors"))
    loaded = encoder.model.state_dict()
    assert set(loaded) == set(stored)
    assert {"embeddings.proj.weight", "layers.1.attn.Wqkv.weight", "layers.0.mlp.norm.weight", "selector.attn.latent",
            "selector.mlp.fc12.bias"} <= set(stored)
    for name, tensor in stored.items():
        assert np.array_equal(loaded[name].numpy(), tensor.numpy()), name


def _copy_image_model(tiny_models: Path, folder: Path, **config_changes) -> Path:
    shutil.copytree(tiny_models / "image", folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(config_changes)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _refused(folder: Path, pattern: str) -> str:
    with pytest.raises(ModelLoadError, match=pattern) as info:
        load_image_encoder(str(folder), device="cpu", progress=False)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"could not load image model {folder} (")
    return message


@pytest.mark.parametrize(
    "key, value",
    [
        ("register_tokens", 4),
        ("no_cls_token", True),
        ("global_pool", "avg"),
        ("layer_scale", True),
        ("prenorm", False),
        ("no_last_ln", False),
        ("use_rms_norm", True),
        ("activation_function", "gelu"),
        ("rotary_emb_fraction", 0.5),
        ("sinusoidal_pos_embedding", True),
        ("rotary_emb_base", 500),
    ],
)
def test_a_config_asking_for_what_is_not_implemented_is_refused(tmp_path, tiny_models, key, value):
    folder = _copy_image_model(tiny_models, tmp_path / "image", **{key: value})
    _refused(folder, rf"\(config\.json {key}={json.dumps(value)} .*only nomic's NomicVisionModel as published")


def test_another_image_size_is_refused(tmp_path, tiny_models):
    folder = _copy_image_model(tiny_models, tmp_path / "image", img_size=448)
    _refused(folder, r"config\.json img_size=448 but its image processor gives 224x224 images")


def test_a_checkpoint_with_a_missing_extra_or_misshapen_tensor_is_refused(tmp_path, tiny_models):
    from safetensors.torch import load_file, save_file

    weights = load_file(str(tiny_models / "image" / "model.safetensors"))
    missing = _copy_image_model(tiny_models, tmp_path / "missing")
    save_file({k: v for k, v in weights.items() if k != "selector.norm1.weight"}, str(missing / "model.safetensors"))
    _refused(missing, r"\(tensors missing from the checkpoint: selector\.norm1\.weight\); use `image_model` siglip2")
    extra = _copy_image_model(tiny_models, tmp_path / "extra")
    save_file({**weights, "embeddings.reg_token": weights["embeddings.cls_token"].clone()}, str(extra / "model.safetensors"))
    _refused(extra, r"tensors in the checkpoint that nomic's vision model does not have: embeddings\.reg_token\)")
    wider = _copy_image_model(tiny_models, tmp_path / "wider", n_inner=512)
    _refused(wider, r"tensor shapes disagree with config\.json .*: layers\.0\.mlp\.fc11\.weight \(256, 32\) \(config\.json says \(512, 32\)\)")
