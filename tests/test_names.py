"""pokembed.explore.names: display names and generation labels for PokéAPI slugs."""

from __future__ import annotations

import pytest

from pokembed.explore.names import display_name, display_names, generation_label


@pytest.mark.parametrize("slug, shown", [
    ("pikachu", "Pikachu"), ("mr-mime", "Mr. Mime"), ("mime-jr", "Mime Jr."), ("ho-oh", "Ho-Oh"),
    ("porygon-z", "Porygon-Z"), ("farfetchd", "Farfetch’d"), ("nidoran-f", "Nidoran♀"), ("type-null", "Type: Null"),
    ("flabebe", "Flabébé"), ("kommo-o", "Kommo-o"), ("tapu-koko", "Tapu Koko"), ("great-tusk", "Great Tusk"),
    ("chi-yu", "Chi-Yu"), ("mr-mime-galar", "Mr. Mime (Galarian)"), ("", ""),
])
def test_display_name(slug, shown):
    assert display_name(slug) == shown


def test_forms_are_named_after_their_species():
    assert display_name("deoxys-attack", "deoxys-normal") == "Deoxys (Attack)"
    assert display_name("charizard-mega-x", "charizard") == "Charizard (Mega X)"
    assert display_name("raichu-alola", "raichu") == "Raichu (Alolan)"
    assert display_name("pikachu", "pikachu") == "Pikachu"
    assert display_name("iron-hands", "great-tusk") == "Iron Hands"  # no shared word: not a form of it


def test_display_names_for_a_dataset():
    names = ["deoxys-normal", "deoxys-attack", "bulbasaur", "tatsugiri-curly", "tatsugiri-curly-mega",
             "tatsugiri-stretchy", "mr-mime", "mr-mime-galar", "great-tusk"]
    species = [386, 386, 1, 978, 978, 978, 122, 122, 984]
    assert display_names(names, species) == [
        "Deoxys (Normal)", "Deoxys (Attack)", "Bulbasaur", "Tatsugiri (Curly)", "Tatsugiri (Curly Mega)",
        "Tatsugiri (Stretchy)", "Mr. Mime", "Mr. Mime (Galarian)", "Great Tusk"]
    assert display_names(names[:2]) == ["Deoxys Normal", "Deoxys Attack"]


@pytest.mark.parametrize("generation, label", [
    ("generation-i", "Generation I"), ("generation-ix", "Generation IX"), ("generation-4", "Generation IV"),
    (None, "Unknown generation"), ("unknown", "Unknown generation"), ("generation-99", "Generation 99"),
])
def test_generation_label(generation, label):
    assert generation_label(generation) == label
