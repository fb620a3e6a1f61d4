#!/usr/bin/env python
"""Text embedding throughput: the article's loop against pokembed's encoder, same documents, same model, one run.

The model is the full-size nomic-embed-text-v1.5 architecture (native NomicBert: 768 hidden, 12 layers, 12 heads,
3072 SwiGLU intermediate, vocabulary 30528, rope theta 1000, 8192-token context through the same rope scaling as the
real model) with random weights, saved next to the real bert-base-uncased tokenizer: it does the same arithmetic as the
real model and loads through the same pokembed code. The documents are the real ones (csv source → document_text).

Methods, timed from the first tokenizer call to the last vector on the host (model loading and one warm-up call on the
shortest document are reported apart; with --repeats the methods alternate within each round):
  article   one document at a time, fp32, in id order, no sorting: tokenizer(prompt + doc, truncation to 8192)
            → model(**inputs) → attention-masked mean pooling → layer_norm → L2 normalisation. Written here as the
            reference; the dynamic-RoPE cache is reset before each document so that each is embedded as if alone.
  pokembed  pokembed.embedding.encoders.load_text_encoder(model, device=...).embed_documents(texts).
The two methods' vectors are compared: on a CPU (fp32 both) they must reach cosine >= 0.99 and each encoder vector
must be nearest its own document's reference vector (exit code 1 otherwise); on a GPU the deviation is reported.

FLOPs count what actually runs for a document of n tokens (n ≤ 8192 after truncation, prompt and special tokens
included): per layer 2·n·(linear weights: 4·h² for q,k,v,o + 3·h·i for the SwiGLU gate, up and down projections; read
off the model's own nn.Linear shapes) + 2·2·n²·h for QKᵀ and AV; summed over the layers. Padding is never counted, so
both methods do the same useful FLOPs and TFLOP/s compares them fairly.

Subset: by default the 8 documents whose token counts lie nearest the corpus median (ties by id), embedded in id
order; --limit N picks N that way; --all takes all 1,351 (meant for a GPU).

  python benchmarks/text_throughput.py                      # CPU-sized subset, device auto
  python benchmarks/text_throughput.py --device cuda --all  # whole corpus on a GPU
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    DEFAULT_SOURCE,
    add_device_and_size,
    add_peak_and_progress,
    check_positive,
    write_full_size_text_model,
)
from hardware import Device, clock, describe_environment, resolve_device  # noqa: E402

CPU_SUBSET = 8
COSINE_FLOOR = 0.99  # fp32 on both sides: the two methods must agree at least this well


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="text_throughput.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_device_and_size(parser, all_help="every document of the source (1,351 today): for a GPU",
                        limit_help=f"the N documents nearest the median token count (default {CPU_SUBSET})")
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="pokembed source (default: the shared PokéAPI CSVs)")
    parser.add_argument("--model", default=None,
                        help="a text model (registry name, Hub id or local folder) instead of the random full-size one")
    parser.add_argument("--methods", default="article,pokembed",
                        help="comma-separated subset of article,pokembed (default: both)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per method; the median is reported")
    parser.add_argument("--token-budget", type=int, default=None,
                        help="pokembed encoder's token_budget (default: the encoder's own default)")
    parser.add_argument("--chunk", type=int, default=None,
                        help="feed the encoder N documents per embed_documents call, in id order, as pokembed.pipeline does "
                             "between two cache commits (default: all in one call)")
    add_peak_and_progress(parser)
    args = parser.parse_args(argv)
    check_positive(parser, args, "limit", "repeats", "chunk")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - {"article", "pokembed"})
    if unknown or not methods:
        parser.error(f"--methods takes article and/or pokembed, got {args.methods!r}")
    args.methods = methods
    return args


# --- the model ------------------------------------------------------------------------------------------------------

# --- FLOPs ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TextFlopModel:
    """What one document of n tokens costs: 2·n·linear_macs + 4·n²·attention_width per layer."""

    layers: int
    linear_macs: int  # multiply-accumulates per token per layer in the nn.Linear layers (weights only)
    attention_width: int  # heads · head_dim

    def flops(self, n_tokens: Sequence[int]) -> tuple[float, float]:
        """(linear FLOPs, attention FLOPs) for documents of these (already truncated) lengths, no padding."""
        n = np.asarray(n_tokens, dtype=np.float64)
        linear = float(self.layers * 2.0 * n.sum() * self.linear_macs)
        attention = float(self.layers * 2.0 * 2.0 * (n * n).sum() * self.attention_width)
        return linear, attention


def text_flop_model(model) -> tuple[TextFlopModel, str]:
    """The FLOP model read off the module's own shapes, and a line comparing it with the formula 4·h² + 3·h·i."""
    import torch

    config = model.config
    layer = model.layers[0]
    macs = sum(m.in_features * m.out_features for m in layer.modules() if isinstance(m, torch.nn.Linear))
    h, i = config.hidden_size, config.intermediate_size
    formula = 4 * h * h + 3 * h * i
    width = config.num_attention_heads * (getattr(config, "head_dim", None) or h // config.num_attention_heads)
    check = "matches" if macs == formula else "DIFFERS from"
    note = (f"per-layer linear MACs/token from the module shapes: {macs:,} ({check} 4·h²+3·h·i = {formula:,}); "
            f"attention width {width}, layers {config.num_hidden_layers}")
    return TextFlopModel(layers=config.num_hidden_layers, linear_macs=macs, attention_width=width), note


# --- the documents --------------------------------------------------------------------------------------------------

def load_documents(source: str) -> tuple[list[int], list[str]]:
    """(ids, document texts) of every Pokémon of the source, by id."""
    from pokembed.sources.documents import document_text
    from pokembed.sources.choice import load_records

    records = load_records(source, progress=False)
    return [int(r["id"]) for r in records], [document_text(r) for r in records]


def count_tokens(tokenizer, texts: Sequence[str], prompt: str) -> np.ndarray:
    """Untruncated token counts of prompt + text (special tokens included)."""
    encoded = tokenizer([prompt + t for t in texts], add_special_tokens=True, truncation=False,
                        return_attention_mask=False, return_token_type_ids=False, verbose=False)
    return np.array([len(ids) for ids in encoded["input_ids"]], dtype=np.int64)


def median_subset(ids: Sequence[int], tokens: np.ndarray, k: int) -> list[int]:
    """Positions of the k documents whose token counts lie nearest the median (ties by id), in id order."""
    median = float(np.median(tokens))
    order = sorted(range(len(ids)), key=lambda p: (abs(float(tokens[p]) - median), ids[p]))
    return sorted(order[:k], key=lambda p: ids[p])


# --- the two methods ------------------------------------------------------------------------------------------------

def fresh_rope(model) -> None:
    """Forget the dynamic-NTK frequencies cached by earlier calls, so that each document is embedded as if alone in a
    freshly loaded model (transformers' dynamic RoPE keeps the frequencies of the longest sequence seen, so without
    this a document's vector would depend on the documents before it). Costs one tiny recomputation per document."""
    rotary = getattr(model, "rotary_emb", None)
    if rotary is not None and "dynamic" in str(getattr(rotary, "rope_type", "")):
        rotary.inv_freq = rotary.original_inv_freq.clone()
        rotary.max_seq_len_cached = rotary.original_max_seq_len


def article_loop(model, tokenizer, texts: Sequence[str], *, prompt: str, max_tokens: int, device: Device) -> np.ndarray:
    """The article's loop: one document at a time, fp32, in the given order, no sorting."""
    import torch
    import torch.nn.functional as F

    vectors = []
    with torch.no_grad():
        for text in texts:
            fresh_rope(model)
            inputs = tokenizer(prompt + text, return_tensors="pt", truncation=True, max_length=max_tokens)
            inputs = {key: value.to(device.kind) for key, value in inputs.items()}
            output = model(**inputs)
            mask = inputs["attention_mask"].unsqueeze(-1).to(output.last_hidden_state.dtype)
            pooled = (output.last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            pooled = F.layer_norm(pooled, normalized_shape=(pooled.shape[1],))
            vectors.append(F.normalize(pooled, p=2, dim=1).float().cpu())
    return torch.cat(vectors).numpy()


def load_reference_model(spec, device: Device):
    """The text model as the article loads it (AutoModel, fp32, default attention), with the spec's RoPE scaling."""
    import torch
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(spec.model_id, revision=spec.revision)
    if spec.rope_scaling_factor:
        config.rope_parameters = {"rope_type": "dynamic", "factor": float(spec.rope_scaling_factor),
                                  "rope_theta": float((config.rope_parameters or {}).get("rope_theta", 1000.0))}
        config.max_position_embeddings = int(spec.trained_positions or config.max_position_embeddings)
    model = AutoModel.from_pretrained(spec.model_id, revision=spec.revision, config=config, dtype=torch.float32)
    return model.to(device.kind).eval()


@dataclass
class Method:
    """One way of embedding the documents, with what its timed runs measured."""

    name: str
    embed: Callable[[list[str]], np.ndarray]
    load_seconds: float
    notes: list[str]
    model: object = None  # the torch module, for the FLOP model and the report
    tokens: np.ndarray | None = None  # token counts the method reported (pokembed), for a consistency check
    warmup_seconds: float = 0.0
    seconds: list[float] = field(default_factory=list)
    vectors: np.ndarray | None = None
    peak_memory_gib: float | None = None
    batches: list[tuple[int, int]] | None = None  # (rows, padded length) of each forward call of the last run
    first_forward_seconds: float | None = None  # host time from the call to the first forward (tokenise, plan)


def article_method(spec, device: Device) -> Method:
    import torch
    from transformers import AutoTokenizer

    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(spec.model_id, revision=spec.revision)
    model = load_reference_model(spec, device)
    device.synchronize()
    load = time.perf_counter() - start

    def embed(texts: list[str]) -> np.ndarray:
        return article_loop(model, tokenizer, texts, prompt=spec.document_prompt, max_tokens=spec.max_tokens,
                            device=device)

    notes = [f"attention {model.config._attn_implementation}, dtype float32, "
             f"fp32 matmul precision {torch.get_float32_matmul_precision()}"]
    return Method("article loop", embed, load, notes, model=model)


def pokembed_method(spec, device: Device, *, token_budget: int | None, chunk: int | None, progress: bool) -> Method:
    from pokembed.embedding.encoders import load_text_encoder

    kwargs = {"device": device.kind, "progress": progress}
    if token_budget is not None:
        kwargs["token_budget"] = token_budget
    start = time.perf_counter()
    encoder = load_text_encoder(spec, **kwargs)
    device.synchronize()
    load = time.perf_counter() - start
    model = getattr(encoder, "model", None)
    notes = [f"token budget {getattr(encoder, 'token_budget', '?')}"]
    if model is not None:
        notes[0] += (f", attention {getattr(model.config, '_attn_implementation', '?')}, "
                     f"dtype {str(next(model.parameters()).dtype).replace('torch.', '')}")
    if chunk:
        notes.append(f"fed {chunk} documents per embed_documents call (--chunk), as pokembed.pipeline does")
    method = Method("pokembed encoder", lambda texts: np.empty(0), load, notes, model=model)
    calls: list[tuple[float, tuple[int, ...]]] = []  # (host time, input_ids shape) of each forward call

    def record(_module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        calls.append((time.perf_counter(), tuple(ids.shape) if ids is not None else ()))

    if model is not None:  # a pre-hook on the model: what was actually run, batch by batch
        model.register_forward_pre_hook(record, with_kwargs=True)

    def embed(texts: list[str]) -> np.ndarray:
        calls.clear()
        began = time.perf_counter()
        step = chunk or max(len(texts), 1)
        results = [encoder.embed_documents(texts[i : i + step]) for i in range(0, len(texts), step)]
        method.tokens = np.concatenate([np.asarray(r.tokens) for r in results])
        method.batches = [shape for _, shape in calls if len(shape) == 2]
        method.first_forward_seconds = calls[0][0] - began if calls else None
        return np.concatenate([np.asarray(r.vectors, dtype=np.float32) for r in results])

    method.embed = embed
    return method


def time_methods(methods: list[Method], texts: list[str], warmup_text: str, *, device: Device, repeats: int) -> None:
    """One warm-up call each on a short text, then `repeats` rounds, the methods interleaved within each round so
    that drift on a shared machine hits them alike. Each timed call spans tokenisation to vectors on the host."""
    import torch

    for method in methods:
        start = clock(device)
        method.embed([warmup_text])
        method.warmup_seconds = clock(device) - start
    for _ in range(repeats):
        for method in methods:
            if device.kind == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            precision = torch.get_float32_matmul_precision()
            start = clock(device)
            method.vectors = method.embed(list(texts))
            method.seconds.append(clock(device) - start)
            if torch.get_float32_matmul_precision() != precision:
                method.notes.append(f"changed the fp32 matmul precision to {torch.get_float32_matmul_precision()}")
            if device.kind == "cuda":
                peak = torch.cuda.max_memory_allocated() / 2**30
                method.peak_memory_gib = max(method.peak_memory_gib or 0.0, peak)


# --- report ---------------------------------------------------------------------------------------------------------

def agreement(reference: np.ndarray, other: np.ndarray) -> dict[str, float | bool | None]:
    """How well two methods' vectors for the same documents agree, and, for scale, how alike different documents are
    (random weights give near-identical mean-pooled vectors, so a bare cosine floor proves little on its own)."""
    cosines = np.sum(reference * other, axis=1)
    out: dict[str, float | bool | None] = {
        "min_cosine": float(cosines.min()),
        "max_deviation": float(np.max(np.abs(reference - other))),
        "cross_cosine": None,
        "own_nearest": True,
    }
    if len(reference) > 1:
        gram = reference @ reference.T
        np.fill_diagonal(gram, -np.inf)
        out["cross_cosine"] = float(gram.max())
        out["own_nearest"] = bool(np.all(np.argmax(other @ reference.T, axis=1) == np.arange(len(reference))))
    return out


def batch_diagnostics(m: Method, n_tokens: np.ndarray, useful_flops: float, device: Device) -> list[str]:
    """What the encoder actually ran: batches, padding (linear and attention), FLOP rate including the padding,
    and the host time before its first forward call (tokenisation and planning, not overlapped with the device)."""
    if not m.batches:
        return []
    rows = np.array([b[0] for b in m.batches], dtype=np.float64)
    width = np.array([b[1] for b in m.batches], dtype=np.float64)
    useful_tokens = float(n_tokens.sum())
    useful_square = float((n_tokens.astype(np.float64) ** 2).sum())
    padded_tokens = float((rows * width).sum())
    padded_square = float((rows * width * width).sum())
    lines = [f"{len(m.batches)} forward calls, {int(rows.min())}-{int(rows.max())} rows each; padding adds "
             f"{padded_tokens / useful_tokens - 1:+.2%} tokens (linear layers) and {padded_square / useful_square - 1:+.2%} "
             f"to Σn² (attention)"]
    if m.first_forward_seconds is not None:
        lines.append(f"{m.first_forward_seconds:.2f} s on the host before the first forward call (tokenising, "
                     f"planning, first batch), of the {statistics.median(m.seconds):.2f} s total")
    return lines


def format_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.rjust(w) if n else c.ljust(w) for n, (c, w) in enumerate(zip(cells, widths)))


def print_table(methods: list[Method], n_texts: int, n_tokens: np.ndarray, total_flops: float, device: Device) -> None:
    widths = [16, 6, 10, 8, 8, 9, 8, 8, 9, 6, 7]
    print(format_row(["method", "docs", "tokens", "seconds", "docs/s", "tokens/s", "TFLOP/s", "of peak",
                      "warm-up s", "load s", "GPU GiB"], widths))
    for m in methods:
        seconds = statistics.median(m.seconds)
        tflops = total_flops / seconds / 1e12
        print(format_row([
            m.name, f"{n_texts:,}", f"{int(n_tokens.sum()):,}", f"{seconds:.2f}", f"{n_texts / seconds:.3g}",
            f"{n_tokens.sum() / seconds:,.0f}", f"{tflops:.3g}", device.fraction(tflops), f"{m.warmup_seconds:.2f}",
            f"{m.load_seconds:.1f}", "-" if m.peak_memory_gib is None else f"{m.peak_memory_gib:.1f}",
        ], widths))
    for m in methods:
        if len(m.seconds) > 1:
            runs = ", ".join(f"{s:.2f}" for s in m.seconds)
            print(f"  {m.name}: {len(m.seconds)} runs (median above): {runs} s")
        for line in m.notes:
            print(f"  {m.name}: {line}")
        for line in batch_diagnostics(m, n_tokens, total_flops, device):
            print(f"  {m.name}: {line}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    device = resolve_device(args.device, peak_tflops=args.peak_tflops)
    import torch
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    from pokembed.embedding.registry import get_model_spec

    if args.no_progress:
        hf_logging.disable_progress_bar()
    print(describe_environment(device))
    ids, documents = load_documents(args.source)
    with tempfile.TemporaryDirectory(prefix="pokembed-bench-text-") as tmp:
        if args.model is None:
            start = time.perf_counter()
            model_dir = write_full_size_text_model(Path(tmp) / "text")
            print(f"model: random-weight full-size nomic-embed-text-v1.5 architecture (native NomicBert, dynamic NTK "
                  f"RoPE x2 over 2,048 positions) + bert-base-uncased tokenizer, written in "
                  f"{time.perf_counter() - start:.1f} s")
            spec = get_model_spec(str(model_dir), "text")
        else:
            spec = get_model_spec(args.model, "text")
            print(f"model: {spec.name} ({spec.model_id} @ {spec.revision})")
        tokenizer = AutoTokenizer.from_pretrained(spec.model_id, revision=spec.revision)
        start = time.perf_counter()
        all_tokens = count_tokens(tokenizer, documents, spec.document_prompt)
        tokenise_all = time.perf_counter() - start
        if args.all:
            chosen = list(range(len(ids)))
            subset = f"all {len(ids):,} of {args.source}, in id order"
        else:
            k = min(args.limit or CPU_SUBSET, len(ids))
            chosen = median_subset(ids, all_tokens, k)
            shown = ", ".join(str(ids[p]) for p in chosen[:12]) + (" …" if k > 12 else "")
            subset = (f"the {k} nearest the median length ({np.median(all_tokens):,.0f} tokens) of all "
                      f"{len(ids):,}, in id order (ids {shown}); --all for every document")
        texts = [documents[p] for p in chosen]
        untruncated = all_tokens[chosen]
        n_tokens = np.minimum(untruncated, spec.max_tokens)
        print(f"documents: {subset}")
        print(f"tokens: {int(n_tokens.sum()):,} embedded ({int(untruncated.sum()):,} before truncation to "
              f"{spec.max_tokens:,}; {int((untruncated > spec.max_tokens).sum())} documents truncated); per document "
              f"min {int(n_tokens.min()):,}, median {int(np.median(n_tokens)):,}, max {int(n_tokens.max()):,}")
        print(f"for scale: tokenising all {len(ids):,} documents in one batched fast-tokenizer call took "
              f"{tokenise_all:.2f} s")
        warmup_text = documents[int(np.argmin(all_tokens))]

        methods: list[Method] = []
        if "article" in args.methods:
            methods.append(article_method(spec, device))
        if "pokembed" in args.methods:
            methods.append(pokembed_method(spec, device, token_budget=args.token_budget, chunk=args.chunk,
                                           progress=not args.no_progress))
        shapes = next((m.model for m in methods if m.model is not None and hasattr(m.model, "layers")), None)
        if shapes is None:  # read the shapes off a weightless copy
            from transformers import AutoConfig, AutoModel

            with torch.device("meta"):
                shapes = AutoModel.from_config(AutoConfig.from_pretrained(spec.model_id, revision=spec.revision))
        flop_model, note = text_flop_model(shapes)
        time_methods(methods, texts, warmup_text, device=device, repeats=args.repeats)

    linear, attention = flop_model.flops(n_tokens)
    total = linear + attention
    print(f"FLOPs: {total / 1e12:,.2f} TFLOP useful ({linear / total:.0%} linear, {attention / total:.0%} attention); "
          f"{note}")
    for m in methods:
        if m.tokens is not None and not np.array_equal(m.tokens, untruncated):
            diff = int(np.sum(m.tokens != untruncated))
            print(f"WARNING: {m.name}'s token counts differ from this script's for {diff} documents")
    print()
    print_table(methods, len(texts), n_tokens, total, device)
    status = 0
    if len(methods) == 2:
        article, ours = methods
        ratio = statistics.median(article.seconds) / statistics.median(ours.seconds)
        print(f"\nratio pokembed / article loop (docs/s): {ratio:.2f}x")
        a = agreement(article.vectors, ours.vectors)
        line = f"agreement: min cosine {a['min_cosine']:.6f}, max |element difference| {a['max_deviation']:.2e}"
        if a["cross_cosine"] is not None:
            line += (f"; each encoder vector nearest its own document's: {'yes' if a['own_nearest'] else 'NO'} "
                     f"(for scale, two different documents reach cosine {a['cross_cosine']:.5f} with random weights)")
        if device.kind == "cpu":
            ok = a["min_cosine"] >= COSINE_FLOOR and a["own_nearest"]
            print(f"{line} -> {'OK' if ok else 'MISMATCH'} (fp32 on both sides; floor {COSINE_FLOOR})")
            status = 0 if ok else 1
        else:
            print(f"{line} (article fp32 against the encoder's own dtype)")
    return status


if __name__ == "__main__":
    sys.exit(main())
