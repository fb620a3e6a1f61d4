"""nomic-embed-vision-v1.5 in plain torch: nomic's ``NomicVisionModel``, loaded from the Hub checkpoint as it is.

The Hub repo ships a contrastors ``config.json`` (``n_embd``, ``n_layer``, ``img_size``, ``ref_feat_shape``, ...) and a
``model.safetensors`` with nomic's own tensor names; its ``auto_map`` points at remote code that no longer runs under
transformers 5. This module reads both directly, with the semantics of ``NomicVisionModel`` in nomic's
``modeling_hf_nomic_bert.py`` (repository nomic-ai/contrastors, ``src/contrastors/models/huggingface/``):

- **patches**: ``embeddings.proj`` is a ``Linear`` over each 16x16 patch flattened in (channel, row, column) order;
  ``embeddings.cls_token`` is put first and ``embeddings.pos_embed`` (one row per token, CLS included) is added.
- **blocks** (pre-norm): ``x = x + attn(norm1(x))``, ``x = x + mlp(norm2(x))``. Attention has a fused ``Wqkv``
  (q, k, v, then heads) and ``out_proj``; a 2-D rotary embedding turns q and k of the patch tokens (never the CLS
  token: its row of the rotary table is the identity). The MLP is SwiGLU, ``fc2(norm(fc11(x) * silu(fc12(x))))``, ``norm`` a LayerNorm over the hidden width
  (eps 1e-5) when ``norm_mlp``. No LayerNorm after the last block (``no_last_ln``).
- **2-D rotary** (EVA-02 style, timm's ``RotaryEmbeddingCat`` with ``in_pixels=False``): for a head width d,
  ``d/4`` bands ``10000 ** -(j / (d/4))``; patch (row r, column c) of a G x G grid has coordinates
  ``(r / G * R, c / G * R)`` with ``R`` from ``ref_feat_shape``; the angle table is ``[r * bands, c * bands]``, each
  angle repeated twice, and pairs of neighbouring channels are rotated: ``(x0, x1) -> (x0 cos - x1 sin, x1 cos +
  x0 sin)``.
- **selector** (attention pooling): a learned ``latent`` query attends over every token (``Wq``, ``Wkv``,
  ``out_proj``); ``selector.norm1`` and a SwiGLU MLP without its own norm turn the pooled vector into one that is
  *added to every token*. That sum is the model's ``last_hidden_state``; the published embedding is
  ``normalize(last_hidden_state[:, 0])``. Reading the encoder's CLS token instead drops the pooling head.
- hidden widths are rounded up to a multiple of 256, as nomic's gated MLP does.

A config asking for something nomic's model would do differently (register tokens, no CLS token, average pooling,
layer scale, RMS norm, 1-D rotary, ...) is refused with one line naming the key; so is a checkpoint with a missing,
extra or misshapen tensor. Attention runs through ``scaled_dot_product_attention``; the rotary tables are built in
float32 at every forward and applied in float32, whatever the weights' dtype (bf16 on CUDA, fp32 on CPU).

torch is imported at the top: this module is imported only where a vision model is loaded or written.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from pokembed.errors import ModelLoadError, name_list

ARCHITECTURE = "NomicVisionModel"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
ROTARY_TEMPERATURE = 10000.0  # nomic's 2-D rotary uses timm's default temperature, not rotary_emb_base
MLP_MULTIPLE = 256  # NomciBertGatedMLP rounds its hidden width up to a multiple of this
MLP_NORM_EPS = 1e-5  # the gated MLP's LayerNorm keeps torch's default eps

# Config keys whose values change what nomic's model computes, with the only value this module implements.
# A missing key takes nomic's default, which is the value listed here.
_FIXED = {
    "activation_function": "swiglu",
    "prenorm": True,
    "no_last_ln": True,
    "register_tokens": 0,
    "no_cls_token": False,
    "no_embed_class": False,
    "global_pool": None,
    "layer_scale": False,
    "use_rms_norm": False,
    "parallel_block": False,
    "parallel_block_tied_norm": False,
    "prepre_layernom": False,
    "sinusoidal_pos_embedding": False,
    "mask_token": False,
    "rotary_emb_fraction": 0,
    "eva_qkv_bias": False,
    "causal": False,
    "hidden_features_scaling_factor": 1.0,
}
_REQUIRED = ("n_embd", "n_layer", "n_head", "img_size", "patch_size")


@dataclass(frozen=True)
class VisionConfig:
    """The shape of a nomic vision tower, read from its contrastors ``config.json``."""

    hidden: int  # n_embd
    layers: int  # n_layer
    heads: int  # n_head
    mlp_hidden: int  # n_inner rounded up to a multiple of 256
    image_size: int  # img_size
    patch_size: int  # patch_size
    channels: int = 3  # num_channels
    eps: float = 1e-5  # layer_norm_epsilon (blocks and the selector's norm1)
    patch_bias: bool = True  # patch_embed_bias
    qkv_bias: bool = True  # qkv_proj_bias (Wqkv, out_proj and the selector's Wq, Wkv, out_proj)
    fc1_bias: bool = True  # mlp_fc1_bias (fc11, fc12)
    fc2_bias: bool = True  # mlp_fc2_bias (fc2)
    norm_mlp: bool = True  # a LayerNorm inside each block's MLP
    pos_embed: bool = True  # use_pos_embed
    rotary: bool = True  # use_rotary_pos_emb
    ref_feat_shape: tuple[int, int] | None = (14, 14)

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


def read_config(config: dict[str, Any]) -> VisionConfig:
    """A contrastors vision config as a VisionConfig; anything this module does not implement is one ModelLoadError."""

    def refuse(key: str, why: str) -> ModelLoadError:
        return ModelLoadError(f"config.json {key}={json.dumps(config.get(key))} {why}; only nomic's NomicVisionModel "
                              f"as published (nomic-embed-vision-v1.5) is implemented")

    architectures = config.get("architectures") or []
    if config.get("model_type") != "nomic_bert" or ARCHITECTURE not in architectures:
        raise ModelLoadError(f"config.json is not a nomic vision model (model_type "
                             f"{config.get('model_type')!r}, architectures {architectures}); expected nomic_bert / "
                             f"{ARCHITECTURE}")
    for key in _REQUIRED:
        if not isinstance(config.get(key), int) or isinstance(config.get(key), bool) or config[key] < 1:
            raise refuse(key, "is not a positive integer")
    for key, value in _FIXED.items():
        given = config.get(key, value)
        if given != value and not (value == 0 and given is None):
            raise refuse(key, f"asks for something else than {json.dumps(value)}, which this module does not do")
    if config.get("num_heads_kv") not in (None, config["n_head"]):
        raise refuse("num_heads_kv", "asks for grouped-query attention")
    if config.get("rotary_emb_base", ROTARY_TEMPERATURE) != ROTARY_TEMPERATURE:
        raise refuse("rotary_emb_base", f"differs from the {ROTARY_TEMPERATURE:g} nomic's 2-D rotary always uses")
    if config.get("num_channels", 3) != 3:
        raise refuse("num_channels", "is not 3 (RGB)")
    hidden, heads = config["n_embd"], config["n_head"]
    if hidden % heads or (hidden // heads) % 4:
        raise refuse("n_head", f"does not split n_embd={hidden} into heads whose width is a multiple of 4")
    if config["img_size"] % config["patch_size"]:
        raise refuse("img_size", f"is not a multiple of patch_size={config['patch_size']}")
    ref = config.get("ref_feat_shape")
    if ref is not None:
        ref = (ref, ref) if isinstance(ref, int) else tuple(ref)
        if len(ref) != 2 or ref[0] != ref[1] or not all(isinstance(r, int) and r > 0 for r in ref):
            raise refuse("ref_feat_shape", "is not a square grid of positive integers")
    inner = config.get("n_inner") or int(8 * hidden / 3)
    return VisionConfig(
        hidden=hidden,
        layers=config["n_layer"],
        heads=heads,
        mlp_hidden=-(-int(inner) // MLP_MULTIPLE) * MLP_MULTIPLE,
        image_size=config["img_size"],
        patch_size=config["patch_size"],
        eps=float(config.get("layer_norm_epsilon", 1e-5)),
        patch_bias=bool(config.get("patch_embed_bias", True)),
        qkv_bias=bool(config.get("qkv_proj_bias", True)),
        fc1_bias=bool(config.get("mlp_fc1_bias", True)),
        fc2_bias=bool(config.get("mlp_fc2_bias", True)),
        norm_mlp=bool(config.get("norm_mlp", False)),
        pos_embed=bool(config.get("use_pos_embed", True)),
        rotary=bool(config.get("use_rotary_pos_emb", False)),
        ref_feat_shape=ref,
    )


def hub_config(vision: VisionConfig) -> dict[str, Any]:
    """config.json in the layout nomic's Hub repo ships (contrastors keys), for a VisionConfig."""
    return {
        "activation_function": "swiglu",
        "architectures": [ARCHITECTURE],
        "attn_pdrop": 0.0,
        "causal": False,
        "drop_path_rate": 0.0,
        "embd_pdrop": 0.0,
        "global_pool": None,
        "img_size": vision.image_size,
        "layer_norm_epsilon": vision.eps,
        "layer_scale": False,
        "learned_pos_embedding": False,
        "mask_token": False,
        "mlp_fc1_bias": vision.fc1_bias,
        "mlp_fc2_bias": vision.fc2_bias,
        "model_type": "nomic_bert",
        "n_embd": vision.hidden,
        "n_head": vision.heads,
        "n_inner": vision.mlp_hidden,
        "n_layer": vision.layers,
        "no_cls_token": False,
        "no_embed_class": False,
        "no_last_ln": True,
        "norm_mlp": vision.norm_mlp,
        "num_channels": vision.channels,
        "patch_embed_bias": vision.patch_bias,
        "patch_size": vision.patch_size,
        "prenorm": True,
        "qkv_proj_bias": vision.qkv_bias,
        "ref_feat_shape": list(vision.ref_feat_shape) if vision.ref_feat_shape else None,
        "register_tokens": 0,
        "resid_pdrop": 0.0,
        "rotary_emb_base": int(ROTARY_TEMPERATURE),
        "rotary_emb_fraction": 0,
        "use_pos_embed": vision.pos_embed,
        "use_rotary_pos_emb": vision.rotary,
    }


# ------------------------------------------------------------------------------------------------------ the model


class VisionOutput(NamedTuple):
    """``last_hidden_state``: the selector's output (every token plus the pooled vector); ``encoder_hidden_state``:
    the last block's tokens."""

    last_hidden_state: torch.Tensor
    encoder_hidden_state: torch.Tensor


class GatedMLP(nn.Module):
    """SwiGLU: ``fc2(norm(fc11(x) * silu(fc12(x))))``."""

    def __init__(self, vision: VisionConfig, *, norm: bool) -> None:
        super().__init__()
        self.fc11 = nn.Linear(vision.hidden, vision.mlp_hidden, bias=vision.fc1_bias)
        self.fc12 = nn.Linear(vision.hidden, vision.mlp_hidden, bias=vision.fc1_bias)
        self.fc2 = nn.Linear(vision.mlp_hidden, vision.hidden, bias=vision.fc2_bias)
        self.norm = nn.LayerNorm(vision.mlp_hidden, eps=MLP_NORM_EPS) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.norm(self.fc11(x) * F.silu(self.fc12(x))))


def rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate neighbouring channel pairs (x0, x1) by the table's angles: ``x * cos + (-x1, x0) * sin``."""
    turned = torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).reshape(x.shape)
    return x * cos + turned * sin


class Attention(nn.Module):
    """Self-attention with a fused Wqkv and 2-D rotary on every token but the first (CLS)."""

    def __init__(self, vision: VisionConfig) -> None:
        super().__init__()
        self.heads, self.head_dim = vision.heads, vision.head_dim
        self.Wqkv = nn.Linear(vision.hidden, 3 * vision.hidden, bias=vision.qkv_bias)
        self.out_proj = nn.Linear(vision.hidden, vision.hidden, bias=vision.qkv_bias)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        batch, tokens, width = x.shape
        q, k, v = self.Wqkv(x).view(batch, tokens, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        if rope is not None:  # the table's CLS row is cos 1, sin 0: token 0 comes out unchanged
            cos, sin = rope
            q = rotate_pairs(q.float(), cos, sin).to(v.dtype)
            k = rotate_pairs(k.float(), cos, sin).to(v.dtype)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.out_proj(out.transpose(1, 2).reshape(batch, tokens, width))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, vision: VisionConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(vision.hidden, eps=vision.eps)
        self.attn = Attention(vision)
        self.norm2 = nn.LayerNorm(vision.hidden, eps=vision.eps)
        self.mlp = GatedMLP(vision, norm=vision.norm_mlp)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), rope)
        return x + self.mlp(self.norm2(x))


class Embeddings(nn.Module):
    """Patch projection over (c, p1, p2), CLS token first, learned position embedding added."""

    def __init__(self, vision: VisionConfig) -> None:
        super().__init__()
        self.vision = vision
        patch = vision.channels * vision.patch_size**2
        self.proj = nn.Linear(patch, vision.hidden, bias=vision.patch_bias)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, vision.hidden))
        if vision.pos_embed:
            self.pos_embed = nn.Parameter(torch.zeros(1, vision.grid**2 + 1, vision.hidden))
        else:
            self.pos_embed = None

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = pixels.shape
        p, g = self.vision.patch_size, self.vision.grid
        if (channels, height, width) != (self.vision.channels, self.vision.image_size, self.vision.image_size):
            raise ModelLoadError(
                f"pixel_values of shape {tuple(pixels.shape)} given to a nomic vision model of img_size "
                f"{self.vision.image_size}; its image processor must give {self.vision.image_size}x"
                f"{self.vision.image_size} RGB"
            )
        patches = pixels.reshape(batch, channels, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(batch, g * g, -1)
        x = self.proj(patches.to(self.proj.weight.dtype))
        x = torch.cat((self.cls_token.expand(batch, -1, -1), x), dim=1)
        return x + self.pos_embed if self.pos_embed is not None else x


class PoolingAttention(nn.Module):
    """A learned latent query attending over every token."""

    def __init__(self, vision: VisionConfig) -> None:
        super().__init__()
        self.heads, self.head_dim = vision.heads, vision.head_dim
        self.latent = nn.Parameter(torch.zeros(1, 1, vision.hidden))
        self.Wq = nn.Linear(vision.hidden, vision.hidden, bias=vision.qkv_bias)
        self.Wkv = nn.Linear(vision.hidden, 2 * vision.hidden, bias=vision.qkv_bias)
        self.out_proj = nn.Linear(vision.hidden, vision.hidden, bias=vision.qkv_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        q = self.Wq(self.latent.expand(batch, -1, -1)).view(batch, 1, self.heads, self.head_dim).transpose(1, 2)
        k, v = self.Wkv(x).view(batch, tokens, 2, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.out_proj(out.transpose(1, 2).reshape(batch, 1, width))


class Selector(nn.Module):
    """nomic's attention-pooling head: ``tokens + mlp(norm1(pool(tokens)))``."""

    def __init__(self, vision: VisionConfig) -> None:
        super().__init__()
        self.attn = PoolingAttention(vision)
        self.norm1 = nn.LayerNorm(vision.hidden, eps=vision.eps)
        self.mlp = GatedMLP(vision, norm=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm1(self.attn(x)))


class NomicVisionModel(nn.Module):
    """nomic's vision tower; ``forward(pixel_values).last_hidden_state[:, 0]`` is the vector nomic publishes."""

    def __init__(self, vision: VisionConfig) -> None:
        super().__init__()
        self.vision = vision
        self.embeddings = Embeddings(vision)
        self.layers = nn.ModuleList(Block(vision) for _ in range(vision.layers))
        self.selector = Selector(vision)

    def rotary_table(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor] | None:
        """float32 (cos, sin) of shape (1 + grid**2, head_dim): the CLS token's row turns nothing (cos 1, sin 0), then
        the patch tokens, row-major over the grid."""
        if not self.vision.rotary:
            return None
        g, bands_n = self.vision.grid, self.vision.head_dim // 4
        exponent = torch.arange(bands_n, dtype=torch.int64, device=device).to(torch.float32) / bands_n
        bands = 1.0 / (ROTARY_TEMPERATURE**exponent)
        coords = torch.arange(g, dtype=torch.int64, device=device).to(torch.float32)
        if self.vision.ref_feat_shape is not None:
            coords = coords / g * self.vision.ref_feat_shape[0]
        rows, cols = torch.meshgrid(coords, coords, indexing="ij")
        angles = torch.cat((rows.reshape(-1, 1) * bands, cols.reshape(-1, 1) * bands), dim=1)
        angles = torch.cat((angles.new_zeros(1, 2 * bands_n), angles), dim=0).repeat_interleave(2, dim=-1)
        return angles.cos(), angles.sin()

    def forward(self, pixel_values: torch.Tensor) -> VisionOutput:
        x = self.embeddings(pixel_values)
        rope = self.rotary_table(x.device)
        for layer in self.layers:
            x = layer(x, rope)
        return VisionOutput(last_hidden_state=self.selector(x), encoder_hidden_state=x)


# ------------------------------------------------------------------------------------------------------ loading


def read_config_file(folder: Path) -> VisionConfig:
    """The VisionConfig of a folder's ``config.json``."""
    from pokembed.local_files import read_json_object

    return read_config(read_json_object(Path(folder) / CONFIG_FILE, what="model config", fix="use the Hub repo's own"))


def load_model(folder: Path) -> NomicVisionModel:
    """The fp32 model of a folder holding ``config.json`` and ``model.safetensors``; every tensor checked."""
    vision = read_config_file(folder)
    weights = read_weights(Path(folder) / WEIGHTS_FILE)
    model = NomicVisionModel(vision)
    check_weights(model, weights)
    model.load_state_dict(weights, strict=True)
    return model.eval()


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file, on the CPU, as stored."""
    from safetensors.torch import load_file

    if not Path(path).is_file():
        raise ModelLoadError(f"no {Path(path).name} in {Path(path).parent}; only safetensors checkpoints load")
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # noqa: BLE001 - a corrupt file is one clear line
        raise ModelLoadError(f"{path} is not a readable safetensors file: {type(exc).__name__}: {exc}") from exc


def check_weights(model: nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Refuse a checkpoint with a missing, extra or misshapen tensor, naming the first few."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing:
        raise ModelLoadError(f"tensors missing from the checkpoint: {name_list(missing, 3)}")
    if extra:
        raise ModelLoadError(f"tensors in the checkpoint that nomic's vision model does not have: "
                             f"{name_list(extra, 3)}")
    wrong = [f"{k} {tuple(weights[k].shape)} (config.json says {tuple(v.shape)})"
             for k, v in expected.items() if tuple(weights[k].shape) != tuple(v.shape)]
    if wrong:
        raise ModelLoadError(f"tensor shapes disagree with config.json (n_embd, n_inner, img_size, "
                             f"patch_size): {name_list(wrong, 3)}")


def random_model(vision: VisionConfig, *, seed: int) -> NomicVisionModel:
    """Seeded random weights of nomic's initialisation scale (normal 0.02 for linears, pos_embed, latent and CLS)."""
    model = NomicVisionModel(vision)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if "norm" in name and name.endswith("weight"):
                tensor.fill_(1.0)
            elif name.endswith("bias") or "norm" in name:
                tensor.zero_()
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.02)
        model.selector.attn.latent.mul_(math.sqrt(1 / (0.02**2 * vision.hidden)))  # nomic: std hidden ** -0.5
    return model.eval()


__all__ = ["VisionConfig", "NomicVisionModel", "VisionOutput", "read_config", "read_config_file", "hub_config", "load_model",
           "random_model", "check_weights"]
