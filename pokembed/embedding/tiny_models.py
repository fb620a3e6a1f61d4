"""Tiny random-weight models for offline use: ``python -m pokembed.tiny_models DIR [--tokenizer PATH]``.

Writes ``DIR/text``, a native NomicBert (2 layers, 2 heads, seeded random weights) with a fast BERT WordPiece
tokenizer, and ``DIR/image``, nomic's vision architecture (``pokembed.embedding.nomic_vision``: 224 px, 16 px patches, 2-D
rotary, attention-pooling selector; 2 layers, 2 heads, the text model's hidden size so text->image search has
matching dimensions) in the layout of the nomic-embed-vision-v1.5 Hub repo (contrastors ``config.json``,
``model.safetensors`` with nomic's tensor names, a CLIP image processor). Both load through the same code as the
real models; a ``pokembed.json`` sidecar in each gives what ``config.json`` cannot (prompts, pooling, dimension,
max_tokens, layer norm, the query model).

The text model uses the real model's recipe: dynamic NTK RoPE (factor 2 over 2,048 trained positions), 8,192 max
tokens (so truncation happens on real data), search prompts and the layer norm before normalisation.
By default the tokenizer's vocabulary is built here, deterministically (special tokens, ASCII characters, their
``##`` continuations and common PokéAPI words), so nothing outside the repository is needed; ``--tokenizer PATH``
copies a real tokenizer instead (e.g. ``../shared/tokenizers/bert-base-uncased``) for realistic token counts.
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from dataclasses import dataclass
from pathlib import Path

from pokembed.errors import BadInputError, PokembedError
from pokembed.embedding.registry import SIDECAR

TEXT_SUBDIR = "text"
IMAGE_SUBDIR = "image"
DEFAULT_HIDDEN = 32
IMAGE_SIZE = 224
PATCH_SIZE = 16

_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_WORDS = (
    "id name order height weight base experience is default true false null pokemon species specy pokemonspecy "
    "type types slot move moves level learned method version group versiongroup ability abilities hidden stat stats "
    "effort generation generations egg eggs tutor machine encounter encounters location area rate chance held item "
    "items rarity evolution chain color shape habitat flavor text language form forms sprites cries legendary "
    "mythical baby capture happiness gender growth hatch counter normal fire water grass electric ice fighting "
    "poison ground flying psychic bug rock ghost dragon dark steel fairy hp attack defense special speed accuracy "
    "evasion power pp priority damage class physical status red blue yellow gold silver crystal ruby sapphire "
    "emerald diamond pearl platinum black white sun moon sword shield scarlet violet lets go pikachu eevee x y "
    "omega alpha ultra legends arceus brilliant shining firered leafgreen heartgold soulsilver colosseum xd i ii "
    "iii iv v vi vii viii ix search document query"
).split()


@dataclass(frozen=True)
class TinyModels:
    """Where the tiny models were written."""

    text: Path
    image: Path


def write_tiny_models(
    out_dir: Path, *, tokenizer: Path | None = None, seed: int = 0, hidden_size: int = DEFAULT_HIDDEN
) -> TinyModels:
    """Write ``out_dir/text`` and ``out_dir/image``; the same arguments give the same weights."""
    if hidden_size < 8 or hidden_size % 8:
        raise BadInputError(f"hidden_size must be a multiple of 8 (two heads whose width is a multiple of 4), got {hidden_size}")
    out_dir = Path(out_dir)
    text_dir, image_dir = out_dir / TEXT_SUBDIR, out_dir / IMAGE_SUBDIR
    text_dir.mkdir(parents=True, exist_ok=True)
    image_dir.mkdir(parents=True, exist_ok=True)
    _write_text_model(text_dir, tokenizer=tokenizer, seed=seed, hidden_size=hidden_size)
    _write_image_model(image_dir, seed=seed, hidden_size=hidden_size)
    return TinyModels(text=text_dir, image=image_dir)


def tiny_vocab() -> list[str]:
    """The default WordPiece vocabulary: specials, lowercase ASCII, ## continuations, common PokéAPI words."""
    chars = [c for c in string.printable if not c.isspace() and not c.isupper()]
    continuations = ["##" + c for c in string.ascii_lowercase + string.digits]
    vocab: list[str] = []
    for token in _SPECIAL + chars + continuations + _WORDS:
        if token not in vocab:
            vocab.append(token)
    return vocab


def _tokenizer(source: Path | None):
    from transformers import AutoTokenizer, BertTokenizer

    if source is None:
        vocab = {token: i for i, token in enumerate(tiny_vocab())}
        return BertTokenizer(vocab=vocab, do_lower_case=True, model_max_length=8192)
    if not Path(source).is_dir():
        raise BadInputError(f"tokenizer folder {source} does not exist; pass a folder with tokenizer.json")
    tok = AutoTokenizer.from_pretrained(str(source))
    if getattr(tok, "backend_tokenizer", None) is None:
        raise BadInputError(f"{source} holds no fast tokenizer (tokenizer.json); pass a folder that has one")
    tok.model_max_length = 8192
    return tok


def _write_text_model(folder: Path, *, tokenizer: Path | None, seed: int, hidden_size: int) -> None:
    import torch
    from transformers import NomicBertConfig, NomicBertModel

    tok = _tokenizer(tokenizer)
    vocab_size = -(-len(tok) // 64) * 64  # padded like the real model's 30522 -> 30528
    config = NomicBertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * hidden_size,
        max_position_embeddings=2048,
        rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 1000.0},
        pad_token_id=tok.pad_token_id or 0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = NomicBertModel(config)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    _write_sidecar(
        folder,
        {
            "kind": "text",
            "document_prompt": "search_document: ",
            "query_prompt": "search_query: ",
            "pooling": "mean",
            "dimension": hidden_size,
            "max_tokens": 8192,
            "layer_norm": True,
            "query_model": None,
        },
    )


def _write_image_model(folder: Path, *, seed: int, hidden_size: int) -> None:
    """nomic's vision architecture (pokembed.embedding.nomic_vision) in the Hub repo's layout: contrastors config.json,
    model.safetensors with nomic's tensor names, the CLIP image processor nomic-embed-vision-v1.5 ships."""
    from safetensors.torch import save_file
    from transformers import CLIPImageProcessorPil  # saved as "CLIPImageProcessor", as the Hub repo has it

    from pokembed.embedding import nomic_vision

    vision = nomic_vision.VisionConfig(
        hidden=hidden_size,
        layers=2,
        heads=2,
        mlp_hidden=nomic_vision.MLP_MULTIPLE,  # nomic's gated MLP rounds its width up to a multiple of 256
        image_size=IMAGE_SIZE,
        patch_size=PATCH_SIZE,
        eps=1e-6,
        ref_feat_shape=(IMAGE_SIZE // PATCH_SIZE, IMAGE_SIZE // PATCH_SIZE),
    )
    model = nomic_vision.random_model(vision, seed=seed + 1)
    tensors = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    save_file(tensors, str(folder / nomic_vision.WEIGHTS_FILE), metadata={"format": "pt"})
    config = nomic_vision.hub_config(vision)
    (folder / nomic_vision.CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    processor = CLIPImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE},
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        resample=3,  # bicubic
        image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711],
    )
    processor.save_pretrained(folder)
    _write_sidecar(folder, {"kind": "image", "pooling": "cls", "dimension": hidden_size, "query_model": f"../{TEXT_SUBDIR}"})


def _write_sidecar(folder: Path, data: dict) -> None:
    (folder / SIDECAR).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """CLI: write the tiny models and print their folders."""
    parser = argparse.ArgumentParser(prog="python -m pokembed.tiny_models", description=__doc__.split("\n")[0])
    parser.add_argument("dir", type=Path, help="output folder (gets text/ and image/)")
    parser.add_argument("--tokenizer", type=Path, default=None, help="copy this tokenizer folder instead of the built-in vocabulary")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden-size", type=int, default=DEFAULT_HIDDEN)
    args = parser.parse_args(argv)
    try:
        models = write_tiny_models(args.dir, tokenizer=args.tokenizer, seed=args.seed, hidden_size=args.hidden_size)
    except PokembedError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(f"text model:  {models.text}\nimage model: {models.image}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
