"""What the page says about itself: the one-line intro and its links, the plain-language intros of the tabs, the
"How it works" fold with the technical detail, the credits and the meta description. Model names come from the
loaded configuration (`Space.about`), never assumed. The texts are written in Markdown; `footer` renders the page's
foot on the server, so the first page needs no Markdown component."""

from __future__ import annotations

from html import escape

from pokembed.explore.about import ARTICLE_AUTHOR, ARTICLE_TITLE, ARTICLE_URL, About, ModelCredit
from pokembed.explore.arithmetic import ARITHMETIC_METHOD
from pokembed.explore.space import Space

META_DESCRIPTION = ("Find the Pokémon most like any Pokémon by its PokéAPI record, its artwork or both, search the "
                    "artwork in words or with a picture, add and subtract Pokémon, and explore a map of all of them.")
INTRO = ("Pick a Pokémon to see the ones most like it, by what its record says, how it looks, or both. Or describe "
         "one in words, try a picture, or explore the map.")


OUTER_CSS = ("@media (max-width: 760px) { div.main.app { padding-left: 8px !important; "
             "padding-right: 8px !important; } }")
"""Rules for Gradio's own frame: the stylesheet (css_paths) is scoped inside `.gradio-container .contain`."""


def head_tags() -> str:
    """The page's <head> additions: the meta description (search engines and link previews), and the phone's
    narrower page margins."""
    return (f'<meta name="description" content="{escape(META_DESCRIPTION)}">'
            f'<meta property="og:description" content="{escape(META_DESCRIPTION)}"><style>{OUTER_CSS}</style>')


def header(space: Space) -> str:
    """The title, the one-line intro and the links: the article, the dataset at its version, the code, the API."""
    about = space.about
    links = [f'<a href="{ARTICLE_URL}" target="_blank" rel="noopener">The article</a>']
    if about is not None:
        dataset = (f'<a href="{escape(about.dataset_url)}" target="_blank" rel="noopener">Dataset '
                   f'{escape(about.dataset_label)}</a>' if about.dataset_url else f"Dataset: {escape(about.dataset_label)}")
        links += [dataset, f'<a href="{escape(about.code_url)}" target="_blank" rel="noopener">Code</a>']
    links.append('<a href="?view=api">API</a>')
    return (f'<h1>pokembed · Pokémon embeddings</h1><p class="pk-intro">{escape(INTRO)}</p>'
            f'<p class="pk-links">{" · ".join(links)}</p>')


def _model(credit: ModelCredit) -> str:
    name = f"[{credit.name}]({credit.url})" if credit.url else credit.name
    licence = f" ({credit.licence})" if credit.licence else (" (licence on its model card)" if credit.url else "")
    return f"{name}{licence} for the {credit.role}"


def credits(about: About | None) -> str:
    """Where the data, the pictures, the models and the method come from."""
    models = "; ".join(_model(m) for m in about.models) if about and about.models else "as configured"
    return (f"**Credits.** Data from [PokéAPI](https://pokeapi.co/) (BSD-3-Clause). Pokémon names and artwork © "
            "Nintendo, Creatures Inc. and GAME FREAK Inc. / The Pokémon Company, shown for non-commercial "
            f"exploration. Models: {models}. Method: {ARTICLE_AUTHOR}, "
            f"[“{ARTICLE_TITLE}”]({ARTICLE_URL}) (2024).")


def footer(space: Space) -> str:
    """The page's foot as HTML: the "How it works" fold (a <details>), the credits and the dataset's version line.

    Rendered here with markdown-it rather than by Gradio's Markdown and Accordion components, which the browser would
    download and boot before it can show the page: one fewer kind of component on the first page is a measurable part
    of a phone's boot (README, Benchmarks)."""
    from markdown_it import MarkdownIt

    markdown = MarkdownIt("commonmark", {"html": False})  # text, never markup, from the dataset or config
    version = (f"{markdown.renderInline(space.version_footer)} · {len(space.index):,} Pokémon, "
               f"{space.artwork_count:,} with artwork")
    return (f'<details id="how-it-works"><summary>How it works</summary>{markdown.render(how_it_works(space))}'
            f'</details><div id="credits">{markdown.render(credits(space.about))}</div>'
            f'<p id="dataset-version">{version}</p>')


def _model_names(about: About | None) -> tuple[str, str]:
    """(text model, image model) as named in the credits."""
    if about is None or not about.models:
        return "the text model", "the image model"
    by_role = {m.role: m.name for m in about.models}
    text = next((n for r, n in by_role.items() if r.startswith("records")), "the text model")
    image = next((n for r, n in by_role.items() if r.startswith("artwork")), "the image model")
    return f"`{text}`", f"`{image}`"


def how_it_works(space: Space) -> str:
    """The technical detail the tabs' intros leave out, with the models actually loaded."""
    text, image = _model_names(space.about)
    query = space.models.query_model or "the text model"
    return (f"- **Records.** Each Pokémon's PokéAPI record (its GraphQL JSON, minified) is embedded by {text} with "
            "its document prompt (`search_document: ` for nomic's models): one vector per Pokémon.\n"
            f"- **Artwork.** The official artwork, composited on white at 224 × 224, is embedded by {image}.\n"
            f"- **Questions** (Ask) are embedded by `{_short(query)}` with its query prompt (`search_query: ` for "
            "nomic's), into the artwork's space, and by the records' model against the records: nomic's retrieval "
            "setup. A picture (By picture) is embedded like the artwork.\n"
            "- **Scores** are cosine similarities (1 = same direction). Under each picture, *closer than 97%* means "
            "97% of the other Pokémon score lower in that ranking; hover for the cosine. *Combined* is the mean of "
            "the text and image cosines (text alone where a Pokémon has no artwork).\n"
            "- **Map**: UMAP of each Pokémon's text and image vectors, concatenated (the dataset's columns); PCA is "
            "the linear projection of the same vectors.\n"
            f"- **Sums**: {ARITHMETIC_METHOD}\n"
            "- **Oddballs**: per generation, the Pokémon whose median cosine with the others of its generation is "
            "lowest.\n"
            f"- Everything follows {ARTICLE_AUTHOR}'s article; the page's API returns the same results as JSON.")


def _short(model: str) -> str:
    """A model name for the page: a Hub id as is, a local folder by its last part (never the machine's path)."""
    from pathlib import Path

    return f"a local model ({Path(model).name})" if model.startswith("/") else model


def ask_intro(space: Space) -> str:
    """The Ask tab's opening line, with this dataset's counts."""
    missing = len(space.index) - space.artwork_count
    return (f"Describe a Pokémon in words. On the left, the artwork that matches best ({space.artwork_count:,} "
            f"Pokémon have artwork{f'; the other {missing:,} cannot be found by a picture' if missing else ''}); on "
            "the right, the records that answer best: ask them what a picture cannot show, like \"a ghost type "
            "that evolves by trading\".")
