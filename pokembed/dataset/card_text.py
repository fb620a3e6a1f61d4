"""The card's "How it was built" prose: source, models, long documents, artwork, queries, distances and PCA, each
told from the build facts (public ids only, never a local path)."""

from __future__ import annotations

import html
import re

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pokembed.dataset.changes import pokemon_count
from pokembed.dataset.facts import BuildFacts, public_model_id, public_source, query_model_of


POOLING = {
    "mean": "attention-masked mean pooling",
    "cls": "the CLS token",
    "pooler": "the model's pooled output",
}


DISTANCE_DESCRIPTION = (
    "text and image vectors are unit norm, so the cosine distance between two concatenated `[text, image]` vectors "
    "(the article's UMAP input) equals the mean of their text and image cosine distances; that is what is used. For "
    "a pair where either Pokémon has no artwork, the distance is the text cosine distance alone: no image vector is "
    "invented for them, and they still get map coordinates and neighbours."
)


PCA_DESCRIPTION = (
    "a 2-D PCA of the same concatenated `[text, image]` vectors, in `pca_2d_x` and `pca_2d_y`. The axes are fitted "
    "on the Pokémon with artwork (numpy's SVD of their centred vectors); a Pokémon without artwork is placed on them "
    "by its text vector, its image part taken as the average artwork's, so no image vector is invented and none "
    "shifts the axes. No parameters and no seed: the same vectors give the same coordinates. The sign of each axis "
    "is fixed: the Pokémon farthest from the centre along it has a positive coordinate (the first in row order "
    "among equally far ones), so the map does not mirror between builds."
)


def markdown_text(value: Any) -> str:
    """``value`` as literal text in Markdown: HTML escaped and Markdown's punctuation backslash-escaped, so a data
    value can never become a tag, a link or a table cell boundary."""
    return re.sub(r"([\\`*_\[\]|~])", r"\\\1", html.escape(str(value), quote=True))


def format_int(value: Any) -> str:
    """An int with thousands separators; anything else as it is."""
    return f"{value:,}" if isinstance(value, int) else str(value)


def pca_share(facts: BuildFacts, axis: int) -> str:
    ratios = list((facts.pca or {}).get("explained_variance_ratio") or [])
    return f"{ratios[axis]:.1%}" if len(ratios) > axis else "a share not recorded"


def pca_description(facts: BuildFacts) -> str:
    if not (facts.pca or {}).get("explained_variance_ratio"):
        return PCA_DESCRIPTION
    return (f"{PCA_DESCRIPTION} The x axis explains {pca_share(facts, 0)} of the variance, the y axis "
            f"{pca_share(facts, 1)}.")


def source_description(facts: BuildFacts) -> str:
    kind, _, where = facts.source.partition(":")
    if kind == "pokeapi":
        text = (f"PokéAPI's CSV tables at commit [`{where}`](https://github.com/PokeAPI/pokeapi/tree/{where}/data/v2/csv) "
                "of PokeAPI/pokeapi, joined into the GraphQL record shape: rebuild it from that commit with "
                f"`--source pokeapi:{where}`")
    elif kind == "csv":
        text = f"PokéAPI's CSV tables (`{public_source(facts.source)}`) joined into the GraphQL record shape"
        if facts.data_version:
            text += f"; data version `{facts.data_version}`"
    else:
        text = f"PokéAPI's GraphQL API (`{where or 'https://graphql.pokeapi.co/v1beta2'}`)"
        if facts.data_version:
            text += f", data version `{facts.data_version}`"
    if facts.fetched_at:
        text += f", fetched {facts.fetched_at}"
    note = facts.extra.get("source_note")
    # the note is our own Markdown around a reason a server gave: its HTML escaped, its backticks kept
    return text + "." + (f" Note: {html.escape(str(note), quote=False)}." if note else "")


def model_description(model: Mapping[str, Any], kind: str) -> str:
    parts = [f"`{public_model_id(model)}`"]
    revision = model.get("revision")
    parts.append(f"at revision `{revision}`" if revision else "(a local folder, no Hub revision)")
    details = []
    if kind == "text":
        if model.get("document_prompt") or model.get("query_prompt"):
            details.append(
                f"documents prefixed `{model.get('document_prompt', '')}`, queries `{model.get('query_prompt', '')}`"
            )
        details.append(POOLING.get(str(model.get("pooling")), f"{model.get('pooling')} pooling"))
        if model.get("layer_norm"):
            details.append("layer norm")
        if model.get("dimension"):
            details.append(f"{model['dimension']} dimensions (Matryoshka truncation)")
        details.append("unit-normalised")
        if model.get("max_tokens"):
            details.append(f"{format_int(model['max_tokens'])}-token context")
    else:
        details.append("the model's own image processor on the 224×224 artwork")
        if model.get("architecture") == "nomic_vision":
            details.append("run natively by pokembed (nomic's `NomicVisionModel` in plain torch, no remote code)")
            details.append("token 0 of the attention-pooling head's output, as nomic publishes it")
        else:
            details.append(POOLING.get(str(model.get("pooling")), f"{model.get('pooling')} pooling"))
        if model.get("dimension"):
            details.append(f"{model['dimension']} dimensions")
        details.append("unit-normalised")
    return " ".join(parts) + ": " + ", ".join(details) + "."


def long_documents_description(mode: str, text_model: Mapping[str, Any]) -> str:
    limit = format_int(text_model.get("max_tokens", "the model's"))
    if mode == "chunk":
        return (
            f"a document longer than the {limit}-token context (prompt included) is embedded as consecutive windows "
            "whose embeddings are averaged, weighted by their token counts, and normalised again; nothing is cut off."
        )
    return (
        f"a document longer than the {limit}-token context (prompt included) is cut to its first {limit} tokens; "
        "`text_tokens` keeps the full count and `text_truncated` marks those rows."
    )


def artwork_description(facts: BuildFacts, *, n_missing: int) -> str:
    where = f"`{facts.artwork}`" if facts.artwork else "the PokeAPI/sprites repository"
    if facts.artwork and not facts.artwork.startswith(("http://", "https://")):
        where = f"a local copy (`{Path(facts.artwork.removeprefix('local:')).name}`) of PokeAPI/sprites"
    return (
        f"the official artwork from {where}, composited on white and resized to 224×224 (LANCZOS), as stored in "
        f"`image`; {pokemon_count(n_missing)} without artwork."
    )


def query_description(facts: BuildFacts) -> str:
    query = query_model_of(facts) or {}
    image = dict(facts.image_model)
    if query.get("model_id") == image.get("model_id"):
        return f"`image_embedding` is queried with the text tower of `{public_model_id(image)}` itself."
    prompt = query.get("query_prompt", "")
    prompt_text = f" with the prompt `{prompt}`" if prompt else ""
    return (
        f"`image_embedding` lives in the space of `{public_model_id(query)}`, so a text query embedded by it"
        f"{prompt_text} ranks artwork directly (see the quick start)."
    )
