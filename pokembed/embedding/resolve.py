"""Every model a build needs, resolved before any work: the text model, the image model and its query model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pokembed.embedding.registry import SIDECAR, ModelSpec, get_model_spec, query_model_spec
from pokembed.errors import BadInputError, PokembedError, one_line


@dataclass(frozen=True)
class BuildModels:
    """The specs of the models one build uses."""

    text: ModelSpec
    image: ModelSpec
    query: ModelSpec | None  # embeds text queries into the image space; None when the image model names none


def resolve_models(text_model: str, image_model: str) -> BuildModels:
    """Resolve ``text_model``, ``image_model`` and the query model the image model names, or raise one line naming
    the option or the sidecar file at fault."""
    text = get_model_spec(text_model, "text")
    image = get_model_spec(image_model, "image")
    try:
        query = query_model_spec(image)
    except PokembedError as exc:
        folder = Path(image.model_id)
        where = f"its {folder / SIDECAR}" if (folder / SIDECAR).is_file() else "it"
        reason = one_line(exc, 200).replace("`", "")
        raise BadInputError(f"`image_model` {image_model!r}: {where} names query_model {image.query_model!r}, which "
                            f"cannot be used ({reason}); fix or remove query_model in that file") from None
    return BuildModels(text=text, image=image, query=query)
