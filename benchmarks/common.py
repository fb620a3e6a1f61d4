"""What the benchmark scripts share: where the shared data is, their common arguments, and the model writers.

The scripts put this folder on sys.path when run as scripts (``python benchmarks/NAME.py``), then
``from common import ...``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_SOURCE = f"csv:{SHARED / 'pokeapi' / 'csv'}"
DEFAULT_ARTWORK = SHARED / "pokeapi" / "official-artwork"
TOKENIZER_DIR = SHARED / "tokenizers" / "bert-base-uncased"


# --- arguments ------------------------------------------------------------------------------------------------------

def add_device_and_size(parser: argparse.ArgumentParser, *, all_help: str, limit_help: str) -> None:
    """``--device`` and the mutually exclusive ``--all`` / ``--limit N``."""
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--all", action="store_true", help=all_help)
    size.add_argument("--limit", type=int, default=None, help=limit_help)


def add_peak_and_progress(parser: argparse.ArgumentParser) -> None:
    """``--peak-tflops`` (for devices not in hardware.py's table) and ``--no-progress``."""
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the device's bf16 dense peak in TFLOP/s when it is not in the table (CPU, other GPUs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def check_positive(parser: argparse.ArgumentParser, args: argparse.Namespace, *names: str) -> None:
    """parser.error for any of ``names`` (attribute names) that is set and below 1."""
    for name in names:
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive number")


# --- model writers --------------------------------------------------------------------------------------------------

def write_tiny_models(folder: Path) -> tuple[Path, Path]:
    """(text, image) tiny random-weight models (python -m pokembed.tiny_models) with the real tokenizer."""
    command = [sys.executable, "-m", "pokembed.tiny_models", str(folder), "--tokenizer", str(TOKENIZER_DIR)]
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return Path(folder) / "text", Path(folder) / "image"


def write_full_size_models(folder: Path) -> tuple[Path, Path]:
    """(text, image) random-weight full-size nomic-embed-text-v1.5 and nomic-embed-vision-v1.5 architectures; the
    image model's pokembed.json names the text model for text-to-image search."""
    text = write_full_size_text_model(Path(folder) / "text")
    image = write_full_size_image_model(Path(folder) / "image", query_model="../text")
    return text, image


def full_size_text_config():
    """NomicBertConfig with nomic-embed-text-v1.5's settings (what pokembed.embedding.registry loads for the real model)."""
    from transformers import NomicBertConfig

    return NomicBertConfig(
        vocab_size=30528,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="silu",  # SwiGLU: down(silu(gate(x)) * up(x))
        max_position_embeddings=2048,  # trained context; dynamic NTK scaling stretches it to 8192
        rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 1000.0},
        layer_norm_eps=1e-12,
        type_vocab_size=2,
        pad_token_id=0,
    )


def write_full_size_text_model(folder: Path, *, tokenizer_dir: Path = TOKENIZER_DIR, seed: int = 0) -> Path:
    """Save a random-weight full-size nomic-embed-text-v1.5 (native NomicBert) with the real tokenizer to `folder`."""
    import torch
    from transformers import AutoTokenizer, NomicBertModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = NomicBertModel(full_size_text_config())
    model.save_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tokenizer.model_max_length = 8192
    tokenizer.save_pretrained(folder)
    write_pokembed_json(folder, kind="text")
    return folder


def write_pokembed_json(folder: Path, *, kind: str) -> None:
    """The pokembed.json sidecar (the format pokembed.embedding.tiny_models writes) that gives the folder the real model's
    spec: search prompts, mean pooling, 768 dimensions, the 8,192-token context, layer norm before normalising."""
    import json

    sidecar = {"kind": kind, "document_prompt": "search_document: ", "query_prompt": "search_query: ",
               "pooling": "mean", "dimension": 768, "max_tokens": 8192, "layer_norm": True, "query_model": None}
    (Path(folder) / "pokembed.json").write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_full_size_image_model(folder: Path, *, seed: int = 0, query_model: str | None = None) -> Path:
    """Save a random-weight nomic-embed-vision-v1.5 architecture (pokembed.embedding.nomic_vision, the Hub layout) with the
    real model's CLIP image processor to `folder`; `query_model` (a text model folder, relative to this one) goes
    into its pokembed.json for the Space's text-to-image search."""
    import json

    from safetensors.torch import save_file
    from transformers import CLIPImageProcessorPil

    from pokembed.embedding import nomic_vision

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vision = nomic_vision.VisionConfig(hidden=768, layers=12, heads=12, mlp_hidden=2048, image_size=224, patch_size=16,
                                       eps=1e-6, ref_feat_shape=(14, 14))
    model = nomic_vision.random_model(vision, seed=seed)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / nomic_vision.WEIGHTS_FILE),
              metadata={"format": "pt"})
    (folder / nomic_vision.CONFIG_FILE).write_text(json.dumps(nomic_vision.hub_config(vision), indent=2) + "\n")
    CLIPImageProcessorPil(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}).save_pretrained(folder)
    sidecar = {"kind": "image", "pooling": "cls", "dimension": 768, "query_model": query_model}
    (folder / "pokembed.json").write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return folder


def write_full_size_vit(folder: Path, *, seed: int = 0) -> Path:
    """Save a random-weight ViT-B/16 (ViTConfig defaults) and a ViTImageProcessor to `folder` (the old stand-in)."""
    import json

    import torch
    from transformers import ViTConfig, ViTImageProcessorPil, ViTModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    ViTModel(ViTConfig()).save_pretrained(folder)
    ViTImageProcessorPil().save_pretrained(folder)
    sidecar = {"kind": "image", "pooling": "cls", "dimension": 768, "query_model": None}
    (folder / "pokembed.json").write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return folder
