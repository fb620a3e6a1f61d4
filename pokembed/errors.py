"""Errors of our own: the CLI and the Space turn them into one-line messages."""


class PokembedError(Exception):
    """Base class: a problem the user can fix; its message says what and how."""


class SourceUnavailableError(PokembedError):
    """The PokéAPI source (endpoint or CSV folder) cannot be read."""


class BadInputError(PokembedError):
    """An input file, folder, option or value is not usable as given."""


class UnknownModelError(PokembedError):
    """A model name is neither in the registry nor a local model folder."""


class ModelLoadError(PokembedError):
    """A model exists but could not be loaded."""


class PublishError(PokembedError):
    """Publishing to the Hub was refused (no token, existing tag, ...)."""


class JobError(PokembedError):
    """A Hugging Face Job was refused or did not complete."""
