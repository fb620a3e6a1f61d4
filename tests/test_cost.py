"""The forecast logged before embedding: counts, tokens, and the CPU warning."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pokembed.embedding.cost import CHARS_PER_TOKEN, CPU_WARNING_TOKENS, EmbedPlan, count_tokens
from pokembed.embedding.registry import MODELS
from conftest import SHARED

BERT = SHARED / "tokenizers" / "bert-base-uncased"


def plan(**changes):
    values = dict(documents=1351, documents_cached=351, tokens=4_000_000, tokens_exact=True, images=798,
                  images_cached=798, device="cpu", cpu_threads=2)
    values.update(changes)
    return EmbedPlan(**values)


def test_describe_counts_what_is_new_and_cached():
    text = plan().describe()
    assert text == ("to embed on cpu: 1,000 of 1,351 documents (4,000,000 tokens; 351 cached), 0 of 798 images "
                    "(798 cached)")
    assert "≈12 tokens (estimated from length)" in plan(tokens=12, tokens_exact=False).describe()


def test_cpu_warning_with_time_and_alternatives():
    warning = plan().cpu_warning()  # 4 M tokens at 375 tokens/s per core on 2 cores: 5,333 s
    assert warning.startswith("embedding 4,000,000 tokens on the CPU (2 threads) takes roughly 89 min")
    for alternative in ("--device cuda", "--hf-job", "--limit"):
        assert alternative in warning
    assert "\n" not in warning
    assert "roughly 5.9 h" in plan(tokens=16_000_000).cpu_warning()


def test_no_warning_on_a_gpu_or_for_small_work():
    assert plan(device="cuda").cpu_warning() is None
    assert plan(tokens=CPU_WARNING_TOKENS).cpu_warning() is None
    assert plan(tokens=CPU_WARNING_TOKENS + 1).cpu_warning() is not None


def _spec(**fields):
    """nomic-embed-text-v1.5's spec with the files read from elsewhere (count_tokens reads spec.files_source())."""
    return replace(MODELS["nomic-embed-text-v1.5"], **fields)


def test_count_tokens_with_the_tokenizer_and_without():
    texts = ['{"id":1,"name":"bulbasaur"}', '{"id":25,"name":"pikachu","height":4}']
    if BERT.is_dir():
        from transformers import AutoTokenizer

        spec = _spec(model_id=str(BERT), revision=None, snapshot=None, document_prompt="search_document: ")
        expected = sum(len(AutoTokenizer.from_pretrained(str(BERT))("search_document: " + t)["input_ids"])
                       for t in texts)
        assert count_tokens(spec, texts) == (expected, True)
    missing = _spec(model_id="/nonexistent/model", revision=None, snapshot=None, document_prompt="")
    assert count_tokens(missing, texts) == (int(sum(map(len, texts)) / CHARS_PER_TOKEN), False)
    assert count_tokens(missing, []) == (0, True)


@pytest.mark.skipif(not BERT.is_dir(), reason=f"shared tokenizer absent ({BERT})")
def test_count_tokens_handles_long_documents_without_truncation():
    spec = _spec(model_id=str(BERT), revision=None, snapshot=None, document_prompt="")
    tokens, exact = count_tokens(spec, ["word " * 10_000])
    assert exact and tokens == 10_002


@pytest.mark.skipif(not BERT.is_dir(), reason=f"shared tokenizer absent ({BERT})")
def test_count_tokens_reads_a_registry_models_local_snapshot(monkeypatch):
    # A registry model given as a local snapshot (--text-model ./folder): the Hub id is unreachable offline, so the
    # count must come from the snapshot's tokenizer, as the encoder's does, not from a length estimate.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = _spec(model_id="nomic-ai/nomic-embed-text-v1.5", revision="0" * 40, snapshot=str(BERT),
                           document_prompt="")
    tokens, exact = count_tokens(spec, ["word " * 100])
    assert exact and tokens == 102
