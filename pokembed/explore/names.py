"""How Pokémon and generations read to people: "Mr. Mime", "Deoxys (Attack)", "Generation IV" for PokéAPI's slugs.

PokéAPI names are lower-case slugs ("mr-mime", "deoxys-attack", "generation-iv"). Datasets since issue 21 carry
PokéAPI's own English names (`display_name`: "Attack Deoxys"); :func:`names_to_show` prefers them and falls back to
the names made here from the slugs for older datasets. Pages show display names; the API
keeps the slugs as ids, and name lookup (`PokedexIndex.find`) accepts either, since it ignores case and punctuation.
"""

from __future__ import annotations

from collections.abc import Sequence

SPECIAL_NAMES = {
    "mr-mime": "Mr. Mime", "mime-jr": "Mime Jr.", "mr-rime": "Mr. Rime", "ho-oh": "Ho-Oh", "porygon-z": "Porygon-Z",
    "farfetchd": "Farfetch’d", "sirfetchd": "Sirfetch’d", "nidoran-f": "Nidoran♀", "nidoran-m": "Nidoran♂",
    "type-null": "Type: Null", "flabebe": "Flabébé", "jangmo-o": "Jangmo-o", "hakamo-o": "Hakamo-o",
    "kommo-o": "Kommo-o", "wo-chien": "Wo-Chien", "chien-pao": "Chien-Pao", "ting-lu": "Ting-Lu", "chi-yu": "Chi-Yu",
}
"""Species whose printed name is not the title-cased slug."""

_WORDS = {"gmax": "Gigantamax", "alola": "Alolan", "galar": "Galarian", "hisui": "Hisuian", "paldea": "Paldean"}


def _title(words: Sequence[str]) -> str:
    return " ".join(_WORDS.get(w, w[:1].upper() + w[1:]) for w in words if w)


def display_name(name: str, species: str | None = None) -> str:
    """A slug as people write it. With `species` (the slug of its species' default form), a form reads as
    "Species (Form)": display_name("deoxys-attack", "deoxys-normal") == "Deoxys (Attack)"."""
    slug = (name or "").strip().lower()
    if not slug:
        return ""
    if slug in SPECIAL_NAMES:
        return SPECIAL_NAMES[slug]
    base = _species_prefix(slug, species) if species and species != slug else None
    if base:
        form = slug[len(base):].strip("-").split("-")
        return f"{display_name(base)} ({_title(form)})" if form != [""] else display_name(base)
    for special, shown in SPECIAL_NAMES.items():  # a form of a special species: "mr-mime-galar"
        if slug.startswith(special + "-"):
            return f"{shown} ({_title(slug[len(special) + 1:].split('-'))})"
    return _title(slug.split("-"))


def _species_prefix(slug: str, species: str) -> str | None:
    """The longest hyphen-word prefix `slug` shares with its species' default-form slug ("deoxys" for
    "deoxys-attack" and "deoxys-normal"), or None when they share no whole word."""
    ours, theirs = slug.split("-"), species.lower().split("-")
    shared = 0
    while shared < min(len(ours), len(theirs)) and ours[shared] == theirs[shared]:
        shared += 1
    return "-".join(ours[:shared]) if 0 < shared < len(ours) else None


def display_names(names: Sequence[str], species_ids: Sequence[int] | None = None) -> list[str]:
    """Display names for a whole dataset. With species ids, the words every form of a species shares are its
    species name and the rest its form: "tatsugiri-curly-mega" reads "Tatsugiri (Curly Mega)" beside
    "tatsugiri-curly" ("Tatsugiri (Curly)"), and a species with one form reads plainly ("Great Tusk")."""
    if species_ids is None:
        return [display_name(n) for n in names]
    shared: dict[int, list[str]] = {}
    for name, sid in zip(names, species_ids):
        words = name.lower().split("-")
        common = shared.setdefault(int(sid), words)
        n = 0
        while n < min(len(common), len(words)) and common[n] == words[n]:
            n += 1
        shared[int(sid)] = common[:n]
    return [display_name(n, "-".join(shared[int(sid)]) or None) for n, sid in zip(names, species_ids)]


def names_to_show(names: Sequence[str], species_ids: Sequence[int] | None = None,
                  dataset_names: Sequence[str | None] | None = None) -> list[str]:
    """What to call each Pokémon: the dataset's `display_name` column (PokéAPI's own English names) where it has
    one, else the slug-based :func:`display_names` (older datasets have no such column)."""
    fallback = display_names(names, species_ids)
    if dataset_names is None:
        return fallback
    return [shown if isinstance(shown, str) and shown.strip() else slug for shown, slug in zip(dataset_names, fallback)]


_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


def generation_label(generation: str | None) -> str:
    """ "generation-iv" → "Generation IV"; None or "" → "Unknown generation"."""
    if not generation or generation == "unknown":
        return "Unknown generation"
    numeral = generation.rsplit("-", 1)[-1]
    if numeral.upper() in _ROMAN:
        return f"Generation {numeral.upper()}"
    if numeral.isdigit() and 1 <= int(numeral) <= len(_ROMAN):
        return f"Generation {_ROMAN[int(numeral) - 1]}"
    return _title(generation.split("-"))


__all__ = ["SPECIAL_NAMES", "display_name", "display_names", "generation_label", "names_to_show"]
