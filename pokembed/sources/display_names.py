"""Display names: PokéAPI's own English names for a Pokémon, kept with the row metadata, never in its record.

PokéAPI names every species in English (``pokemon_species_names``: "Mr. Mime", "Nidoran♀") and most forms with a
full English name (``pokemon_form_names.pokemon_name``: "Mega Charizard X", "Alolan Raichu", "Original Cap
Pikachu"). The rule: a default Pokémon is called by its species' name ("Deoxys", not "Normal Deoxys"); another
form by the full English name of its default form when PokéAPI has one, else by its species' name (PokéAPI names
8 forms, the Koraidon and Miraidon builds and modes, only by their species). None when PokéAPI has neither.
"""

from __future__ import annotations

ENGLISH = 9  # languages.csv id of "en"


def display_name(is_default: bool, species_name: str | None, form_name: str | None) -> str | None:
    """The display name of a Pokémon from its species' English name and its default form's full English name."""
    if not is_default and form_name:
        return form_name
    return species_name or form_name or None


def graphql_english_names(meta_row: dict) -> tuple[object, object]:
    """``(species name, default form's full name)`` of a GraphQL ``meta`` row (values unchecked; None if absent).

    The row has ``pokemonspecy { pokemonspeciesnames { name } }`` and ``pokemonforms { pokemonformnames
    { pokemon_name } }``, both lists already filtered to English (and the forms to the default one) by the query.
    """
    species = meta_row.get("pokemonspecy")
    names = species.get("pokemonspeciesnames") if isinstance(species, dict) else None
    species_name = _first_present(names, "name")
    forms = meta_row.get("pokemonforms")
    form_name = None
    for form in forms if isinstance(forms, list) else ():
        form_name = _first_present(form.get("pokemonformnames") if isinstance(form, dict) else None, "pokemon_name")
        if form_name:
            break
    return species_name, form_name


def _first_present(rows, key: str):
    for row in rows if isinstance(rows, list) else ():
        value = row.get(key) if isinstance(row, dict) else row
        if value not in (None, ""):
            return value
    return None
