"""Models from their files onto a device: the device, the checkpoint, config adjustments and the rotary patch.

``load_pretrained`` returns a tokenizer or image processor and a model in eval mode on the device (bf16 + SDPA on
CUDA, fp32 on CPU); ``pokembed.embedding.encoders`` wraps them in the encoder whose forward pass the spec's pooling selects.
Tokenizers, image processors and transformers' native models (NomicBert, SigLIP, ViT) load through the Auto classes;
nomic-embed-vision-v1.5 through ``pokembed.embedding.nomic_vision`` from its own ``config.json`` and ``model.safetensors``.
No remote code is ever run. Files come from a registry model's local snapshot, a local folder, or the Hub at the
pinned revision through the Hugging Face cache (so ``HF_HUB_OFFLINE=1`` works once the cache holds them).

NomicBert with dynamic-NTK RoPE gets its rotary module replaced by ``sequence_dynamic_ntk_rotary``: each row is
scaled by its own length, so a vector does not depend on which other documents share its batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pokembed.errors import BadInputError, ModelLoadError, PokembedError, one_line
from pokembed.embedding.registry import DEFAULT_TEXT_MODEL, ModelSpec

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")
FALLBACK_IMAGE_MODEL = "siglip2-base-patch16-224"


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
                f"`device` {device} was asked for but CUDA is not available (torch {torch.__version__}); "
                "use `device` cpu or `device` auto"
            )
        return torch.device(device)
    raise BadInputError(f"unknown device {device!r}; use auto, cpu or cuda")


def load_pretrained(spec: ModelSpec, dev: "torch.device", *, part: str) -> tuple[Any, Any]:
    """(tokenizer or image processor, model in eval mode on ``dev``); every failure is one ModelLoadError line.

    Files come from ``spec.snapshot`` (a local copy of a Hub model), the local folder ``spec.model_id``, or the Hub
    at ``spec.revision`` (through the Hugging Face cache, so ``HF_HUB_OFFLINE=1`` works once it holds them).
    """
    import torch

    from pokembed.embedding.architectures import architecture_of

    arch = architecture_of(spec)
    what = f"could not load {spec.kind} model {spec.name}"
    source, hub = spec.files_source()
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    try:
        from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoTokenizer

        if part == "text":
            frontend = AutoTokenizer.from_pretrained(source, **hub)
        else:
            frontend = AutoImageProcessor.from_pretrained(source, backend="pil", **hub)
        if arch.load_model is not None:
            model = arch.load_model(spec, frontend, what)
            config, info = None, {}
        else:
            config = AutoConfig.from_pretrained(source, **hub)
            if arch.prepare_config is not None:
                arch.prepare_config(spec, config)
            model, info = AutoModel.from_pretrained(source, config=config, dtype=dtype, attn_implementation="sdpa",
                                                    output_loading_info=True, **hub)
    except PokembedError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure in third-party loading becomes one clear line
        raise ModelLoadError(f"{what} ({type(exc).__name__}: {one_line(exc)}); {alternative(spec)}") from exc
    missing = [key for key in info.get("missing_keys", []) if "pooler" not in key]
    if missing:
        raise ModelLoadError(f"{what} (weights missing from the checkpoint: {', '.join(sorted(missing)[:3])}...); {alternative(spec)}")
    if arch.after_load is not None:
        arch.after_load(model, config)
    model.eval()
    model.to(dev, dtype=dtype)
    return frontend, model


def model_folder(spec: ModelSpec, files: list[str]) -> Path:
    """The local folder holding ``files``: the snapshot or local folder itself, or the Hub cache's snapshot."""
    source, hub = spec.files_source()
    if not hub:
        return Path(source)
    from huggingface_hub import hf_hub_download

    paths = [Path(hf_hub_download(source, name, **hub)) for name in files]
    return paths[0].parent


def alternative(spec: ModelSpec) -> str:
    if spec.kind == "image":
        other = FALLBACK_IMAGE_MODEL if spec.name != FALLBACK_IMAGE_MODEL else "nomic-embed-vision-v1.5"
        return f"use `image_model` {other} (or a folder from python -m pokembed.tiny_models)"
    if spec.name != DEFAULT_TEXT_MODEL:
        return f"use `text_model` {DEFAULT_TEXT_MODEL} (or a folder from python -m pokembed.tiny_models)"
    return "check the network (the Hub must be reachable once to download it) or pass `text_model` a local folder"


def sequence_dynamic_ntk_rotary(config: Any) -> "torch.nn.Module":
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
