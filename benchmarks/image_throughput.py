#!/usr/bin/env python
"""Image embedding throughput: preprocessing and embedding of the shared official artwork, reported apart.

The model is the full-size ViT-B/16 architecture (transformers' ViTConfig defaults: 768 hidden, 12 layers, 12 heads,
3072 MLP, patch 16, 224x224; random weights) saved with a ViTImageProcessor, loaded through
pokembed.encoders.load_image_encoder: the same arithmetic as nomic-embed-vision-v1.5's ViT-B/16 tower.

Two stages, each timed on its own:
  preprocessing  pokembed.artwork.load_artwork(ids, folder, cache_dir=None): read, decode, composite on white,
                 LANCZOS to 224x224 RGB (no cache, so every file is decoded), on the artwork module's thread pool.
  embedding      encoder.embed_images(images): the model's image processor (rescale, normalise, to tensors), the
                 forward pass, CLS pooling and normalisation. The image processor alone is also timed, for scale.

FLOPs per image (197 tokens = 196 patches + CLS): per layer 2·197·(4·h² + 2·h·i, read off the layer's nn.Linear
shapes) + 2·2·197²·h for attention, plus the patch projection (2·196·768·3·16·16) and the pooler if the model has one.

Subset: by default 64 images with ids evenly spaced over the folder's sorted ids; --limit N picks N that way;
--all takes every image (798 in ../shared/pokeapi/official-artwork; meant for a GPU).

  python benchmarks/image_throughput.py                       # CPU-sized subset, device auto
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
from hardware import Device, clock, describe_environment, resolve_device  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_ARTWORK = SHARED / "pokeapi" / "official-artwork"
CPU_SUBSET = 64
COSINE_FLOOR = 0.99


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="image_throughput.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--all", action="store_true", help="every {id}.png in the artwork folder (798 shared): for a GPU")
    size.add_argument("--limit", type=int, default=None,
                      help=f"N images with ids evenly spaced over the sorted ids (default {CPU_SUBSET})")
    parser.add_argument("--artwork", type=Path, default=DEFAULT_ARTWORK, help="a folder of {id}.png files")
    parser.add_argument("--model", default=None,
                        help="an image model (registry name or local folder) instead of the random full-size ViT-B/16")
    parser.add_argument("--batch-size", type=int, default=None, help="encoder batch size (default: the encoder's)")
    parser.add_argument("--workers", type=int, default=8, help="load_artwork threads (default 8, its default)")
    parser.add_argument("--repeats", type=int, default=1, help="timed embedding runs; the median is reported")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the device's bf16 dense peak in TFLOP/s when it is not in the table (CPU, other GPUs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be a positive number")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if not args.artwork.is_dir():
        parser.error(f"--artwork {args.artwork} is not a folder; point it at a folder of {{id}}.png files")
    return args


# --- the model ------------------------------------------------------------------------------------------------------

def write_full_size_image_model(folder: Path, *, seed: int = 0, query_model: str | None = None) -> Path:
    """Save a random-weight ViT-B/16 (ViTConfig defaults) and a ViTImageProcessor to `folder`; `query_model` (a
    text model folder, relative to this one) goes into its pokembed.json for the Space's text-to-image search."""
    import json

    import torch
    from transformers import ViTConfig, ViTImageProcessorPil, ViTModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    ViTModel(ViTConfig()).save_pretrained(folder)
    ViTImageProcessorPil().save_pretrained(folder)
    sidecar = {"kind": "image", "pooling": "cls", "dimension": 768, "query_model": query_model}
    (folder / "pokembed.json").write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return folder


# --- FLOPs ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageFlopModel:
    per_image: float  # FLOPs of one image's forward pass
    note: str


def vit_flop_model(model) -> ImageFlopModel:
    """FLOPs of one image through a ViT-style model, read off its module shapes (linear + attention + patches)."""
    import torch

    config = model.config
    h, i = config.hidden_size, config.intermediate_size
    patches = (config.image_size // config.patch_size) ** 2
    n = patches + 1  # + CLS
    layers = getattr(model, "layers", None) or model.encoder.layer  # transformers 5 | 4 layout
    layer = layers[0]
    macs = sum(m.in_features * m.out_features for m in layer.modules() if isinstance(m, torch.nn.Linear))
    linear = config.num_hidden_layers * 2.0 * n * macs
    attention = config.num_hidden_layers * 2.0 * 2.0 * n * n * h
    conv = model.embeddings.patch_embeddings.projection
    patch = 2.0 * patches * conv.weight.numel()
    pooler = getattr(model, "pooler", None)
    pool = 2.0 * sum(m.in_features * m.out_features for m in pooler.modules()
                     if isinstance(m, torch.nn.Linear)) if pooler is not None else 0.0
    total = linear + attention + patch + pool
    check = "matches" if macs == 4 * h * h + 2 * h * i else "DIFFERS from"
    note = (f"{total / 1e9:.1f} GFLOP per image ({n} tokens): {linear / total:.0%} linear (per-layer MACs/token "
            f"{macs:,}, {check} 4·h²+2·h·i), {attention / total:.0%} attention, {patch / total:.1%} patch projection")
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


def reference_vectors(model_dir: str, images, device: Device) -> np.ndarray:
    """A few images through processor → fp32 model → CLS → L2 normalise, without pokembed: the correctness check."""
    import torch
    import torch.nn.functional as F
    from transformers import AutoImageProcessor, AutoModel

    processor = AutoImageProcessor.from_pretrained(model_dir, backend="pil")
    model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).to(device.kind).eval()
    with torch.no_grad():
        pixels = processor(images=list(images), return_tensors="pt")["pixel_values"].to(device.kind)
        cls = model(pixel_values=pixels).last_hidden_state[:, 0]
        return F.normalize(cls.float(), dim=1).cpu().numpy()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    device = resolve_device(args.device, peak_tflops=args.peak_tflops)
    import torch
    from transformers import AutoImageProcessor
    from transformers.utils import logging as hf_logging

    from pokembed.artwork import load_artwork
    from pokembed.encoders import load_image_encoder
    from pokembed.models import get_model_spec

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
            print(f"model: random-weight full-size ViT-B/16 (ViTConfig defaults) + ViTImageProcessor, written in "
                  f"{time.perf_counter() - start:.1f} s")
            spec = get_model_spec(str(model_dir), "image")
        else:
            spec = get_model_spec(args.model, "image")
            print(f"model: {spec.name} ({spec.model_id} @ {spec.revision})")

        kwargs = {"device": device.kind, "progress": not args.no_progress}
        if args.batch_size is not None:
            kwargs["batch_size"] = args.batch_size
        start = time.perf_counter()
        encoder = load_image_encoder(spec, **kwargs)
        device.synchronize()
        load = time.perf_counter() - start
        flops = vit_flop_model(encoder.model) if spec.architecture == "vit" else None

        processor = AutoImageProcessor.from_pretrained(spec.model_id, revision=spec.revision, backend="pil")
        start = time.perf_counter()
        processor(images=images, return_tensors="pt")
        processor_seconds = time.perf_counter() - start

        start = clock(device)
        encoder.embed_images(images[:2])
        warmup = clock(device) - start
        seconds = []
        vectors = None
        if device.kind == "cuda":
            torch.cuda.reset_peak_memory_stats()
        for _ in range(args.repeats):
            start = clock(device)
            vectors = encoder.embed_images(images)
            seconds.append(clock(device) - start)
        peak_gib = torch.cuda.max_memory_allocated() / 2**30 if device.kind == "cuda" else None
        check = None
        if spec.architecture == "vit":
            sample = images[: min(4, len(images))]
            reference = reference_vectors(spec.model_id, sample, device)
            check = float(np.min(np.sum(reference * vectors[: len(sample)], axis=1)))

    embed = statistics.median(seconds)
    print(f"encoder: batch size {encoder.batch_size}, dtype {str(encoder.dtype).replace('torch.', '')}, attention "
          f"{getattr(encoder.model.config, '_attn_implementation', '?')}; load {load:.1f} s, warm-up (2 images) "
          f"{warmup:.2f} s{'' if peak_gib is None else f', peak GPU memory {peak_gib:.1f} GiB'}")
    if flops is not None:
        print(f"FLOPs: {flops.note}")
    print()
    print(f"{'stage':<26}{'images':>8}{'seconds':>10}{'images/s':>10}{'TFLOP/s':>10}{'of peak':>9}")
    print(f"{'preprocessing (artwork)':<26}{len(images):>8}{preprocess:>10.2f}{len(images) / preprocess:>10.1f}"
          f"{'-':>10}{'-':>9}")
    tflops = flops.per_image * len(images) / embed / 1e12 if flops is not None else None
    print(f"{'embedding (encoder)':<26}{len(images):>8}{embed:>10.2f}{len(images) / embed:>10.1f}"
          f"{'-' if tflops is None else f'{tflops:.3g}':>10}{'-' if tflops is None else device.fraction(tflops):>9}")
    print(f"{'  of which image processor':<26}{len(images):>8}{processor_seconds:>10.2f}"
          f"{len(images) / processor_seconds:>10.1f}{'':>10}{'':>9}   (timed separately, for scale)")
    total = preprocess + embed
    print(f"{'total':<26}{len(images):>8}{total:>10.2f}{len(images) / total:>10.1f}")
    if len(seconds) > 1:
        print(f"  embedding runs: {', '.join(f'{s:.2f}' for s in seconds)} s")
    status = 0
    if check is not None:
        line = f"agreement with a plain fp32 processor→model→CLS reference on {min(4, len(images))} images: " \
               f"min cosine {check:.6f}"
        if device.kind == "cpu":
            ok = check >= COSINE_FLOOR
            print(f"{line} -> {'OK' if ok else 'MISMATCH'}")
            status = 0 if ok else 1
        else:
            print(f"{line} (encoder in its own dtype)")
    return status


if __name__ == "__main__":
    sys.exit(main())
