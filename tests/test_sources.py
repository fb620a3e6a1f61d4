"""pokembed.sources.choice: the CSV source on fixture tables, the live source against a local server, the shared data."""

from __future__ import annotations

import csv
import io
import json
import shutil
import socket
import subprocess
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pokeapi_fixture import FORM_ID, write_csv_fixture

from pokembed.sources.documents import document_text
from pokembed.errors import BadInputError, SourceUnavailableError
from pokembed.sources.graphql import PREFIX, RELATIONSHIPS, cache_path
from pokembed.sources.choice import (
    DEFAULT_GRAPHQL_URL,
    QUERY,
    PokemonMeta,
    load_records,
    load_source,
    parse_source,
)
from conftest import SHARED

SHARED_CSV = SHARED / "pokeapi" / "csv"
PIKACHU_2024 = SHARED / "pokeapi" / "pikachu_graphql_v1beta_2024.json"

# Hand-computed from tests/pokeapi_fixture.py: what PokéAPI's GraphQL query returns for these rows.
EXPECTED_BULBASAUR = {
    "id": 1,
    "name": "bulbasaur",
    "height": 7,
    "weight": 69,
    "base_experience": 64,
    "pokemontypes": [{"type": {"name": "grass"}}, {"type": {"name": "poison"}}],
    "pokemonstats": [
        {"stat": {"name": "hp"}, "base_stat": 45},
        {"stat": {"name": "attack"}, "base_stat": 49},
        {"stat": {"name": "defense"}, "base_stat": 49},
        {"stat": {"name": "special-attack"}, "base_stat": 65},
        {"stat": {"name": "special-defense"}, "base_stat": 65},
        {"stat": {"name": "speed"}, "base_stat": 45},
    ],
    # file rows 65 (slot 1), 34 (hidden): distinct on ability_id, ordered by ability_id
    "pokemonabilities": [{"ability": {"name": "chlorophyll"}}, {"ability": {"name": "overgrow"}}],
    # file rows: areas 321, 291, 290, 321, 9001 -> distinct, ordered by area id; 9001's location has no region
    "encounters": [
        {"locationarea": {"location": {"name": "mt-moon", "region": {"name": "kanto"}}}},
        {"locationarea": {"location": {"name": "mt-moon", "region": {"name": "kanto"}}}},
        {"locationarea": {"location": {"name": "viridian-forest", "region": {"name": "kanto"}}}},
        {"locationarea": {"location": {"name": "distant-land", "region": None}}},
    ],
    "pokemonspecy": {
        "base_happiness": 70,
        "capture_rate": 45,
        "forms_switchable": False,
        "gender_rate": 1,
        "has_gender_differences": False,
        "hatch_counter": 20,
        "is_baby": False,
        "is_legendary": False,
        "is_mythical": False,
        # English only (the French row is left out), in file (= id) order
        "pokemonspeciesflavortexts": [
            {"version": {"name": "red"}, "flavor_text": "A strange seed was\nplanted on its\nback at birth.\x0c"
             "The plant sprouts\nand grows with\nthis POKéMON."},
            {"version": {"name": "blue"}, "flavor_text": "A strange seed was\nplanted on its\nback at birth.\x0c"
             "The plant sprouts\nand grows with\nthis POKéMON."},
            {"version": {"name": "yellow"}, "flavor_text": "It can go for days\nwithout eating a\nsingle morsel.\x0c"
             "In the bulb on\nits back, it\nstores energy."},
        ],
        "pokemonshape": {"name": "quadruped"},
        "pokemonhabitat": {"name": "grassland"},
        "pokemonegggroups": [{"egggroup": {"name": "monster"}}, {"egggroup": {"name": "plant"}}],
        "generation": {"name": "generation-i"},
        "growthrate": {"name": "medium-slow"},
        "pokemoncolor": {"name": "green"},
        "pokemonevolutions": [],
    },
    # tackle is listed for two version groups: distinct on move_id, ordered by move_id
    "pokemonmoves": [
        {"move": {"name": "swords-dance", "type": {"name": "normal"}}},
        {"move": {"name": "vine-whip", "type": {"name": "grass"}}},
        {"move": {"name": "tackle", "type": {"name": "normal"}}},
        {"move": {"name": "growl", "type": {"name": "normal"}}},
    ],
}

EXPECTED_VENUSAUR_MEGA = {
    "id": 10033,
    "name": "venusaur-mega",
    "height": 24,
    "weight": 1555,
    "base_experience": None,
    "pokemontypes": [{"type": {"name": "grass"}}, {"type": {"name": "poison"}}],
    "pokemonstats": [
        {"stat": {"name": "hp"}, "base_stat": 80},
        {"stat": {"name": "attack"}, "base_stat": 100},
        {"stat": {"name": "defense"}, "base_stat": 123},
        {"stat": {"name": "special-attack"}, "base_stat": 122},
        {"stat": {"name": "special-defense"}, "base_stat": 120},
        {"stat": {"name": "speed"}, "base_stat": 80},
    ],
    "pokemonabilities": [{"ability": {"name": "thick-fat"}}],
    "encounters": [],
    "pokemonspecy": {  # venusaur's species: no habitat, evolves from ivysaur by level-up
        "base_happiness": 70,
        "capture_rate": 45,
        "forms_switchable": True,
        "gender_rate": 1,
        "has_gender_differences": True,
        "hatch_counter": 20,
        "is_baby": False,
        "is_legendary": False,
        "is_mythical": False,
        "pokemonspeciesflavortexts": [
            {"version": {"name": "red"}, "flavor_text": "The plant blooms\nwhen it is\nabsorbing solar\x0cenergy. "
             "It stays\non the move to\nseek sunlight."},
            {"version": {"name": "yellow"}, "flavor_text": "The flower on its\nback catches the\nsun's rays.\x0c"
             "The sunlight is\nthen absorbed and\nused for energy."},
        ],
        "pokemonshape": {"name": "quadruped"},
        "pokemonhabitat": None,
        "pokemonegggroups": [{"egggroup": {"name": "monster"}}, {"egggroup": {"name": "plant"}}],
        "generation": {"name": "generation-i"},
        "growthrate": {"name": "medium-slow"},
        "pokemoncolor": {"name": "green"},
        "pokemonevolutions": [{"evolutiontrigger": {"name": "level-up"}}],
    },
    "pokemonmoves": [],
}


# ----------------------------------------------------------------------------------------------- helpers


def structure(value):
    """The shape of a JSON value: keys in order and value types, list items merged."""
    if isinstance(value, dict):
        return ("object", tuple((key, structure(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("array", frozenset(structure(item) for item in value))
    return type(value).__name__


def add_prefixes(value):
    """A record as the old v1beta endpoint serves it (relationship keys prefixed with pokemon_v2_)."""
    if isinstance(value, dict):
        return {(PREFIX + k if k in RELATIONSHIPS else k): add_prefixes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [add_prefixes(v) for v in value]
    return value


def reference_records(folder: Path) -> list[dict]:
    """An independent, plain-Python reading of the tables the way PokéAPI's loader (data/v2/build.py) reads them:
    text mode with universal newlines, csv.reader, header skipped, columns by position, serial ids in file order."""

    def rows(name):
        with open(folder / f"{name}.csv", encoding="utf8") as handle:
            text = handle.read()
        if '"' in text:
            return list(csv.reader(io.StringIO(text)))[1:]
        return [line.split(",") for line in text.split("\n")[1:] if line]  # what csv.reader gives, unquoted

    def num(cell):
        return int(cell) if cell != "" else None

    def flag(cell):
        return bool(int(cell)) if cell != "" else None

    def names(table, column=1):
        return {int(r[0]): r[column] for r in rows(table)}

    def obj(name):
        return None if name is None else {"name": name}

    types, stats, abilities = names("types"), names("stats", 2), names("abilities")
    regions, versions, generations = names("regions"), names("versions", 2), names("generations", 2)
    shapes, habitats, egg_groups = names("pokemon_shapes"), names("pokemon_habitats"), names("egg_groups")
    growth_rates, colors, triggers = names("growth_rates"), names("pokemon_colors"), names("evolution_triggers")
    locations = {int(r[0]): (num(r[1]), r[2]) for r in rows("locations")}
    areas = {int(r[0]): int(r[1]) for r in rows("location_areas")}
    moves = {int(r[0]): (r[1], int(r[3])) for r in rows("moves")}

    by_pokemon = defaultdict(lambda: defaultdict(list))
    for r in rows("pokemon_types"):
        by_pokemon[int(r[0])]["types"].append({"type": obj(types.get(int(r[1])))})
    for r in rows("pokemon_stats"):
        by_pokemon[int(r[0])]["stats"].append({"stat": obj(stats.get(int(r[1]))), "base_stat": int(r[2])})
    ability_ids, area_ids, move_ids = defaultdict(set), defaultdict(set), defaultdict(set)
    for r in rows("pokemon_abilities"):
        ability_ids[int(r[0])].add(int(r[1]))
    for r in rows("encounters"):
        area_ids[int(r[4])].add(int(r[2]))
    for r in rows("pokemon_moves"):
        move_ids[int(r[0])].add(int(r[2]))
    by_species = defaultdict(lambda: defaultdict(list))
    for r in rows("pokemon_species_flavor_text"):
        if int(r[2]) == 9:
            by_species[int(r[0])]["flavor"].append({"version": obj(versions.get(int(r[1]))), "flavor_text": r[3]})
    for r in rows("pokemon_egg_groups"):
        by_species[int(r[0])]["eggs"].append({"egggroup": obj(egg_groups.get(int(r[1])))})
    for r in rows("pokemon_evolution"):
        by_species[int(r[1])]["evolutions"].append({"evolutiontrigger": obj(triggers.get(int(r[2])))})

    def area(area_id):
        if area_id not in areas:
            return None
        location = locations.get(areas[area_id])
        if location is None:
            return {"location": None}
        return {"location": {"name": location[1], "region": obj(regions.get(location[0]))}}

    def move(move_id):
        if move_id not in moves:
            return None
        name, type_id = moves[move_id]
        return {"name": name, "type": obj(types.get(type_id))}

    species = {}
    for s in rows("pokemon_species"):
        sid, extra = int(s[0]), by_species[int(s[0])]
        species[sid] = {
            "base_happiness": num(s[10]), "capture_rate": num(s[9]), "forms_switchable": flag(s[15]),
            "gender_rate": num(s[8]), "has_gender_differences": bool(int(s[13])) if s[13] != "" else False,
            "hatch_counter": num(s[12]), "is_baby": flag(s[11]), "is_legendary": flag(s[16]),
            "is_mythical": flag(s[17]), "pokemonspeciesflavortexts": extra["flavor"],
            "pokemonshape": obj(shapes.get(num(s[6]))), "pokemonhabitat": obj(habitats.get(num(s[7]))),
            "pokemonegggroups": extra["eggs"], "generation": obj(generations.get(num(s[2]))),
            "growthrate": obj(growth_rates.get(num(s[14]))), "pokemoncolor": obj(colors.get(num(s[5]))),
            "pokemonevolutions": extra["evolutions"],
        }
    records = []
    for p in sorted(rows("pokemon"), key=lambda r: int(r[0])):
        pid, extra = int(p[0]), by_pokemon[int(p[0])]
        records.append({
            "id": pid, "name": p[1], "height": num(p[3]), "weight": num(p[4]), "base_experience": num(p[5]),
            "pokemontypes": extra["types"], "pokemonstats": extra["stats"],
            "pokemonabilities": [{"ability": obj(abilities.get(a))} for a in sorted(ability_ids[pid])],
            "encounters": [{"locationarea": area(a)} for a in sorted(area_ids[pid])],
            "pokemonspecy": json.loads(json.dumps(species.get(num(p[2])))),
            "pokemonmoves": [{"move": move(m)} for m in sorted(move_ids[pid])],
        })
    return records


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory) -> Path:
    return write_csv_fixture(tmp_path_factory.mktemp("pokeapi") / "csv", 20)


@pytest.fixture(scope="module")
def fixture_data(fixture_dir):
    return load_source(f"csv:{fixture_dir}", progress=False)


def copy_fixture(fixture_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "csv"
    shutil.copytree(fixture_dir, target)
    return target


# ----------------------------------------------------------------------------------------------- source strings


def test_parse_source_forms():
    assert parse_source("graphql") == ("graphql", DEFAULT_GRAPHQL_URL)
    assert parse_source("graphql:http://127.0.0.1:9/v1beta2") == ("graphql", "http://127.0.0.1:9/v1beta2")
    assert parse_source("csv:../shared/pokeapi/csv") == ("csv", "../shared/pokeapi/csv")


@pytest.mark.parametrize("source", ["ftp://x", "", "csv:", "pokeapi", "rest:https://pokeapi.co"])
def test_unknown_source_lists_the_forms(source):
    with pytest.raises(BadInputError, match=r"graphql.*graphql:URL.*csv:PATH") as info:
        load_source(source)
    assert "\n" not in str(info.value)


def test_graphql_url_must_be_http():
    with pytest.raises(BadInputError, match=r"http\(s\) URL"):
        parse_source("graphql:127.0.0.1/v1beta2")


# ----------------------------------------------------------------------------------------------- CSV source


def test_csv_hand_computed_records(fixture_data):
    by_id = {r["id"]: r for r in fixture_data.records}
    assert by_id[1] == EXPECTED_BULBASAUR
    assert by_id[FORM_ID] == EXPECTED_VENUSAUR_MEGA
    # key order is part of the document text
    assert document_text(by_id[1]) == json.dumps(EXPECTED_BULBASAUR, separators=(",", ":"))
    assert document_text(by_id[FORM_ID]) == json.dumps(EXPECTED_VENUSAUR_MEGA, separators=(",", ":"))


def test_csv_edge_cases(fixture_data):
    by_id = {r["id"]: r for r in fixture_data.records}
    ids = [r["id"] for r in fixture_data.records]
    assert ids == sorted(ids) and len(ids) == 20 and ids[-1] == FORM_ID
    assert by_id[2]["encounters"] == []  # ivysaur: no encounters
    eggs = [g["egggroup"]["name"] for g in by_id[2]["pokemonspecy"]["pokemonegggroups"]]
    assert eggs == ["plant", "monster"]  # unordered relation: file order, not id order
    assert by_id[3]["pokemonspecy"]["pokemonhabitat"] is None
    assert [m["move"]["name"] for m in by_id[2]["pokemonmoves"]] == ["vine-whip", "tackle", "leech-seed"]
    triggers = {e["evolutiontrigger"]["name"] for r in fixture_data.records
                for e in r["pokemonspecy"]["pokemonevolutions"]}
    assert "level-up" in triggers and len(triggers) >= 2
    for record in fixture_data.records:  # every fixture Pokémon has a type and a generation
        assert record["pokemontypes"] and record["pokemonspecy"]["generation"]["name"].startswith("generation-")
        assert all(isinstance(f["flavor_text"], str) for f in record["pokemonspecy"]["pokemonspeciesflavortexts"])
    assert len({r["pokemonspecy"]["generation"]["name"] for r in fixture_data.records}) >= 2


def test_csv_equals_loader_rules_reference(fixture_dir, fixture_data):
    expected = reference_records(fixture_dir)
    assert [document_text(r) for r in fixture_data.records] == [document_text(r) for r in expected]


def test_csv_meta_and_provenance(fixture_dir, fixture_data):
    assert fixture_data.meta[1] == PokemonMeta(id=1, species_id=1, is_default=True, display_name="Bulbasaur")
    assert fixture_data.meta[FORM_ID] == PokemonMeta(id=FORM_ID, species_id=3, is_default=False,
                                                     display_name="Mega Venusaur")
    assert list(fixture_data.meta) == [r["id"] for r in fixture_data.records]
    assert fixture_data.source == f"csv:{fixture_dir.resolve()}"
    assert fixture_data.fetched_at is None
    assert fixture_data.data_version.startswith("sha256:") and len(fixture_data.data_version) == 7 + 16


def test_csv_fixture_is_deterministic(fixture_dir, tmp_path):
    again = write_csv_fixture(tmp_path / "again", 20)
    for path in sorted(fixture_dir.iterdir()):
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name
    assert (again / "pokemon_abilities.csv").read_bytes().count(b"\r\n") > 1  # CRLF like upstream


def test_csv_data_version_follows_the_bytes(fixture_dir, fixture_data, tmp_path):
    folder = copy_fixture(fixture_dir, tmp_path)
    assert load_source(f"csv:{folder}", progress=False).data_version == fixture_data.data_version
    with (folder / "pokemon_stats.csv").open("a", encoding="utf-8") as handle:
        handle.write("1,7,1,0\n")
    assert load_source(f"csv:{folder}", progress=False).data_version != fixture_data.data_version


@pytest.mark.skipif(shutil.which("git") is None, reason="git absent")
def test_csv_data_version_is_the_git_commit_of_a_clean_checkout(fixture_dir, tmp_path):
    clone = tmp_path / "pokeapi"
    copy_fixture(fixture_dir, clone / "data" / "v2")
    git = ["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "csv"], check=True)
    head = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    data = load_source(f"csv:{clone}", progress=False)  # a clone's root: its data/v2/csv is used
    assert data.data_version == head
    assert data.source == f"csv:{(clone / 'data' / 'v2' / 'csv').resolve()}"
    (clone / "data" / "v2" / "csv" / "types.csv").write_text("id,identifier\n1,normal\n", encoding="utf-8")
    assert load_source(f"csv:{clone}", progress=False).data_version.startswith("sha256:")  # dirty: hash


def test_csv_missing_table_is_named(fixture_dir, tmp_path):
    folder = copy_fixture(fixture_dir, tmp_path)
    (folder / "pokemon_moves.csv").unlink()
    with pytest.raises(SourceUnavailableError, match=r"lacks the table pokemon_moves\.csv") as info:
        load_records(f"csv:{folder}", progress=False)
    assert "\n" not in str(info.value)


def test_csv_missing_folder(tmp_path):
    with pytest.raises(SourceUnavailableError, match="does not exist"):
        load_records(f"csv:{tmp_path / 'nowhere'}")


def test_csv_missing_column_is_named(fixture_dir, tmp_path):
    folder = copy_fixture(fixture_dir, tmp_path)
    (folder / "types.csv").write_text("id,name\n1,normal\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=r"types\.csv lacks the column\(s\) identifier"):
        load_records(f"csv:{folder}", progress=False)


def test_csv_bad_integer_cell(fixture_dir, tmp_path):
    folder = copy_fixture(fixture_dir, tmp_path)
    with (folder / "pokemon_stats.csv").open("a", encoding="utf-8") as handle:
        handle.write("1,x,45,0\n")
    with pytest.raises(BadInputError, match=r"pokemon_stats\.csv, column stat_id, row \d+: 'x' is not an integer") as info:
        load_records(f"csv:{folder}", progress=False)
    assert "\n" not in str(info.value)


def test_csv_universal_newlines_in_quoted_cells(fixture_dir, tmp_path):
    """A CR LF inside a quoted cell reads as LF, as Python's text mode gives the loader."""
    folder = copy_fixture(fixture_dir, tmp_path)
    path = folder / "pokemon_species_flavor_text.csv"
    path.write_bytes(path.read_bytes().replace(b"A strange seed was\n", b"A strange seed was\r\n"))
    records = load_records(f"csv:{folder}", progress=False)
    texts = records[0]["pokemonspecy"]["pokemonspeciesflavortexts"]
    assert texts[0]["flavor_text"] == EXPECTED_BULBASAUR["pokemonspecy"]["pokemonspeciesflavortexts"][0]["flavor_text"]


# ----------------------------------------------------------------------------------------------- live source


class _Plan:
    """What the local GraphQL server answers, one step per request (the last step repeats)."""

    def __init__(self, steps):
        self.steps = list(steps)
        self.requests: list[dict] = []
        self.lock = threading.Lock()

    def next(self, body: dict):
        with self.lock:
            self.requests.append(body)
            return self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]


@pytest.fixture
def graphql_server(monkeypatch):
    """Start local GraphQL endpoints: ``start(steps, path)`` -> (url, plan); a step is (status, body, delay)."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    servers = []

    def start(steps, path="/v1beta2"):
        plan = _Plan(steps)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length") or 0)
                status, body, delay = plan.next(json.loads(self.rfile.read(length) or b"{}"))
                time.sleep(delay)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    if status == 429:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}{path}", plan

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def graphql_body(data) -> dict:
    """The live answer for ``data``: the records, and meta rows with the English names as the query asks for them."""
    species_names = {m.species_id: m.display_name for m in data.meta.values() if m.is_default}

    def meta_row(m) -> dict:
        forms = [] if m.is_default else [{"pokemonformnames": [{"pokemon_name": m.display_name}]}]
        return {"id": m.id, "pokemon_species_id": m.species_id, "is_default": m.is_default,
                "pokemonspecy": {"pokemonspeciesnames": [{"name": species_names[m.species_id]}]},
                "pokemonforms": forms}

    return {"data": {"pokemon": data.records, "meta": [meta_row(m) for m in data.meta.values()]}}


def test_live_gives_the_csv_documents(graphql_server, fixture_data, tmp_path):
    url, plan = graphql_server([(200, graphql_body(fixture_data), 0)])
    live = load_source(f"graphql:{url}", cache_dir=tmp_path, progress=False)
    assert [document_text(r) for r in live.records] == [document_text(r) for r in fixture_data.records]
    assert live.meta == fixture_data.meta
    assert live.source == f"graphql:{url}" and live.data_version is None
    assert live.fetched_at.endswith("Z") and "T" in live.fetched_at
    assert plan.requests == [{"query": QUERY}]


def test_live_old_prefixed_endpoint(graphql_server, fixture_data, tmp_path):
    body = graphql_body(fixture_data)
    old = {"data": {"pokemon_v2_pokemon": add_prefixes(body["data"]["pokemon"]), "meta": body["data"]["meta"]}}
    assert "pokemon_v2_pokemonspecy" in json.dumps(old)
    url, plan = graphql_server([(200, old, 0)], path="/graphql/v1beta")
    live = load_source(f"graphql:{url}", cache_dir=tmp_path, progress=False)
    assert [document_text(r) for r in live.records] == [document_text(r) for r in fixture_data.records]
    sent = plan.requests[0]["query"]  # the old endpoint gets the old names
    assert "pokemon_v2_pokemon(order_by: { id: asc })" in sent and "meta: pokemon_v2_pokemon(" in sent
    assert "pokemon_v2_pokemonspecy {" in sent and "pokemon_v2_type {" in sent and " name\n" in sent


def test_query_fields_in_the_2024_sample_order():
    order = ["pokemontypes", "pokemonstats", "pokemonabilities", "encounters", "pokemonspecy",
             "pokemonspeciesflavortexts", "pokemonshape", "pokemonhabitat", "pokemonegggroups", "generation",
             "growthrate", "pokemoncolor", "pokemonevolutions", "pokemonmoves", "meta: pokemon"]
    positions = [QUERY.index(name) for name in order]
    assert positions == sorted(positions)
    assert "pokemon_v2_" not in QUERY
    assert "distinct_on: ability_id" in QUERY and "distinct_on: location_area_id" in QUERY
    assert "distinct_on: move_id" in QUERY and "language_id: { _eq: 9 }" in QUERY


@pytest.mark.parametrize("status", [500, 503, 429])
def test_live_retries_then_succeeds(graphql_server, fixture_data, status):
    url, plan = graphql_server([(status, b"busy", 0), (200, graphql_body(fixture_data), 0)])
    live = load_source(f"graphql:{url}", retries=2, backoff=0.01, progress=False)
    assert len(plan.requests) == 2
    assert [r["id"] for r in live.records] == [r["id"] for r in fixture_data.records]


def test_live_gives_up_after_retries(graphql_server):
    url, plan = graphql_server([(502, b"bad gateway", 0)])
    with pytest.raises(SourceUnavailableError, match=r"cannot reach .* after 3 attempts, last: HTTP 502.*csv:PATH"):
        load_source(f"graphql:{url}", retries=2, backoff=0.01, progress=False)
    assert len(plan.requests) == 3


def test_live_graphql_errors(graphql_server):
    errors = {"errors": [{"message": "field 'pokemon' not found in type: 'query_root'",
                          "extensions": {"code": "validation-failed"}}]}
    url, plan = graphql_server([(200, errors, 0)])
    with pytest.raises(SourceUnavailableError, match=r"GraphQL errors \(1\), first: field 'pokemon' not found") as info:
        load_source(f"graphql:{url}", progress=False)
    assert "\n" not in str(info.value) and len(plan.requests) == 1


def test_live_truncated_json(graphql_server, fixture_data):
    whole = json.dumps(graphql_body(fixture_data)).encode("utf-8")
    url, _ = graphql_server([(200, whole[: len(whole) // 2], 0)])
    with pytest.raises(SourceUnavailableError, match=r"invalid JSON .*truncated") as info:
        load_source(f"graphql:{url}", progress=False)
    assert "\n" not in str(info.value)


def test_live_timeout(graphql_server, fixture_data):
    url, plan = graphql_server([(200, graphql_body(fixture_data), 0.6)])
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError, match=r"did not answer within 0\.1 s"):
        load_source(f"graphql:{url}", timeout=0.1, progress=False)
    assert time.monotonic() - started < 0.5 and len(plan.requests) == 1


def test_live_client_error_is_not_retried(graphql_server):
    url, plan = graphql_server([(404, b"<html>not found</html>", 0)])
    with pytest.raises(SourceUnavailableError, match=r"HTTP 404 \(<html>not found</html>\); check the URL"):
        load_source(f"graphql:{url}", progress=False)
    assert len(plan.requests) == 1


def test_live_unreachable():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SourceUnavailableError, match=r"cannot reach http://127\.0\.0\.1:\d+/v1beta2 after 2 attempts"):
        load_source(f"graphql:http://127.0.0.1:{port}/v1beta2", retries=1, backoff=0.01, progress=False)


def test_live_response_without_meta(graphql_server, fixture_data, tmp_path):
    url, _ = graphql_server([(200, {"data": {"pokemon": fixture_data.records}}, 0)])
    with pytest.raises(SourceUnavailableError, match=r"without data\.pokemon and data\.meta"):
        load_source(f"graphql:{url}", cache_dir=tmp_path, progress=False)
    assert not cache_path(tmp_path, url).exists()


def test_live_cache_reuse_and_refresh(graphql_server, fixture_data, tmp_path):
    url, plan = graphql_server([(200, graphql_body(fixture_data), 0)])
    first = load_source(f"graphql:{url}", cache_dir=tmp_path, progress=False)
    cached = cache_path(tmp_path, url)
    assert cached.parent == tmp_path / "source" and cached.name.startswith("graphql-")
    stored = json.loads(cached.read_text(encoding="utf-8"))
    assert stored["url"] == url and stored["fetched_at"] == first.fetched_at and "data" in stored["response"]

    second = load_source(f"graphql:{url}", cache_dir=tmp_path, progress=False)
    assert len(plan.requests) == 1  # served from the cache
    assert second.records == first.records and second.fetched_at == first.fetched_at

    third = load_source(f"graphql:{url}", cache_dir=tmp_path, refresh=True, progress=False)
    assert len(plan.requests) == 2
    assert third.records == first.records


def test_live_error_responses_are_not_cached(graphql_server, fixture_data, tmp_path):
    url, plan = graphql_server([(200, {"errors": [{"message": "boom"}]}, 0), (200, graphql_body(fixture_data), 0)])
    with pytest.raises(SourceUnavailableError, match="boom"):
        load_source(f"graphql:{url}", cache_dir=tmp_path, progress=False)
    assert not cache_path(tmp_path, url).exists()
    assert len(load_source(f"graphql:{url}", cache_dir=tmp_path, progress=False).records) == 20


# ----------------------------------------------------------------------------------------------- shared data

shared = pytest.mark.shared


@pytest.fixture(scope="module")
def shared_data():
    if not SHARED_CSV.is_dir():
        pytest.skip(f"shared PokéAPI data absent ({SHARED_CSV})")
    return load_source(f"csv:{SHARED_CSV}", progress=False)


@pytest.fixture(scope="module")
def pikachu_2024():
    if not PIKACHU_2024.is_file():
        pytest.skip(f"shared Pikachu sample absent ({PIKACHU_2024})")
    from pokembed.sources.graphql import strip_prefixes

    return strip_prefixes(json.loads(PIKACHU_2024.read_text(encoding="utf-8")))


@shared
def test_shared_all_pokemon_load(shared_data):
    with open(SHARED_CSV / "pokemon.csv", encoding="utf8") as handle:
        ids = sorted(int(row["id"]) for row in csv.DictReader(handle))
    assert len(shared_data.records) == 1351
    assert [r["id"] for r in shared_data.records] == ids
    assert len(shared_data.meta) == 1351
    assert sum(not m.is_default for m in shared_data.meta.values()) == 1351 - 1025
    assert shared_data.data_version.startswith("sha256:")


@shared
def test_shared_pikachu_has_the_2024_structure(shared_data, pikachu_2024):
    pikachu = next(r for r in shared_data.records if r["id"] == 25)
    assert structure(pikachu) == structure(pikachu_2024)
    assert list(pikachu) == list(pikachu_2024)
    assert list(pikachu["pokemonspecy"]) == list(pikachu_2024["pokemonspecy"])


@shared
def test_shared_pikachu_values_against_2024(shared_data, pikachu_2024):
    """Equal to the 2024 response except for the documented data changes since then."""
    pikachu = next(r for r in shared_data.records if r["id"] == 25)
    texts = pikachu["pokemonspecy"]["pokemonspeciesflavortexts"]
    assert len(texts) == 33 and texts == pikachu_2024["pokemonspecy"]["pokemonspeciesflavortexts"]
    for key in ("id", "name", "height", "weight", "base_experience", "pokemontypes", "pokemonstats",
                "pokemonabilities"):
        assert pikachu[key] == pikachu_2024[key], key
    species, old_species = dict(pikachu["pokemonspecy"]), dict(pikachu_2024["pokemonspecy"])
    assert (species.pop("base_happiness"), old_species.pop("base_happiness")) == (70, 50)
    assert species == old_species

    def is_subsequence(short, long):
        items = iter(long)
        return all(any(item == wanted for item in items) for wanted in short)

    old_encounters = json.loads(json.dumps(pikachu_2024["encounters"]).replace('"power-plant"', '"kanto-power-plant"'))
    assert len(pikachu["encounters"]) == len(old_encounters) + 22
    assert is_subsequence(old_encounters, pikachu["encounters"])
    moves = [m["move"]["name"] for m in pikachu["pokemonmoves"]]
    old_moves = [m["move"]["name"] for m in pikachu_2024["pokemonmoves"]]
    assert is_subsequence(pikachu_2024["pokemonmoves"], pikachu["pokemonmoves"])
    assert [m for m in moves if m not in old_moves] == ["flail", "fake-out", "wish", "tickle"]
    # the document escapes non-ASCII as the 2024 output does
    assert "POK\\u00e9MON" in document_text(pikachu)


@shared
def test_shared_spot_checks(shared_data):
    """Facts read by hand from the CSVs."""
    by_id = {r["id"]: r for r in shared_data.records}
    eevee = by_id[133]  # pokemon.csv: 133,eevee,133,3,65,65,215,1
    assert (eevee["height"], eevee["weight"], eevee["base_experience"]) == (3, 65, 65)
    assert [a["ability"]["name"] for a in eevee["pokemonabilities"]] == ["run-away", "adaptability", "anticipation"]
    assert eevee["pokemonspecy"]["has_gender_differences"] is True and eevee["pokemonspecy"]["hatch_counter"] == 35
    assert len(eevee["encounters"]) <= 147
    leafeon = by_id[470]["pokemonspecy"]  # pokemon_evolution.csv rows for species 470: triggers 1,1,1,3,1,1
    assert [e["evolutiontrigger"]["name"] for e in leafeon["pokemonevolutions"]] == [
        "level-up", "level-up", "level-up", "use-item", "level-up", "level-up"]
    assert leafeon["pokemonhabitat"] is None  # habitat_id empty
    assert by_id[65]["pokemonspecy"]["pokemonevolutions"] == [{"evolutiontrigger": {"name": "trade"}}]
    pecharunt = by_id[1025]  # 1025,pecharunt,...,is_mythical 1; types poison, ghost
    assert [t["type"]["name"] for t in pecharunt["pokemontypes"]] == ["poison", "ghost"]
    assert pecharunt["pokemonspecy"]["is_mythical"] is True and pecharunt["pokemonspecy"]["gender_rate"] == -1
    gmax = by_id[10195]  # 10195,venusaur-gmax,3,240,10000,236,,0: no moves (the README's 34 Gigantamax forms)
    assert (gmax["name"], gmax["height"], gmax["pokemonmoves"]) == ("venusaur-gmax", 240, [])
    assert shared_data.meta[10195] == PokemonMeta(id=10195, species_id=3, is_default=False,
                                                  display_name="Gigantamax Venusaur")
    assert sum(not r["pokemonmoves"] for r in shared_data.records) == 48
    assert sum(r["base_experience"] is None for r in shared_data.records) == 49


@shared
def test_shared_equals_loader_rules_reference(shared_data):
    expected = reference_records(SHARED_CSV)
    assert len(expected) == len(shared_data.records)
    for got, want in zip(shared_data.records, expected):
        assert document_text(got) == document_text(want), got["id"]
