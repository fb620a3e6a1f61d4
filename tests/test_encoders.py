"""Encoders on the tiny models: vectors, token accounting, batching, long documents, loading errors."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from pokembed.embedding.encoders import (
    ImageEncoder,
    TextEncoder,
    load_image_encoder,
    load_query_encoder,
    load_text_encoder,
    resolve_device,
)
from pokembed.errors import BadInputError, ModelLoadError
from pokembed.embedding.registry import get_model_spec

DOCS = [
    '{"id":25,"name":"pikachu","types":[{"type":{"name":"electric"}}]}',
    "a",
    '{"id":1,"name":"bulbasaur","moves":' + json.dumps([{"move": {"name": f"tackle-{i}"}} for i in range(30)]) + "}",
    '{"id":4,"name":"charmander"}',
    "fire " * 40,
]


@pytest.fixture(scope="module")
def text_spec(tiny_models):
    return get_model_spec(str(tiny_models / "text"), "text")


@pytest.fixture(scope="module")
def text_encoder(text_spec) -> TextEncoder:
    return load_text_encoder(text_spec, device="cpu", progress=False)


@pytest.fixture(scope="module")
def image_encoder(tiny_models) -> ImageEncoder:
    return load_image_encoder(str(tiny_models / "image"), device="cpu", progress=False)


def _unit(vectors: np.ndarray) -> bool:
    return np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_documents_give_float32_unit_vectors_with_token_counts(text_encoder, tiny_models):
    from transformers import AutoTokenizer

    result = text_encoder.embed_documents(DOCS)
    assert result.vectors.shape == (len(DOCS), 32) and result.vectors.dtype == np.float32
    assert _unit(result.vectors)
    assert result.tokens.dtype == np.int32 and result.truncated.dtype == bool
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_models / "text"))
    expected = [len(tokenizer("search_document: " + doc)["input_ids"]) for doc in DOCS]
    assert result.tokens.tolist() == expected
    assert text_encoder.count_tokens(DOCS).tolist() == expected
    assert not result.truncated.any()  # max_tokens 8192


def test_truncation_is_recorded_and_keeps_the_head(text_spec):
    encoder = load_text_encoder(dataclasses.replace(text_spec, max_tokens=24), device="cpu", progress=False)
    long, longer = "fire " * 40, "fire " * 40 + "water grass"
    result = encoder.embed_documents([long, "a", longer])
    assert result.truncated.tolist() == [True, False, True]
    assert result.tokens[0] > 24 and result.tokens[2] > result.tokens[0]
    assert np.array_equal(result.vectors[0], result.vectors[2])  # both cut to the same first 23 tokens + [SEP]
    assert encoder._truncate(encoder._tokenize([long], "search_document: ")[0])[-1] == encoder.tokenizer.sep_token_id


def test_batching_matches_one_at_a_time_and_keeps_order(text_spec, text_encoder):
    together = text_encoder.embed_documents(DOCS).vectors
    alone = np.stack([text_encoder.embed_documents([doc]).vectors[0] for doc in DOCS])
    assert np.allclose(together, alone, atol=1e-6)
    small = load_text_encoder(text_spec, device="cpu", token_budget=64, progress=False)  # many small batches
    assert np.allclose(small.embed_documents(DOCS).vectors, together, atol=1e-6)
    padded = load_text_encoder(text_spec, device="cpu", progress=False)
    padded.max_padded_length = None  # the CUDA plan: every row in one padded, masked batch
    assert len(padded._plan([len(row) for row in padded._tokenize(DOCS, "")])) == 1
    assert np.allclose(padded.embed_documents(DOCS).vectors, together, atol=1e-6)
    reversed_vectors = text_encoder.embed_documents(DOCS[::-1]).vectors
    assert np.allclose(reversed_vectors[::-1], together, atol=1e-6)


def test_batches_respect_the_token_budget(text_spec):
    encoder = load_text_encoder(text_spec, device="cpu", token_budget=100, progress=False)
    lengths = [50, 10, 30, 50, 20, 120, 5]
    plan = encoder._plan(lengths)
    assert sorted(i for batch in plan for i in batch) == list(range(len(lengths)))
    assert plan[0] == [5]  # longest first; alone, though over budget
    for batch in plan:
        assert max(lengths[i] for i in batch) * len(batch) <= 100 or len(batch) == 1
    assert encoder._plan([300, 300, 257, 200, 100, 30]) == [[0], [1], [2], [3], [4], [5]]  # budget 100 per batch
    roomy = load_text_encoder(text_spec, device="cpu", token_budget=4096, progress=False)
    assert roomy.max_padded_length == 256  # CPU: longer rows run alone, unmasked
    assert roomy._plan([300, 300, 257, 200, 100, 30]) == [[0], [1], [2], [3, 4, 5]]


def test_dynamic_ntk_rope_matches_transformers_and_ignores_batch_mates(text_spec, tiny_models):
    """With trained positions cut to 16, every document here uses the scaled RoPE path."""
    import torch
    from transformers import AutoConfig, AutoModel

    spec = dataclasses.replace(text_spec, trained_positions=16, layer_norm=False)
    encoder = load_text_encoder(spec, device="cpu", progress=False)
    docs = ["fire " * n for n in (3, 12, 40, 25)]
    batched = encoder.embed_documents(docs).vectors
    config = AutoConfig.from_pretrained(str(tiny_models / "text"))
    config.max_position_embeddings = 16
    for doc, vector in zip(docs, batched):
        model = AutoModel.from_pretrained(str(tiny_models / "text"), config=config).eval()  # fresh rotary cache
        ids = torch.tensor(encoder._tokenize([doc], spec.document_prompt)[0])[None]
        with torch.no_grad():
            reference = torch.nn.functional.normalize(model(ids).last_hidden_state.mean(dim=1), dim=1)[0].numpy()
        assert np.allclose(vector, reference, atol=1e-6)
    # the scaling is really applied: a 40-token row gets other frequencies than a 12-token row at the same position
    positions = torch.arange(40)[None].repeat(2, 1)
    positions[1, 12:] = 0  # the second row is 12 tokens long, the rest padding
    cos, _ = encoder.model.rotary_emb(torch.zeros(1, dtype=torch.float32), positions)
    assert not torch.allclose(cos[0, :12], cos[1, :12])
    base_cos = torch.cos(torch.arange(12)[:, None] * (1.0 / 1000.0 ** (torch.arange(0, 16, 2).float() / 16)))
    assert torch.allclose(cos[1, :12], torch.cat([base_cos, base_cos], dim=-1), atol=1e-6)


def test_chunk_differs_from_truncate_only_for_long_documents(text_spec):
    encoder = load_text_encoder(dataclasses.replace(text_spec, max_tokens=24), device="cpu", progress=False)
    docs = ["fire " * 40, "a", '{"id":4}', "water " * 60]
    truncate = encoder.embed_documents(docs, long_documents="truncate")
    chunk = encoder.embed_documents(docs, long_documents="chunk")
    assert np.array_equal(truncate.tokens, chunk.tokens) and np.array_equal(truncate.truncated, chunk.truncated)
    assert _unit(chunk.vectors)
    short = ~truncate.truncated
    assert np.allclose(truncate.vectors[short], chunk.vectors[short], atol=1e-6)
    for row in np.flatnonzero(truncate.truncated):
        assert not np.allclose(truncate.vectors[row], chunk.vectors[row], atol=1e-3)


def test_chunk_windows_are_complete_inputs_covering_the_document(text_spec):
    encoder = load_text_encoder(dataclasses.replace(text_spec, max_tokens=24), device="cpu", progress=False)
    tokenizer = encoder.tokenizer
    prompt = tokenizer("search_document: ", add_special_tokens=False)["input_ids"]
    body = tokenizer("water " * 60, add_special_tokens=False)["input_ids"]
    windows = encoder._windows("water " * 60, "search_document: ")
    assert all(len(w) <= 24 for w in windows)
    for window in windows:
        assert window[0] == tokenizer.cls_token_id and window[-1] == tokenizer.sep_token_id
        assert window[1 : 1 + len(prompt)].tolist() == prompt
    assert [t for w in windows for t in w[1 + len(prompt) : -1].tolist()] == body


def test_chunk_vector_is_the_token_weighted_mean_of_its_windows(text_spec):
    encoder = load_text_encoder(dataclasses.replace(text_spec, max_tokens=24), device="cpu", progress=False)
    doc = "water " * 50
    windows = encoder._windows(doc, "search_document: ")
    window_vectors = encoder._embed_segments(windows, what="test")
    weights = np.array([len(w) for w in windows], dtype=np.float64)
    mean = (window_vectors * weights[:, None]).sum(axis=0) / weights.sum()
    expected = mean / np.linalg.norm(mean)
    assert np.allclose(encoder.embed_documents([doc], long_documents="chunk").vectors[0], expected, atol=1e-6)


def test_unknown_long_documents_mode(text_encoder):
    with pytest.raises(BadInputError, match=r"unknown long_documents mode 'split'; use 'truncate' or 'chunk'"):
        text_encoder.embed_documents(DOCS, long_documents="split")


def test_queries_use_the_query_prompt(text_encoder):
    queries = text_encoder.embed_queries(["fire", "water"])
    assert queries.shape == (2, 32) and queries.dtype == np.float32 and _unit(queries)
    assert not np.allclose(queries[0], text_encoder.embed_documents(["fire"]).vectors[0], atol=1e-4)


def test_empty_and_malformed_text_input(text_encoder):
    empty = text_encoder.embed_documents([])
    assert empty.vectors.shape == (0, 32) and empty.tokens.shape == (0,) and empty.truncated.shape == (0,)
    assert text_encoder.embed_queries([]).shape == (0, 32)
    with pytest.raises(BadInputError, match=r"not one string; wrap it in a list"):
        text_encoder.embed_documents("fire")
    with pytest.raises(BadInputError, match=r"text 1 is a int, not a str"):
        text_encoder.embed_documents(["fire", 3])


def test_cpu_vectors_are_deterministic(text_spec, tiny_models):
    first = load_text_encoder(text_spec, device="cpu", progress=False).embed_documents(DOCS).vectors
    second = load_text_encoder(str(tiny_models / "text"), device="cpu", progress=True).embed_documents(DOCS).vectors
    assert np.array_equal(first, second)


def test_images_give_unit_vectors_in_order(image_encoder, tiny_models):
    from PIL import Image

    images = [Image.new("RGB", (224, 224), (255, 0, 0)), Image.new("RGBA", (224, 224), (0, 0, 255, 128)),
              Image.new("RGB", (96, 96), (0, 200, 0))]
    vectors = image_encoder.embed_images(images)
    assert vectors.shape == (3, 32) and vectors.dtype == np.float32 and _unit(vectors)
    one_by_one = load_image_encoder(str(tiny_models / "image"), device="cpu", batch_size=1, progress=False)
    assert np.allclose(one_by_one.embed_images(images), vectors, atol=1e-6)
    assert np.array_equal(image_encoder.embed_images(images[::-1])[::-1], vectors) or np.allclose(
        image_encoder.embed_images(images[::-1])[::-1], vectors, atol=1e-6
    )
    assert image_encoder.embed_images([]).shape == (0, 32)
    with pytest.raises(BadInputError, match=r"image 0 is a bytes, not a PIL image"):
        image_encoder.embed_images([b"png"])


def test_query_encoder_of_the_tiny_image_model_is_the_tiny_text_model(tiny_models, text_encoder):
    query = load_query_encoder(str(tiny_models / "image"), device="cpu")
    assert query.spec.model_id == str((tiny_models / "text").resolve())
    assert np.array_equal(query.embed_queries(["electric mouse"]), text_encoder.embed_queries(["electric mouse"]))


@pytest.mark.cuda
def test_device_errors():
    import torch

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(BadInputError, match=r"unknown device 'tpu'; use auto, cpu or cuda"):
        resolve_device("tpu")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(BadInputError, match=r"`device` cuda was asked for but CUDA is not available .*; use `device` cpu"):
        load_text_encoder("nomic-embed-text-v1.5", device="cuda")


def test_a_model_folder_that_fails_to_load(tmp_path, tiny_models):
    text = tmp_path / "text"
    shutil.copytree(tiny_models / "text", text)
    (text / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError, match=r"^could not load text model .*text \(.+\); use `text_model` nomic-embed-text-v1\.5"):
        load_text_encoder(str(text), device="cpu")
    image = tmp_path / "image"
    shutil.copytree(tiny_models / "image", image)
    (image / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"^could not load image model .*image \(.+\); use `image_model` siglip2-base-patch16-224"):
        load_image_encoder(str(image), device="cpu")


def test_a_checkpoint_missing_weights_is_refused(tmp_path, tiny_models):
    from safetensors.torch import load_file, save_file

    text = tmp_path / "text"
    shutil.copytree(tiny_models / "text", text)
    weights = load_file(text / "model.safetensors")
    weights.pop(next(key for key in weights if "layers.1" in key))
    save_file(weights, text / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match=r"weights missing from the checkpoint: layers\.1\."):
        load_text_encoder(str(text), device="cpu")


def test_contrastors_config_with_unmapped_shape_is_refused(tmp_path, tiny_models):
    text = tmp_path / "text"
    shutil.copytree(tiny_models / "text", text)
    config = json.loads((text / "config.json").read_text())
    config.update({"n_embd": 768, "n_layer": 2})
    (text / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=r"contrastors config has n_embd=768 but the native NomicBertConfig reads hidden_size=32"):
        load_text_encoder(str(text), device="cpu")


def test_wrong_kind_spec_is_refused(text_spec, tiny_models):
    with pytest.raises(BadInputError, match=r"is a text model, not an image model; pass it as `text_model`"):
        load_image_encoder(text_spec, device="cpu")
    with pytest.raises(BadInputError, match=r"is an image model, not a text model"):
        load_text_encoder(str(tiny_models / "image"), device="cpu")


def test_real_tokenizer_counts_on_a_real_record(tmp_path, shared_dir):
    """Tiny weights, bert-base-uncased (nomic's tokenizer): token counts as the real model would see them."""
    from transformers import AutoTokenizer

    from pokembed.embedding.tiny_models import write_tiny_models

    tokenizer_dir = shared_dir / "tokenizers" / "bert-base-uncased"
    record = json.loads((shared_dir / "pokeapi" / "pikachu_graphql_v1beta_2024.json").read_text())
    document = json.dumps(record, separators=(",", ":"))
    models = write_tiny_models(tmp_path, tokenizer=tokenizer_dir)
    encoder = load_text_encoder(str(models.text), device="cpu", progress=False)
    tokens = int(encoder.count_tokens([document])[0])
    real = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    assert tokens == len(real("search_document: " + document)["input_ids"])
    assert tokens > 4096  # a full record is thousands of WordPiece tokens
    short = load_text_encoder(dataclasses.replace(encoder.spec, max_tokens=2048), device="cpu", progress=False)
    result = short.embed_documents([document], long_documents="chunk")
    assert result.truncated.tolist() == [True] and result.tokens.tolist() == [tokens] and _unit(result.vectors)


def test_pooling_selects_the_forward_pass(tmp_path, tiny_models, text_encoder):
    """A sidecar's pooling picks the forward pass: "cls" reads token 0, not the mean; an impossible one is refused."""
    import torch
    import torch.nn.functional as F

    text = tmp_path / "text"
    shutil.copytree(tiny_models / "text", text)
    sidecar = json.loads((text / "pokembed.json").read_text())
    (text / "pokembed.json").write_text(json.dumps({**sidecar, "pooling": "cls"}))
    cls = load_text_encoder(str(text), device="cpu", progress=False)
    assert cls.spec.pooling == "cls"
    got = cls.embed_documents(DOCS[:2]).vectors
    with torch.inference_mode():
        inputs = cls._collate([cls._tokenize([DOCS[0]], cls.spec.document_prompt)[0]])
        first = cls.model(**inputs).last_hidden_state[:, 0].float()
        if cls.spec.layer_norm:
            first = F.layer_norm(first, first.shape[-1:])
        expected = F.normalize(first[:, : cls.spec.dimension], dim=1).numpy()
    np.testing.assert_allclose(got[0], expected[0], atol=1e-5)
    assert not np.allclose(got, text_encoder.embed_documents(DOCS[:2]).vectors, atol=1e-3)

    (text / "pokembed.json").write_text(json.dumps({**sidecar, "pooling": "pooler"}))
    with pytest.raises(BadInputError, match=r"has pooling 'pooler'; it gives 'mean' or 'cls'"):
        load_text_encoder(str(text), device="cpu")


def test_one_answer_for_which_model_embeds_queries(tiny_models):
    """models.query_model_spec: the named text model, or (SigLIP) the image model's own text tower."""
    import dataclasses as dc

    from pokembed.embedding.registry import query_model_spec

    image = get_model_spec(str(tiny_models / "image"), "image")
    assert query_model_spec(image) == get_model_spec(str((tiny_models / "text").resolve()), "text")
    assert query_model_spec(dc.replace(image, query_model=None)) is None
    siglip = get_model_spec("siglip2-base-patch16-224", "image")
    assert query_model_spec(siglip) is siglip
    assert query_model_spec(get_model_spec("nomic-embed-vision-v1.5", "image")).name == "nomic-embed-text-v1.5"
