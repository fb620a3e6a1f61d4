"""Texts and images to float32 unit vectors.

One base class, ``Encoder``, owns the device, the dtype (bf16 + SDPA on CUDA, fp32 on CPU), ``inference_mode``,
the batch loop, the pooled-vector post-processing (layer norm, Matryoshka truncation, L2 normalisation) and the
progress bar. ``TextEncoder`` adds tokenisation, length-sorted token-budget batches and the long-document modes;
``ImageEncoder`` adds the image processor. The concrete classes at the bottom implement only the forward pass
(how one padded batch becomes one pooled vector per row).

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
that scales each row by its own length (see ``SequenceDynamicNTKRotary``), so a vector does not depend on which
other documents share its batch. On CPU the same inputs give the same vectors bit for bit.

Loading: tokenizers, image processors and transformers' native models (NomicBert, SigLIP, ViT) through the Auto
classes; nomic-embed-vision-v1.5 through ``pokembed.nomic_vision`` from its own ``config.json`` and
``model.safetensors``. No remote code is ever run. Files come from a registry model's local snapshot, a local
folder, or the Hub at the pinned revision through the Hugging Face cache (so ``HF_HUB_OFFLINE=1`` works once the
cache holds them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pokembed.errors import BadInputError, ModelLoadError, PokembedError
from pokembed.models import DEFAULT_TEXT_MODEL, ModelSpec, get_model_spec

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image

logger = logging.getLogger(__name__)

LONG_DOCUMENT_MODES = ("truncate", "chunk")
DEVICES = ("auto", "cpu", "cuda")
FALLBACK_IMAGE_MODEL = "siglip2-base-patch16-224"
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
        from tokenizers import Tokenizer

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
        # A private copy of the Rust tokenizer with no truncation or padding: we count every token ourselves.
        backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        backend.no_truncation()
        backend.no_padding()
        self._backend = backend
        probe = backend.encode("a", add_special_tokens=True)
        mask = list(probe.special_tokens_mask)
        head = next((i for i, m in enumerate(mask) if not m), len(mask))
        tail = next((i for i, m in enumerate(reversed(mask)) if not m), 0)
        self._head_ids = list(probe.ids[:head])
        self._tail_ids = list(probe.ids[len(mask) - tail :]) if tail else []
        pad = tokenizer.pad_token_id
        self._pad_id = int(pad) if pad is not None else 0

    # ---- public API

    def embed_documents(self, texts: Sequence[str], *, long_documents: str = "truncate") -> TextEmbeddings:
        """Embed documents with the spec's document prompt; see the module docstring for the long-document modes."""
        if long_documents not in LONG_DOCUMENT_MODES:
            raise BadInputError(f"unknown long_documents mode {long_documents!r}; use 'truncate' or 'chunk'")
        texts = _check_texts(texts)
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
        return TextEmbeddings(vectors=_combine(segments, vectors, len(texts)), tokens=tokens, truncated=truncated)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries with the spec's query prompt (truncated to max_tokens)."""
        texts = _check_texts(texts)
        rows = [self._truncate(row) for row in self._tokenize(texts, self.spec.query_prompt)]
        return self._embed_segments(rows, what="query")

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """int32 token counts of ``document_prompt + text`` (special tokens included, nothing truncated)."""
        return np.array([len(row) for row in self._tokenize(_check_texts(texts), self.spec.document_prompt)], dtype=np.int32)

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
        limit = self.spec.max_tokens
        if len(row) <= limit:
            return row
        keep = max(limit - len(self._tail_ids), 0)
        return np.concatenate([row[:keep], np.asarray(self._tail_ids, dtype=np.int64)])[:limit]

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
        """Right-padded ids, the attention mask and per-row position ids (0 in the padding)."""
        import torch

        width = max(len(row) for row in rows)
        ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
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

    def _plan(self, lengths: Sequence[int]) -> list[list[int]]:
        """Indices grouped into batches: longest first, each within the token budget (a lone long row may exceed it);
        rows longer than ``max_padded_length`` run alone."""
        order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
        limit = self.max_padded_length
        batches: list[list[int]] = []
        current: list[int] = []
        for index in order:
            padded = self._padded_length(lengths[current[0]] if current else lengths[index])
            if current and (padded * (len(current) + 1) > self.token_budget or (limit is not None and padded > limit)):
                batches.append(current)
                current = []
            current.append(index)
        if current:
            batches.append(current)
        return batches

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


# ----------------------------------------------------------------------------------------- the forward passes


class MeanPoolTextEncoder(TextEncoder):
    """BERT-style encoders (NomicBert): attention-masked mean of the last hidden states."""

    def _forward(self, inputs: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        hidden = self.model(**inputs).last_hidden_state.float()
        mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class SiglipTextEncoder(TextEncoder):
    """SigLIP's text tower: lowercased text, padded to max_length=64 as trained, its pooled projection."""

    def _normalise(self, text: str) -> str:
        return text.lower()

    def _padded_length(self, longest: int) -> int:
        return self.spec.max_tokens

    def _collate(self, rows: list[np.ndarray]) -> dict[str, "torch.Tensor"]:
        padded = self.tokenizer.pad(
            {"input_ids": [row.tolist() for row in rows]},
            padding="max_length",
            max_length=self.spec.max_tokens,
            return_tensors="pt",
        )
        return {key: padded[key] for key in self.tokenizer.model_input_names if key in padded}

    def _forward(self, inputs: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        return _pooled(self.model.get_text_features(**inputs))


class ClsImageEncoder(ImageEncoder):
    """ViT-style image towers: token 0 of ``last_hidden_state``. For nomic-embed-vision (pokembed.nomic_vision) that
    is the attention-pooling selector's output, not the encoder's CLS token."""

    def _forward(self, inputs: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        return self.model(**inputs).last_hidden_state[:, 0]


class SiglipImageEncoder(ImageEncoder):
    """SigLIP's image tower: ``get_image_features`` (attention-pooled head)."""

    def _forward(self, inputs: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        return _pooled(self.model.get_image_features(**inputs))


_TEXT_ENCODERS: dict[str, type[TextEncoder]] = {
    "nomic_bert": MeanPoolTextEncoder,
    "bert": MeanPoolTextEncoder,
    "siglip": SiglipTextEncoder,
}
_IMAGE_ENCODERS: dict[str, type[ImageEncoder]] = {
    "nomic_vision": ClsImageEncoder,
    "vit": ClsImageEncoder,
    "siglip": SiglipImageEncoder,
}


def _pooled(output: Any) -> "torch.Tensor":
    return output if hasattr(output, "dim") else output.pooler_output


# -------------------------------------------------------------------------------------- rotary embeddings


def _sequence_dynamic_ntk_rotary(config: Any) -> "torch.nn.Module":
    """A drop-in for transformers' dynamic-NTK rotary module that scales each row by its own length."""
    import torch

    class SequenceDynamicNTKRotary(torch.nn.Module):
        """Dynamic NTK RoPE (transformers' ``_compute_dynamic_ntk_parameters``, contrastors' formula) per row.

        transformers and contrastors compute one base from the padded batch length and keep the frequencies of
        the longest batch seen so far; here each row's length (its largest position id + 1) sets its own base, so
        a row's cos/sin equal those of the same sequence embedded alone in a fresh model, whatever the batch.
        """

        def __init__(self) -> None:
            super().__init__()
            rope = config.rope_parameters
            self.theta = float(rope["rope_theta"])
            self.factor = float(rope["factor"])
            self.original = int(config.max_position_embeddings)
            head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
            self.dim = int(head_dim * rope.get("partial_rotary_factor", 1.0))

        @torch.no_grad()
        def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            seq_len = (position_ids.max(dim=1).values + 1).clamp(min=self.original)
            scale = (self.factor * seq_len / self.original) - (self.factor - 1)
            base = self.theta * scale ** (self.dim / (self.dim - 2))
            exponent = torch.arange(0, self.dim, 2, dtype=torch.int64, device=x.device).to(dtype=torch.float) / self.dim
            inv_freq = 1.0 / (base[:, None] ** exponent[None, :])
            freqs = position_ids[..., None].float() * inv_freq[:, None, :]
            emb = torch.cat((freqs, freqs), dim=-1)
            return emb.cos().to(dtype=x.dtype), emb.sin().to(dtype=x.dtype)

    return SequenceDynamicNTKRotary()


# ----------------------------------------------------------------------------------------------------- loading


def resolve_device(device: str = "auto") -> "torch.device":
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without CUDA is a BadInputError."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda" or (isinstance(device, str) and device.startswith("cuda:")):
        if not torch.cuda.is_available():
            raise BadInputError(
                f"--device {device} was asked for but CUDA is not available (torch {torch.__version__}); "
                "use --device cpu or --device auto"
            )
        return torch.device(device)
    raise BadInputError(f"unknown device {device!r}; use auto, cpu or cuda")


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
    spec = _as_spec(spec, "image")
    if spec.architecture not in _IMAGE_ENCODERS:
        raise BadInputError(f"image model {spec.name} has architecture {spec.architecture!r}; supported: {', '.join(_IMAGE_ENCODERS)}")
    dev = resolve_device(device)
    processor, model = _load_pretrained(spec, dev, part="image")
    return _IMAGE_ENCODERS[spec.architecture](spec, model, processor, device=dev, batch_size=batch_size, progress=progress)


def load_query_encoder(image_spec: ModelSpec | str, *, device: str = "auto") -> TextEncoder:
    """The text encoder that embeds search queries into an image model's space (``spec.query_model``)."""
    spec = _as_spec(image_spec, "image")
    if not spec.query_model:
        raise BadInputError(f"image model {spec.name} names no query_model; add one to its pokembed.json")
    if spec.architecture == "siglip" and spec.query_model in (spec.name, spec.model_id):
        return _load_text(spec, resolve_device(device), token_budget=65536, progress=False)
    return load_text_encoder(get_model_spec(spec.query_model, "text"), device=device, progress=False)


def _as_spec(spec: ModelSpec | str, kind: str) -> ModelSpec:
    if isinstance(spec, ModelSpec):
        if spec.kind != kind:
            article = "an" if kind == "image" else "a"
            raise BadInputError(f"{spec.name!r} is not {article} {kind} model (it is {spec.kind}); pass it as --{spec.kind}-model")
        return spec
    if isinstance(spec, str):
        return get_model_spec(spec, kind)
    raise BadInputError(f"a {kind} model is a name, a folder or a ModelSpec, not {type(spec).__name__}")


def _load_text(spec: ModelSpec, dev: "torch.device", *, token_budget: int, progress: bool) -> TextEncoder:
    if spec.architecture not in _TEXT_ENCODERS:
        raise BadInputError(f"text model {spec.name} has architecture {spec.architecture!r}; supported: {', '.join(_TEXT_ENCODERS)}")
    tokenizer, model = _load_pretrained(spec, dev, part="text")
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise ModelLoadError(f"text model {spec.name} has no fast tokenizer (tokenizer.json); {_alternative(spec)}")
    return _TEXT_ENCODERS[spec.architecture](spec, model, tokenizer, device=dev, token_budget=token_budget, progress=progress)


def _alternative(spec: ModelSpec) -> str:
    if spec.kind == "image":
        other = FALLBACK_IMAGE_MODEL if spec.name != FALLBACK_IMAGE_MODEL else "nomic-embed-vision-v1.5"
        return f"use --image-model {other} (or a folder from python -m pokembed.tiny_models)"
    if spec.name != DEFAULT_TEXT_MODEL:
        return f"use --text-model {DEFAULT_TEXT_MODEL} (or a folder from python -m pokembed.tiny_models)"
    return "check the network (the Hub must be reachable once to download it) or pass --text-model a local folder"


def _load_pretrained(spec: ModelSpec, dev: "torch.device", *, part: str) -> tuple[Any, Any]:
    """(tokenizer or image processor, model in eval mode on ``dev``); every failure is one ModelLoadError line.

    Files come from ``spec.snapshot`` (a local copy of a Hub model), the local folder ``spec.model_id``, or the Hub
    at ``spec.revision`` (through the Hugging Face cache, so ``HF_HUB_OFFLINE=1`` works once it holds them).
    """
    import torch

    what = f"could not load {spec.kind} model {spec.name}"
    source = spec.snapshot or spec.model_id
    hub = {"revision": spec.revision} if spec.revision and not spec.snapshot else {}
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    try:
        from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoTokenizer

        if part == "text":
            frontend = AutoTokenizer.from_pretrained(source, **hub)
        else:
            frontend = AutoImageProcessor.from_pretrained(source, backend="pil", **hub)
        if spec.architecture == "nomic_vision":
            model = _load_nomic_vision(spec, frontend, what=what)
            config, info = None, {}
        else:
            config = AutoConfig.from_pretrained(source, **hub)
            _prepare_config(spec, config)
            model, info = AutoModel.from_pretrained(source, config=config, dtype=dtype, attn_implementation="sdpa",
                                                    output_loading_info=True, **hub)
    except PokembedError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure in third-party loading becomes one clear line
        raise ModelLoadError(f"{what} ({_one_line(exc)}); {_alternative(spec)}") from exc
    missing = [key for key in info.get("missing_keys", []) if "pooler" not in key]
    if missing:
        raise ModelLoadError(f"{what} (weights missing from the checkpoint: {', '.join(sorted(missing)[:3])}...); {_alternative(spec)}")
    if spec.architecture == "nomic_bert" and getattr(config, "rope_parameters", {}).get("rope_type") == "dynamic":
        model.rotary_emb = _sequence_dynamic_ntk_rotary(config)
    model.eval()
    model.to(dev, dtype=dtype)
    return frontend, model


def _load_nomic_vision(spec: ModelSpec, processor: Any, *, what: str) -> Any:
    """nomic's vision tower from ``config.json`` + ``model.safetensors`` (pokembed.nomic_vision), fp32 on the CPU.

    The image processor must give the model's ``img_size`` (checked on a blank image): the position embedding and
    the rotary grid are fixed to it.
    """
    from PIL import Image

    from pokembed import nomic_vision

    folder = _model_folder(spec, [nomic_vision.CONFIG_FILE, nomic_vision.WEIGHTS_FILE])
    try:
        vision = nomic_vision.read_config_file(folder)
        blank = Image.new("RGB", (320, 240), (255, 255, 255))
        shape = tuple(processor(images=[blank], return_tensors="pt")["pixel_values"].shape)
        if shape[1:] != (vision.channels, vision.image_size, vision.image_size):
            raise ModelLoadError(
                f"config.json img_size={vision.image_size} but its image processor gives {shape[2]}x{shape[3]} "
                "images, and the position embedding is not resized: use the model's own image size"
            )
        return nomic_vision.load_model(folder)
    except (ModelLoadError, BadInputError) as exc:
        raise ModelLoadError(f"{what} ({exc}); {_alternative(spec)}") from exc


def _model_folder(spec: ModelSpec, files: list[str]) -> "Path":
    """The local folder holding ``files``: the snapshot or local folder itself, or the Hub cache's snapshot."""
    from pathlib import Path

    local = Path(spec.snapshot or spec.model_id)
    if spec.snapshot or local.is_dir():
        return local
    from huggingface_hub import hf_hub_download

    paths = [Path(hf_hub_download(spec.model_id, name, revision=spec.revision)) for name in files]
    return paths[0].parent


def _prepare_config(spec: ModelSpec, config: Any) -> None:
    """NomicBert: refuse unmapped contrastors shapes; apply the spec's dynamic NTK RoPE."""
    if spec.architecture != "nomic_bert":
        return
    for legacy, native in (("n_embd", "hidden_size"), ("n_layer", "num_hidden_layers"), ("n_head", "num_attention_heads"), ("n_inner", "intermediate_size")):
        value = getattr(config, legacy, None)
        if value is not None and value != getattr(config, native):
            raise ModelLoadError(
                f"could not load text model {spec.name} (its contrastors config has {legacy}={value} but the native "
                f"NomicBertConfig reads {native}={getattr(config, native)}); convert the config or {_alternative(spec)}"
            )
    if spec.rope_scaling_factor:
        theta = getattr(config, "rotary_emb_base", None) or (config.rope_parameters or {}).get("rope_theta", 1000.0)
        config.rope_parameters = {"rope_type": "dynamic", "factor": float(spec.rope_scaling_factor), "rope_theta": float(theta)}
        if spec.trained_positions:
            config.max_position_embeddings = int(spec.trained_positions)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if len(first) > 200:
        first = first[:197] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise BadInputError("texts must be a sequence of strings, not one string; wrap it in a list")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise BadInputError(f"text {i} is a {type(text).__name__}, not a str")
    return texts


def _combine(segments: list[tuple[int, np.ndarray]], vectors: np.ndarray, n: int) -> np.ndarray:
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
