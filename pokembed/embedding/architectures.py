"""Each model architecture declared once: how a local folder's ``config.json`` names it, the spec values it implies,
what loading it needs beyond transformers' Auto classes, its forward pass for each pooling it can give, and the spec
fields that change its vectors (the vector cache's key). Adding an architecture is one ``Architecture`` entry here.

The forward passes are ``pokembed.embedding.encoders``' base classes with only ``_forward`` (and, for SigLIP's text
tower, its tokenisation) filled in; batching, dtype, device and normalisation stay in the base classes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pokembed.embedding.encoders import ImageEncoder, TextEncoder
from pokembed.embedding.registry import ModelSpec
from pokembed.errors import BadInputError, ModelLoadError

if TYPE_CHECKING:
    import torch

# The spec fields that change an embedding's vectors; the cache key hashes them with the architecture's name.
VECTOR_FIELDS = ("pooling", "document_prompt", "dimension", "max_tokens", "layer_norm", "rope_scaling_factor",
                 "trained_positions")


@dataclass(frozen=True)
class Architecture:
    """One architecture: recognised in ``config.json``, loaded, run and keyed in the vector cache."""

    name: str
    kind: str  # the kind of model it is: "text" or "image" (SigLIP, an image model, also has a text tower)
    model_types: tuple[str, ...]  # config.json ``model_type`` values that name it
    spec_values: Callable[[dict, Path], dict]  # config.json, folder -> the ModelSpec fields a local folder implies
    text_encoders: Mapping[str, type[TextEncoder]] = field(default_factory=dict)  # pooling -> forward pass
    image_encoders: Mapping[str, type[ImageEncoder]] = field(default_factory=dict)
    config_architectures: tuple[str, ...] = ()  # when set, config.json's ``architectures`` must name one of these
    prepare_config: Callable[[ModelSpec, Any], None] | None = None  # adjusts transformers' config before loading
    after_load: Callable[[Any, Any], None] | None = None  # (model, config): patches the loaded model
    load_model: Callable[[ModelSpec, Any, str], Any] | None = None  # (spec, processor, what) instead of AutoModel
    vector_fields: tuple[str, ...] = VECTOR_FIELDS

    @property
    def default_pooling(self) -> str:
        return next(iter(self.text_encoders if self.kind == "text" else self.image_encoders))

    def matches(self, config: Mapping[str, Any]) -> bool:
        """Whether a local folder's config.json is this architecture."""
        if config.get("model_type") not in self.model_types:
            return False
        return not self.config_architectures or bool(set(self.config_architectures) & set(config.get("architectures") or []))


# --------------------------------------------------------------------------------------------- the forward passes


def _pooled(output: Any) -> "torch.Tensor":
    return output if hasattr(output, "dim") else output.pooler_output


class MeanPoolTextEncoder(TextEncoder):
    """BERT-style encoders (NomicBert): attention-masked mean of the last hidden states."""

    def _forward(self, inputs: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        hidden = self.model(**inputs).last_hidden_state.float()
        mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class ClsTextEncoder(TextEncoder):
    """Text towers read at their first token ([CLS]) of ``last_hidden_state`` (``pooling: "cls"`` in a sidecar)."""

    def _forward(self, inputs: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        return self.model(**inputs).last_hidden_state[:, 0]


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
    """ViT-style image towers: token 0 of ``last_hidden_state``. For nomic-embed-vision (pokembed.embedding.nomic_vision)
    that is the attention-pooling selector's output, not the encoder's CLS token."""

    def _forward(self, inputs: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        return self.model(**inputs).last_hidden_state[:, 0]


class SiglipImageEncoder(ImageEncoder):
    """SigLIP's image tower: ``get_image_features`` (attention-pooled head)."""

    def _forward(self, inputs: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        return _pooled(self.model.get_image_features(**inputs))


# ------------------------------------------------------------------------------------- what a local folder implies


def _hidden(config: Mapping[str, Any]) -> int:
    return int(config.get("hidden_size") or config.get("n_embd") or config.get("projection_dim") or 0)


def _nomic_bert_values(config: dict, folder: Path) -> dict:
    rope = config.get("rope_parameters") or {}
    dynamic = rope.get("rope_type") == "dynamic"
    return {
        "document_prompt": "search_document: ",
        "query_prompt": "search_query: ",
        "dimension": _hidden(config),
        "max_tokens": int(config.get("n_positions") or config.get("max_position_embeddings") or 2048),
        "rope_scaling_factor": float(rope["factor"]) if dynamic else None,
        "trained_positions": int(config.get("max_position_embeddings") or 2048) if dynamic else None,
    }


def _bert_values(config: dict, folder: Path) -> dict:
    return {"dimension": _hidden(config), "max_tokens": int(config.get("max_position_embeddings") or 512)}


def _siglip_values(config: dict, folder: Path) -> dict:
    hidden = int((config.get("text_config") or {}).get("hidden_size") or _hidden(config) or 768)
    return {"dimension": hidden, "max_tokens": 64, "query_model": str(folder)}  # its own text tower embeds queries


def _image_values(config: dict, folder: Path) -> dict:
    return {"dimension": _hidden(config), "max_tokens": 0}


# ------------------------------------------------------------------------------------------------ loading hooks


def _prepare_nomic_bert(spec: ModelSpec, config: Any) -> None:
    """Refuse unmapped contrastors shapes; apply the spec's dynamic NTK RoPE."""
    from pokembed.embedding.loading import alternative

    for legacy, native in (("n_embd", "hidden_size"), ("n_layer", "num_hidden_layers"), ("n_head", "num_attention_heads"), ("n_inner", "intermediate_size")):
        value = getattr(config, legacy, None)
        if value is not None and value != getattr(config, native):
            raise ModelLoadError(
                f"could not load text model {spec.name} (its contrastors config has {legacy}={value} but the native "
                f"NomicBertConfig reads {native}={getattr(config, native)}); convert the config or {alternative(spec)}"
            )
    if spec.rope_scaling_factor:
        theta = getattr(config, "rotary_emb_base", None) or (config.rope_parameters or {}).get("rope_theta", 1000.0)
        config.rope_parameters = {"rope_type": "dynamic", "factor": float(spec.rope_scaling_factor), "rope_theta": float(theta)}
        if spec.trained_positions:
            config.max_position_embeddings = int(spec.trained_positions)


def _patch_nomic_rotary(model: Any, config: Any) -> None:
    """Dynamic-NTK RoPE scaled per sequence, so a vector does not depend on its batch mates."""
    from pokembed.embedding.loading import sequence_dynamic_ntk_rotary

    if (getattr(config, "rope_parameters", None) or {}).get("rope_type") == "dynamic":
        model.rotary_emb = sequence_dynamic_ntk_rotary(config)


def _load_nomic_vision(spec: ModelSpec, processor: Any, what: str) -> Any:
    """nomic's vision tower from ``config.json`` + ``model.safetensors`` (pokembed.embedding.nomic_vision), fp32.

    The image processor must give the model's ``img_size`` (checked on a blank image): the position embedding and
    the rotary grid are fixed to it.
    """
    from PIL import Image

    from pokembed.embedding import nomic_vision
    from pokembed.embedding.loading import alternative, model_folder

    folder = model_folder(spec, [nomic_vision.CONFIG_FILE, nomic_vision.WEIGHTS_FILE])
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
        raise ModelLoadError(f"{what} ({exc}); {alternative(spec)}") from exc


# --------------------------------------------------------------------------------------------------- the registry

_TEXT_POOLINGS = {"mean": MeanPoolTextEncoder, "cls": ClsTextEncoder}

ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch
    for arch in (
        # nomic-embed-vision declares model_type nomic_bert too: its `architectures` tell it apart, so it comes first
        Architecture("nomic_vision", "image", ("nomic_bert",), _image_values, image_encoders={"cls": ClsImageEncoder},
                     config_architectures=("NomicVisionModel",), load_model=_load_nomic_vision),
        Architecture("nomic_bert", "text", ("nomic_bert",), _nomic_bert_values, text_encoders=_TEXT_POOLINGS,
                     prepare_config=_prepare_nomic_bert, after_load=_patch_nomic_rotary),
        Architecture("bert", "text", ("bert",), _bert_values, text_encoders=_TEXT_POOLINGS),
        Architecture("vit", "image", ("vit",), _image_values, image_encoders={"cls": ClsImageEncoder}),
        Architecture("siglip", "image", ("siglip",), _siglip_values, text_encoders={"pooler": SiglipTextEncoder},
                     image_encoders={"pooler": SiglipImageEncoder}),
    )
}


def architecture_of(spec: ModelSpec) -> Architecture:
    """The spec's architecture; BadInputError naming the supported ones when it is unknown."""
    arch = ARCHITECTURES.get(spec.architecture)
    if arch is None:
        raise BadInputError(f"{spec.kind} model {spec.name} has architecture {spec.architecture!r}; supported: "
                            f"{', '.join(ARCHITECTURES)}")
    return arch


def architecture_for_config(config: Mapping[str, Any]) -> Architecture | None:
    """The architecture a local folder's config.json declares, or None."""
    return next((arch for arch in ARCHITECTURES.values() if arch.matches(config)), None)


def supported_model_types() -> str:
    """``nomic_bert (text), bert (text), ...``: the config.json model types a local folder may hold."""
    return ", ".join(dict.fromkeys(f"{t} ({a.kind})" for a in ARCHITECTURES.values() if not a.config_architectures
                                   for t in a.model_types))


def encoder_class(spec: ModelSpec, part: str) -> type:
    """The encoder class whose forward pass gives ``spec.pooling`` on the ``part`` ("text" or "image") side,
    refused where the architecture cannot give it."""
    encoders = architecture_of(spec).text_encoders if part == "text" else architecture_of(spec).image_encoders
    if not encoders:
        supported = [name for name, arch in ARCHITECTURES.items() if (arch.text_encoders if part == "text" else arch.image_encoders)]
        raise BadInputError(f"{spec.kind} model {spec.name} has architecture {spec.architecture!r}, which has no "
                            f"{part} side; supported: {', '.join(supported)}")
    if spec.pooling not in encoders:
        raise BadInputError(f"{spec.kind} model {spec.name} ({spec.architecture}) has pooling {spec.pooling!r}; "
                            f"it gives {' or '.join(map(repr, encoders))}: fix pooling in its pokembed.json")
    return encoders[spec.pooling]


def vector_settings(spec: ModelSpec) -> dict[str, Any]:
    """The architecture's name and the spec fields that change its vectors: what the vector cache's key hashes."""
    arch = architecture_of(spec)
    return {"architecture": arch.name, **{name: getattr(spec, name) for name in arch.vector_fields}}
