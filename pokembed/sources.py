"""Records: one dict per Pokémon, exactly as PokéAPI's GraphQL API returns it for the article's query.

Two sources give the same records:

- ``graphql`` / ``graphql:URL``: one POST of :data:`QUERY` to the live endpoint (cached on disk);
- ``csv:PATH``: the same records rebuilt offline from PokéAPI's ``data/v2/csv`` tables.

The per-Pokémon metadata the dataset needs beyond the article's fields (species id, default form) travels
separately in :attr:`SourceData.meta`, so it never changes the embedded text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pokembed.errors import BadInputError

logger = logging.getLogger(__name__)

DEFAULT_GRAPHQL_URL = "https://graphql.pokeapi.co/v1beta2"

#: The article's query (minimaxir/pokemon-embeddings ``query.gql``) with v1beta2 names (no ``pokemon_v2_``
#: prefix), its fields in the order of the 2024 Pikachu sample, plus the ``meta`` alias for the row metadata.
#: The article orders encounters by ``{ pokemon_v2_locationarea: {}, location_area_id: asc }``; the empty
#: relationship term orders nothing, so it is left out.
QUERY = """query rawPokemonData {
  pokemon(order_by: { id: asc }) {
    id
    name
    height
    weight
    base_experience
    pokemontypes(order_by: { id: asc }) {
      type {
        name
      }
    }
    pokemonstats {
      stat {
        name
      }
      base_stat
    }
    pokemonabilities(distinct_on: ability_id, order_by: { ability_id: asc }) {
      ability {
        name
      }
    }
    encounters(distinct_on: location_area_id, order_by: { location_area_id: asc }) {
      locationarea {
        location {
          name
          region {
            name
          }
        }
      }
    }
    pokemonspecy {
      base_happiness
      capture_rate
      forms_switchable
      gender_rate
      has_gender_differences
      hatch_counter
      is_baby
      is_legendary
      is_mythical
      pokemonspeciesflavortexts(order_by: { id: asc }, where: { language_id: { _eq: 9 } }) {
        version {
          name
        }
        flavor_text
      }
      pokemonshape {
        name
      }
      pokemonhabitat {
        name
      }
      pokemonegggroups {
        egggroup {
          name
        }
      }
      generation {
        name
      }
      growthrate {
        name
      }
      pokemoncolor {
        name
      }
      pokemonevolutions {
        evolutiontrigger {
          name
        }
      }
    }
    pokemonmoves(distinct_on: move_id, order_by: { move_id: asc }) {
      move {
        name
        type {
          name
        }
      }
    }
  }
  meta: pokemon(order_by: { id: asc }) {
    id
    pokemon_species_id
    is_default
  }
}
"""

SOURCE_FORMS = "graphql, graphql:URL or csv:PATH"


@dataclass(frozen=True)
class PokemonMeta:
    """Row metadata of one Pokémon that is not part of its record."""

    id: int
    species_id: int
    is_default: bool


@dataclass(frozen=True)
class SourceData:
    """The records of one source, with their metadata and provenance."""

    records: list[dict]
    meta: dict[int, PokemonMeta]
    source: str
    fetched_at: str | None
    data_version: str | None


def parse_source(source: str) -> tuple[str, str]:
    """Split a source string into ``("graphql", url)`` or ``("csv", path)``; BadInputError otherwise."""
    text = (source or "").strip()
    scheme, sep, rest = text.partition(":")
    if scheme == "graphql":
        url = rest.strip() if sep else DEFAULT_GRAPHQL_URL
        if not url.startswith(("http://", "https://")):
            raise BadInputError(
                f"source {source!r}: graphql:URL needs an http(s) URL; use graphql, graphql:URL or csv:PATH"
            )
        return "graphql", url
    if scheme == "csv" and sep and rest.strip():
        return "csv", rest.strip()
    raise BadInputError(
        f"unknown source {source!r}: use graphql (PokéAPI's live endpoint), graphql:URL or csv:PATH "
        "(a folder of PokéAPI's data/v2/csv tables)"
    )


def load_source(
    source: str,
    *,
    cache_dir: Path | None = None,
    refresh: bool = False,
    timeout: float | None = None,
    retries: int | None = None,
    progress: bool = True,
    backoff: float | None = None,
) -> SourceData:
    """Load every Pokémon's record from ``graphql``, ``graphql:URL`` or ``csv:PATH``.

    The live response is cached under ``cache_dir/source/`` and reused unless ``refresh``; ``timeout`` (total
    seconds), ``retries`` and ``backoff`` override pokembed's one HTTP policy (``pokembed.http``) for the POST.
    """
    kind, location = parse_source(source)
    if kind == "csv":
        from pokembed import pokeapi_csv

        folder = pokeapi_csv.resolve_csv_folder(Path(location))
        records, meta_rows = pokeapi_csv.build_records(folder, progress=progress)
        return SourceData(
            records=records,
            meta=_meta_by_id(meta_rows),
            source=f"csv:{folder}",
            fetched_at=None,
            data_version=pokeapi_csv.data_version(folder),
        )

    from pokembed import pokeapi_graphql

    response = pokeapi_graphql.fetch_cached(
        location,
        pokeapi_graphql.query_for_url(QUERY, location),
        cache_dir=cache_dir,
        refresh=refresh,
        progress=progress,
        **{k: v for k, v in (("timeout", timeout), ("retries", retries), ("backoff", backoff)) if v is not None},
    )
    records, meta_rows = pokeapi_graphql.records_from_response(response.body, location)
    return SourceData(
        records=records,
        meta=_meta_by_id(meta_rows),
        source=f"graphql:{location}",
        fetched_at=response.fetched_at,
        data_version=None,
    )


def load_records(source: str, **kwargs) -> list[dict]:
    """The records of :func:`load_source` (one dict per Pokémon, ordered by id)."""
    return load_source(source, **kwargs).records


def _meta_by_id(rows: list[tuple[int, int, bool]]) -> dict[int, PokemonMeta]:
    return {pid: PokemonMeta(id=pid, species_id=species, is_default=default) for pid, species, default in rows}
