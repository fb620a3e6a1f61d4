#!/usr/bin/env python
"""Attention kernels at the text encoder's batch shapes: what a padding mask costs, and what padding-free would give.

Attention is ~44% of the FLOPs of embedding the whole corpus with nomic-embed-text-v1.5 (median 4,061 tokens, up to
8,192). pokembed's length-sorted batches carry little padding (about 1%), but almost every batch carries some, so
transformers hands SDPA a materialised (B, 1, L, L) boolean mask, and PyTorch's flash kernel takes no mask: SDPA
falls back to another kernel. This script times one attention call (12 heads x 64, one layer) per variant:

  sdpa, no mask          F.scaled_dot_product_attention without a mask (flash on CUDA): the dense ideal
  sdpa, (B,1,L,L) mask   the mask transformers builds for a padded batch (create_bidirectional_mask)
  sdpa, (B,1,1,L) mask   a broadcast key-padding mask (what a leaner mask would cost)
  varlen, packed         torch.nn.attention.varlen.varlen_attn over the unpadded tokens (CUDA only): padding-free
plus the time transformers takes to build the (B,1,L,L) mask (once per forward, shared by the 12 layers).

Each batch has rows of lengths L, L-1, ..., like a length-sorted batch (one row unpadded, the rest padded by a few
tokens). TFLOP/s counts useful work only: 4·Σn²·64 per head. CUDA: bf16, device events, median of --repeats after
warm-up. CPU: fp32, small shapes, to check the script runs.

  python benchmarks/attention_kernels.py --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import Device, describe_environment, resolve_device  # noqa: E402

HEADS, HEAD_DIM = 12, 64
CUDA_SHAPES = [(32, 2048), (16, 4096), (8, 8192)]  # rows x padded length at the encoder's 65,536-token budget
CPU_SHAPES = [(2, 512)]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="attention_kernels.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--shapes", default=None, help="comma-separated BxL, e.g. 16x4096,8x8192")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per variant (median reported)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="bf16 dense peak when not in the table")
    return parser.parse_args(argv)


def timer(device: Device, fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of fn() after 3 warm-up calls; device events on CUDA."""
    import torch

    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        if device.kind == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            begin = time.perf_counter()
            fn()
            times.append(time.perf_counter() - begin)
    return statistics.median(times)


def variants(rows: int, width: int, device: Device) -> tuple[dict[str, Callable[[], object]], float, str]:
    """The attention calls for one batch shape, the useful FLOPs of one call, and a check line."""
    import torch
    import torch.nn.functional as F
    from transformers import NomicBertConfig
    from transformers.masking_utils import create_bidirectional_mask

    dtype = torch.bfloat16 if device.kind == "cuda" else torch.float32
    lengths = [width - i for i in range(rows)]
    generator = torch.Generator(device=device.kind).manual_seed(0)
    q, k, v = (torch.randn(rows, HEADS, width, HEAD_DIM, device=device.kind, dtype=dtype, generator=generator)
               for _ in range(3))
    padding = torch.zeros(rows, width, dtype=torch.long, device=device.kind)
    for row, n in enumerate(lengths):
        padding[row, :n] = 1
    config = NomicBertConfig(num_attention_heads=HEADS, hidden_size=HEADS * HEAD_DIM)
    config._attn_implementation = "sdpa"
    embeds = torch.empty(rows, width, 1, device=device.kind, dtype=dtype)

    def build_mask():
        return create_bidirectional_mask(config=config, inputs_embeds=embeds, attention_mask=padding)

    full_mask = build_mask()
    key_mask = padding.bool()[:, None, None, :]
    calls: dict[str, Callable[[], object]] = {
        "sdpa, no mask": lambda: F.scaled_dot_product_attention(q, k, v),
        "sdpa, (B,1,L,L) mask": lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=full_mask),
        "sdpa, (B,1,1,L) mask": lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask),
        "build (B,1,L,L) mask": build_mask,
    }
    check = ""
    if device.kind == "cuda":
        try:
            from torch.nn.attention.varlen import varlen_attn
        except ImportError:  # older torch
            varlen_attn = None
        if varlen_attn is not None:
            keep = padding.bool()
            packed = [t.transpose(1, 2)[keep] for t in (q, k, v)]  # (Σn, heads, dim)
            cu = torch.zeros(rows + 1, dtype=torch.int32, device=device.kind)
            cu[1:] = torch.tensor(lengths, device=device.kind).cumsum(0)
            calls["varlen, packed"] = lambda: varlen_attn(*packed, cu, cu, width, width)
            reference = F.scaled_dot_product_attention(q, k, v, attn_mask=full_mask).transpose(1, 2)[keep]
            deviation = (calls["varlen, packed"]().float() - reference.float()).norm() / reference.float().norm()
            check = f"varlen vs masked sdpa on the real tokens: relative difference {deviation.item():.1e}"
    useful = 4.0 * HEAD_DIM * HEADS * sum(n * n for n in lengths)
    return calls, useful, check


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    device = resolve_device(args.device, peak_tflops=args.peak_tflops)
    print(describe_environment(device))
    if args.shapes:
        shapes = [tuple(int(x) for x in part.lower().split("x")) for part in args.shapes.split(",")]
    else:
        shapes = CUDA_SHAPES if device.kind == "cuda" else CPU_SHAPES
    print(f"{'batch':<12}{'variant':<24}{'ms':>9}{'TFLOP/s':>10}{'of peak':>9}")
    for rows, width in shapes:
        calls, useful, check = variants(rows, width, device)
        shape = f"{rows}x{width}"
        for name, fn in calls.items():
            seconds = timer(device, fn, args.repeats)
            if name.startswith("build"):
                print(f"{shape:<12}{name:<24}{seconds * 1e3:>9.3f}{'-':>10}{'-':>9}")
                continue
            tflops = useful / seconds / 1e12
            print(f"{shape:<12}{name:<24}{seconds * 1e3:>9.3f}{tflops:>10.3g}{device.fraction(tflops):>9}")
        if check:
            print(f"{'':<12}{check}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
