"""Token rows into batches: the plan, the padding, and one vector per document from its windows.

Long documents (``embed_documents(long_documents=...)``), with ``n = spec.max_tokens``:

- ``truncate``: the tokenised ``prompt + document`` (special tokens included) is cut to its first ``n - 1`` tokens
  and the closing special token ([SEP]) is put back, exactly what ``tokenizer(..., truncation=True, max_length=n)``
  gives.
- ``chunk``: the document alone is tokenised (no prompt, no special tokens) and cut into consecutive windows of
  ``n - len([CLS]) - len(prompt tokens) - len([SEP])`` tokens; every window becomes a complete input
  ``[CLS] prompt-tokens window [SEP]`` of at most ``n`` tokens, so each one reads as the model was trained to read
  a ``search_document``. The window vectors (fully post-processed, unit norm) are averaged with weights equal to
  each window input's token count, and the mean is renormalised. Documents that fit are embedded as in
  ``truncate``.

Token counts (``TextEmbeddings.tokens``, ``count_tokens``) are the length of the tokenised ``document_prompt +
document`` with special tokens, before truncation; ``truncated`` is ``tokens > max_tokens``.

Batching: inputs are sorted by length (longest first, ties by position, so the plan is deterministic) and packed
greedily while ``padded length x rows <= token_budget``; each batch is padded to its own longest row. On CPU, rows
longer than 256 tokens run alone instead (a padded batch needs an attention mask, which sends CPU SDPA to its slow
math kernel; unpadded rows keep the fused one). Rows carry
their own ``position_ids`` (0 in the padding), and for dynamic-NTK RoPE models the rotary module is replaced by one
that scales each row by its own length (see ``pokembed.embedding.loading``), so a vector does not depend on which
other documents share its batch. On CPU the same inputs give the same vectors bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pokembed.errors import BadInputError

if TYPE_CHECKING:
    import torch


def plain_tokenizer(tokenizer: Any) -> tuple[Any, list[int], list[int]]:
    """A private copy of a fast tokenizer's Rust backend with no truncation or padding (every token is counted
    here), with the special token ids it puts before and after a text ([CLS] and [SEP] for BERT)."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.no_truncation()
    backend.no_padding()
    probe = backend.encode("a", add_special_tokens=True)
    mask = list(probe.special_tokens_mask)
    head = next((i for i, m in enumerate(mask) if not m), len(mask))
    tail = next((i for i, m in enumerate(reversed(mask)) if not m), 0)
    return backend, list(probe.ids[:head]), list(probe.ids[len(mask) - tail :]) if tail else []


def truncate_row(row: np.ndarray, limit: int, tail_ids: list[int]) -> np.ndarray:
    """The first ``limit - len(tail_ids)`` tokens with the closing special tokens put back (as transformers cuts)."""
    if len(row) <= limit:
        return row
    keep = max(limit - len(tail_ids), 0)
    return np.concatenate([row[:keep], np.asarray(tail_ids, dtype=np.int64)])[:limit]


def plan_batches(
    lengths: Sequence[int], *, token_budget: int, max_padded_length: int | None,
    padded_length: Callable[[int], int] = lambda longest: longest,
) -> list[list[int]]:
    """Indices grouped into batches: longest first, each within the token budget (a lone long row may exceed it);
    rows longer than ``max_padded_length`` run alone. ``padded_length`` maps a batch's longest row to its width."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        padded = padded_length(lengths[current[0]] if current else lengths[index])
        over_limit = max_padded_length is not None and padded > max_padded_length
        if current and (padded * (len(current) + 1) > token_budget or over_limit):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def pad_rows(rows: list[np.ndarray], pad_id: int) -> dict[str, "torch.Tensor"]:
    """Right-padded ids, the attention mask and per-row position ids (0 in the padding)."""
    import torch

    width = max(len(row) for row in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    positions = np.where(mask == 1, np.arange(width, dtype=np.int64)[None, :], 0)
    return {
        "input_ids": torch.from_numpy(ids),
        "attention_mask": torch.from_numpy(mask),
        "position_ids": torch.from_numpy(positions),
    }


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts as a list; one string or a non-string item is a BadInputError."""
    if isinstance(texts, str):
        raise BadInputError("texts must be a sequence of strings, not one string; wrap it in a list")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise BadInputError(f"text {i} is a {type(text).__name__}, not a str")
    return texts


def combine_windows(segments: list[tuple[int, np.ndarray]], vectors: np.ndarray, n: int) -> np.ndarray:
    """One vector per item: its only segment, or the token-weighted mean of its windows, renormalised."""
    out = np.zeros((n, vectors.shape[1]), dtype=np.float32)
    groups: dict[int, list[int]] = {}
    for index, (item, _) in enumerate(segments):
        groups.setdefault(item, []).append(index)
    for item, indices in groups.items():
        if len(indices) == 1:
            out[item] = vectors[indices[0]]
            continue
        weights = np.array([len(segments[i][1]) for i in indices], dtype=np.float64)
        mean = (vectors[indices].astype(np.float64) * weights[:, None]).sum(axis=0) / weights.sum()
        out[item] = (mean / np.linalg.norm(mean)).astype(np.float32)
    return out
