"""Display names: PokéAPI's own English names (species and form tables), never title-cased slugs, and never in
the embedded document."""

from __future__ import annotations

import csv
import json

import pytest
from pokeapi_fixture import FORM_ID, MAX_POKEMON, write_csv_fixture

from pokembed.sources.choice import QUERY, load_source
from pokembed.sources.display_names import display_name
from pokembed.sources.documents import document_text, row_metadata

ENGLISH = "9"


def english_names(folder) -> dict[int, str]:
    """The expected display name of every Pokémon, read straight from the tables (the rule of the issue)."""
    def rows(name):
        with open(folder / f"{name}.csv", encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    species = {}
    for row in rows("pokemon_species_names"):
        if row["local_language_id"] == ENGLISH:
            species.setdefault(int(row["pokemon_species_id"]), row["name"])
    form_names = {int(r["pokemon_form_id"]): r["pokemon_name"] for r in rows("pokemon_form_names")
                  if r["local_language_id"] == ENGLISH and r["pokemon_name"]}
    default_form = {}
    for row in rows("pokemon_forms"):
        if row["is_default"] == "1":
            default_form.setdefault(int(row["pokemon_id"]), int(row["id"]))
    expected = {}
    for row in rows("pokemon"):
        pid, sid = int(row["id"]), int(row["species_id"])
        form = form_names.get(default_form.get(pid))
        expected[pid] = form if row["is_default"] == "0" and form else species[sid]
    return expected


@pytest.fixture(scope="module")
def csv_fixture(tmp_path_factory):
    """The fixture tables with every generated Pokémon (Nidoran♀ is 29)."""
    return write_csv_fixture(tmp_path_factory.mktemp("csv-names"), MAX_POKEMON)


def test_rule():
    assert display_name(True, "Deoxys", "Normal Deoxys") == "Deoxys"  # a default Pokémon: its species
    assert display_name(False, "Deoxys", "Attack Deoxys") == "Attack Deoxys"
    assert display_name(False, "Koraidon", None) == "Koraidon"  # a form PokéAPI names only by its species
    assert display_name(True, None, None) is None


def test_fixture_names_from_the_tables(csv_fixture):
    data = load_source(f"csv:{csv_fixture}", progress=False)
    expected = english_names(csv_fixture)
    assert {pid: m.display_name for pid, m in data.meta.items()} == expected
    assert data.meta[FORM_ID].display_name == "Mega Venusaur"  # English, though a French name is listed first
    assert data.meta[29].display_name == "Nidoran♀"


def test_names_stay_out_of_the_document(csv_fixture):
    data = load_source(f"csv:{csv_fixture}", progress=False)
    for record in data.records:
        meta = row_metadata(record, data.meta[record["id"]])
        assert meta.display_name == data.meta[record["id"]].display_name
        assert json.dumps(meta.display_name)[1:-1] not in document_text(record).replace(record["name"], "")
    assert "pokemon_name" not in json.dumps(data.records) and "pokemonformnames" not in json.dumps(data.records)


def test_query_asks_for_the_english_names_in_meta_only():
    records_part, _, meta_part = QUERY.partition("meta: pokemon(")
    assert "pokemonspeciesnames" in meta_part and "pokemon_name" in meta_part
    assert "pokemonspeciesnames" not in records_part and "pokemonforms" not in records_part


@pytest.fixture(scope="module")
def shared_data(shared_dir):
    return load_source(f"csv:{shared_dir / 'pokeapi' / 'csv'}", progress=False)


def test_shared_names_from_the_tables(shared_data, shared_dir):
    expected = english_names(shared_dir / "pokeapi" / "csv")
    names = {pid: m.display_name for pid, m in shared_data.meta.items()}
    assert names == expected
    by_slug = {r["name"]: names[r["id"]] for r in shared_data.records}
    assert by_slug["pikachu-original-cap"] == "Original Cap Pikachu"
    assert by_slug["pikachu-phd"] == "Pikachu Ph.D."
    assert by_slug["charizard-mega-x"] == "Mega Charizard X"
    assert by_slug["raichu-alola"] == "Alolan Raichu"
    assert by_slug["mr-mime"] == "Mr. Mime" and by_slug["mr-mime-galar"] == "Galarian Mr. Mime"
    assert by_slug["nidoran-f"] == "Nidoran♀" and by_slug["nidoran-m"] == "Nidoran♂"
    assert by_slug["deoxys-normal"] == "Deoxys" and by_slug["deoxys-attack"] == "Attack Deoxys"
    assert by_slug["koraidon-limited-build"] == "Koraidon"  # no English form name: the species'


def test_names_to_show_prefers_the_column_and_falls_back_to_slugs():
    from pokembed.explore.names import names_to_show

    slugs, species = ["mr-mime", "deoxys-normal", "deoxys-attack"], [122, 386, 386]
    assert names_to_show(slugs, species, ["Mr. Mime", "Deoxys", "Attack Deoxys"]) == ["Mr. Mime", "Deoxys",
                                                                                       "Attack Deoxys"]
    assert names_to_show(slugs, species, ["Mr. Mime", None, ""]) == ["Mr. Mime", "Deoxys (Normal)", "Deoxys (Attack)"]
    assert names_to_show(slugs, species) == ["Mr. Mime", "Deoxys (Normal)", "Deoxys (Attack)"]  # an older dataset
