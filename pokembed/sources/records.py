"""Checks of the records a source gives, before any work starts: each problem names the Pokémon id and the field.

Both sources end here: the live GraphQL response is checked before it is cached (a bad answer is never
remembered), the CSV tables after DuckDB has joined them. What is checked is what the build relies on: unique
integer ids, a non-empty name, the type names, the species' generation name, and the metadata (species id, default
form, English names). Every other field is embedded as it comes, whatever its value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from pokembed.errors import PokembedError
from pokembed.sources.display_names import display_name, graphql_english_names

#: What a name shown in the dataset card and the Space may hold: no Markdown or HTML (PokéAPI's are a-z0-9 and -).
_PLAIN_NAME = re.compile(r"^[\w.'’:♀♂ -]+$")
_PLAIN_HINT = "letters, digits, spaces and - . ' : only (the dataset card and the Space show it as text)"


def check_records(
    records: Sequence,
    meta_rows: Sequence,
    *,
    origin: str,
    fix: str,
    error: type[PokembedError],
) -> list[tuple[int, int, bool, str | None]]:
    """Check ``records`` and their ``meta_rows``: GraphQL ``meta`` mappings or ``(id, species_id, is_default,
    species English name, default form's English name)`` tuples.

    Returns the metadata as ``(id, species_id, is_default, display_name)`` tuples (see
    :func:`pokembed.sources.display_names.display_name`). Raises ``error`` with one line: ``origin``,
    the Pokémon id, the field, its value and ``fix``.
    """

    if not records:
        raise error(f"{origin}: no Pokémon records (an empty answer); {fix}")
    seen: dict[int, int] = {}
    try:
        for index, record in enumerate(records):
            _check_record(index, record, seen)
        meta = [_meta_tuple(index, row) for index, row in enumerate(meta_rows)]
    except _Problem as problem:
        raise error(f"{origin}: {problem.where} {problem.problem}; {fix}") from None
    ids = [r["id"] for r in records]
    if ids != [m[0] for m in meta]:
        extra = sorted(set(ids) ^ {m[0] for m in meta})
        detail = f" (Pokémon {', '.join(map(str, extra[:5]))} in only one)" if extra else ""
        raise error(f"{origin}: the records and their metadata list different ids{detail}; {fix}")
    return meta


class _Problem(Exception):
    """One bad field: where (a record or a Pokémon) and what is wrong with it."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where} {problem}")
        self.where, self.problem = where, problem


def _check_record(index: int, record: object, seen: dict[int, int]) -> None:
    """The record is an object with a new integer id, a name, and well-formed types and species (if any)."""
    if not isinstance(record, dict):
        raise _Problem(f"record #{index + 1}", f"is {_show(record)}, not a JSON object")
    pokemon_id = record.get("id")
    if not _is_int(pokemon_id):
        raise _Problem(f"record #{index + 1}", f"has 'id' = {_show(pokemon_id)}, expected an integer")
    if pokemon_id in seen:
        raise _Problem(f"Pokémon {pokemon_id}", f"appears more than once (records #{seen[pokemon_id] + 1} and "
                                                f"#{index + 1})")
    seen[pokemon_id] = index
    where = f"Pokémon {pokemon_id}"
    if "name" not in record:
        raise _Problem(where, "has no 'name' field")
    name = record["name"]
    if not isinstance(name, str) or not name.strip():
        raise _Problem(where, f"has 'name' = {_show(name)}, expected a non-empty string")
    _check_nested(where, record)
    _check_shown_names(record, where)


def _check_nested(where: str, record: dict) -> None:
    """``pokemontypes`` is a list of ``{"type": {"name": …}}`` (or null entries); ``pokemonspecy`` an object whose
    ``generation`` has a name."""
    types = record.get("pokemontypes")
    if types is not None:
        if not isinstance(types, list):
            raise _Problem(where, f"has 'pokemontypes' = {_show(types)}, expected a list")
        for n, entry in enumerate(types):
            kind = entry.get("type") if isinstance(entry, dict) else entry  # null: a type row that is missing
            if kind is not None and not isinstance(_path(kind, "name"), str):
                raise _Problem(where, f"has 'pokemontypes[{n}].type' = {_show(kind)}, expected {{\"name\": …}}")
    species = record.get("pokemonspecy")
    if species is not None:
        if not isinstance(species, dict):
            raise _Problem(where, f"has 'pokemonspecy' = {_show(species)}, expected an object or null")
        generation = species.get("generation")
        if generation is not None and not isinstance(_path(generation, "name"), str):
            raise _Problem(where, f"has 'pokemonspecy.generation' = {_show(generation)}, expected {{\"name\": …}}")


def _meta_tuple(index: int, row: object) -> tuple[int, int, bool, str | None]:
    """A meta row (a GraphQL mapping or an ``(id, species_id, is_default, species name, form name)`` tuple) as a
    checked ``(id, species_id, is_default, display name)`` tuple."""
    if isinstance(row, dict):
        pokemon_id, species_id, is_default = row.get("id"), row.get("pokemon_species_id"), row.get("is_default")
        species_name, form_name = graphql_english_names(row)
    else:
        pokemon_id, species_id, is_default, species_name, form_name = row
    if not _is_int(pokemon_id):
        raise _Problem(f"meta row #{index + 1}", f"has 'id' = {_show(pokemon_id)}, expected an integer")
    where = f"Pokémon {pokemon_id}"
    if not _is_int(species_id):
        raise _Problem(where, f"has 'pokemon_species_id' = {_show(species_id)}, expected an integer")
    if not isinstance(is_default, bool):
        raise _Problem(where, f"has 'is_default' = {_show(is_default)}, expected true or false")
    for field, value in (("English species name", species_name), ("English form name", form_name)):
        if value is not None and not isinstance(value, str):
            raise _Problem(where, f"has the {field} {_show(value)}, expected a string or null")
    return pokemon_id, species_id, is_default, display_name(is_default, species_name, form_name)


def _check_shown_names(record: dict, where: str) -> None:
    """Refuse Markdown or HTML in the names the card and the Space show: the name, type and generation names."""
    shown = [("name", record["name"])]
    for n, entry in enumerate(record.get("pokemontypes") or []):
        shown.append((f"pokemontypes[{n}].type.name", _path(entry, "type", "name")))
    shown.append(("pokemonspecy.generation.name", _path(record.get("pokemonspecy"), "generation", "name")))
    for field, value in shown:
        if value is not None and not _PLAIN_NAME.match(value):
            raise _Problem(where, f"has '{field}' = {_show(value)}, expected {_PLAIN_HINT}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _path(value, *keys):
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _show(value) -> str:
    if value is None:
        return "null"
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:59] + "…"
