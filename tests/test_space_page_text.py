"""What the page says about itself and how it shows a score: links and credits named from the loaded configuration
(pokembed.explore.about, space/page_text.py), and "closer than 97%" computed over the whole ranking
(pokembed.explore.answers), checked against numpy over the dataset's columns."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from pokembed.explore.about import MODEL_LICENCES, about_space, code_url, dataset_link
from pokembed.explore.answers import similar_result

from test_explore_space import space  # noqa: F401 - the same fixture: the loaded Space on the tiny build

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "space"))


@pytest.fixture(scope="module")
def columns(built_dataset) -> dict:
    import pyarrow.parquet as pq

    parquet = sorted((built_dataset / "data").glob("*.parquet"))[0]
    table = pq.read_table(parquet, columns=["id", "name", "text_embedding", "is_default"]).to_pydict()
    text = np.asarray(table["text_embedding"], dtype=np.float64)
    return {"ids": table["id"], "names": table["name"], "is_default": np.asarray(table["is_default"], dtype=bool),
            "text": text / np.linalg.norm(text, axis=1, keepdims=True)}


def test_closer_than_is_the_share_of_the_others_a_score_beats(space, columns):
    row = 3
    result = similar_result(space, columns["names"][row], "text", 5)
    cosines = columns["text"] @ columns["text"][row]
    others = cosines[columns["is_default"] & (np.arange(len(cosines)) != row)]  # default forms only, as Similar
    for match in result["matches"] + result["per_generation"]:
        mine = cosines[columns["ids"].index(match["id"])]
        assert match["closer_than"] == pytest.approx(float((others < mine).mean()), abs=0.5 / len(others))
    assert result["matches"][0]["closer_than"] >= result["matches"][-1]["closer_than"]


def test_a_tile_shows_closeness_and_the_cosine_on_hover(space, columns):
    import pokedex_html as html

    item = {"id": columns["ids"][0], "name": "x", "display_name": "X", "score": 0.91234, "closer_than": 0.973}
    tile = html.tile(item, space.art.url, "cosine")
    assert "closer than 97%" in tile and "cosine 0.912" in tile.split('title="')[1].split('"')[0]
    assert "--pk-fill:97.3%" in tile
    assert html.closeness(0.9987) == "closer than 99.9%"


def test_links_and_credits_name_the_configured_models(space):
    import page_text

    header = page_text.header(space)
    assert "minimaxir.com/2024/06/pokemon-embeddings" in header and "?view=api" in header and "Code" in header
    credits = page_text.credits(space.about)
    assert "PokéAPI" in credits and "GAME FREAK" in credits and "Max Woolf" in credits
    assert "a local model (text)" in credits and "a local model (image)" in credits
    assert "nomic-embed" not in credits and "/tmp" not in credits and str(Path.home()) not in credits  # not assumed
    assert '<meta name="description"' in page_text.head_tags()


def test_the_foot_is_its_markdown_rendered_on_the_server(space):
    """The page's foot is HTML made from the same texts: the fold, the credits' links as links, the version line."""
    import re
    from html import unescape

    import page_text

    foot = page_text.footer(space)
    fold = re.search(r'<details id="how-it-works"><summary>How it works</summary>(.*?)</details>', foot, re.S)
    items = re.findall(r"<li>(.*?)</li>", fold.group(1), re.S)
    assert len(items) == page_text.how_it_works(space).count("\n- ") + 1  # each bullet an item
    assert '<a href="https://pokeapi.co/">PokéAPI</a>' in foot and "<strong>Credits.</strong>" in foot
    assert "**" not in foot and "](" not in foot  # no Markdown left unrendered
    version = re.search(r'<p id="dataset-version">(.*?)</p>', foot, re.S).group(1)
    plain = unescape(re.sub(r"<[^>]+>", "", version))
    expected = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", space.version_footer).replace("`", "")  # Markdown's text
    assert plain == f"{expected} · {len(space.index):,} Pokémon, {space.artwork_count:,} with artwork"


def test_the_foot_shows_markup_in_its_texts_as_text(space):
    """A dataset label or path holding markup (from the Hub or the Space's settings) is shown, never run."""
    import dataclasses

    import page_text

    foot = page_text.footer(dataclasses.replace(space, version_footer='Dataset `x` · <img src=x onerror="alert(1)">'))
    assert "<img" not in foot and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in foot


def test_hub_models_are_credited_with_their_licences():
    about = about_space("pokembed/pokemon-embeddings", "v1.1.0", "1.1.0", text_model="nomic-ai/nomic-embed-text-v1.5",
                        query_model="nomic-ai/nomic-embed-text-v1.5", image_model="nomic-ai/nomic-embed-vision-v1.5",
                        environ={})
    assert [(m.name, m.licence) for m in about.models] == [(k, "Apache-2.0") for k in MODEL_LICENCES]
    assert about.dataset_url == "https://huggingface.co/datasets/pokembed/pokemon-embeddings/tree/v1.1.0"
    assert dataset_link("pokembed/x", None, None) == ("pokembed/x", "https://huggingface.co/datasets/pokembed/x")
    assert code_url({"SPACE_ID": "me/demo"}) == "https://huggingface.co/spaces/me/demo/tree/main"
