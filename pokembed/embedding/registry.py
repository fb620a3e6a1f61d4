"""The model registry: which checkpoints embed text and images, at which revision, and how.

How nomic-embed-text-v1.5 loads without remote code (checked against transformers 5.23, the installed version):

- transformers 5 ships ``NomicBertModel`` (``models/nomic_bert``). The Hub repo still carries the contrastors
  config (``model_type: nomic_bert`` with ``n_embd``, ``n_layer``, ``rotary_emb_base``, ``max_trained_positions``,
  an ``auto_map`` into nomic-ai/nomic-bert-2048 ...). Without remote code AutoConfig picks the native
  ``NomicBertConfig``: the contrastors keys are NOT mapped, they are kept as inert extra attributes, and the model
  gets the native defaults, which happen to be exactly v1.5's shape (768 hidden, 12 layers, 12 heads, 3072 SwiGLU,
  vocab 30528, LayerNorm eps 1e-12, rope theta 1000, max_position_embeddings 2048 = max_trained_positions).
  The checkpoint's tensor names (``encoder.layers.N.attn.Wqkv``, ``mlp.fc11``/``fc12``/``fc2``, ``norm1``/``norm2``,
  ``emb_ln``) are renamed and the fused Wqkv split on load by ``conversion_mapping.py["nomic_bert"]``; a
  random-weight checkpoint written in that layout loads with every tensor equal (checked here). ``load_text_encoder``
  refuses a legacy config whose ``n_embd``/``n_layer``/``n_head``/``n_inner`` disagree with the native fields, so
  a differently sized contrastors checkpoint can never load silently wrong.
- transformers' own docs and tests use the Hub PR branches ``refs/pr/56``/``refs/pr/57`` (a native config); a PR
  ref is not a pinned commit, so we pin the main branch's commit instead and rely on the mapping above. Independent
  pins elsewhere report native and remote-code vectors identical at that commit (transformers 5.16).
- Context: the card's 8,192 tokens use dynamic NTK RoPE with ``rotary_scaling_factor=2`` over the 2,048 trained
  positions (contrastors' ``NomicBertDynamicNTKRotaryEmbedding``; the Hub config ships ``rotary_scaling_factor:
  null``, so it must be asked for). Natively that is ``rope_parameters={"rope_type": "dynamic", "factor": 2.0,
  "rope_theta": 1000.0}`` with ``max_position_embeddings=2048``: the same formula, base = theta * (factor * n /
  2048 - (factor - 1)) ** (d / (d - 2)) for n > 2048. Both implementations take n from the padded batch and cache
  the frequencies across calls, so a document's vector would depend on its batch mates and on earlier batches; the
  encoder replaces the rotary module with one that uses each sequence's own length (see encoders.py), which equals
  embedding every document alone in a fresh model.

How nomic-embed-vision-v1.5 loads: natively, by ``pokembed.embedding.nomic_vision`` (nomic's ``NomicVisionModel`` in plain
torch), from the Hub repo's own ``config.json`` and ``model.safetensors``. Its remote code (an ``auto_map`` into
nomic-ai/nomic-bert-2048) does not run under transformers 5 and is never executed; no model here needs remote code.

Local folders: a folder is read from its ``config.json`` (and an optional ``pokembed.json`` sidecar), except a folder
that holds a registry model's files, which gets that model's spec (prompts, layer norm, 8,192-token RoPE scaling)
with the folder as where its files are read from. Such a folder is recognised as a Hugging Face cache snapshot
(``.../models--ORG--NAME/snapshots/COMMIT``), as a ``hf download --local-dir`` folder whose download metadata names
a registry model's pinned commit, or by a sidecar ``{"registry_model": NAME}``. A folder with nomic's contrastors
text config that is none of these is refused: its ``config.json`` cannot say which nomic model it is, and loading it
plainly would lose the layer norm and the RoPE scaling.

Pinned revisions (Hub commit hashes, found in public pins; not guessed):
- nomic-ai/nomic-embed-text-v1.5 @ e9b6763023c676ca8431644204f50c2b100d9aab (main in 2026, pinned by several
  projects; MTEB's results use the older b0753ae76394dd36bcfb912a46018088bca48be0, same weights).
- nomic-ai/nomic-embed-vision-v1.5 @ af2246fffdab78d8458418480e4886a8e48b70a7 (MTEB's pin).
- google/siglip2-base-patch16-224 @ 75de2d55ec2d0b4efc50b3e9ad70dba96a7b2fa2 (fixed-resolution SigLIP 2: loads as
  the native ``SiglipModel``; its text tower embeds the queries).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from pokembed.errors import BadInputError, UnknownModelError
from pokembed.local_files import read_json_object

logger = logging.getLogger(__name__)

KINDS = ("text", "image")
SIDECAR = "pokembed.json"  # written by pokembed.embedding.tiny_models; optional in any local model folder



@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to load a model and turn its outputs into the vectors we publish."""

    name: str  # registry key or the local path given
    model_id: str  # Hub id or local folder (absolute)
    revision: str | None  # pinned commit for Hub models; None for local folders
    kind: str  # "text" | "image"
    architecture: str  # "nomic_bert" | "bert" | "nomic_vision" | "siglip" | "vit": how to load and pool
    pooling: str  # "mean" (text) | "cls" (image) | "pooler" (siglip)
    document_prompt: str  # "search_document: " for nomic text; "" otherwise
    query_prompt: str  # "search_query: " for nomic text; "" otherwise
    dimension: int  # output dim (Matryoshka truncation target)
    max_tokens: int  # longest input the text side takes (0 where the model has no text side)
    layer_norm: bool  # nomic v1.5: F.layer_norm (no affine) before truncation and normalisation
    query_model: str | None  # image models: the text model that embeds queries into this image space
    rope_scaling_factor: float | None = None  # dynamic NTK RoPE factor applied at load (nomic v1.5: 2.0)
    trained_positions: int | None = None  # the context the RoPE factor scales from (nomic v1.5: 2048)
    snapshot: str | None = None  # a local folder holding this Hub model's files at `revision`, read instead of the Hub

    def files_source(self) -> tuple[str, dict[str, str]]:
        """Where this model's files are read: (the snapshot or local folder, {}) or (the Hub id, {"revision": the
        pinned commit}), the arguments every ``from_pretrained`` and ``hf_hub_download`` of it takes."""
        if self.snapshot:
            return self.snapshot, {}
        return self.model_id, ({"revision": self.revision} if self.revision else {})


MODELS: dict[str, ModelSpec] = {
    "nomic-embed-text-v1.5": ModelSpec(
        name="nomic-embed-text-v1.5",
        model_id="nomic-ai/nomic-embed-text-v1.5",
        revision="e9b6763023c676ca8431644204f50c2b100d9aab",
        kind="text",
        architecture="nomic_bert",
        pooling="mean",
        document_prompt="search_document: ",
        query_prompt="search_query: ",
        dimension=768,
        max_tokens=8192,
        layer_norm=True,
        query_model=None,
        rope_scaling_factor=2.0,
        trained_positions=2048,
    ),
    "nomic-embed-vision-v1.5": ModelSpec(
        name="nomic-embed-vision-v1.5",
        model_id="nomic-ai/nomic-embed-vision-v1.5",
        revision="af2246fffdab78d8458418480e4886a8e48b70a7",
        kind="image",
        architecture="nomic_vision",
        pooling="cls",
        document_prompt="",
        query_prompt="",
        dimension=768,
        max_tokens=0,
        layer_norm=False,
        query_model="nomic-embed-text-v1.5",
    ),
    "siglip2-base-patch16-224": ModelSpec(
        name="siglip2-base-patch16-224",
        model_id="google/siglip2-base-patch16-224",
        revision="75de2d55ec2d0b4efc50b3e9ad70dba96a7b2fa2",
        kind="image",
        architecture="siglip",
        pooling="pooler",
        document_prompt="",
        query_prompt="",
        dimension=768,
        max_tokens=64,  # SigLIP's text tower: padding="max_length", max_length=64
        layer_norm=False,
        query_model="siglip2-base-patch16-224",  # its own text tower
    ),
}
DEFAULT_TEXT_MODEL = "nomic-embed-text-v1.5"
DEFAULT_IMAGE_MODEL = "nomic-embed-vision-v1.5"
ALIASES: dict[str, str] = {spec.model_id: key for key, spec in MODELS.items()}


def get_model_spec(name: str, kind: str) -> ModelSpec:
    """Resolve a registry name, a Hub id from the registry, or a local model folder to its spec."""
    if kind not in KINDS:
        raise BadInputError(f"unknown model kind {kind!r}; use 'text' or 'image'")
    key = ALIASES.get(name, name)
    if key in MODELS:
        spec = MODELS[key]
        check_kind(spec, name, kind)
        return spec
    path = Path(name).expanduser()
    if path.is_dir():
        spec = _registry_snapshot(name, path) or _local_spec(name, path)
        check_kind(spec, name, kind)
        return spec
    known = ", ".join(k for k, s in MODELS.items() if s.kind == kind)
    raise UnknownModelError(f"unknown {kind} model {name!r}; known: {known}, or a local folder")


def query_model_spec(image_spec: ModelSpec) -> ModelSpec | None:
    """The spec of the model that embeds text queries into ``image_spec``'s space; None when it names none.

    A model whose ``query_model`` names itself (SigLIP) embeds queries with its own text tower: its own spec comes
    back, kind ``image``.
    """
    wanted = image_spec.query_model
    if not wanted:
        return None
    if wanted in (image_spec.name, image_spec.model_id):
        return image_spec
    return get_model_spec(wanted, "text")


def check_kind(spec: ModelSpec, name: str, kind: str) -> None:
    """BadInputError naming the flag to use when ``spec`` is not a ``kind`` model."""
    if spec.kind != kind:
        flag = "`image_model`" if spec.kind == "image" else "`text_model`"
        raise BadInputError(
            f"{name!r} is {_article(spec.kind)} {spec.kind} model, not {_article(kind)} {kind} model; pass it as {flag}"
        )


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _registry_snapshot(name: str, path: Path) -> ModelSpec | None:
    """The registry spec of a folder holding a registry model's files, read from that folder; None for other folders.

    Recognised: a Hugging Face cache snapshot of a registry repo (``models--ORG--NAME/snapshots/COMMIT``, any
    commit), a ``hf download --local-dir`` folder whose metadata names a registry model's pinned commit, or a
    ``pokembed.json`` naming ``registry_model``.
    """
    folder = path.resolve()
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        repo_id = folder.parent.parent.name[len("models--"):].replace("--", "/")
        key = ALIASES.get(repo_id)
        if key is not None:
            if folder.name != MODELS[key].revision:
                logger.warning("%s is a snapshot of %s at %s, not at the registry's pinned %s", name, repo_id,
                               folder.name, MODELS[key].revision)
            return replace(MODELS[key], revision=folder.name, snapshot=str(folder))
    commit = local_dir_commit(folder, "config.json")
    for spec in MODELS.values():
        if commit is not None and commit == spec.revision:
            return replace(spec, snapshot=str(folder))
    sidecar = read_sidecar(folder)
    key = sidecar.get("registry_model")
    if key is None:
        return None
    key = ALIASES.get(key, key)
    if key not in MODELS:
        raise BadInputError(f"{folder / SIDECAR} names registry_model {sidecar['registry_model']!r}, which is not one "
                            f"of {', '.join(MODELS)}; fix the sidecar")
    # Files of unknown revision: the registry's settings, the folder as the model (cache keyed by its contents).
    return replace(MODELS[key], name=name, model_id=str(folder), revision=None)


def _snapshot_hint(name: str, folder: Path, registry_key: str, flag: str) -> str:
    spec = MODELS[registry_key]
    return (
        f"model folder {name} holds a nomic contrastors text model (config.json with n_embd, n_layer, ...), whose "
        f"config does not say which nomic model it is; loaded plainly it would lose {registry_key}'s layer norm and "
        f"8,192-token RoPE scaling; pass {flag} {registry_key} (offline: its snapshot in the Hugging Face cache and HF_HUB_OFFLINE=1), "
        f"or the snapshot folder .../models--{spec.model_id.replace('/', '--')}/snapshots/{spec.revision}, or add "
        f'{folder / SIDECAR} with {{"registry_model": "{registry_key}"}}'
    )


def _local_spec(name: str, path: Path) -> ModelSpec:
    """Derive a spec from a local folder's config.json (through its architecture's declared values) and its optional
    pokembed.json sidecar."""
    from pokembed.embedding.architectures import architecture_for_config, supported_model_types

    folder = path.resolve()
    if not (folder / "config.json").is_file():
        raise BadInputError(f"{folder} is not a model folder (no config.json); point at a folder written by save_pretrained")
    config = read_json_object(folder / "config.json", what="model config", fix="point at a folder written by save_pretrained")
    sidecar = read_sidecar(folder)
    arch = architecture_for_config(config)
    if arch is None:
        raise BadInputError(f"model folder {name} holds a {config.get('model_type')!r} model; supported model types: "
                            f"{supported_model_types()}")
    if arch.name == "nomic_bert" and "n_embd" in config and not sidecar:
        raise BadInputError(_snapshot_hint(name, folder, DEFAULT_TEXT_MODEL, "`text_model`"))
    if "kind" in sidecar and sidecar["kind"] != arch.kind:
        raise BadInputError(f"{folder / SIDECAR} says kind {sidecar['kind']!r} but config.json is a {arch.kind} model; fix the sidecar")
    values = {"document_prompt": "", "query_prompt": "", "layer_norm": False, "query_model": None,
              **arch.spec_values(config, folder)}
    spec = ModelSpec(name=name, model_id=str(folder), revision=None, kind=arch.kind, architecture=arch.name,
                     pooling=arch.default_pooling, **values)
    return _with_sidecar(spec, sidecar, folder)


def _with_sidecar(spec: ModelSpec, sidecar: dict, folder: Path) -> ModelSpec:
    """The spec with what the sidecar sets (prompts, pooling, dimension, max_tokens, layer norm, query model)."""
    overrides = {k: sidecar[k] for k in ("document_prompt", "query_prompt", "pooling", "dimension", "max_tokens", "layer_norm") if k in sidecar}
    query_model = sidecar.get("query_model")
    if query_model is not None and query_model not in MODELS and query_model not in ALIASES:
        query_model = str((folder / query_model).resolve())  # relative to the folder that names it
    if query_model is not None:
        overrides["query_model"] = query_model
    spec = replace(spec, **overrides)
    if not isinstance(spec.dimension, int) or spec.dimension <= 0:
        raise BadInputError(f"{folder / SIDECAR}: dimension must be a positive integer; fix the sidecar")
    return spec


def read_sidecar(folder: Path) -> dict:
    """The folder's optional ``pokembed.json`` sidecar ({} when there is none)."""
    path = folder / SIDECAR
    return read_json_object(path, what="pokembed sidecar", fix="fix or delete it") if path.is_file() else {}


def local_dir_commit(folder: Path, filename: str) -> str | None:
    """The commit ``hf download --local-dir folder`` fetched ``filename`` at, or None when it did not download it.

    huggingface_hub has no public reader for its local-dir download metadata, so its file format (the commit on the
    first line of ``.cache/huggingface/download/<filename>.metadata``) is read here and nowhere else;
    tests/test_models.py checks it against a real ``hf_hub_download(..., local_dir=...)``, and fails if it changes.
    """
    metadata = Path(folder) / ".cache" / "huggingface" / "download" / f"{filename}.metadata"
    try:
        first_line = metadata.read_text(encoding="utf-8", errors="replace").partition("\n")[0].strip()
    except OSError:
        return None
    return first_line or None
