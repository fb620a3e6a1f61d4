"""What a build is about to embed, logged before it starts: documents, tokens, images, how many are cached, and on a
CPU a warning with the rough time and the faster alternatives when the text to embed is large.

The rough CPU time comes from ``benchmarks/text_throughput.py`` on the project's development machine: the
full-size nomic-embed-text-v1.5 architecture embedded 32,483 tokens of median-length documents in 43.5 s on
2 CPU cores (≈ 750 tokens/s, ≈ 375 per core); it is scaled by the cores torch uses, which is optimistic (attention
cost grows with document length and threads do not scale perfectly), hence "rough".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

logger = logging.getLogger(__name__)

CPU_WARNING_TOKENS = 100_000  # above this many tokens to embed on a CPU, the build warns before it starts
CPU_TOKENS_PER_SECOND_PER_CORE = 375.0  # see the module docstring
# PokéAPI's JSON documents with nomic's (bert-base-uncased) vocabulary: 11.50 M characters are 5.72 M tokens
CHARS_PER_TOKEN = 2.0


@dataclass(frozen=True)
class EmbedPlan:
    """What is to be embedded."""

    documents: int
    documents_cached: int
    tokens: int  # tokens of the documents to embed now (prompt and special tokens included)
    tokens_exact: bool  # False when counted from characters (the tokenizer could not be loaded)
    images: int
    images_cached: int
    device: str  # "cpu" or "cuda"
    cpu_threads: int = 1

    def describe(self) -> str:
        """One log line: what will be embedded and what comes from the cache."""
        tokens = f"{self.tokens:,} tokens" if self.tokens_exact else f"≈{self.tokens:,} tokens (estimated from length)"
        new_docs = self.documents - self.documents_cached
        return (f"to embed on {self.device}: {new_docs:,} of {self.documents:,} documents ({tokens}; "
                f"{self.documents_cached:,} cached), {self.images - self.images_cached:,} of {self.images:,} images "
                f"({self.images_cached:,} cached)")

    def cpu_warning(self) -> str | None:
        """The one-line warning for a large text embedding on a CPU, or None."""
        if self.device != "cpu" or self.tokens <= CPU_WARNING_TOKENS:
            return None
        seconds = self.tokens / (CPU_TOKENS_PER_SECOND_PER_CORE * max(1, self.cpu_threads))
        return (f"embedding {self.tokens:,} tokens on the CPU ({self.cpu_threads} threads) takes roughly "
                f"{_duration(seconds)} with the full-size text model; a GPU takes minutes: use --device cuda, run it "
                "as a Hugging Face Job with --hf-job FLAVOR (e.g. --hf-job l4x1), or try it first with --limit N")


def count_tokens(spec, texts: Sequence[str]) -> tuple[int, bool]:
    """Tokens of ``document_prompt + text`` for ``texts`` with the model's tokenizer only (no weights), and whether
    the count is exact; when the tokenizer cannot be loaded, an estimate from the length."""
    if not texts:
        return 0, True
    try:
        from transformers import AutoTokenizer

        source, hub = spec.files_source()
        tokenizer = AutoTokenizer.from_pretrained(source, **hub)  # the files load_pretrained reads
        prompt = getattr(spec, "document_prompt", "") or ""
        encoded = tokenizer([prompt + text for text in texts], add_special_tokens=True, truncation=False,
                            return_attention_mask=False, return_token_type_ids=False, verbose=False)
        return sum(len(ids) for ids in encoded["input_ids"]), True
    except Exception as exc:  # noqa: BLE001 - the count is a forecast; the encoder reports real failures itself
        logger.debug("token count from length: the tokenizer did not load (%s)", exc)
        return int(sum(len(text) for text in texts) / CHARS_PER_TOKEN), False


def torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
