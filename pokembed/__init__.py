"""pokembed: text and image embeddings and UMAP coordinates for every Pokémon.

What a user scripts with, importable from here; each name is imported on first use (PEP 562), so
``import pokembed`` loads neither torch, numpy nor the network stack::

    import pokembed

    result = pokembed.build(pokembed.BuildConfig(out=Path("build/dataset"), limit=50))
    index = pokembed.PokedexIndex.from_dataset(pokembed.load_dataset_split("build/dataset"))

Errors of ours are ``pokembed.PokembedError`` subclasses; their messages name the parameter to change in
backticks (`cache_dir`), which ``build_dataset.py`` writes as the flag that sets it (``--cache-dir``).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from pokembed.errors import (
    BadInputError,
    JobError,
    ModelLoadError,
    PokembedError,
    PublishError,
    SourceUnavailableError,
    UnknownModelError,
)

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY = {
    "build": "pokembed.pipeline",
    "BuildConfig": "pokembed.pipeline",
    "BuildResult": "pokembed.pipeline",
    "load_records": "pokembed.sources.choice",
    "load_source": "pokembed.sources.choice",
    "load_artwork": "pokembed.sources.artwork",
    "load_text_encoder": "pokembed.embedding.encoders",
    "load_image_encoder": "pokembed.embedding.encoders",
    "load_query_encoder": "pokembed.embedding.encoders",
    "load_dataset_split": "pokembed.dataset.table",
    "get_model_spec": "pokembed.embedding.registry",
    "ModelSpec": "pokembed.embedding.registry",
    "UmapParams": "pokembed.projection",
    "PokedexIndex": "pokembed.explore.index",
    "push": "pokembed.hub.publish",
}

__all__ = [
    *_LAZY,
    "PokembedError",
    "BadInputError",
    "SourceUnavailableError",
    "UnknownModelError",
    "ModelLoadError",
    "PublishError",
    "JobError",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use and keep the name here."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pokembed' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
