"""The Space's HTML views: the chosen Pokémon's card, picture tiles, the per-generation grid, oddballs and messages.

Plain functions from the JSON results that `app.py` computes (the same dicts the API returns) to HTML strings that
`gr.HTML` components show. Every tile is a button carrying its Pokémon's name in `data-name`; `assets/tiles.js`
turns a click on one into a choice of that Pokémon. Nothing here ranks or loads anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from pokembed.explore.colours import TYPE_COLOURS, UNKNOWN_COLOUR

DARK_TEXT_TYPES = frozenset({"electric", "ice", "ground", "steel", "normal", "bug", "grass", "rock", "fairy"})

ArtUrl = Callable[[int, str], str]
"""(Pokémon id, "thumb" or "full") -> the URL of its artwork (a placeholder when it has none)."""


def type_chips(types: Sequence[str]) -> str:
    """Coloured chips for a Pokémon's types, in slot order."""
    chips = []
    for t in types or ("unknown",):
        colour = TYPE_COLOURS.get(t, UNKNOWN_COLOUR)
        ink = "#1b1b1b" if t in DARK_TEXT_TYPES else "#ffffff"
        chips.append(f'<span class="pk-type" style="background:{colour};color:{ink}">{escape(t)}</span>')
    return "".join(chips)


def format_score(score: float, kind: str) -> str:
    """'cosine 0.912' for cosines, 'distance 1.23' for map distances: what a tile's hover says."""
    if kind == "map distance":
        return f"map distance {score:.2f}"
    return f"{kind} {score:.3f}"


def closeness(share: float) -> str:
    """"closer than 97%" from the share of the other Pokémon a score beats (one decimal from 99.0% to 99.9%)."""
    percent = 100.0 * float(share)
    shown = f"{min(percent, 99.9):.1f}" if percent >= 98.95 else f"{percent:.0f}"
    return f"closer than {shown}%"


def score_line(item: Mapping[str, Any], kind: str) -> tuple[str, str]:
    """(visible HTML, hover text) of a tile's score: a bar and "closer than 97%" where the result says what share
    of the candidates it beats, else the score itself."""
    score = format_score(item["score"], kind)
    if "closer_than" not in item:
        return f'<span class="pk-score">{escape(score)}</span>', score
    words = closeness(item["closer_than"])
    bar = f'<span class="pk-bar" style="--pk-fill:{100 * float(item["closer_than"]):.1f}%" aria-hidden="true"></span>'
    return f'{bar}<span class="pk-score">{escape(words)}</span>', f"{words} of the other Pokémon · {score}"


def tile(item: Mapping[str, Any], art: ArtUrl, kind: str, *, eager: bool = False, note: str = "") -> str:
    """One clickable picture tile: artwork, display name, and how close it is (the score itself on hover)."""
    name, shown = item["name"], item["display_name"]
    visible, hover = score_line(item, kind) if "score" in item else (escape(note), "")
    loading = "eager" if eager else "lazy"
    title = f"{shown}: {hover}. Click to show the Pokémon most like it" if hover else \
        f"{shown}: show the Pokémon most like it"
    return (f'<button type="button" class="pk-tile" data-name="{escape(name)}" title="{escape(title)}">'
            f'<img src="{escape(art(item["id"], "thumb"))}" alt="" width="96" height="96" loading="{loading}" '
            f'decoding="async"><span class="pk-name">{escape(shown)}</span>{visible}</button>')


def tiles(items: Sequence[Mapping[str, Any]], art: ArtUrl, kind: str, *, eager: int = 0) -> str:
    """A grid of tiles that reflows to the width of the page."""
    return ('<div class="pk-tiles">' + "".join(tile(item, art, kind, eager=i < eager) for i, item in enumerate(items))
            + "</div>")


def chosen_card(pokemon: Mapping[str, Any], art: ArtUrl, blurb: str) -> str:
    """The chosen Pokémon: its artwork, name, number, types, generation and what the results beside it are."""
    artwork = ("" if pokemon["has_artwork"] else
               '<p class="pk-note">No official artwork: ranked by its record only.</p>')
    return (f'<section class="pk-chosen" aria-label="chosen Pokémon" data-chosen="{escape(pokemon["name"])}">'
            f'<img class="pk-chosen-art" src="{escape(art(pokemon["id"], "full"))}" alt="{escape(pokemon["display_name"])}" '
            f'width="224" height="224" fetchpriority="high">'
            f'<div class="pk-chosen-facts"><h2>{escape(pokemon["display_name"])} '
            f'<span class="pk-number">#{int(pokemon["id"])}</span></h2>'
            f'<div class="pk-types">{type_chips(pokemon["types"])}</div>'
            f'<p class="pk-generation">{escape(pokemon["generation_label"])}</p>{artwork}'
            f'<p class="pk-blurb">{blurb}</p></div></section>')


def similar_page(result: Mapping[str, Any], art: ArtUrl, explanation: str) -> str:
    """The Similar Pokémon view: the chosen card beside its nearest Pokémon, then the 9 × 3 per-generation grid."""
    kind = result["score"]
    pokemon = result["pokemon"]
    blurb = (f"The {len(result['matches'])} Pokémon most like it by {escape(explanation)}. "
             "Click any picture to explore that Pokémon.")
    grid = generation_grid(result["per_generation"], art, kind)
    return (f'<div class="pk-similar">{chosen_card(pokemon, art, blurb)}'
            f'<section class="pk-results" aria-label="most similar">{tiles(result["matches"], art, kind, eager=12)}'
            f'</section></div>'
            f'<section class="pk-generations" aria-label="best matches per generation">'
            f'<h3>Best matches in each generation <small>(top 3)</small></h3>'
            f"{grid}</section>")


def generation_grid(rows: Sequence[Mapping[str, Any]], art: ArtUrl, kind: str) -> str:
    """Generations side by side (one column each, best first) on a wide page; one row each on a phone."""
    columns: dict[str, list[Mapping[str, Any]]] = {}
    labels: dict[str, str] = {}
    for row in rows:
        columns.setdefault(row["generation"], []).append(row)
        labels[row["generation"]] = row["generation_label"]
    cells = []
    for generation, members in columns.items():
        cells.append(f'<div class="pk-gen"><h4>{escape(labels[generation])}</h4>'
                     + "".join(tile(m, art, kind) for m in members) + "</div>")
    return f'<div class="pk-gen-grid" style="--pk-gens:{max(1, len(columns))}">' + "".join(cells) + "</div>"


def results_page(matches: Sequence[Mapping[str, Any]], art: ArtUrl, heading: str) -> str:
    """A heading and a grid of picture tiles (Ask the Pokédex, Search by picture)."""
    return f'<p class="pk-heading">{heading}</p>{tiles(matches, art, "cosine", eager=12)}'


def side_by_side(*sections: str) -> str:
    """Sections next to each other on a wide page, one under the other on a phone (Ask: artwork and records)."""
    return '<div class="pk-side-by-side">' + "".join(f"<section>{part}</section>" for part in sections) + "</div>"


def arithmetic_page(result: Mapping[str, Any], art: ArtUrl) -> str:
    """An arithmetic result: the preset's story if any, the expression as understood, and the nearest Pokémon."""
    story = f'<p class="pk-story">{escape(result["story"])}</p>' if result.get("story") else ""
    where = "records (text)" if result["space"] == "text" else "artwork (image)"
    typed = ", ".join(result["excluded"])
    left_out = f"; the Pokémon in it ({escape(typed)}) are left out" if typed else ""
    heading = (f"Nearest to <b>{escape(result['expression'])}</b> in the {where} space (cosine with the normalised "
               f"sum{left_out}; click a picture to explore that Pokémon)")
    return story + results_page(result["matches"], art, heading)


def oddballs_page(result: Mapping[str, Any], art: ArtUrl) -> str:
    """One tile per generation: the Pokémon least like the others of its generation, with its median cosine."""
    cells = []
    for row in result["oddballs"]:
        item = {**row, "score": row["median_similarity"]}
        cells.append(f'<div class="pk-odd"><h4>{escape(row["generation_label"])}</h4>'
                     f'{tile(item, art, "cosine", note="")}</div>')
    return ('<p class="pk-heading">The article found Magikarp, the fish that can only splash, to be Generation I\'s '
            "oddball: the Pokémon least like the rest of its generation (the lowest median similarity to them). "
            f"Here is each generation's, by their {escape(MODALITY_WORDS.get(result['modality'], result['modality']))}."
            '</p><div class="pk-odd-grid">' + "".join(cells) + "</div>")


MODALITY_WORDS = {"text": "records", "image": "artwork", "combined": "records and artwork together"}


def message(text: str, *, kind: str = "error", suggestions: Sequence[Mapping[str, str]] = ()) -> str:
    """A short message shown next to the input it is about ('' clears it); `suggestions` ({"name",
    "display_name"}) become buttons that choose that Pokémon, in place of the message's "did you mean" clause."""
    if not text:
        return ""
    role = "alert" if kind == "error" else "status"
    text = text[:1].upper() + text[1:]
    body = escape(text)
    if suggestions:
        buttons = " ".join(f'<button type="button" class="pk-suggestion" data-name="{escape(s["name"])}">'
                           f'{escape(s["display_name"])}</button>' for s in suggestions)
        body = f'{escape(text.split("; did you mean")[0])}. Did you mean {buttons}?'
    return f'<div class="pk-message pk-{kind}" role="{role}">{body}</div>'
