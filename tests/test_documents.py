"""pokembed.sources.documents: the embedded text and the row metadata kept apart from it."""

from __future__ import annotations

import json

import pytest
from pokeapi_fixture import FORM_ID, write_csv_fixture

from pokembed.sources.documents import RowMeta, document_text, row_metadata
from pokembed.errors import BadInputError
from pokembed.sources.choice import PokemonMeta, load_source
from conftest import SHARED

PIKACHU_2024 = SHARED / "pokeapi" / "pikachu_graphql_v1beta_2024.json"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = write_csv_fixture(tmp_path_factory.mktemp("pokeapi") / "csv", 8)
    return load_source(f"csv:{folder}", progress=False)


def test_document_is_compact_ascii_json(data):
    record = data.records[0]
    text = document_text(record)
    assert text == json.dumps(record, separators=(",", ":"))
    assert text.startswith('{"id":1,"name":"bulbasaur","height":7,"weight":69,"base_experience":64,"pokemontypes":[')
    assert text.isascii() and '", "' not in text and '": ' not in text and "}, {" not in text
    assert '"flavor_text":"A strange seed was\\nplanted on its\\nback at birth.\\fThe plant sprouts' in text
    assert "POK\\u00e9MON" in text
    assert json.loads(text) == record


def test_document_keeps_nulls_and_empty_lists(data):
    form = next(r for r in data.records if r["id"] == FORM_ID)
    text = document_text(form)
    assert '"base_experience":null' in text and '"pokemonhabitat":null' in text
    assert text.endswith('"pokemonmoves":[]}') and '"encounters":[]' in text


def test_document_has_no_prompt_and_no_metadata(data):
    for record in data.records:
        text = document_text(record)
        assert text.startswith('{"id":')
        for leaked in ("species_id", "is_default", "artwork", "search_document", "\"generation\":\"", "\"types\":"):
            assert leaked not in text


def test_row_metadata(data):
    bulbasaur = row_metadata(data.records[0], data.meta[1])
    assert bulbasaur == RowMeta(id=1, name="bulbasaur", display_name="Bulbasaur", species_id=1, is_default=True,
                                generation="generation-i", types=["grass", "poison"])
    form = next(r for r in data.records if r["id"] == FORM_ID)
    mega = row_metadata(form, data.meta[FORM_ID])
    assert (mega.name, mega.species_id, mega.is_default, mega.types) == ("venusaur-mega", 3, False, ["grass", "poison"])
    for record in data.records:
        row = row_metadata(record, data.meta[record["id"]])
        assert row.types and row.generation and row.generation.startswith("generation-")


def test_row_metadata_types_in_record_order():
    record = {"id": 7, "name": "x", "pokemontypes": [{"type": {"name": "water"}}, {"type": {"name": "flying"}}],
              "pokemonspecy": None}
    row = row_metadata(record, PokemonMeta(id=7, species_id=7, is_default=True))
    assert row.types == ["water", "flying"] and row.generation is None
    assert row.display_name == "x"  # no English name from PokéAPI: its PokéAPI name


def test_row_metadata_rejects_meta_of_another_pokemon(data):
    with pytest.raises(BadInputError, match=r"record id 1 does not match its metadata id 2"):
        row_metadata(data.records[0], data.meta[2])


def test_document_of_the_2024_pikachu_sample():
    if not PIKACHU_2024.is_file():
        pytest.skip(f"shared Pikachu sample absent ({PIKACHU_2024})")
    from pokembed.sources.graphql import strip_prefixes

    record = strip_prefixes(json.loads(PIKACHU_2024.read_text(encoding="utf-8")))
    text = document_text(record)
    assert text.startswith('{"id":25,"name":"pikachu","height":4,"weight":60,"base_experience":112,'
                           '"pokemontypes":[{"type":{"name":"electric"}}],"pokemonstats":[{"stat":{"name":"hp"},'
                           '"base_stat":35},')
    assert '"flavor_text":"When several of\\nthese POK\\u00e9MON\\ngather, their\\felectricity could' in text
    assert "pokemon_v2_" not in text
