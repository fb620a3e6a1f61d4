#!/usr/bin/env python
"""Image embedding throughput: preprocessing and embedding of the shared official artwork, reported apart.

The model is nomic-embed-vision-v1.5's architecture at full size, run natively by pokembed.embedding.nomic_vision (768 hidden,
12 layers, 12 heads, SwiGLU MLP 2048 with its LayerNorm, patch 16, 224x224, 2-D rotary, attention-pooling selector;
random weights), written in the Hub repo's layout with its CLIP image processor and loaded through
pokembed.embedding.encoders.load_image_encoder: the same compute as the real model. --with-vit also times the ViT-B/16 that
stood in for it before (transformers' ViTConfig defaults, 3072 GELU MLP; the same linear MACs per token) on the same
images, for comparison.

Two stages, each timed on its own:
  preprocessing  pokembed.sources.artwork.load_artwork(ids, folder, cache_dir=None): read, decode, composite on white,
                 LANCZOS to 224x224 RGB (no cache, so every file is decoded), on the artwork module's thread pool.
  embedding      encoder.embed_images(images): the model's image processor (rescale, normalise, to tensors), the
                 forward pass, CLS pooling and normalisation. The image processor alone is also timed, for scale.

FLOPs per image (197 tokens = 196 patches + CLS): per layer 2·197·(the layer's nn.Linear MACs: 4·h² + 3·h·i for
nomic's SwiGLU, 4·h² + 2·h·i for the ViT) + 2·2·197²·h for attention, plus the patch projection (2·196·768·3·16·16)
and the head (nomic's selector: Wkv over every token, the rest on one; the ViT's pooler).

Subset: by default 64 images with ids evenly spaced over the folder's sorted ids; --limit N picks N that way;
--all takes every image (798 in ../shared/pokeapi/official-artwork; meant for a GPU).

  python benchmarks/image_throughput.py                       # CPU-sized subset, device auto
  python benchmarks/image_throughput.py --device cpu --limit 16 --with-vit   # nomic's architecture next to the ViT
  python benchmarks/image_throughput.py --device cuda --all   # every shared artwork on a GPU
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    DEFAULT_ARTWORK,
    add_device_and_size,
    add_peak_and_progress,
    check_positive,
    write_full_size_image_model,
    write_full_size_vit,
)
from hardware import Device, clock, describe_environment, resolve_device  # noqa: E402

CPU_SUBSET = 64
COSINE_FLOOR = 0.99


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="image_throughput.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_device_and_size(parser, all_help="every {id}.png in the artwork folder (798 shared): for a GPU",
                        limit_help=f"N images with ids evenly spaced over the sorted ids (default {CPU_SUBSET})")
    parser.add_argument("--artwork", type=Path, default=DEFAULT_ARTWORK, help="a folder of {id}.png files")
    parser.add_argument("--model", default=None,
                        help="an image model (registry name or local folder) instead of the random full-size nomic vision model")
    parser.add_argument("--with-vit", action="store_true",
                        help="also time the random full-size ViT-B/16 (the stand-in used before) on the same images")
    parser.add_argument("--batch-size", type=int, default=None, help="encoder batch size (default: the encoder's)")
    parser.add_argument("--workers", type=int, default=8, help="load_artwork threads (default 8, its default)")
    parser.add_argument("--repeats", type=int, default=1, help="timed embedding runs; the median is reported")
    add_peak_and_progress(parser)
    args = parser.parse_args(argv)
    check_positive(parser, args, "limit", "repeats")
    if not args.artwork.is_dir():
        parser.error(f"--artwork {args.artwork} is not a folder; point it at a folder of {{id}}.png files")
    return args


# --- the model ------------------------------------------------------------------------------------------------------

# --- FLOPs ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageFlopModel:
    per_image: float  # FLOPs of one image's forward pass
    note: str


def _linear_macs(module) -> int:
    import torch

    return sum(m.in_features * m.out_features for m in module.modules() if isinstance(m, torch.nn.Linear))


def flop_model(model, architecture: str) -> ImageFlopModel | None:
    """FLOPs of one image through a ViT or nomic vision model, read off its module shapes."""
    if architecture == "nomic_vision":
        vision = model.vision
        h, i, layers = vision.hidden, vision.mlp_hidden, vision.layers
        patches = vision.grid**2
        layer_macs = _linear_macs(model.layers[0])
        expected = 4 * h * h + 3 * h * i
        patch = 2.0 * patches * model.embeddings.proj.weight.numel()
        selector = model.selector
        head = 2.0 * ((patches + 1) * selector.attn.Wkv.weight.numel()
                      + _linear_macs(selector) - selector.attn.Wkv.weight.numel())
        formula = "4·h²+3·h·i"
    elif architecture == "vit":
        config = model.config
        h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
        patches = (config.image_size // config.patch_size) ** 2
        layer_macs = _linear_macs((getattr(model, "layers", None) or model.encoder.layer)[0])  # transformers 5 | 4
        expected = 4 * h * h + 2 * h * i
        patch = 2.0 * patches * model.embeddings.patch_embeddings.projection.weight.numel()
        pooler = getattr(model, "pooler", None)
        head = 2.0 * _linear_macs(pooler) if pooler is not None else 0.0
        formula = "4·h²+2·h·i"
    else:
        return None
    n = patches + 1  # + CLS
    linear = layers * 2.0 * n * layer_macs
    attention = layers * 2.0 * 2.0 * n * n * h
    total = linear + attention + patch + head
    check = "matches" if layer_macs == expected else "DIFFERS from"
    note = (f"{total / 1e9:.1f} GFLOP per image ({n} tokens): {linear / total:.0%} linear (per-layer MACs/token "
            f"{layer_macs:,}, {check} {formula}), {attention / total:.0%} attention, {patch / total:.1%} patch "
            f"projection, {head / total:.1%} head")
    return ImageFlopModel(per_image=total, note=note)


# --- the images -----------------------------------------------------------------------------------------------------

def artwork_ids(folder: Path) -> list[int]:
    """Ids of every {id}.png in the folder, sorted."""
    return sorted(int(p.stem) for p in folder.glob("*.png") if p.stem.isdigit())


def spread_subset(ids: Sequence[int], k: int) -> list[int]:
    """k ids evenly spaced over the sorted ids (first and last included)."""
    if k >= len(ids):
        return list(ids)
    positions = np.unique(np.linspace(0, len(ids) - 1, k).round().astype(int))
    return [ids[p] for p in positions]


def reference_vectors(spec, images, device: Device) -> np.ndarray:
    """A few images through processor → fp32 model → token 0 → L2 normalise, outside pokembed's encoder (its batching,
    dtype and device handling): for the ViT transformers' AutoModel, for nomic the bare pokembed.embedding.nomic_vision module."""
    import torch
    import torch.nn.functional as F
    from transformers import AutoImageProcessor, AutoModel

    folder = spec.snapshot or spec.model_id
    processor = AutoImageProcessor.from_pretrained(folder, backend="pil")
    if spec.architecture == "nomic_vision":
        from pokembed.embedding import nomic_vision

        model = nomic_vision.load_model(Path(folder))
    else:
        model = AutoModel.from_pretrained(folder, dtype=torch.float32)
    model = model.to(device.kind).eval()
    with torch.no_grad():
        pixels = processor(images=list(images), return_tensors="pt")["pixel_values"].to(device.kind)
        first = model(pixel_values=pixels).last_hidden_state[:, 0]
        return F.normalize(first.float(), dim=1).cpu().numpy()


@dataclass(frozen=True)
class Timing:
    label: str
    encoder: object
    load: float
    warmup: float
    seconds: list[float]
    flops: ImageFlopModel | None
    check: float | None
    peak_gib: float | None


def time_model(spec, images, device: Device, args: argparse.Namespace, label: str) -> Timing:
    """Load the encoder, warm it up, time `repeats` embeddings of every image, check 4 against the plain reference."""
    import torch

    from pokembed.embedding.encoders import load_image_encoder

    kwargs = {"device": device.kind, "progress": not args.no_progress}
    if args.batch_size is not None:
        kwargs["batch_size"] = args.batch_size
    start = time.perf_counter()
    encoder = load_image_encoder(spec, **kwargs)
    device.synchronize()
    load = time.perf_counter() - start
    start = clock(device)
    encoder.embed_images(images[:2])
    warmup = clock(device) - start
    if device.kind == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds, vectors = [], None
    for _ in range(args.repeats):
        start = clock(device)
        vectors = encoder.embed_images(images)
        seconds.append(clock(device) - start)
    peak_gib = torch.cuda.max_memory_allocated() / 2**30 if device.kind == "cuda" else None
    check = None
    if spec.revision is None or spec.snapshot:  # a local folder: the reference reads the same files
        sample = images[: min(4, len(images))]
        check = float(np.min(np.sum(reference_vectors(spec, sample, device) * vectors[: len(sample)], axis=1)))
    return Timing(label, encoder, load, warmup, seconds, flop_model(encoder.model, spec.architecture), check, peak_gib)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    device = resolve_device(args.device, peak_tflops=args.peak_tflops)
    from transformers import AutoImageProcessor
    from transformers.utils import logging as hf_logging

    from pokembed.sources.artwork import load_artwork
    from pokembed.embedding.registry import get_model_spec

    if args.no_progress:
        hf_logging.disable_progress_bar()
    print(describe_environment(device))
    every = artwork_ids(args.artwork)
    if not every:
        raise SystemExit(f"Error: no {{id}}.png files in {args.artwork}; point --artwork at the artwork folder")
    if args.all:
        ids = every
        subset = f"all {len(ids):,} images in {args.artwork}"
    else:
        ids = spread_subset(every, args.limit or CPU_SUBSET)
        subset = (f"{len(ids)} of the {len(every):,} images in {args.artwork}, ids evenly spaced from {ids[0]} to "
                  f"{ids[-1]}; --all for every image")
    print(f"images: {subset}")

    start = time.perf_counter()
    artwork = load_artwork(ids, str(args.artwork), cache_dir=None, workers=args.workers, progress=not args.no_progress)
    preprocess = time.perf_counter() - start
    images = [artwork.images[i] for i in ids if i in artwork.images]
    print(f"preprocessing (read, decode, composite, resize to 224x224; {args.workers} threads, no cache): "
          f"{len(images)} images in {preprocess:.2f} s = {len(images) / preprocess:.1f} images/s"
          f"{f'; {len(artwork.missing)} missing, {len(artwork.corrupt)} corrupt' if artwork.missing else ''}")
    if not images:
        raise SystemExit("Error: no image could be read; check --artwork")

    with tempfile.TemporaryDirectory(prefix="pokembed-bench-image-") as tmp:
        if args.model is None:
            start = time.perf_counter()
            model_dir = write_full_size_image_model(Path(tmp) / "image")
            print(f"model: random-weight full-size nomic-embed-vision-v1.5 architecture (pokembed.embedding.nomic_vision, Hub "
                  f"layout) + CLIP image processor, written in {time.perf_counter() - start:.1f} s")
            spec = get_model_spec(str(model_dir), "image")
            label = "nomic vision (native)"
        else:
            spec = get_model_spec(args.model, "image")
            print(f"model: {spec.name} ({spec.model_id} @ {spec.revision})")
            label = spec.name
        processor = AutoImageProcessor.from_pretrained(spec.snapshot or spec.model_id,
                                                       revision=None if spec.snapshot else spec.revision, backend="pil")
        start = time.perf_counter()
        processor(images=images, return_tensors="pt")
        processor_seconds = time.perf_counter() - start
        timings = [time_model(spec, images, device, args, label)]
        if args.with_vit:
            vit = get_model_spec(str(write_full_size_vit(Path(tmp) / "vit")), "image")
            timings.append(time_model(vit, images, device, args, "ViT-B/16 (old stand-in)"))

    for t in timings:
        encoder = t.encoder
        print(f"{t.label}: batch size {encoder.batch_size}, dtype {str(encoder.dtype).replace('torch.', '')}, "
              f"attention {getattr(getattr(encoder.model, 'config', None), '_attn_implementation', 'sdpa')}; load "
              f"{t.load:.1f} s, warm-up (2 images) {t.warmup:.2f} s"
              f"{'' if t.peak_gib is None else f', peak GPU memory {t.peak_gib:.1f} GiB'}")
        if t.flops is not None:
            print(f"  FLOPs: {t.flops.note}")
    print()
    print(f"{'stage':<34}{'images':>8}{'seconds':>10}{'images/s':>10}{'TFLOP/s':>10}{'of peak':>9}")
    print(f"{'preprocessing (artwork)':<34}{len(images):>8}{preprocess:>10.2f}{len(images) / preprocess:>10.1f}"
          f"{'-':>10}{'-':>9}")
    for t in timings:
        embed = statistics.median(t.seconds)
        tflops = t.flops.per_image * len(images) / embed / 1e12 if t.flops is not None else None
        print(f"{'embedding, ' + t.label:<34}{len(images):>8}{embed:>10.2f}{len(images) / embed:>10.1f}"
              f"{'-' if tflops is None else f'{tflops:.3g}':>10}{'-' if tflops is None else device.fraction(tflops):>9}")
        if len(t.seconds) > 1:
            print(f"  embedding runs: {', '.join(f'{s:.2f}' for s in t.seconds)} s")
    print(f"{'  of which image processor':<34}{len(images):>8}{processor_seconds:>10.2f}"
          f"{len(images) / processor_seconds:>10.1f}{'':>10}{'':>9}   (timed separately, for scale)")
    embed = statistics.median(timings[0].seconds)
    total = preprocess + embed
    print(f"{'total (' + timings[0].label + ')':<34}{len(images):>8}{total:>10.2f}{len(images) / total:>10.1f}")
    status = 0
    for t in timings:
        if t.check is None:
            continue
        line = (f"{t.label}: agreement with a plain fp32 processor→model→token-0 reference on "
                f"{min(4, len(images))} images: min cosine {t.check:.6f}")
        if device.kind == "cpu":
            ok = t.check >= COSINE_FLOOR
            print(f"{line} -> {'OK' if ok else 'MISMATCH'}")
            status = status or (0 if ok else 1)
        else:
            print(f"{line} (encoder in its own dtype)")
    return status


if __name__ == "__main__":
    sys.exit(main())
