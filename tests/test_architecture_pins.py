"""pokembed.embedding.architectures pinned where test_architectures.py checks less (added for the mutation report,
tests/README.md): the ModelSpec fields each architecture reads from a local folder's config.json (nomic's
prompts above all: a wrong prompt changes every vector), and the list of supported model types."""

from __future__ import annotations

from pathlib import Path

import pytest

from pokembed.embedding.architectures import ARCHITECTURES, architecture_for_config, supported_model_types


def values(name: str, config: dict) -> dict:
    return ARCHITECTURES[name].spec_values(config, Path("/models/m"))


def test_nomic_bert_reads_prompts_width_and_context():
    assert values("nomic_bert", {"n_embd": 768, "n_positions": 8192}) == {
        "document_prompt": "search_document: ", "query_prompt": "search_query: ", "dimension": 768,
        "max_tokens": 8192, "rope_scaling_factor": None, "trained_positions": None}
    dynamic = {"hidden_size": 64, "max_position_embeddings": 4096,
               "rope_parameters": {"rope_type": "dynamic", "factor": 4}}
    assert values("nomic_bert", dynamic) == {
        "document_prompt": "search_document: ", "query_prompt": "search_query: ", "dimension": 64,
        "max_tokens": 4096, "rope_scaling_factor": 4.0, "trained_positions": 4096}
    assert values("nomic_bert", {"rope_parameters": {"rope_type": "dynamic", "factor": 2}})["trained_positions"] == 2048
    assert values("nomic_bert", {})["max_tokens"] == 2048 and values("nomic_bert", {})["dimension"] == 0


@pytest.mark.parametrize("name, config, expected", [
    ("bert", {"hidden_size": 32, "max_position_embeddings": 128}, {"dimension": 32, "max_tokens": 128}),
    ("bert", {"hidden_size": 32}, {"dimension": 32, "max_tokens": 512}),
    ("vit", {"hidden_size": 48}, {"dimension": 48, "max_tokens": 0}),
    ("nomic_vision", {"n_embd": 768}, {"dimension": 768, "max_tokens": 0}),
    ("siglip", {"text_config": {"hidden_size": 1152}}, {"dimension": 1152, "max_tokens": 64, "query_model": "/models/m"}),
    ("siglip", {"projection_dim": 512}, {"dimension": 512, "max_tokens": 64, "query_model": "/models/m"}),
    ("siglip", {}, {"dimension": 768, "max_tokens": 64, "query_model": "/models/m"}),
])
def test_other_architectures_read_width_and_context(name, config, expected):
    assert values(name, config) == expected


def test_supported_model_types_and_which_config_is_which():
    assert supported_model_types() == "nomic_bert (text), bert (text), vit (image), siglip (image)"
    assert architecture_for_config({"model_type": "nomic_bert", "architectures": ["NomicVisionModel"]}).name == "nomic_vision"
    assert architecture_for_config({"model_type": "nomic_bert", "architectures": ["NomicBertModel"]}).name == "nomic_bert"
    assert architecture_for_config({"model_type": "gpt2"}) is None
