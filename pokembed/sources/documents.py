"""Documents: the exact text embedded for a record, and the row metadata kept apart from it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pokembed.errors import BadInputError
from pokembed.sources.choice import PokemonMeta


def document_text(record: dict) -> str:
    """The record as compact JSON with ASCII escapes, as in the article; no model prompt is added."""
    return json.dumps(record, separators=(",", ":"))


@dataclass(frozen=True)
class RowMeta:
    """Dataset columns of one Pokémon that are not part of its document."""

    id: int
    name: str
    display_name: str
    species_id: int
    is_default: bool
    generation: str | None
    types: list[str]


def row_metadata(record: dict, meta: PokemonMeta) -> RowMeta:
    """The row metadata of ``record``: name, generation and types (slot order) from it, the rest from ``meta``
    (the display name falls back to the PokéAPI name when PokéAPI has no English name)."""
    if record.get("id") != meta.id:
        raise BadInputError(
            f"record id {record.get('id')!r} does not match its metadata id {meta.id}; pass the meta of the same "
            "Pokémon (SourceData.meta[record['id']])"
        )
    species = record.get("pokemonspecy") or {}
    generation = species.get("generation") or {}
    types = [entry["type"]["name"] for entry in record.get("pokemontypes") or () if entry.get("type")]
    return RowMeta(
        id=meta.id,
        name=record["name"],
        display_name=meta.display_name or record["name"],
        species_id=meta.species_id,
        is_default=meta.is_default,
        generation=generation.get("name"),
        types=types,
    )
