"""The Space's query-side encoders: the question model (text into the image space), the records' question model and
the picture model, each loaded once, thread-safe, on first use or ahead of it by the warm-up. A load failure becomes
one ModelLoadError naming the variable that picks another model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pokembed.errors import ModelLoadError, PokembedError

logger = logging.getLogger(__name__)


class QueryModels:
    """The query-side encoders, each loaded once (thread-safe): on first use, or ahead of it by `warm_up`."""

    def __init__(self, image_model: str, text_model: str | None, device: str,
                 recorded_text_model: str | None = None, torch_threads: int = 0) -> None:
        self.image_model = image_model
        self.torch_threads = torch_threads
        self.text_model = text_model                    # an explicit override (POKEMBED_TEXT_MODEL)
        self.recorded_text_model = recorded_text_model  # the dataset's text model: used if the image spec names none
        self.device = device
        self._query_lock = threading.Lock()
        self._image_lock = threading.Lock()
        self._records_lock = threading.Lock()
        self._query: Any = None
        self._image: Any = None
        self._records: Any = None

    @property
    def query_ready(self) -> bool:
        """Whether the question model is loaded (a question is then answered without waiting for a load)."""
        return self._query is not None

    @property
    def image_ready(self) -> bool:
        """Whether the picture model is loaded."""
        return self._image is not None

    def _image_spec(self) -> Any:
        from pokembed.embedding.registry import get_model_spec

        spec = get_model_spec(self.image_model, "image")
        text_model = self.text_model or (None if spec.query_model else self.recorded_text_model)
        if text_model and text_model != spec.query_model:
            spec = replace(spec, query_model=text_model)
        return spec

    def query_encoder(self) -> Any:
        """The text encoder that embeds questions into the image space (`search_query: ` prompt)."""
        with self._query_lock:
            if self._query is None:
                self._query = _loading(self._load_query, "POKEMBED_TEXT_MODEL")
            return self._query

    @property
    def query_model(self) -> str | None:
        """The text model that embeds questions into the image space (as configured; nothing is loaded)."""
        try:
            return self._image_spec().query_model
        except PokembedError:  # an unknown image model: its load will say so
            return self.text_model

    @property
    def records_model(self) -> str:
        """The text model whose query prompt asks the records: POKEMBED_TEXT_MODEL, else the dataset's own."""
        from pokembed.embedding.registry import DEFAULT_TEXT_MODEL

        return self.text_model or self.recorded_text_model or DEFAULT_TEXT_MODEL

    def records_encoder(self) -> Any:
        """The text encoder that embeds questions (`search_query: `) against the records' text embeddings; the
        question model itself when that is the same model (nomic's text model serves both spaces)."""
        if self._records_is_query():
            return self.query_encoder()
        with self._records_lock:
            if self._records is None:
                self._records = _loading(self._load_records, "POKEMBED_TEXT_MODEL")
            return self._records

    def _records_is_query(self) -> bool:
        from pokembed.embedding.registry import get_model_spec

        try:
            query = self._image_spec().query_model
            return bool(query) and (get_model_spec(query, "text").model_id
                                    == get_model_spec(self.records_model, "text").model_id)
        except PokembedError:  # e.g. SigLIP's query model is its own image model: not a text model of its own
            return False

    def _load_records(self) -> Any:
        from pokembed.embedding.encoders import load_text_encoder

        self._threads()
        return load_text_encoder(self.records_model, device=self.device, progress=False)

    def image_encoder(self) -> Any:
        """The image encoder for uploaded pictures."""
        with self._image_lock:
            if self._image is None:
                self._image = _loading(self._load_image, "POKEMBED_IMAGE_MODEL")
            return self._image

    def _threads(self) -> None:
        if self.torch_threads > 0:
            import torch

            torch.set_num_threads(self.torch_threads)

    def _load_query(self) -> Any:
        from pokembed.embedding.encoders import load_query_encoder

        self._threads()
        return load_query_encoder(self._image_spec(), device=self.device)

    def _load_image(self) -> Any:
        from pokembed.embedding.encoders import load_image_encoder

        self._threads()
        return load_image_encoder(self._image_spec(), device=self.device, progress=False)


def _loading(load: Callable[[], Any], variable: str) -> Any:
    try:
        return load()
    except PokembedError as exc:
        raise ModelLoadError(f"{exc} (the Space can use another model: set {variable})") from exc
    except Exception as exc:  # noqa: BLE001 - any loader failure becomes one friendly line
        logger.exception("model load failed")
        raise ModelLoadError(f"the search model could not be loaded ({type(exc).__name__}); "
                             f"set {variable} to a model id or folder that loads") from exc
