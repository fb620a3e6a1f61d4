"""What the Space says about itself, as plain data: the article it follows, the dataset it serves (at its version),
where its code is, and the models it uses with their licences, named from the loaded configuration (never assumed).
No Gradio here: `space/page_text.py` writes the page's intro, "How it works" and credits from these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ARTICLE_TITLE = "The super effectiveness of Pokémon embeddings using only raw JSON and images"
ARTICLE_AUTHOR = "Max Woolf"
ARTICLE_URL = "https://minimaxir.com/2024/06/pokemon-embeddings/"
DEFAULT_SPACE_ID = "pokembed/pokemon-embeddings-explorer"
HUB = "https://huggingface.co"
MODEL_LICENCES = {
    "nomic-ai/nomic-embed-text-v1.5": "Apache-2.0",
    "nomic-ai/nomic-embed-vision-v1.5": "Apache-2.0",
}
"""Licences of the models we know; any other model is credited with a link to its own card."""


@dataclass(frozen=True)
class ModelCredit:
    """One model the Space uses: what for, its name as a visitor reads it, its page (None for a local folder), and
    its licence (None when we do not know it)."""

    role: str
    name: str
    url: str | None
    licence: str | None


@dataclass(frozen=True)
class About:
    """Links and credits for the page."""

    dataset_label: str      # e.g. "pokembed/pokemon-embeddings v1.1.0", or a local folder's name
    dataset_url: str | None  # the dataset at the revision served; None for a local folder
    code_url: str
    models: tuple[ModelCredit, ...]


def model_credit(role: str, name: str | None, kind: str) -> ModelCredit | None:
    """A model's credit from a registry name, Hub id or local folder (None when no model is configured)."""
    if not name:
        return None
    from pokembed.embedding.registry import get_model_spec
    from pokembed.errors import PokembedError

    try:
        model_id = get_model_spec(name, kind).model_id
    except PokembedError:
        model_id = name
    if Path(model_id).is_absolute() or Path(model_id).exists():  # a local folder: never show the machine's path
        return ModelCredit(role, f"a local model ({Path(model_id).name})", None, None)
    return ModelCredit(role, model_id, f"{HUB}/{model_id}", MODEL_LICENCES.get(model_id))


def dataset_link(dataset: str, revision: str | None, version: str | None) -> tuple[str, str | None]:
    """(label, URL) of the dataset served: a Hub dataset at its revision, or a local folder's name without a link."""
    if Path(dataset).is_dir():
        return f"a local build ({Path(dataset).name})" + (f" v{version}" if version else ""), None
    label = dataset + (f" v{version}" if version else "")
    return label, f"{HUB}/datasets/{dataset}" + (f"/tree/{revision}" if revision else "")


def code_url(environ: Mapping[str, str] = os.environ) -> str:
    """Where the code is: POKEMBED_CODE_URL, else the files of the Space it runs in (Hugging Face sets SPACE_ID;
    the deploy ships the app and the pokembed package there)."""
    if environ.get("POKEMBED_CODE_URL"):
        return environ["POKEMBED_CODE_URL"]
    return f"{HUB}/spaces/{environ.get('SPACE_ID') or DEFAULT_SPACE_ID}/tree/main"


def about_space(dataset: str, revision: str | None, version: str | None, *, text_model: str | None,
                query_model: str | None, image_model: str | None,
                environ: Mapping[str, str] = os.environ) -> About:
    """The page's links and credits for the dataset and models actually loaded."""
    label, url = dataset_link(dataset, revision, version)
    credits = (model_credit("records", text_model, "text"),
               model_credit("questions about the artwork", query_model, "text"),
               model_credit("artwork", image_model, "image"))
    unique: dict[str, ModelCredit] = {}
    for credit in credits:
        if credit is not None and credit.name not in unique:
            unique[credit.name] = credit
    return About(label, url, code_url(environ), tuple(unique.values()))


__all__ = ["ARTICLE_TITLE", "ARTICLE_AUTHOR", "ARTICLE_URL", "MODEL_LICENCES", "ModelCredit", "About",
           "model_credit", "dataset_link", "code_url", "about_space"]
