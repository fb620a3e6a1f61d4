"""``python -m pokembed.tiny_models DIR``: the command the docs name, kept here; the code is
:mod:`pokembed.embedding.tiny_models`."""

from pokembed.embedding.tiny_models import main

if __name__ == "__main__":
    raise SystemExit(main())
