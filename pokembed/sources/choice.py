"""Records: one dict per Pokémon, exactly as PokéAPI's GraphQL API returns it for the article's query.

Four sources give the same records:

- ``graphql`` / ``graphql:URL``: one POST of :data:`QUERY` to the live endpoint (cached on disk);
- ``csv:PATH``: the same records rebuilt offline from PokéAPI's ``data/v2/csv`` tables;
- ``pokeapi:REF``: those tables at a commit of PokeAPI/pokeapi (``main`` is resolved to its commit), downloaded
  from GitHub into the build cache (see :mod:`pokembed.sources.github_tables`), then read as ``csv:``;
- ``auto`` (the default): the live endpoint, and ``pokeapi:main`` when it is unreachable or erroring after its
  retries; the fallback is logged and recorded in :attr:`SourceData.note` (and so in the card).

The per-Pokémon metadata the dataset needs beyond the article's fields (species id, default form, display name) travels
separately in :attr:`SourceData.meta`, so it never changes the embedded text.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pokembed.errors import BadInputError, SourceUnavailableError

if TYPE_CHECKING:
    from pokembed.sources.github_tables import GitHubEndpoints

logger = logging.getLogger(__name__)

DEFAULT_GRAPHQL_URL = "https://graphql.pokeapi.co/v1beta2"
GRAPHQL_URL_ENV = "POKEMBED_GRAPHQL_URL"  # the endpoint ``auto`` asks first, for a mirror (or a test server)

#: The article's query (minimaxir/pokemon-embeddings ``query.gql``) with v1beta2 names (no ``pokemon_v2_``
#: prefix), its fields in the order of the 2024 Pikachu sample, plus the ``meta`` alias for the row metadata
#: (species, default form, and the English names of the species and of the default form, for the display name).
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
    pokemonspecy {
      pokemonspeciesnames(where: { language_id: { _eq: 9 } }) {
        name
      }
    }
    pokemonforms(where: { is_default: { _eq: true } }, order_by: { id: asc }) {
      pokemonformnames(where: { language_id: { _eq: 9 } }) {
        pokemon_name
      }
    }
  }
}
"""

SOURCE_FORMS = "auto, graphql, graphql:URL, pokeapi:REF or csv:PATH"
DEFAULT_SOURCE = "auto"
AUTO_FIRST_BYTE = 30.0  # seconds ``auto`` gives the live endpoint to start answering before it falls back
FALLBACK_SOURCE = "pokeapi:main"


@dataclass(frozen=True)
class PokemonMeta:
    """Row metadata of one Pokémon that is not part of its record."""

    id: int
    species_id: int
    is_default: bool
    display_name: str | None = None  # PokéAPI's English name (sources.display_names); None when it has none


@dataclass(frozen=True)
class SourceData:
    """The records of one source, with their metadata and provenance."""

    records: list[dict]
    meta: dict[int, PokemonMeta]
    source: str
    fetched_at: str | None
    data_version: str | None
    note: str | None = None  # e.g. why ``auto`` fell back from GraphQL to the tables at a commit


def parse_source(source: str) -> tuple[str, str]:
    """Split a source string into ``("auto", "")``, ``("graphql", url)``, ``("pokeapi", ref)`` or ``("csv", path)``;
    BadInputError otherwise."""
    text = (source or "").strip()
    scheme, sep, rest = text.partition(":")
    if text == "auto":
        return "auto", ""
    if scheme == "graphql":
        url = rest.strip() if sep else DEFAULT_GRAPHQL_URL
        if not url.startswith(("http://", "https://")):
            raise BadInputError(f"source {source!r}: graphql:URL needs an http(s) URL; use {SOURCE_FORMS}")
        return "graphql", url
    if scheme == "pokeapi" and sep and rest.strip():
        from pokembed.sources.github_tables import validate_ref

        return "pokeapi", validate_ref(rest)
    if scheme == "csv" and sep and rest.strip():
        return "csv", rest.strip()
    raise BadInputError(
        f"unknown source {source!r}: use auto (PokéAPI's live endpoint, else its tables at the latest commit), "
        "graphql, graphql:URL, pokeapi:REF (PokéAPI's tables at a commit, branch or tag of PokeAPI/pokeapi) or "
        "csv:PATH (a folder of PokéAPI's data/v2/csv tables)"
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
    graphql_url: str | None = None,
    github: "GitHubEndpoints | None" = None,
) -> SourceData:
    """Load every Pokémon's record from ``auto``, ``graphql``, ``graphql:URL``, ``pokeapi:REF`` or ``csv:PATH``.

    The live response and the tables at a commit are cached under ``cache_dir/source/`` (the live response is
    reused unless ``refresh``); ``timeout`` (total seconds per request), ``retries`` and ``backoff`` override
    pokembed's one HTTP policy (``pokembed.http``) for every request. ``auto`` asks ``graphql_url`` first (default:
    POKEMBED_GRAPHQL_URL, else PokéAPI's endpoint); ``github`` overrides GitHub's URLs (default:
    POKEMBED_GITHUB_API_URL / POKEMBED_GITHUB_RAW_URL, else GitHub's).
    """
    kind, location = parse_source(source)
    net = {"timeout": timeout, "retries": retries, "backoff": backoff, "progress": progress}
    if kind == "auto":
        return _load_auto(graphql_url, cache_dir=cache_dir, refresh=refresh, github=github, net=net)
    if kind == "pokeapi":
        return _load_pokeapi_commit(location, cache_dir=cache_dir, github=github, **net)
    if kind == "csv":
        return _load_csv_folder(Path(location), progress=progress)

    return _load_graphql(location, cache_dir=cache_dir, refresh=refresh, **net)


def _load_auto(graphql_url: str | None, *, cache_dir: Path | None, refresh: bool, github: "GitHubEndpoints | None",
               net: dict) -> SourceData:
    """The live GraphQL endpoint (given ``AUTO_FIRST_BYTE`` seconds to start answering), else PokéAPI's tables at
    the latest commit (with a note saying why)."""
    url = graphql_url or os.environ.get(GRAPHQL_URL_ENV) or DEFAULT_GRAPHQL_URL
    try:
        return _load_graphql(url, cache_dir=cache_dir, refresh=refresh, first_byte=AUTO_FIRST_BYTE, **net)
    except SourceUnavailableError as error:
        return _fall_back(error, cache_dir=cache_dir, github=github, net=net)


def _load_graphql(url: str, *, cache_dir: Path | None, refresh: bool, progress: bool, timeout: float | None,
                  retries: int | None, backoff: float | None, first_byte: float | None = None) -> SourceData:
    """The records of the GraphQL endpoint at ``url`` (cached); ``first_byte``: seconds for the answer to start."""
    from pokembed.sources import graphql as pokeapi_graphql

    overrides = {k: v for k, v in (("timeout", timeout), ("retries", retries), ("backoff", backoff)) if v is not None}
    if first_byte is not None:
        logger.info("auto: PokéAPI's GraphQL endpoint gets %g s to start answering, else the build falls back to %s",
                    first_byte, FALLBACK_SOURCE)
    response = pokeapi_graphql.fetch_cached(
        url, pokeapi_graphql.query_for_url(QUERY, url), cache_dir=cache_dir, refresh=refresh, progress=progress,
        first_byte=first_byte, **overrides,
    )
    records, meta_rows = pokeapi_graphql.records_from_response(response.body, url)
    return SourceData(records=records, meta=_meta_by_id(meta_rows), source=f"graphql:{url}",
                      fetched_at=response.fetched_at, data_version=None)


def _fall_back(error: SourceUnavailableError, *, cache_dir: Path | None, github, net: dict) -> SourceData:
    """``auto`` after the live endpoint failed with ``error``: PokéAPI's tables at the latest commit, with a note."""
    reason = str(error).split("; ")[0]
    logger.warning("PokéAPI's GraphQL endpoint failed (%s): falling back to %s", reason, FALLBACK_SOURCE)
    try:
        data = load_source(FALLBACK_SOURCE, cache_dir=cache_dir, github=github, **net)
    except SourceUnavailableError as fallback_error:
        raise SourceUnavailableError(
            f"PokéAPI's GraphQL endpoint failed ({reason}) and so did the fallback {FALLBACK_SOURCE} "
            f"({str(fallback_error).split('; ')[0]}); retry later or use csv:PATH (a folder of PokéAPI's "
            "data/v2/csv tables)"
        ) from None
    note = (f"`auto` fell back to PokéAPI's tables at commit `{data.data_version}` because the GraphQL "
            f"endpoint failed: {reason}")
    return replace(data, note=note)


def _load_csv_folder(folder: Path, *, progress: bool, source: str | None = None,
                     data_version: str | None = None) -> SourceData:
    from pokembed.sources import csv_tables as pokeapi_csv

    folder = pokeapi_csv.resolve_csv_folder(folder)
    records, meta_rows = pokeapi_csv.build_records(folder, progress=progress)
    return SourceData(
        records=records,
        meta=_meta_by_id(meta_rows),
        source=source or f"csv:{folder}",
        fetched_at=None,
        data_version=data_version or pokeapi_csv.data_version(folder),
    )


def _load_pokeapi_commit(ref: str, *, cache_dir: Path | None, github, timeout: float | None, retries: int | None,
                         backoff: float | None, progress: bool) -> SourceData:
    """The tables at ``ref`` (downloaded into the cache, or a temporary folder without one), read as ``csv:``.

    ``timeout``, ``retries`` and ``backoff`` left None keep pokeapi_github's defaults."""
    from pokembed.sources import csv_tables as pokeapi_csv, github_tables as pokeapi_github

    overrides = {k: v for k, v in (("timeout", timeout), ("retries", retries), ("backoff", backoff)) if v is not None}
    with tempfile.TemporaryDirectory(prefix="pokembed-pokeapi-") as scratch:
        commit, folder = pokeapi_github.fetch_tables(
            ref, cache_dir=Path(cache_dir) if cache_dir is not None else Path(scratch),
            tables=list(pokeapi_csv.TABLES), endpoints=github, progress=progress, **overrides,
        )
        return _load_csv_folder(folder, progress=progress, source=f"pokeapi:{commit}", data_version=commit)


def load_records(source: str, **kwargs) -> list[dict]:
    """The records of :func:`load_source` (one dict per Pokémon, ordered by id)."""
    return load_source(source, **kwargs).records


def _meta_by_id(rows: list[tuple[int, int, bool, str | None]]) -> dict[int, PokemonMeta]:
    return {pid: PokemonMeta(id=pid, species_id=species, is_default=default, display_name=name)
            for pid, species, default, name in rows}
