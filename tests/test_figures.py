"""The card's figures: written with the dataset (images/umap.png, images/all_pairs.png), the same bytes for the same
table, referenced by the card, replaced on rebuild (the user's other files kept) and uploaded by push."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from pokembed.dataset.facts import MARKER
from pokembed.dataset.figures import ALL_PAIRS_FIGURE, FIGURES, UMAP_FIGURE, render_figures
from pokembed.dataset.table import read_table
from pokembed.errors import BadInputError
from pokembed.hub.publish import plan_push
from test_dataset import make_rows, write


def test_a_build_writes_the_figures_and_the_card_shows_them(built_dataset):
    card = (built_dataset / "README.md").read_text(encoding="utf-8")
    for path in FIGURES:
        data = (built_dataset / path).read_bytes()
        picture = Image.open(io.BytesIO(data))
        assert picture.format == "PNG" and min(picture.size) >= 400
        assert f"]({path})" in card
        assert not {"Software", "Creation Time", "date:create"} & set(picture.info)  # nothing that changes per run
    again = render_figures(read_table(built_dataset))
    assert again == {path: (built_dataset / path).read_bytes() for path in FIGURES}  # same table, same bytes


def test_figures_follow_the_data(built_dataset):
    table = read_table(built_dataset)
    before = render_figures(table)
    x = table.column("umap_2d_x").to_numpy()
    moved = table.set_column(table.column_names.index("umap_2d_x"), "umap_2d_x",
                             [(x[::-1]).astype(np.float32)])
    after = render_figures(moved)
    assert after[UMAP_FIGURE] != before[UMAP_FIGURE] and after[ALL_PAIRS_FIGURE] == before[ALL_PAIRS_FIGURE]


def test_a_rebuild_replaces_the_figures_and_keeps_the_users_files(tmp_path):
    out = tmp_path / "out"
    write(out, make_rows(), figures={UMAP_FIGURE: b"first"})
    (out / "images" / "my-notes.txt").write_text("mine")
    write(out, make_rows(), figures={UMAP_FIGURE: b"second", ALL_PAIRS_FIGURE: b"pairs"})
    assert (out / UMAP_FIGURE).read_bytes() == b"second" and (out / ALL_PAIRS_FIGURE).read_bytes() == b"pairs"
    assert (out / "images" / "my-notes.txt").read_text() == "mine"
    write(out, make_rows(), figures={})
    assert not (out / UMAP_FIGURE).exists() and (out / "images" / "my-notes.txt").is_file()


def test_figures_outside_images_are_refused(tmp_path):
    with pytest.raises(BadInputError, match="not pokembed's to write"):
        write(tmp_path / "out", make_rows(), figures={"notes/x.png": b"x"})


def test_push_uploads_the_figures_and_deletes_stale_ones(tmp_path):
    out = tmp_path / "out"
    write(out, make_rows(), figures={UMAP_FIGURE: b"map"}, marker={"version": "0.1.0"})
    assert json.loads((out / MARKER).read_text())["version"] == "0.1.0"
    plan = plan_push(out, "me/pokemon", "0.1.0", remote_files=["images/umap.png", "images/old.png", "README.md"])
    assert UMAP_FIGURE in dict(plan.files)
    assert plan.deletions == ["images/old.png"]
