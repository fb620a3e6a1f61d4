"""What pokembed's Space serves, as plain data: its configuration (from the environment), the artwork files the page
links to, and the loaded `Space` (index, display names, query models, PCA map). No Gradio here: `space/app.py` builds
the page over these, and `pokembed.explore.answers` answers from them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pokembed.errors import BadInputError
from pokembed.explore import queries
from pokembed.explore.about import About
from pokembed.explore.index import PokedexIndex
from pokembed.explore.query_models import QueryModels

DEFAULT_DATASET = "pokembed/pokemon-embeddings"
EXAMPLE_QUESTIONS = (
    "what looks like an ice cream cone?",
    "a pink balloon with big eyes",
    "a fish that looks useless",
    "a dragon made of fire",
    "a grumpy purple ghost",
)
"""Questions the artwork answers; the Ask tab opens with the first one answered (the warm-up computes it)."""
RECORD_QUESTIONS = (
    "a ghost type that evolves by trading",
    "learns surf and fly",
    "a legendary bird of ice",
    "the heaviest pokemon",
)
"""Questions the records (PokéAPI JSON) can answer and the artwork cannot: nomic's retrieval use."""
THUMB_SIZE = 128   # px: the tiles show at most 96 CSS px
CARD_SIZE = 224    # px: the chosen Pokémon's card, the dataset's own size


@dataclass(frozen=True)
class SpaceConfig:
    """Where the data and models come from, and the input limits; read from the environment by `from_env`."""

    dataset: str = DEFAULT_DATASET
    revision: str | None = None
    text_model: str | None = None    # overrides the query (text) model of the image space
    image_model: str | None = None   # overrides the dataset's image model
    device: str = "auto"
    torch_threads: int = 1           # CPU threads per query (0: torch's default); README explains why 1
    gallery_size: int = 12
    max_question_chars: int = queries.MAX_QUESTION_CHARS
    max_upload_bytes: int = queries.MAX_UPLOAD_BYTES
    max_upload_pixels: int = queries.MAX_UPLOAD_PIXELS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SpaceConfig:
        """POKEMBED_DATASET, _REVISION, _TEXT_MODEL, _IMAGE_MODEL, _DEVICE and _TORCH_THREADS."""
        threads = environ.get("POKEMBED_TORCH_THREADS") or "1"
        if not threads.isdigit():
            raise BadInputError(f"POKEMBED_TORCH_THREADS must be a whole number, got {threads!r}; use e.g. 1")
        return cls(
            dataset=environ.get("POKEMBED_DATASET") or DEFAULT_DATASET,
            revision=environ.get("POKEMBED_REVISION") or None,
            text_model=environ.get("POKEMBED_TEXT_MODEL") or None,
            image_model=environ.get("POKEMBED_IMAGE_MODEL") or None,
            device=environ.get("POKEMBED_DEVICE") or "auto",
            torch_threads=int(threads),
        )


@dataclass(frozen=True)
class ArtworkFiles:
    """The dataset's artwork as files the page links to: thumbnails for tiles, card-sized for the chosen Pokémon."""

    folder: Path
    thumbs: Mapping[int, Path]
    cards: Mapping[int, Path]
    placeholder: Path

    def url(self, pokemon_id: int, size: str = "thumb") -> str:
        """Relative URL of a Pokémon's artwork ("thumb" or "full"), or of the placeholder when it has none."""
        files = self.cards if size == "full" else self.thumbs
        return "gradio_api/file=" + files.get(int(pokemon_id), self.placeholder).as_posix()


@dataclass(frozen=True, eq=False)
class Space:
    """What the app serves: the index, display names, artwork files, the query models, the limits."""

    index: PokedexIndex
    display: tuple[str, ...]
    art: ArtworkFiles
    models: QueryModels
    config: SpaceConfig
    answers: dict[str, Any] = field(default_factory=dict)  # the warm-up's first answer, keyed by question
    pca: Any = None  # pokembed.projection.PcaProjection of the index's vectors, computed once at start
    version_footer: str = ""  # the dataset version, tag, build date and changelog link (pokembed.hub.published)
    charts: dict[Any, Any] = field(default_factory=dict)  # the all-pairs charts, made once (explore.chart_view)
    about: About | None = None  # links and credits: the article, the dataset at its version, the code, the models

    @property
    def artwork_count(self) -> int:
        """How many Pokémon have artwork (and so can be found by a question or a picture)."""
        return int(self.index.has_image.sum())

    @property
    def k_max(self) -> int:
        return max(1, min(50, len(self.index) - 1))

    @property
    def k_default(self) -> int:
        return min(self.config.gallery_size, self.k_max)
