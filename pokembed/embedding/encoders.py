"""Texts and images to float32 unit vectors.

One base class, ``Encoder``, owns the device, the dtype (bf16 + SDPA on CUDA, fp32 on CPU), ``inference_mode``,
the batch loop, the pooled-vector post-processing (layer norm, Matryoshka truncation, L2 normalisation) and the
progress bar. ``TextEncoder`` adds tokenisation, length-sorted token-budget batches and the long-document modes;
``ImageEncoder`` adds the image processor. The concrete classes, in ``pokembed.embedding.architectures`` with the rest of
each architecture, implement only the forward pass (how one padded batch becomes one pooled vector per row).

Long documents (``truncate`` / ``chunk``) and batching are described in ``pokembed.embedding.token_batches``.

The forward pass is chosen by ``spec.pooling`` (``mean``, ``cls`` or SigLIP's ``pooler``), among those the
architecture declares. Loading (device, checkpoint, config, the rotary patch) is ``pokembed.embedding.loading``'s job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pokembed.errors import BadInputError, ModelLoadError
from pokembed.embedding.loading import alternative, load_pretrained, resolve_device
from pokembed.embedding.registry import ModelSpec, check_kind, get_model_spec, query_model_spec
from pokembed.embedding.token_batches import (
    check_texts,
    combine_windows,
    pad_rows,
    plain_tokenizer,
    plan_batches,
    truncate_row,
)

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image

logger = logging.getLogger(__name__)

LONG_DOCUMENT_MODES = ("truncate", "chunk")
CPU_MAX_PADDED_LENGTH = 256  # on CPU, longer rows run alone (unpadded, so SDPA keeps its fused kernel)


@dataclass(frozen=True)
class TextEmbeddings:
    """Document vectors with their token accounting."""

    vectors: np.ndarray  # float32 (n, dim), unit norm
    tokens: np.ndarray  # int32 (n,), token count of prompt+document (untruncated, special tokens included)
    truncated: np.ndarray  # bool (n,), tokens > max_tokens


# --------------------------------------------------------------------------------------------------- base classes


class Encoder:
    """Device, dtype, inference mode, the batch loop, post-processing and progress; subclasses add ``_forward``."""

    unit = "item"

    def __init__(self, spec: ModelSpec, model: Any, *, device: "torch.device", progress: bool = True) -> None:
        self.spec = spec
        self.model = model
        self.device = device
        self.progress = progress
        self.dtype = next(model.parameters()).dtype
        self._shared: dict | None = None  # the bar of an open `progress_over`, with its start time and token count

    @contextmanager
    def progress_over(self, total: int, desc: str) -> Iterator[None]:
        """One progress bar (items and tokens/s) over several embed calls, e.g. a build's cached chunks."""
        from tqdm.auto import tqdm

        with tqdm(total=total, desc=desc, unit=self.unit, disable=not self.progress) as bar:
            self._shared = {"bar": bar, "start": time.perf_counter(), "tokens": 0}
            try:
                yield
            finally:
                self._shared = None

    def _forward(self, inputs: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        """One padded batch on the device -> one pooled vector per row, shape (rows, hidden)."""
        raise NotImplementedError

    def _postprocess(self, pooled: "torch.Tensor") -> "torch.Tensor":
        """fp32 pooled vectors -> (optional layer norm) -> Matryoshka truncation -> unit L2 norm."""
        import torch.nn.functional as F

        if pooled.shape[-1] < self.spec.dimension:
            raise BadInputError(
                f"model {self.spec.name} outputs {pooled.shape[-1]} dimensions, fewer than its spec's dimension "
                f"{self.spec.dimension}; set dimension <= {pooled.shape[-1]}"
            )
        if self.spec.layer_norm:
            pooled = F.layer_norm(pooled, pooled.shape[-1:])
        return F.normalize(pooled[:, : self.spec.dimension], p=2, dim=1)

    def _to_device(self, inputs: dict[str, "torch.Tensor"]) -> dict[str, "torch.Tensor"]:
        cuda = self.device.type == "cuda"
        moved = {}
        for key, value in inputs.items():
            if cuda:
                value = value.pin_memory()
            dtype = self.dtype if value.is_floating_point() else None
            moved[key] = value.to(self.device, dtype=dtype, non_blocking=cuda)
        return moved

    def _run(self, batches: Iterable[tuple[dict, int, int]], total: int, what: str) -> np.ndarray:
        """Run every (inputs, rows, tokens) batch; return the post-processed vectors in batch order."""
        import torch
        from tqdm.auto import tqdm

        outputs = []
        tokens = 0
        start = time.perf_counter()
        shared = self._shared
        own_bar = None
        if shared is None:
            own_bar = tqdm(total=total, desc=f"{what} {self.spec.name}", unit=self.unit, disable=not self.progress,
                           leave=False)
            shared = {"bar": own_bar, "start": start, "tokens": 0}
        bar = shared["bar"]
        try:
            with torch.inference_mode():
                for inputs, rows, n_tokens in batches:
                    pooled = self._forward(self._to_device(inputs))
                    outputs.append(self._postprocess(pooled.float()))
                    tokens += n_tokens
                    shared["tokens"] += n_tokens
                    bar.update(rows)
                    if n_tokens:
                        rate = shared["tokens"] / max(time.perf_counter() - shared["start"], 1e-9)
                        bar.set_postfix_str(f"{rate:,.0f} tok/s", refresh=False)
                if not outputs:
                    return np.zeros((0, self.spec.dimension), dtype=np.float32)
                vectors = torch.cat(outputs).cpu().numpy()
        finally:
            if own_bar is not None:
                own_bar.close()
        seconds = time.perf_counter() - start
        logger.info("%s %s: %d %ss, %d tokens in %.2f s", what, self.spec.name, total, self.unit, tokens, seconds)
        return np.ascontiguousarray(vectors, dtype=np.float32)


class TextEncoder(Encoder):
    """Documents and queries to vectors: tokenise once, sort by length, batch by a token budget."""

    unit = "seq"

    def __init__(
        self,
        spec: ModelSpec,
        model: Any,
        tokenizer: Any,
        *,
        device: "torch.device",
        token_budget: int = 65536,
        progress: bool = True,
        max_padded_length: int | None | str = "auto",
    ) -> None:
        super().__init__(spec, model, device=device, progress=progress)
        if spec.max_tokens < 1:
            raise BadInputError(f"model {spec.name} has max_tokens {spec.max_tokens}; it must be at least 1")
        self.tokenizer = tokenizer
        self.token_budget = int(token_budget)
        # Padding means an attention mask, and a mask takes SDPA off its fused kernels. On CUDA the memory-efficient
        # kernel still handles masks well, so token-budget batches win; on CPU a masked batch falls back to the
        # math kernel (a full L x L score matrix per head: 2.5x slower and gigabytes at 8k tokens), so there only
        # short rows share padded batches and longer ones run alone, unmasked, on the fused CPU kernel.
        if max_padded_length == "auto":
            max_padded_length = None if device.type == "cuda" else CPU_MAX_PADDED_LENGTH
        self.max_padded_length = max_padded_length
        self._backend, self._head_ids, self._tail_ids = plain_tokenizer(tokenizer)
        pad = tokenizer.pad_token_id
        self._pad_id = int(pad) if pad is not None else 0

    # ---- public API

    def embed_documents(self, texts: Sequence[str], *, long_documents: str = "truncate") -> TextEmbeddings:
        """Embed documents with the spec's document prompt; see the module docstring for the long-document modes."""
        if long_documents not in LONG_DOCUMENT_MODES:
            raise BadInputError(f"unknown long_documents mode {long_documents!r}; use 'truncate' or 'chunk'")
        texts = check_texts(texts)
        ids = self._tokenize(texts, self.spec.document_prompt)
        tokens = np.array([len(row) for row in ids], dtype=np.int32)
        truncated = tokens > self.spec.max_tokens
        segments: list[tuple[int, np.ndarray]] = []
        for item, (text, row) in enumerate(zip(texts, ids)):
            if long_documents == "chunk" and len(row) > self.spec.max_tokens:
                segments.extend((item, window) for window in self._windows(text, self.spec.document_prompt))
            else:
                segments.append((item, self._truncate(row)))
        vectors = self._embed_segments([seg for _, seg in segments], what="text")
        return TextEmbeddings(vectors=combine_windows(segments, vectors, len(texts)), tokens=tokens, truncated=truncated)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries with the spec's query prompt (truncated to max_tokens)."""
        texts = check_texts(texts)
        rows = [self._truncate(row) for row in self._tokenize(texts, self.spec.query_prompt)]
        return self._embed_segments(rows, what="query")

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """int32 token counts of ``document_prompt + text`` (special tokens included, nothing truncated)."""
        return np.array([len(row) for row in self._tokenize(check_texts(texts), self.spec.document_prompt)], dtype=np.int32)

    # ---- tokenisation and segments

    def _normalise(self, text: str) -> str:
        """Text as the model was trained to read it (SigLIP lowercases)."""
        return text

    def _encode(self, texts: list[str], *, special: bool) -> list[np.ndarray]:
        encode = getattr(self._backend, "encode_batch_fast", self._backend.encode_batch)
        return [np.asarray(e.ids, dtype=np.int64) for e in encode(texts, add_special_tokens=special)]

    def _tokenize(self, texts: list[str], prompt: str) -> list[np.ndarray]:
        return self._encode([self._normalise(prompt + text) for text in texts], special=True)

    def _truncate(self, row: np.ndarray) -> np.ndarray:
        return truncate_row(row, self.spec.max_tokens, self._tail_ids)

    def _windows(self, text: str, prompt: str) -> list[np.ndarray]:
        """[CLS] prompt window [SEP] inputs covering the whole document, each at most max_tokens long."""
        prompt_ids = self._encode([self._normalise(prompt)], special=False)[0] if prompt else np.zeros(0, np.int64)
        body = self._encode([self._normalise(text)], special=False)[0]
        head = np.asarray(self._head_ids, dtype=np.int64)
        tail = np.asarray(self._tail_ids, dtype=np.int64)
        width = self.spec.max_tokens - len(head) - len(tail) - len(prompt_ids)
        if width < 1:
            raise BadInputError(
                f"max_tokens {self.spec.max_tokens} of {self.spec.name} leaves no room for text after the prompt "
                f"and special tokens; use a larger max_tokens or long_documents='truncate'"
            )
        return [np.concatenate([head, prompt_ids, body[i : i + width], tail]) for i in range(0, max(len(body), 1), width)]

    # ---- batching

    def _padded_length(self, longest: int) -> int:
        return longest

    def _collate(self, rows: list[np.ndarray]) -> dict[str, "torch.Tensor"]:
        return pad_rows(rows, self._pad_id)

    def _plan(self, lengths: Sequence[int]) -> list[list[int]]:
        return plan_batches(lengths, token_budget=self.token_budget, max_padded_length=self.max_padded_length,
                            padded_length=self._padded_length)

    def _embed_segments(self, rows: list[np.ndarray], *, what: str) -> np.ndarray:
        lengths = [len(row) for row in rows]
        plan = self._plan(lengths)

        def batches() -> Iterator[tuple[dict, int, int]]:
            for batch in plan:
                yield self._collate([rows[i] for i in batch]), len(batch), sum(lengths[i] for i in batch)

        in_plan_order = self._run(batches(), total=len(rows), what=what)
        vectors = np.empty_like(in_plan_order)
        vectors[[i for batch in plan for i in batch]] = in_plan_order
        return vectors


class ImageEncoder(Encoder):
    """Images to vectors, ``batch_size`` at a time through the model's own image processor."""

    unit = "img"

    def __init__(
        self,
        spec: ModelSpec,
        model: Any,
        processor: Any,
        *,
        device: "torch.device",
        batch_size: int = 64,
        progress: bool = True,
    ) -> None:
        super().__init__(spec, model, device=device, progress=progress)
        if batch_size < 1:
            raise BadInputError(f"batch_size must be at least 1, got {batch_size}")
        self.processor = processor
        self.batch_size = int(batch_size)

    def embed_images(self, images: Sequence["Image"]) -> np.ndarray:
        """float32 (n, dim) unit vectors, in the input order."""
        images = list(images)
        for i, image in enumerate(images):
            if not hasattr(image, "convert"):
                raise BadInputError(f"image {i} is a {type(image).__name__}, not a PIL image; decode it first")

        def batches() -> Iterator[tuple[dict, int, int]]:
            for start in range(0, len(images), self.batch_size):
                chunk = [im if im.mode == "RGB" else im.convert("RGB") for im in images[start : start + self.batch_size]]
                pixels = self.processor(images=chunk, return_tensors="pt")["pixel_values"]
                yield {"pixel_values": pixels}, len(chunk), 0

        return self._run(batches(), total=len(images), what="image")


# ----------------------------------------------------------------------------------------------------- loading


def load_text_encoder(
    spec: ModelSpec | str, *, device: str = "auto", token_budget: int = 65536, progress: bool = True
) -> TextEncoder:
    """Load a text model (registry name, Hub id from the registry, local folder, or spec) as a TextEncoder."""
    spec = _as_spec(spec, "text")
    if token_budget < 1:
        raise BadInputError(f"token_budget must be at least 1, got {token_budget}")
    return _load_text(spec, resolve_device(device), token_budget=token_budget, progress=progress)


def load_image_encoder(
    spec: ModelSpec | str, *, device: str = "auto", batch_size: int = 64, progress: bool = True
) -> ImageEncoder:
    """Load an image model as an ImageEncoder; any load failure names the alternative image model."""
    from pokembed.embedding.architectures import encoder_class

    spec = _as_spec(spec, "image")
    encoder = encoder_class(spec, "image")
    dev = resolve_device(device)
    processor, model = load_pretrained(spec, dev, part="image")
    return encoder(spec, model, processor, device=dev, batch_size=batch_size, progress=progress)


def load_query_encoder(image_spec: ModelSpec | str, *, device: str = "auto") -> TextEncoder:
    """The text encoder that embeds search queries into an image model's space (see ``models.query_model_spec``)."""
    spec = _as_spec(image_spec, "image")
    query = query_model_spec(spec)
    if query is None:
        raise BadInputError(f"image model {spec.name} names no query_model; add one to its pokembed.json")
    return _load_text(query, resolve_device(device), token_budget=65536, progress=False)


def _as_spec(spec: ModelSpec | str, kind: str) -> ModelSpec:
    if isinstance(spec, ModelSpec):
        check_kind(spec, spec.name, kind)
        return spec
    if isinstance(spec, str):
        return get_model_spec(spec, kind)
    raise BadInputError(f"a {kind} model is a name, a folder or a ModelSpec, not {type(spec).__name__}")


def _load_text(spec: ModelSpec, dev: "torch.device", *, token_budget: int, progress: bool) -> TextEncoder:
    """A text encoder; ``spec`` may be a SigLIP image spec, whose own text tower embeds its queries."""
    from pokembed.embedding.architectures import encoder_class

    encoder = encoder_class(spec, "text")
    tokenizer, model = load_pretrained(spec, dev, part="text")
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise ModelLoadError(f"text model {spec.name} has no fast tokenizer (tokenizer.json); {alternative(spec)}")
    return encoder(spec, model, tokenizer, device=dev, token_budget=token_budget, progress=progress)


__all__ = [
    "TextEmbeddings",
    "Encoder",
    "TextEncoder",
    "ImageEncoder",
    "load_text_encoder",
    "load_image_encoder",
    "load_query_encoder",
    "resolve_device",
]
