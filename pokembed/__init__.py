"""pokembed: text and image embeddings and UMAP coordinates for every Pokémon."""

from pokembed.errors import PokembedError

__all__ = ["PokembedError"]
__version__ = "0.1.0"
