"""The offline source: the GraphQL records rebuilt from PokéAPI's ``data/v2/csv`` tables with DuckDB.

PokéAPI's loader (``data/v2/build.py``) fills its Postgres database from these tables and the GraphQL API
(Hasura) serves that database, so the records follow the loader's rules:

- every cell is text read with Python's ``csv`` module (universal newlines); DuckDB reads the same cells
  (all ``VARCHAR``, no type sniffing) and each table keeps its file row order as ``rowid``;
- a table without an ``id`` column gets serial ids in file order, so "order by id" and the relations the query
  leaves unordered (stats, egg groups, evolutions: Postgres returns them in insertion order) follow the file;
- an empty integer cell is ``null``; booleans are ``int(cell) != 0``; an empty ``has_gender_differences`` is
  ``false`` while the species' other empty booleans are ``null``; names come from ``identifier``;
- a missing related row (a ``null`` foreign key) is a ``null`` object, an empty relation an empty list.
"""

from __future__ import annotations

import csv
import logging
import subprocess
from pathlib import Path

from pokembed.errors import BadInputError, SourceUnavailableError, one_line
from pokembed.local_files import files_digest
from pokembed.sources.records import check_records

logger = logging.getLogger(__name__)

#: The tables the records need and, for each, the columns read (by header name).
TABLES: dict[str, tuple[str, ...]] = {
    "pokemon": ("id", "identifier", "species_id", "height", "weight", "base_experience", "is_default"),
    "pokemon_species": (
        "id", "generation_id", "color_id", "shape_id", "habitat_id", "gender_rate", "capture_rate",
        "base_happiness", "is_baby", "hatch_counter", "has_gender_differences", "growth_rate_id",
        "forms_switchable", "is_legendary", "is_mythical",
    ),
    "pokemon_types": ("pokemon_id", "type_id"),
    "types": ("id", "identifier"),
    "pokemon_stats": ("pokemon_id", "stat_id", "base_stat"),
    "stats": ("id", "identifier"),
    "pokemon_abilities": ("pokemon_id", "ability_id"),
    "abilities": ("id", "identifier"),
    "encounters": ("pokemon_id", "location_area_id"),
    "location_areas": ("id", "location_id"),
    "locations": ("id", "region_id", "identifier"),
    "regions": ("id", "identifier"),
    "pokemon_species_flavor_text": ("species_id", "version_id", "language_id", "flavor_text"),
    "versions": ("id", "identifier"),
    "pokemon_shapes": ("id", "identifier"),
    "pokemon_habitats": ("id", "identifier"),
    "pokemon_egg_groups": ("species_id", "egg_group_id"),
    "egg_groups": ("id", "identifier"),
    "generations": ("id", "identifier"),
    "growth_rates": ("id", "identifier"),
    "pokemon_colors": ("id", "identifier"),
    "pokemon_evolution": ("evolved_species_id", "evolution_trigger_id"),
    "evolution_triggers": ("id", "identifier"),
    "pokemon_moves": ("pokemon_id", "move_id"),
    "moves": ("id", "identifier", "type_id"),
    # row metadata only (the display name), never part of a record:
    "pokemon_forms": ("id", "pokemon_id", "is_default"),
    "pokemon_species_names": ("pokemon_species_id", "local_language_id", "name"),
    "pokemon_form_names": ("pokemon_form_id", "local_language_id", "pokemon_name"),
}
#: Tables that are only ``id -> identifier`` lookups.
_NAMED = ("types", "stats", "abilities", "regions", "versions", "pokemon_shapes", "pokemon_habitats", "egg_groups",
          "generations", "growth_rates", "pokemon_colors", "evolution_triggers")
ENGLISH = 9  # languages.csv id of "en"
_HINT = "pass csv:PATH with a folder of PokéAPI's data/v2/csv tables (e.g. csv:../shared/pokeapi/csv)"

_MACROS = """
CREATE MACRO int_(x) AS CAST(NULLIF(trim(x), '') AS BIGINT);
CREATE MACRO bool_(x) AS int_(x) <> 0;
CREATE MACRO text_(x) AS replace(replace(coalesce(x, ''), chr(13) || chr(10), chr(10)), chr(13), chr(10));
"""

_TYPED = """
CREATE TABLE pokemon AS SELECT int_(id) AS id, text_(identifier) AS name, int_(species_id) AS species_id,
    int_(height) AS height, int_(weight) AS weight, int_(base_experience) AS base_experience,
    bool_(is_default) AS is_default
  FROM raw_pokemon;
CREATE TABLE species AS SELECT int_(id) AS id, int_(generation_id) AS generation_id, int_(color_id) AS color_id,
    int_(shape_id) AS shape_id, int_(habitat_id) AS habitat_id, int_(gender_rate) AS gender_rate,
    int_(capture_rate) AS capture_rate, int_(base_happiness) AS base_happiness, bool_(is_baby) AS is_baby,
    int_(hatch_counter) AS hatch_counter, coalesce(bool_(has_gender_differences), false) AS has_gender_differences,
    int_(growth_rate_id) AS growth_rate_id, bool_(forms_switchable) AS forms_switchable,
    bool_(is_legendary) AS is_legendary, bool_(is_mythical) AS is_mythical
  FROM raw_pokemon_species;
CREATE TABLE location_areas AS SELECT int_(id) AS id, int_(location_id) AS location_id FROM raw_location_areas;
CREATE TABLE locations AS SELECT int_(id) AS id, int_(region_id) AS region_id, text_(identifier) AS name
  FROM raw_locations;
CREATE TABLE moves AS SELECT int_(id) AS id, text_(identifier) AS name, int_(type_id) AS type_id FROM raw_moves;
"""

_POKEMON = """
SELECT p.id, p.name, p.height, p.weight, p.base_experience, p.species_id, p.is_default,
       s.id IS NOT NULL, s.base_happiness, s.capture_rate, s.forms_switchable, s.gender_rate,
       s.has_gender_differences, s.hatch_counter, s.is_baby, s.is_legendary, s.is_mythical,
       sh.name, hab.name, gen.name, gr.name, col.name
FROM pokemon p
LEFT JOIN species s ON s.id = p.species_id
LEFT JOIN pokemon_shapes sh ON sh.id = s.shape_id
LEFT JOIN pokemon_habitats hab ON hab.id = s.habitat_id
LEFT JOIN generations gen ON gen.id = s.generation_id
LEFT JOIN growth_rates gr ON gr.id = s.growth_rate_id
LEFT JOIN pokemon_colors col ON col.id = s.color_id
ORDER BY p.id
"""

# One query per relation: (owner id, list in the query's order). A NULL name means the related row is missing.
_RELATIONS = {
    "types": """
SELECT int_(x.pokemon_id) AS owner, list(t.name ORDER BY x.rowid)
FROM raw_pokemon_types x LEFT JOIN types t ON t.id = int_(x.type_id) GROUP BY owner""",
    "stats": """
SELECT int_(x.pokemon_id) AS owner, list({'name': t.name, 'base_stat': int_(x.base_stat)} ORDER BY x.rowid)
FROM raw_pokemon_stats x LEFT JOIN stats t ON t.id = int_(x.stat_id) GROUP BY owner""",
    "abilities": """
SELECT x.owner, list(t.name ORDER BY x.ability_id)
FROM (SELECT DISTINCT int_(pokemon_id) AS owner, int_(ability_id) AS ability_id FROM raw_pokemon_abilities) x
LEFT JOIN abilities t ON t.id = x.ability_id GROUP BY x.owner""",
    "encounters": """
SELECT x.owner, list({'area': la.id, 'location': l.name, 'region': r.name} ORDER BY x.area_id)
FROM (SELECT DISTINCT int_(pokemon_id) AS owner, int_(location_area_id) AS area_id FROM raw_encounters) x
LEFT JOIN location_areas la ON la.id = x.area_id
LEFT JOIN locations l ON l.id = la.location_id
LEFT JOIN regions r ON r.id = l.region_id GROUP BY x.owner""",
    "flavor_texts": f"""
SELECT int_(x.species_id) AS owner, list({{'version': v.name, 'text': text_(x.flavor_text)}} ORDER BY x.rowid)
FROM raw_pokemon_species_flavor_text x LEFT JOIN versions v ON v.id = int_(x.version_id)
WHERE int_(x.language_id) = {ENGLISH} GROUP BY owner""",
    "egg_groups": """
SELECT int_(x.species_id) AS owner, list(t.name ORDER BY x.rowid)
FROM raw_pokemon_egg_groups x LEFT JOIN egg_groups t ON t.id = int_(x.egg_group_id) GROUP BY owner""",
    "evolutions": """
SELECT int_(x.evolved_species_id) AS owner, list(t.name ORDER BY x.rowid)
FROM raw_pokemon_evolution x LEFT JOIN evolution_triggers t ON t.id = int_(x.evolution_trigger_id) GROUP BY owner""",
    "moves": """
SELECT x.owner, list({'move': m.name, 'type': t.name} ORDER BY x.move_id)
FROM (SELECT DISTINCT int_(pokemon_id) AS owner, int_(move_id) AS move_id FROM raw_pokemon_moves) x
LEFT JOIN moves m ON m.id = x.move_id
LEFT JOIN types t ON t.id = m.type_id GROUP BY x.owner""",
}

# English names for the display name, kept out of the records: the species' name, and the full English name
# (``pokemon_name``, e.g. "Mega Charizard X") of each Pokémon's default form. First row wins, in file order.
_SPECIES_NAMES = f"""
SELECT int_(pokemon_species_id), NULLIF(trim(text_(name)), '') FROM raw_pokemon_species_names
WHERE int_(local_language_id) = {ENGLISH} ORDER BY rowid"""
_FORM_NAMES = f"""
SELECT int_(f.pokemon_id), NULLIF(trim(text_(n.pokemon_name)), '') FROM raw_pokemon_forms f
JOIN raw_pokemon_form_names n ON int_(n.pokemon_form_id) = int_(f.id) AND int_(n.local_language_id) = {ENGLISH}
WHERE bool_(f.is_default) ORDER BY f.rowid, n.rowid"""


def resolve_csv_folder(path: Path) -> Path:
    """The absolute folder holding the tables: ``path`` itself or, for a PokeAPI/pokeapi clone, its data/v2/csv."""
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise SourceUnavailableError(f"CSV folder {folder} does not exist; {_HINT}")
    nested = folder / "data" / "v2" / "csv"
    if not (folder / "pokemon.csv").is_file() and (nested / "pokemon.csv").is_file():
        folder = nested
    missing = [f"{name}.csv" for name in TABLES if not (folder / f"{name}.csv").is_file()]
    if missing:
        raise SourceUnavailableError(
            f"CSV folder {folder} lacks the table{'s' if len(missing) > 1 else ''} {', '.join(missing)}; {_HINT}"
        )
    return folder


def build_records(folder: Path, *, progress: bool = True) -> tuple[list[dict], list[tuple]]:
    """Every Pokémon's record (ordered by id) and its ``(id, species_id, is_default, display_name)`` row, from the
    tables."""
    import duckdb
    from tqdm.auto import tqdm

    folder = resolve_csv_folder(folder)
    con = duckdb.connect()
    try:
        con.execute(_MACROS)
        for name, needed in TABLES.items():
            _load_table(con, folder, name, needed)
            _check_integer_cells(con, folder, name, needed)
        try:
            for name in _NAMED:
                con.execute(f"CREATE TABLE {name} AS SELECT int_(id) AS id, text_(identifier) AS name FROM raw_{name}")
            con.execute(_TYPED)
            rows = con.execute(_POKEMON).fetchall()
            relations = {key: dict(con.execute(sql).fetchall()) for key, sql in _RELATIONS.items()}
            species_names = _first_wins(con.execute(_SPECIES_NAMES).fetchall())
            form_names = _first_wins(con.execute(_FORM_NAMES).fetchall())
        except duckdb.Error as exc:
            raise BadInputError(f"CSV folder {folder}: {one_line(exc)}; fix the table or {_HINT}") from None
    finally:
        con.close()

    records, meta = [], []
    for row in tqdm(rows, desc="records", unit="pokemon", disable=not progress, leave=False):
        records.append(_record(row, relations))
        meta.append((row[0], row[5], row[6], species_names.get(row[5]), form_names.get(row[0])))
    table = folder / "pokemon.csv"
    meta = check_records(records, meta, origin=f"CSV folder {folder}", fix=f"fix the row in {table}",
                         error=BadInputError)
    return records, meta


def _first_wins(pairs: list[tuple]) -> dict:
    """``{key: value}`` of the first row with a value for each key."""
    found: dict = {}
    for key, value in pairs:
        if value is not None:
            found.setdefault(key, value)
    return found


def data_version(folder: Path) -> str:
    """The git commit of ``folder`` when its tables are committed and unmodified, else ``sha256:<16 hex>``."""
    folder = Path(folder)
    files = sorted(folder / f"{name}.csv" for name in TABLES)
    commit = _git_commit(folder, files)
    if commit:
        return commit
    return f"sha256:{files_digest(folder, files)[:16]}"


def _record(row: tuple, rel: dict[str, dict]) -> dict:
    (pid, name, height, weight, base_experience, species_id, _is_default, has_species, base_happiness,
     capture_rate, forms_switchable, gender_rate, has_gender_differences, hatch_counter, is_baby, is_legendary,
     is_mythical, shape, habitat, generation, growth_rate, color) = row
    species = None
    if has_species:
        species = {
            "base_happiness": base_happiness,
            "capture_rate": capture_rate,
            "forms_switchable": forms_switchable,
            "gender_rate": gender_rate,
            "has_gender_differences": has_gender_differences,
            "hatch_counter": hatch_counter,
            "is_baby": is_baby,
            "is_legendary": is_legendary,
            "is_mythical": is_mythical,
            "pokemonspeciesflavortexts": [
                {"version": _named(f["version"]), "flavor_text": f["text"]}
                for f in rel["flavor_texts"].get(species_id, ())
            ],
            "pokemonshape": _named(shape),
            "pokemonhabitat": _named(habitat),
            "pokemonegggroups": [{"egggroup": _named(n)} for n in rel["egg_groups"].get(species_id, ())],
            "generation": _named(generation),
            "growthrate": _named(growth_rate),
            "pokemoncolor": _named(color),
            "pokemonevolutions": [{"evolutiontrigger": _named(n)} for n in rel["evolutions"].get(species_id, ())],
        }
    return {
        "id": pid,
        "name": name,
        "height": height,
        "weight": weight,
        "base_experience": base_experience,
        "pokemontypes": [{"type": _named(n)} for n in rel["types"].get(pid, ())],
        "pokemonstats": [{"stat": _named(s["name"]), "base_stat": s["base_stat"]} for s in rel["stats"].get(pid, ())],
        "pokemonabilities": [{"ability": _named(n)} for n in rel["abilities"].get(pid, ())],
        "encounters": [{"locationarea": _area(e)} for e in rel["encounters"].get(pid, ())],
        "pokemonspecy": species,
        "pokemonmoves": [
            {"move": None if m["move"] is None else {"name": m["move"], "type": _named(m["type"])}}
            for m in rel["moves"].get(pid, ())
        ],
    }


def _named(name: str | None) -> dict | None:
    return None if name is None else {"name": name}


def _area(encounter: dict) -> dict | None:
    if encounter["area"] is None:
        return None
    location = encounter["location"]
    if location is None:
        return {"location": None}
    return {"location": {"name": location, "region": _named(encounter["region"])}}


#: Columns read as text; every other column the records read holds integers (empty = null).
_TEXT_COLUMNS = frozenset({"identifier", "flavor_text", "name", "pokemon_name"})
_MAX_LINE_BYTES = 2 << 20  # DuckDB's own limit; a longer line is nearly always an unclosed quote


def _load_table(con, folder: Path, name: str, needed: tuple[str, ...]) -> None:
    """Load ``name.csv`` as ``raw_<name>``: every column VARCHAR, file row order kept as ``rowid``."""
    import duckdb

    path = folder / f"{name}.csv"
    header = _read_header(path)
    if not header:
        raise BadInputError(f"table {path} is empty (no header row); {_HINT}")
    header[0] = header[0].removeprefix("\ufeff")
    absent = [column for column in needed if column not in header]
    if absent:
        raise BadInputError(f"table {path} lacks the column(s) {', '.join(absent)}; {_HINT}")
    columns = ", ".join(f"{_sql_str(column)}: 'VARCHAR'" for column in header)
    try:
        con.execute(
            f"CREATE TABLE raw_{name} AS SELECT * FROM read_csv({_sql_str(str(path))}, header = true, "
            f"auto_detect = false, delim = ',', quote = '\"', escape = '\"', columns = {{{columns}}})"
        )
    except duckdb.Error as exc:
        reason = _quote_problem(path) or f"is not a readable CSV ({one_line(exc)})"
        raise BadInputError(f"table {path}{reason}; {_HINT}") from None
    if con.execute(f"SELECT count(*) FROM raw_{name}").fetchone()[0] == 0:
        raise BadInputError(f"table {path} has a header but no rows, and the records need its rows; restore the "
                            f"file from PokéAPI's data/v2/csv or {_HINT}")


def _read_header(path: Path) -> list[str] | None:
    """The header row; BadInputError naming the file (and the line of the first bad byte) unless it is UTF-8."""
    with path.open("rb") as handle:
        start = handle.read(4)
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BadInputError(
            f"table {path} is UTF-16; PokéAPI's tables are UTF-8: convert it to UTF-8 (e.g. iconv -f UTF-16 -t UTF-8) "
            f"or {_HINT}"
        )
    _check_utf8(path)
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle), None)


def _check_utf8(path: Path) -> None:
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    line, offset = 1, 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                bad = block[exc.start] if exc.start < len(block) else block[-1]
                line += block.count(b"\n", 0, exc.start)
                raise BadInputError(
                    f"table {path} is not UTF-8 (byte 0x{bad:02x} on line {line}, offset {offset + exc.start}); "
                    f"save it as UTF-8 or {_HINT}"
                ) from None
            line += block.count(b"\n")
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise BadInputError(f"table {path} is not UTF-8 (it ends inside a character); save it as UTF-8 or "
                                f"{_HINT}") from None


def _quote_problem(path: Path) -> str | None:
    """Why DuckDB could not read a UTF-8 table, in words: an unclosed quote or a line too long; None otherwise."""
    opened_on, in_quotes, longest, longest_line = 0, False, 0, 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if len(raw) > longest:
                longest, longest_line = len(raw), number
            if raw.count(b'"') % 2:
                in_quotes = not in_quotes
                if in_quotes:
                    opened_on = number
    if in_quotes:
        return f": a quoted cell opened on line {opened_on} never closes (a stray or missing \")"
    if longest > _MAX_LINE_BYTES:
        return f": line {longest_line} is {longest} bytes long, more than the {_MAX_LINE_BYTES} a line may have"
    return None


def _check_integer_cells(con, folder: Path, name: str, needed: tuple[str, ...]) -> None:
    """Every integer column the records read holds integers or nothing; else name file, column, row and value."""
    for column in needed:
        if column in _TEXT_COLUMNS:
            continue
        quoted = '"' + column.replace('"', '""') + '"'
        bad = con.execute(
            f"SELECT rowid, {quoted} FROM raw_{name} WHERE NULLIF(trim({quoted}), '') IS NOT NULL "
            f"AND TRY_CAST(trim({quoted}) AS BIGINT) IS NULL ORDER BY rowid LIMIT 1"
        ).fetchone()
        if bad is not None:
            row, value = bad
            raise BadInputError(
                f"table {folder / (name + '.csv')}, column {column}, row {row + 1}: {one_line(repr(value), 60)} is "
                f"not an integer; fix the cell (an empty cell means null) or {_HINT}"
            )


def _git_commit(folder: Path, files: list[Path]) -> str | None:
    """HEAD of the git checkout holding ``files`` if they are all tracked and clean, else None."""
    try:
        head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=20)
        if head.returncode != 0:
            return None
        names = [str(path) for path in files]
        tracked = subprocess.run(["git", "-C", str(folder), "ls-files", "--error-unmatch", "--", *names],
                                 capture_output=True, text=True, timeout=60)
        status = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", *names],
                                capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if tracked.returncode != 0 or status.returncode != 0 or status.stdout.strip():
        return None
    return head.stdout.strip() or None


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"

