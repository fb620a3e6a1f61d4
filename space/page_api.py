"""The Space's JSON API: one documented method per endpoint (/similar, /ask, /ask_records, /arithmetic,
/search_by_picture, /map, /oddballs, /pair), registered with `gr.api`; names as plain strings, JSON results with ids.

Each method's docstring is the endpoint's description (the API page, MCP tools); its `Args:` lines describe the
parameters. A PokembedError becomes a short gr.Error, never a traceback.
"""

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import gradio as gr

from gradio_hooks import describe_api_parameters
from pokembed.errors import BadInputError, PokembedError
from pokembed.explore.answers import (EmbeddingSpace, Modality, Mode, arithmetic_result, ask_result, oddballs_result,
                                      picture_result, records_result, similar_result)
from pokembed.explore.chart_view import pair_result
from pokembed.explore.map_data import MAP_NEIGHBOURS, Projection, map_result
from pokembed.explore.space import Space

logger = logging.getLogger(__name__)


class PokedexApi:
    """The endpoints over one loaded `Space`; each public method is one endpoint, named after it."""

    ENDPOINTS = ("similar", "ask", "ask_records", "arithmetic", "search_by_picture", "oddballs", "map", "pair")

    def __init__(self, space: Space) -> None:
        self.space = space

    def similar(self, name: str, mode: Mode = "text", k: int = 12, default_only: bool = True) -> dict:
        """The k Pokémon most like one Pokémon, and the best 3 of each generation. Returns JSON: `pokemon` (id, name,
        display_name, generation, types, has_artwork), `score` (what the scores are), `matches` and `per_generation`
        (lists of rank, id, name, display_name, score; per_generation rows also carry generation).

        Args:
            name: a Pokémon's name, as PokéAPI spells it ("mr-mime") or as people write it ("Mr. Mime"); case, spaces, hyphens and accents are ignored.
            mode: what "like" means: "text" (cosine of record embeddings), "image" (cosine of artwork embeddings; the Pokémon needs artwork), "umap" (distance on the 2-D map, lower is closer) or "combined" (mean of text and image cosines).
            k: how many Pokémon to return, 1 to 1000 (the page shows up to 50).
            default_only: true (the default) to rank only default forms, leaving out Megas, Gigantamax, regional and other alternate forms; false to rank every Pokémon.
        """
        return similar_result(self.space, name, mode, k, default_only)

    def ask(self, question: str, k: int = 12, default_only: bool = True) -> dict:
        """Pokémon whose official artwork best matches a text question (the question's search_query embedding against
        the image embeddings). Returns JSON: `question`, `searched` (how many Pokémon have artwork), `matches` (rank,
        id, name, display_name, score = cosine).

        Args:
            question: what to look for, in words, e.g. "what looks like an ice cream cone?" (at most 500 characters).
            k: how many Pokémon to return, 1 to 1000 (the page shows up to 50).
            default_only: true (the default) to return only default forms; false to include alternate forms.
        """
        return ask_result(self.space, question, k, default_only)

    def ask_records(self, question: str, k: int = 12, default_only: bool = True) -> dict:
        """Pokémon whose PokéAPI records best answer a question: the question embedded with the dataset's text model
        and its query prompt (search_query: ) against the records' text embeddings (search_document: ), nomic's
        retrieval setup. Every Pokémon has a record, with or without artwork. Returns JSON: `question`, `searched`,
        `matches` (rank, id, name, display_name, score = cosine).

        Args:
            question: what to look for in the records, e.g. "a ghost type that evolves by trading" or "learns surf and fly" (at most 500 characters).
            k: how many Pokémon to return, 1 to 1000 (the page shows up to 50).
            default_only: true (the default) to return only default forms; false to include alternate forms.
        """
        return records_result(self.space, question, k, default_only)

    def arithmetic(self, expression: str, space: EmbeddingSpace = "text", k: int = 12) -> dict:  # noqa: A002
        """Embedding arithmetic: the Pokémon nearest to a normalised sum of signed unit vectors, each a Pokémon's
        embedding or a type's or generation's centroid (the normalised mean of its members' unit vectors); the
        Pokémon named in the expression are left out. Returns JSON: `expression` (as understood), `space`, `terms`
        (sign, kind, name), `excluded`, `story` (for a preset), `method`, `matches` (rank, id, name, display_name,
        score = cosine).

        Args:
            expression: terms joined by + and - with spaces around them, e.g. "pikachu - type:electric + type:water" or "charmander + (wartortle - squirtle)"; a term is a Pokémon name, type:NAME or generation:NAME (gen:4 and generation-iv work too).
            space: "text" (the records' embeddings) or "image" (the artwork's; Pokémon without artwork cannot be terms and are not ranked).
            k: how many Pokémon to return, 1 to 1000 (the page shows up to 50).
        """
        return arithmetic_result(self.space, expression, space, k)

    def search_by_picture(self, image: gr.FileData, k: int = 12) -> dict:
        """Pokémon whose official artwork is closest to a picture (image embeddings, cosine). Returns JSON: `width`,
        `height`, `searched`, `matches` (rank, id, name, display_name, score).

        Args:
            image: a PNG, JPEG or WebP picture under 10 MB and 16 megapixels (with gradio_client: handle_file(path)).
            k: how many Pokémon to return, 1 to 1000 (the page shows up to 50).
        """
        return picture_result(self.space, _uploaded_path(image), k)

    def oddballs(self, modality: Modality = "text", default_only: bool = True) -> dict:
        """In each generation, the Pokémon with the lowest median cosine similarity to the others of its generation.
        Returns JSON: `oddballs` (generation, id, name, display_name, types, median_similarity).

        Args:
            modality: which embeddings to compare: "text", "image" or "combined".
            default_only: true (the default) to compare default forms only; false to include alternate forms.
        """
        return oddballs_result(self.space, modality, default_only)

    def map(self, name: str | None = None, k: int = MAP_NEIGHBOURS, projection: Projection = "umap") -> dict:  # noqa: A001
        """Every Pokémon's 2-D coordinates, by UMAP (the dataset's) or by PCA of the same concatenated vectors
        (computed when the Space starts, with a fixed sign per axis); with a name, that Pokémon and its nearest
        neighbours as stored in the dataset's neighbors column. Returns JSON: `projection`, `points` (id, name, x, y,
        generation), `explained_variance_ratio` (PCA only: the share of the variance each axis explains), `pokemon`,
        `neighbors` (rank, id, name, display_name, distance = the dataset's stored neighbour distance, the cosine
        distance of the combined text and image vectors, nearest first; score = distance on this map).

        Args:
            name: optional; a Pokémon to highlight, spelled as for /similar.
            k: how many neighbours to return with a name, 1 to 1000 (at most as many as the dataset stores).
            projection: "umap" (the published umap_2d_x/y) or "pca" (pca_2d_x/y: the first two principal components).
        """
        return map_result(self.space, name, k, projection)

    def pair(self, a: str, b: str, default_only: bool = True) -> dict:
        """Two Pokémon compared: their text, image and combined cosine similarity and where each ranks in the other's
        most-similar list. Returns JSON: `a`, `b` (id, name, display_name), `scores` (per modality: cosine, rank_of_b_for_a,
        rank_of_a_for_b; 1 = nearest, null where not ranked, e.g. image for a Pokémon without artwork).

        Args:
            a: a Pokémon's name, spelled as for /similar.
            b: another Pokémon's name.
            default_only: true (the default) to rank among default forms only, as Similar does; false to rank among every Pokémon.
        """
        return pair_result(self.space, a, b, default_only)


def api_endpoints(space: Space) -> None:
    """Register every endpoint of `PokedexApi` (inside a `gr.Blocks`), in the order the API page lists them."""
    api = PokedexApi(space)
    for name in PokedexApi.ENDPOINTS:
        method = getattr(api, name)
        gr.api(answering_errors(method), api_name=name)


def describe_endpoint_parameters(demo: gr.Blocks) -> None:
    """Give each endpoint's parameters their names and `Args:` descriptions in the API info, where clients read them."""
    from gradio.utils import get_function_description

    for dependency in demo.fns.values():
        if dependency.api_name in PokedexApi.ENDPOINTS:
            _, described, _ = get_function_description(dependency.fn)
            describe_api_parameters(dependency.inputs, described)


def answering_errors(fn: Callable) -> Callable:
    """`fn` with our errors as a short gr.Error for the caller, and anything else as one line (logged here)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PokembedError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except gr.Error:
            raise
        except Exception:  # noqa: BLE001 - never a traceback to a caller
            logger.exception("unexpected error in /%s", fn.__name__)
            raise gr.Error("something went wrong on our side; try again", print_exception=False) from None

    return wrapper


def _uploaded_path(image: Any) -> str:
    """The server-side path of a file sent to the API, refused unless Gradio's upload route put it there."""
    from gradio.utils import get_upload_folder, is_in_or_equal

    path = image.get("path") if isinstance(image, Mapping) else getattr(image, "path", image)
    if not path:
        raise BadInputError("no picture given; send one with handle_file(path)")
    if not is_in_or_equal(str(path), get_upload_folder()):
        raise BadInputError("the picture must be uploaded with the request; send it with handle_file(path)")
    return str(path)
