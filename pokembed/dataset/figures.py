"""The card's figures, rendered at build time and committed with the dataset: the UMAP map coloured by generation
and the article's all-pairs chart (every pair's text cosine similarity, ordered by id, generations as blocks, each
generation's lowest-median row marked).

matplotlib's Agg canvas draws them without pyplot (no global state); PNGs carry no software name or time, so the
same table gives the same bytes.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from pokembed.dataset.output_folder import FIGURES_DIR

if TYPE_CHECKING:
    import pyarrow as pa

UMAP_FIGURE = f"{FIGURES_DIR}/umap.png"
ALL_PAIRS_FIGURE = f"{FIGURES_DIR}/all_pairs.png"
FIGURES = (UMAP_FIGURE, ALL_PAIRS_FIGURE)
ALL_PAIRS_MODALITY = "text"  # the article's chart: the JSON records' embeddings
COLOUR_MAP = "viridis"
DPI = 100
_PNG_METADATA = {"Software": None}  # matplotlib writes its version here by default; no time is written


def render_figures(table: "pa.Table") -> dict[str, bytes]:
    """``{path in the output folder: PNG bytes}`` of the card's figures, from the dataset's columns."""
    ids = np.asarray(table.column("id").to_pylist(), dtype=np.int64)
    generations = table.column("generation").to_pylist()
    is_default = np.asarray(table.column("is_default").to_pylist(), dtype=bool)
    x = np.asarray(table.column("umap_2d_x").to_pylist(), dtype=np.float64)
    y = np.asarray(table.column("umap_2d_y").to_pylist(), dtype=np.float64)
    text = np.asarray(table.column("text_embedding").to_pylist(), dtype=np.float32)
    names = table.column("display_name").to_pylist() if "display_name" in table.column_names else \
        table.column("name").to_pylist()
    return {
        UMAP_FIGURE: umap_figure(x, y, generations, ids),
        ALL_PAIRS_FIGURE: all_pairs_figure(ids, names, generations, is_default, text),
    }


def umap_figure(x: np.ndarray, y: np.ndarray, generations: list[str | None], ids: np.ndarray) -> bytes:
    """The UMAP map, one dot per Pokémon, coloured by the generation that introduced its species (generations in
    the order of their smallest Pokémon id: the games' order)."""
    figure, axes = _figure(8.0, 7.0)
    labels = [g or "unknown" for g in generations]
    first_id = {}
    for label, pokemon_id in zip(labels, np.asarray(ids).tolist()):
        first_id[label] = min(first_id.get(label, pokemon_id), pokemon_id)
    order = sorted(first_id, key=lambda g: (first_id[g], g))
    for colour, generation in zip(_qualitative(len(order)), order):
        members = np.array([g == generation for g in labels])
        axes.scatter(x[members], y[members], s=9, color=colour, linewidths=0, alpha=0.85,
                     label=_long_label(generation))
    axes.set_xticks([]), axes.set_yticks([])
    axes.set_title(f"UMAP of the text and image embeddings: {len(labels):,} Pokémon by generation")
    axes.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, markerscale=2.0)
    return _png(figure)


def all_pairs_figure(ids: np.ndarray, names: list[str], generations: list[str | None], is_default: np.ndarray,
                     text: np.ndarray) -> bytes:
    """The all-pairs chart of the text embeddings: cosine similarity of every pair, ordered by id."""
    from pokembed.pairwise import block_labels, cosine_matrix, generation_blocks, id_order, lowest_median_rows

    order = id_order(ids)
    ids, names = ids[order], [names[i] for i in order]
    generations, is_default = [generations[i] for i in order], np.asarray(is_default)[order]
    matrix = cosine_matrix(text[order], np.zeros((len(order), 1)), np.zeros(len(order), bool), ALL_PAIRS_MODALITY)
    off = matrix[~np.eye(len(order), dtype=bool)]
    vmin, vmax = (float(off.min()), float(off.max())) if off.size else (0.0, 1.0)
    figure, axes = _figure(9.0, 8.0)
    shown = axes.imshow(matrix, cmap=COLOUR_MAP, vmin=vmin, vmax=max(vmax, vmin + 1e-6), interpolation="nearest")
    figure.colorbar(shown, ax=axes, fraction=0.04, pad=0.02, label="cosine similarity (text)")
    blocks = generation_blocks(generations, is_default)
    for block in blocks[1:]:
        axes.axhline(block.start - 0.5, color="white", linewidth=0.6)
        axes.axvline(block.start - 0.5, color="white", linewidth=0.6)
    middles = [(b.start + b.stop - 1) / 2 for b in blocks]
    short = [_short_label(b.label) for b in blocks]
    axes.set_xticks(middles, short, fontsize=7, rotation=90), axes.set_yticks(middles, short, fontsize=7)
    for marked in lowest_median_rows(matrix, block_labels(generations, is_default), ids):
        axes.annotate(names[marked.position], xy=(len(ids) - 0.5, marked.position), xytext=(4, 0),
                      textcoords="offset points", fontsize=6, color="black", va="center",
                      arrowprops={"arrowstyle": "-", "color": "red", "linewidth": 0.6}, annotation_clip=False)
        axes.axhline(marked.position, color="red", linewidth=0.4, alpha=0.7)
    axes.set_title(f"Cosine similarity of every pair of {len(ids):,} Pokémon (text embeddings, ordered by id);\n"
                   "red: each generation's row with the lowest median similarity", fontsize=9)
    return _png(figure)


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata=_PNG_METADATA)
    return buffer.getvalue()


def _qualitative(count: int) -> list:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if count <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(count)]


def _long_label(label: str) -> str:
    return f"Generation {_short_label(label)}" if label.startswith("generation-") else label


def _short_label(label: str) -> str:
    return label.removeprefix("generation-").upper() if label.startswith("generation-") else label
