"""The model registry, local model folders and the tiny models."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from pokembed.errors import BadInputError, UnknownModelError
from pokembed.embedding.registry import (
    ALIASES,
    DEFAULT_IMAGE_MODEL,
    DEFAULT_TEXT_MODEL,
    MODELS,
    get_model_spec,
)
from pokembed.embedding.tiny_models import main as tiny_main
from pokembed.embedding.tiny_models import tiny_vocab, write_tiny_models


def _is_commit(revision: str | None) -> bool:
    return revision is not None and len(revision) == 40 and all(c in "0123456789abcdef" for c in revision)


def test_registry_names_the_three_models_with_pinned_revisions():
    assert set(MODELS) == {"nomic-embed-text-v1.5", "nomic-embed-vision-v1.5", "siglip2-base-patch16-224"}
    assert DEFAULT_TEXT_MODEL == "nomic-embed-text-v1.5" and DEFAULT_IMAGE_MODEL == "nomic-embed-vision-v1.5"
    for spec in MODELS.values():
        assert _is_commit(spec.revision), spec.name


def test_nomic_text_spec_follows_the_model_card():
    spec = get_model_spec("nomic-embed-text-v1.5", "text")
    assert (spec.model_id, spec.kind, spec.architecture, spec.pooling) == ("nomic-ai/nomic-embed-text-v1.5", "text", "nomic_bert", "mean")
    assert (spec.document_prompt, spec.query_prompt) == ("search_document: ", "search_query: ")
    assert (spec.dimension, spec.max_tokens, spec.layer_norm) == (768, 8192, True)
    assert (spec.rope_scaling_factor, spec.trained_positions) == (2.0, 2048)


def test_image_specs_name_their_query_models():
    nomic = get_model_spec("nomic-embed-vision-v1.5", "image")
    assert (nomic.model_id, nomic.architecture, nomic.revision) == (
        "nomic-ai/nomic-embed-vision-v1.5", "nomic_vision", "af2246fffdab78d8458418480e4886a8e48b70a7")
    assert nomic.query_model == "nomic-embed-text-v1.5" and nomic.pooling == "cls" and nomic.snapshot is None
    assert get_model_spec(nomic.query_model, "text").query_prompt == "search_query: "
    siglip = get_model_spec("siglip2-base-patch16-224", "image")
    assert siglip.query_model == "siglip2-base-patch16-224"
    assert (siglip.architecture, siglip.pooling, siglip.max_tokens) == ("siglip", "pooler", 64)


def test_hub_ids_are_aliases():
    for hub_id, key in ALIASES.items():
        assert get_model_spec(hub_id, MODELS[key].kind) is MODELS[key]
    assert get_model_spec("google/siglip2-base-patch16-224", "image").name == "siglip2-base-patch16-224"


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(UnknownModelError, match=r"^unknown text model 'nope'; known: nomic-embed-text-v1\.5, or a local folder$"):
        get_model_spec("nope", "text")
    with pytest.raises(UnknownModelError, match=r"known: nomic-embed-vision-v1\.5, siglip2-base-patch16-224, or a local folder"):
        get_model_spec("org/other-model", "image")


def test_wrong_kind_and_unknown_kind_are_bad_input():
    with pytest.raises(BadInputError, match=r"'siglip2-base-patch16-224' is an image model, not a text model; pass it as `image_model`"):
        get_model_spec("siglip2-base-patch16-224", "text")
    with pytest.raises(BadInputError, match=r"is a text model, not an image model; pass it as `text_model`"):
        get_model_spec("nomic-ai/nomic-embed-text-v1.5", "image")
    with pytest.raises(BadInputError, match=r"unknown model kind 'audio'"):
        get_model_spec("nomic-embed-text-v1.5", "audio")


def test_tiny_model_folders_resolve_to_specs(tiny_models):
    text = get_model_spec(str(tiny_models / "text"), "text")
    assert text.name == str(tiny_models / "text") and text.model_id == str((tiny_models / "text").resolve())
    assert (text.kind, text.architecture, text.pooling, text.revision) == ("text", "nomic_bert", "mean", None)
    assert (text.dimension, text.max_tokens, text.layer_norm) == (32, 8192, True)
    assert (text.document_prompt, text.query_prompt) == ("search_document: ", "search_query: ")
    assert (text.rope_scaling_factor, text.trained_positions) == (2.0, 2048)
    image = get_model_spec(str(tiny_models / "image"), "image")
    assert (image.kind, image.architecture, image.pooling, image.dimension) == ("image", "nomic_vision", "cls", 32)
    assert image.query_model == str((tiny_models / "text").resolve())  # stored relative, resolved at load


def test_a_folder_of_the_wrong_kind_is_refused(tiny_models):
    with pytest.raises(BadInputError, match=r"is an image model, not a text model; pass it as `image_model`"):
        get_model_spec(str(tiny_models / "image"), "text")
    with pytest.raises(BadInputError, match=r"is a text model, not an image model; pass it as `text_model`"):
        get_model_spec(str(tiny_models / "text"), "image")


def test_folders_that_are_not_usable_models(tmp_path, tiny_models):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInputError, match=r"is not a model folder \(no config.json\)"):
        get_model_spec(str(empty), "text")
    other = tmp_path / "gpt"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(BadInputError, match=r"holds a 'gpt2' model; supported model types: nomic_bert \(text\)"):
        get_model_spec(str(other), "text")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_models / "text", broken)
    (broken / "pokembed.json").write_text("{not json")
    with pytest.raises(BadInputError, match=r"pokembed sidecar .* is not readable JSON"):
        get_model_spec(str(broken), "text")


def test_tiny_models_cli_is_deterministic(tmp_path, capsys):
    assert tiny_main([str(tmp_path / "a")]) == 0
    assert "text model:" in capsys.readouterr().out
    write_tiny_models(tmp_path / "b")
    for part in ("text", "image"):
        for name in ("model.safetensors", "config.json", "pokembed.json"):
            assert (tmp_path / "a" / part / name).read_bytes() == (tmp_path / "b" / part / name).read_bytes()
    assert (tmp_path / "a" / "text" / "tokenizer.json").is_file()
    assert (tmp_path / "a" / "image" / "preprocessor_config.json").is_file()


def test_tiny_vocab_is_a_valid_wordpiece_vocabulary():
    vocab = tiny_vocab()
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert len(vocab) == len(set(vocab))
    assert {"{", '"', ":", "a", "##a", "pokemon", "search"} <= set(vocab)


def test_tiny_model_with_the_real_tokenizer(tmp_path, shared_dir):
    tokenizer = shared_dir / "tokenizers" / "bert-base-uncased"
    if not (tokenizer / "tokenizer.json").is_file():
        pytest.skip(f"{tokenizer} absent")
    models = write_tiny_models(tmp_path, tokenizer=tokenizer)
    config = json.loads((models.text / "config.json").read_text())
    assert config["vocab_size"] == 30528  # 30522 padded to a multiple of 64, like nomic-embed-text-v1.5


def test_bad_tokenizer_folder_is_one_clear_error(tmp_path, capsys):
    assert tiny_main([str(tmp_path / "m"), "--tokenizer", str(tmp_path / "absent")]) == 1
    assert "Error: tokenizer folder" in capsys.readouterr().err


# --- local folders holding a registry model's files -------------------------------------------------------------------

CONTRASTORS_TEXT = {"model_type": "nomic_bert", "architectures": ["NomicBertModel"], "n_embd": 64, "n_layer": 2,
                    "rotary_emb_base": 1000, "max_trained_positions": 2048, "rotary_scaling_factor": None}


def _contrastors_folder(folder):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(CONTRASTORS_TEXT))
    return folder


def test_a_plain_copy_of_nomics_text_model_is_refused_with_what_to_pass(tmp_path):
    """Loaded from config.json alone it would lose the registry's layer norm and 8,192-token RoPE scaling."""
    folder = _contrastors_folder(tmp_path / "nomic-embed-text-v1.5")
    with pytest.raises(BadInputError, match=r"holds a nomic contrastors text model .* would lose nomic-embed-text-v1\.5's "
                       r"layer norm and 8,192-token RoPE scaling; pass `text_model` nomic-embed-text-v1\.5 .*"
                       r"models--nomic-ai--nomic-embed-text-v1\.5/snapshots/e9b6763023c676ca8431644204f50c2b100d9aab.*"
                       r'"registry_model": "nomic-embed-text-v1\.5"') as info:
        get_model_spec(str(folder), "text")
    assert "\n" not in str(info.value)


def test_a_hugging_face_cache_snapshot_gets_the_registry_spec(tmp_path):
    registry = MODELS["nomic-embed-text-v1.5"]
    snapshot = _contrastors_folder(tmp_path / "hub" / "models--nomic-ai--nomic-embed-text-v1.5" / "snapshots" / registry.revision)
    spec = get_model_spec(str(snapshot), "text")
    assert spec == dataclasses.replace(registry, snapshot=str(snapshot.resolve()))
    assert (spec.layer_norm, spec.rope_scaling_factor, spec.trained_positions, spec.max_tokens) == (True, 2.0, 2048, 8192)
    other = _contrastors_folder(tmp_path / "hub" / "models--nomic-ai--nomic-embed-text-v1.5" / "snapshots" / ("0" * 40))
    assert get_model_spec(str(other), "text") == dataclasses.replace(registry, revision="0" * 40, snapshot=str(other.resolve()))
    vision = MODELS["nomic-embed-vision-v1.5"]
    image = tmp_path / "hub" / "models--nomic-ai--nomic-embed-vision-v1.5" / "snapshots" / vision.revision
    image.mkdir(parents=True)
    assert get_model_spec(str(image), "image") == dataclasses.replace(vision, snapshot=str(image.resolve()))
    with pytest.raises(BadInputError, match=r"is an image model, not a text model"):
        get_model_spec(str(image), "text")


def test_a_local_dir_download_is_recognised_by_its_commit(tmp_path):
    """`hf download REPO --revision COMMIT --local-dir DIR` leaves the commit in DIR/.cache/huggingface/download."""
    registry = MODELS["nomic-embed-text-v1.5"]
    folder = _contrastors_folder(tmp_path / "nomic-embed-text-v1.5")
    metadata = folder / ".cache" / "huggingface" / "download" / "config.json.metadata"
    metadata.parent.mkdir(parents=True)
    metadata.write_text(f"{registry.revision}\n\"etag\"\n1764400000.0\n")
    assert get_model_spec(str(folder), "text") == dataclasses.replace(registry, snapshot=str(folder.resolve()))
    metadata.write_text("1" * 40 + "\n")  # another commit: not known to be the registry's files
    with pytest.raises(BadInputError, match=r"pass `text_model` nomic-embed-text-v1\.5"):
        get_model_spec(str(folder), "text")


def test_a_sidecar_can_name_the_registry_model(tmp_path):
    registry = MODELS["nomic-embed-text-v1.5"]
    folder = _contrastors_folder(tmp_path / "clone")
    (folder / "pokembed.json").write_text(json.dumps({"registry_model": "nomic-ai/nomic-embed-text-v1.5"}))
    spec = get_model_spec(str(folder), "text")
    assert spec == dataclasses.replace(registry, name=str(folder), model_id=str(folder.resolve()), revision=None)
    (folder / "pokembed.json").write_text(json.dumps({"registry_model": "nomic-embed-text-v2"}))
    with pytest.raises(BadInputError, match=r"names registry_model 'nomic-embed-text-v2', which is not one of "
                       r"nomic-embed-text-v1\.5, nomic-embed-vision-v1\.5, siglip2-base-patch16-224; fix the sidecar"):
        get_model_spec(str(folder), "text")


def test_local_dir_commit_reads_what_huggingface_hub_writes(tmp_path, monkeypatch):
    """huggingface_hub's own local-dir download, from the fake Hub: if its metadata format changes, this fails."""
    from huggingface_hub import hf_hub_download

    from fake_hub import Commit, FakeHub, no_xet
    from pokembed.embedding.registry import local_dir_commit

    no_xet(monkeypatch)
    with FakeHub() as hub:
        repo = hub.add_repo("someone/model", "model")
        oid = "ab" * 20
        repo.commits.append(Commit(oid, "weights", repo.head.oid, {**repo.head.files, "config.json": b'{"a": 1}'}))
        hf_hub_download("someone/model", "config.json", revision=oid, local_dir=tmp_path / "dl",
                        endpoint=hub.endpoint)
    assert (tmp_path / "dl" / "config.json").read_bytes() == b'{"a": 1}'
    assert local_dir_commit(tmp_path / "dl", "config.json") == oid
    assert local_dir_commit(tmp_path / "dl", "model.safetensors") is None
