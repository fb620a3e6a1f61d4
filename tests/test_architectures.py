"""The architecture registry: each architecture declared once (how a folder names it, its forward passes, the spec
fields that change its vectors), and the vector cache keyed by exactly those fields."""

from __future__ import annotations

import dataclasses

import pytest

from pokembed.embedding.architectures import ARCHITECTURES, VECTOR_FIELDS, architecture_for_config, encoder_class
from pokembed.embedding.registry import MODELS, ModelSpec
from pokembed.embedding.vector_cache import model_cache_key
from pokembed.errors import BadInputError

IDENTITY = {"model_id", "revision", "kind"}  # the key's readable part
NOT_VECTORS = {"name", "query_prompt", "query_model", "snapshot"}  # never change a document's or an image's vector


def test_every_spec_field_is_either_keyed_or_known_not_to_change_vectors():
    """A field added to ModelSpec must be declared as changing vectors (an architecture's vector_fields) or not."""
    fields = {f.name for f in dataclasses.fields(ModelSpec)}
    for arch in ARCHITECTURES.values():
        assert set(arch.vector_fields) | IDENTITY | NOT_VECTORS | {"architecture"} == fields, arch.name


def test_cache_keys_of_the_registry_models_did_not_move():
    """Written by the pre-registry code (model_cache_key listing the fields by hand): existing caches stay valid."""
    assert model_cache_key(MODELS["nomic-embed-text-v1.5"], "truncate").endswith("|text|d768|truncate|83d28b76e5862ad5")
    assert model_cache_key(MODELS["nomic-embed-vision-v1.5"]).endswith("|image|d768||243bfbb3b5b8b793")
    assert model_cache_key(MODELS["siglip2-base-patch16-224"]).endswith("|image|d768||a65abb0b8d6c5395")


def test_the_key_follows_the_declared_fields_and_nothing_else():
    spec = MODELS["nomic-embed-text-v1.5"]
    key = model_cache_key(spec, "truncate")
    changed = {"pooling": "cls", "document_prompt": "", "dimension": 256, "max_tokens": 2048, "layer_norm": False,
               "rope_scaling_factor": None, "trained_positions": 4096}
    assert set(changed) == set(VECTOR_FIELDS)
    for name, value in changed.items():
        assert model_cache_key(dataclasses.replace(spec, **{name: value}), "truncate") != key, name
    for name, value in {"name": "other", "query_prompt": "", "query_model": "x", "snapshot": "/x"}.items():
        assert model_cache_key(dataclasses.replace(spec, **{name: value}), "truncate") == key, name


def test_configs_map_to_their_architecture():
    assert architecture_for_config({"model_type": "nomic_bert", "architectures": ["NomicVisionModel"]}).name == "nomic_vision"
    assert architecture_for_config({"model_type": "nomic_bert", "architectures": ["NomicBertModel"]}).name == "nomic_bert"
    assert architecture_for_config({"model_type": "siglip"}).name == "siglip"
    assert architecture_for_config({"model_type": "gpt2"}) is None


def test_the_forward_pass_follows_the_pooling_the_architecture_declares():
    siglip = MODELS["siglip2-base-patch16-224"]
    assert encoder_class(siglip, "text").__name__ == "SiglipTextEncoder"
    assert encoder_class(siglip, "image").__name__ == "SiglipImageEncoder"
    text = MODELS["nomic-embed-text-v1.5"]
    assert encoder_class(text, "text").__name__ == "MeanPoolTextEncoder"
    assert encoder_class(dataclasses.replace(text, pooling="cls"), "text").__name__ == "ClsTextEncoder"
    with pytest.raises(BadInputError, match=r"has pooling 'pooler'; it gives 'mean' or 'cls'"):
        encoder_class(dataclasses.replace(text, pooling="pooler"), "text")
    with pytest.raises(BadInputError, match=r"architecture 'nomic_vision', which has no text side"):
        encoder_class(MODELS["nomic-embed-vision-v1.5"], "text")
    with pytest.raises(BadInputError, match=r"architecture 'gpt2'; supported: nomic_vision, nomic_bert"):
        encoder_class(dataclasses.replace(text, architecture="gpt2"), "text")


def test_dispatch_on_architecture_names_lives_in_one_module():
    """No module but architectures.py branches on an architecture's name (registry.py's contrastors hint aside)."""
    import re
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "pokembed"
    branching = re.compile(r"""architecture\s*(==|!=|in)\s*\(?["']|\.name\s*==\s*["'](nomic_bert|bert|siglip|vit|nomic_vision)["']""")
    found = [f"{p.relative_to(package)}:{n}" for p in sorted(package.rglob("*.py"))
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if branching.search(line)]
    assert found and all(f.startswith(("embedding/architectures.py", "embedding/registry.py")) for f in found), found
