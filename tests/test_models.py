"""The model registry, local model folders and the tiny models."""

from __future__ import annotations

import json
import shutil

import pytest

from pokembed.errors import BadInputError, UnknownModelError
from pokembed.models import (
    ALIASES,
    DEFAULT_IMAGE_MODEL,
    DEFAULT_TEXT_MODEL,
    MODELS,
    get_model_spec,
)
from pokembed.tiny_models import main as tiny_main
from pokembed.tiny_models import tiny_vocab, write_tiny_models


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
    assert spec.trust_remote_code is False
    assert (spec.document_prompt, spec.query_prompt) == ("search_document: ", "search_query: ")
    assert (spec.dimension, spec.max_tokens, spec.layer_norm) == (768, 8192, True)
    assert (spec.rope_scaling_factor, spec.trained_positions) == (2.0, 2048)


def test_image_specs_name_their_query_models():
    nomic = get_model_spec("nomic-embed-vision-v1.5", "image")
    assert nomic.trust_remote_code and _is_commit(nomic.code_revision)
    assert nomic.query_model == "nomic-embed-text-v1.5" and nomic.pooling == "cls"
    siglip = get_model_spec("siglip2-base-patch16-224", "image")
    assert siglip.trust_remote_code is False and siglip.query_model == "siglip2-base-patch16-224"
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
    with pytest.raises(BadInputError, match=r"'siglip2-base-patch16-224' is an image model, not a text model; pass it as --image-model"):
        get_model_spec("siglip2-base-patch16-224", "text")
    with pytest.raises(BadInputError, match=r"is a text model, not an image model; pass it as --text-model"):
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
    assert (image.kind, image.architecture, image.pooling, image.dimension) == ("image", "vit", "cls", 32)
    assert image.query_model == str((tiny_models / "text").resolve())  # stored relative, resolved at load


def test_a_folder_of_the_wrong_kind_is_refused(tiny_models):
    with pytest.raises(BadInputError, match=r"is an image model, not a text model; pass it as --image-model"):
        get_model_spec(str(tiny_models / "image"), "text")
    with pytest.raises(BadInputError, match=r"is a text model, not an image model; pass it as --text-model"):
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
