"""The Space's answers as plain JSON-ready dicts: what the API returns and the page renders, for a loaded `Space`.

Each function checks its input (a PokembedError of our own naming the problem) and returns ids, names, display names
and rounded scores; `pokembed.explore.map_data` answers for the map. No Gradio here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pokembed.errors import BadInputError
from pokembed.explore import arithmetic, queries
from pokembed.explore.index import MODES, SCORE_LABELS, Match, check_k, top_rows, unit_query
from pokembed.explore.names import generation_label
from pokembed.explore.space import Space

Mode = Literal["text", "image", "umap", "combined"]
EmbeddingSpace = Literal["text", "image"]
Modality = Literal["text", "image", "combined"]


def pokemon_facts(space: Space, row: int) -> dict[str, Any]:
    """One Pokémon as the results describe it."""
    index = space.index
    return {"id": int(index.ids[row]), "name": index.names[row], "display_name": space.display[row],
            "generation": index.generations[row], "generation_label": generation_label(index.generations[row]),
            "types": list(index.types[row]), "has_artwork": bool(index.has_image[row])}


def entry(space: Space, pokemon_id: int, score: float, **extra: Any) -> dict[str, Any]:
    """One ranked Pokémon in a result: `extra` fields first, then id, name, display name and the rounded score."""
    row = space.index.row_of_id(pokemon_id)
    return {**extra, "id": int(pokemon_id), "name": space.index.names[row], "display_name": space.display[row],
            "score": round(float(score), 6)}


def closer_than(pool: np.ndarray, score: float, descending: bool = True) -> float:
    """The share of `pool` (every candidate's score in one ranking) that `score` beats, strictly: 0.97 reads
    "closer than 97% of Pokémon", how the page shows a score (the cosine itself on hover)."""
    pool = np.asarray(pool, dtype=np.float64)
    if pool.size == 0:
        return 1.0
    beaten = pool < score if descending else pool > score
    return round(float(beaten.mean()), 4)


def _matches(space: Space, matches: Sequence[Match], pool: np.ndarray | None = None,
             descending: bool = True) -> list[dict[str, Any]]:
    """Ranked entries; with `pool` (every candidate's score) each also says what share of the candidates it beats."""
    out = []
    for rank, m in enumerate(matches, start=1):
        extra = {} if pool is None else {"closer_than": closer_than(pool, m.score, descending)}
        out.append({**entry(space, m.id, m.score, rank=rank), **extra})
    return out


def _ranked(space: Space, scores: np.ndarray, candidates: np.ndarray, k: int,
            default_only: bool) -> list[dict[str, Any]]:
    """The k best `candidates` by cosine `scores` (default forms only with `default_only`), each with the share of
    the candidates it beats."""
    index = space.index
    candidates = index.default_rows(np.asarray(candidates, dtype=np.int64), default_only)
    best = top_rows(scores, candidates, index.ids, check_k(k), descending=True)
    return _matches(space, [index.as_match(r, scores[r]) for r in best], scores[candidates])


def _artwork_matches(space: Space, vector: np.ndarray, k: int, default_only: bool) -> list[dict[str, Any]]:
    """The artwork closest to a query vector in the image space (what `PokedexIndex.search_images` ranks)."""
    index = space.index
    if index.image.shape[1] == 0 or not index.has_image.any():
        index.search_images(vector, k)  # raises the dataset's "no image embeddings" error
    query = unit_query(vector, index.image.shape[1], "image embeddings",
                       "use the query model of the dataset's image model")
    return _ranked(space, index.image @ query, np.flatnonzero(index.has_image), k, default_only)


def find_row(space: Space, name: str) -> int:
    """The row of a Pokémon by name; an unknown name's error carries its suggestions as {"name", "display_name"}
    (`suggestions`), for a page to offer them."""
    try:
        return space.index.find(name)
    except BadInputError as exc:
        rows = [space.index.find(s) for s in getattr(exc, "suggestions", ())]
        exc.suggestions = tuple({"name": space.index.names[r], "display_name": space.display[r]} for r in rows)
        raise


def similar_result(space: Space, name: str, mode: str = "text", k: int = 12, default_only: bool = True) -> dict[str, Any]:
    """The chosen Pokémon, its k nearest by `mode`, and the best 3 in each generation (among default forms only,
    leaving out Megas, Gigantamax and other alternate forms, unless `default_only` is False)."""
    if mode not in MODES:
        raise BadInputError(f"unknown ranking mode {mode!r}; use one of {', '.join(MODES)}")
    row = find_row(space, name)
    slug = space.index.names[row]
    scores, candidates, descending = space.index.scores(row, mode)
    pool = scores[space.index.default_rows(candidates, default_only)]
    per_generation = [
        {**entry(space, g.id, g.score, generation=g.generation, generation_label=generation_label(g.generation),
                 rank=g.rank), "closer_than": closer_than(pool, g.score, descending)}
        for g in space.index.best_per_generation(slug, by=mode, k=3, default_only=default_only)]
    return {"pokemon": pokemon_facts(space, row), "mode": mode, "score": SCORE_LABELS[mode],
            "higher_is_closer": descending,
            "default_only": bool(default_only),
            "matches": _matches(space, space.index.similar(slug, by=mode, k=k, default_only=default_only), pool,
                                descending),
            "per_generation": per_generation}


def ask_result(space: Space, question: str, k: int = 12, default_only: bool = True) -> dict[str, Any]:
    """The Pokémon whose artwork best matches a question (search_query embedding against image embeddings), among
    default forms only unless `default_only` is False."""
    text = queries.validate_question(question, space.config.max_question_chars)
    check_k(k)
    vector = space.models.query_encoder().embed_queries([text])[0]
    return {"question": text, "score": "cosine", "searched": space.artwork_count, "default_only": bool(default_only),
            "matches": _artwork_matches(space, vector, k, default_only)}


def picture_result(space: Space, path: str | Path | None, k: int = 12) -> dict[str, Any]:
    """The Pokémon whose artwork is closest to a picture file."""
    image = queries.validate_upload(path, max_bytes=space.config.max_upload_bytes,
                                    max_pixels=space.config.max_upload_pixels)
    check_k(k)
    vector = space.models.image_encoder().embed_images([image])[0]
    return {"width": image.width, "height": image.height, "score": "cosine", "searched": space.artwork_count,
            "matches": _artwork_matches(space, vector, k, default_only=False)}


def oddballs_result(space: Space, modality: str = "text", default_only: bool = True) -> dict[str, Any]:
    """Per generation, the Pokémon with the lowest median cosine similarity to the others of its generation (among
    default forms only unless `default_only` is False)."""
    rows = space.index.oddballs(modality, per_generation=1, default_only=default_only)
    return {"modality": modality, "score": "median cosine", "default_only": bool(default_only), "oddballs": [
        {**entry(space, o.id, o.median_similarity, generation=o.generation,
                  generation_label=generation_label(o.generation)),
         "types": list(space.index.types[space.index.row_of_id(o.id)]),
         "median_similarity": round(o.median_similarity, 6)} for o in rows]}


def records_result(space: Space, question: str, k: int = 12, default_only: bool = True) -> dict[str, Any]:
    """The Pokémon whose records best answer a question: the question's `search_query: ` embedding by the dataset's
    text model against the records' `search_document: ` embeddings (nomic's retrieval use); default forms only
    unless `default_only` is False."""
    text = queries.validate_question(question, space.config.max_question_chars)
    check_k(k)
    vector = space.models.records_encoder().embed_queries([text])[0]
    index = space.index
    query = unit_query(vector, index.text.shape[1], "text embeddings", "embed the question with the text model")
    return {"question": text, "score": "cosine", "searched": len(index), "default_only": bool(default_only),
            "matches": _ranked(space, index.text @ query, np.arange(len(index)), k, default_only)}


def arithmetic_result(space: Space, expression: str, embedding_space: str = "text", k: int = 12) -> dict[str, Any]:
    """The Pokémon nearest to a sum of signed Pokémon and type/generation centroids, the Pokémon typed left out."""
    result = arithmetic.embedding_arithmetic(space.index, expression, embedding_space, k)
    return {"expression": result.expression, "space": result.space, "score": "cosine",
            "method": arithmetic.ARITHMETIC_METHOD, "story": _story(space, result),
            "terms": [{"sign": "+" if t.sign > 0 else "-", "kind": t.kind, "name": t.name} for t in result.terms],
            "excluded": list(result.excluded), "matches": _matches(space, result.matches)}


def _story(space: Space, result: arithmetic.ArithmeticResult) -> str | None:
    """The story of the preset whose terms and space these are, if any."""
    for preset in arithmetic.ARITHMETIC_PRESETS:
        try:
            if preset.space == result.space and arithmetic.parse_expression(space.index, preset.expression) == result.terms:
                return preset.story
        except BadInputError:  # a small build may lack a preset's Pokémon
            continue
    return None


def available_presets(space: Space) -> list[arithmetic.ArithmeticPreset]:
    """The presets this dataset can compute (all of them on a full build)."""
    out = []
    for preset in arithmetic.ARITHMETIC_PRESETS:
        try:
            arithmetic.embedding_arithmetic(space.index, preset.expression, preset.space, 1)
        except BadInputError:
            continue
        out.append(preset)
    return out


def default_expression(space: Space) -> tuple[str, str]:
    """The arithmetic tab's first expression and space: the first preset this dataset can compute, else one made
    from its first Pokémon (a small build may lack the presets' Pokémon)."""
    presets = available_presets(space)
    if presets:
        return presets[0].expression, presets[0].space
    index = space.index
    own = index.types[0][0] if index.types[0] else None
    other = next((t for t in arithmetic.type_names(index) if t != own), None)
    if own and other:
        return f"{index.names[0]} - type:{own} + type:{other}", "text"
    return index.names[0], "text"
