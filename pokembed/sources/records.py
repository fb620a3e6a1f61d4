"""Checks of the records a source gives, before any work starts: each problem names the Pokémon id and the field.

Both sources end here: the live GraphQL response is checked before it is cached (a bad answer is never
remembered), the CSV tables after DuckDB has joined them. What is checked is what the build relies on: unique
integer ids, a non-empty name, the type names, the species' generation name, and the metadata (species id, default
form, English names). Every other field is embedded as it comes, whatever its value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pokembed.errors import PokembedError
from pokembed.sources.display_names import display_name, graphql_english_names


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

    def fail(where: str, problem: str) -> PokembedError:
        return error(f"{origin}: {where} {problem}; {fix}")

    seen: dict[int, int] = {}
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise fail(f"record #{index + 1}", f"is {_show(record)}, not a JSON object")
        pokemon_id = record.get("id")
        if not _is_int(pokemon_id):
            raise fail(f"record #{index + 1}", f"has 'id' = {_show(pokemon_id)}, expected an integer")
        if pokemon_id in seen:
            raise fail(f"Pokémon {pokemon_id}", f"appears more than once (records #{seen[pokemon_id] + 1} and "
                                                f"#{index + 1})")
        seen[pokemon_id] = index
        where = f"Pokémon {pokemon_id}"
        if "name" not in record:
            raise fail(where, "has no 'name' field")
        name = record["name"]
        if not isinstance(name, str) or not name.strip():
            raise fail(where, f"has 'name' = {_show(name)}, expected a non-empty string")
        types = record.get("pokemontypes")
        if types is not None:
            if not isinstance(types, list):
                raise fail(where, f"has 'pokemontypes' = {_show(types)}, expected a list")
            for n, entry in enumerate(types):
                kind = entry.get("type") if isinstance(entry, dict) else entry  # null: a type row that is missing
                if kind is not None and not isinstance(_path(kind, "name"), str):
                    raise fail(where, f"has 'pokemontypes[{n}].type' = {_show(kind)}, expected {{\"name\": …}}")
        species = record.get("pokemonspecy")
        if species is not None:
            if not isinstance(species, dict):
                raise fail(where, f"has 'pokemonspecy' = {_show(species)}, expected an object or null")
            generation = species.get("generation")
            if generation is not None and not isinstance(_path(generation, "name"), str):
                raise fail(where, f"has 'pokemonspecy.generation' = {_show(generation)}, expected {{\"name\": …}}")

    meta = []
    for index, row in enumerate(meta_rows):
        if isinstance(row, dict):
            pokemon_id, species_id, is_default = row.get("id"), row.get("pokemon_species_id"), row.get("is_default")
            species_name, form_name = graphql_english_names(row)
        else:
            pokemon_id, species_id, is_default, species_name, form_name = row
        if not _is_int(pokemon_id):
            raise fail(f"meta row #{index + 1}", f"has 'id' = {_show(pokemon_id)}, expected an integer")
        where = f"Pokémon {pokemon_id}"
        if not _is_int(species_id):
            raise fail(where, f"has 'pokemon_species_id' = {_show(species_id)}, expected an integer")
        if not isinstance(is_default, bool):
            raise fail(where, f"has 'is_default' = {_show(is_default)}, expected true or false")
        for field, value in (("English species name", species_name), ("English form name", form_name)):
            if value is not None and not isinstance(value, str):
                raise fail(where, f"has the {field} {_show(value)}, expected a string or null")
        meta.append((pokemon_id, species_id, is_default, display_name(is_default, species_name, form_name)))
    ids = [r["id"] for r in records]
    if ids != [m[0] for m in meta]:
        extra = sorted(set(ids) ^ {m[0] for m in meta})
        detail = f" (Pokémon {', '.join(map(str, extra[:5]))} in only one)" if extra else ""
        raise error(f"{origin}: the records and their metadata list different ids{detail}; {fix}")
    return meta


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
