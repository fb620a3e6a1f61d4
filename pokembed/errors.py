"""Errors of our own (the CLI and the Space turn them into one-line messages) and the wording messages share."""

import errno
from collections.abc import Iterable


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


def describe_os_error(exc: OSError) -> str:
    """A few words for an OSError (full disk, read-only, permission...), with its path when it has one."""
    words = {
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.ELOOP: "a symlink loop",
        errno.ENOTDIR: "a file where a folder was expected",
    }.get(exc.errno, exc.strerror or type(exc).__name__)
    return f"{words}: {exc.filename}" if exc.filename else words


def one_line(value: object, limit: int = 200, *, secret: str | None = None) -> str:
    """An exception (or any value) as one line for a message: whitespace collapsed, cut to ``limit`` characters with
    an ellipsis, ``secret`` (a token) masked; an exception with no message reads as its type name."""
    text = " ".join(str(value).split())
    if secret:
        text = text.replace(secret, "***")
    if not text and isinstance(value, BaseException):
        text = type(value).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def name_list(names: Iterable[object], limit: int) -> str:
    """The first ``limit`` names joined by commas, then ``and N more`` when there are more."""
    names = [str(name) for name in names]
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" and {more:,} more" if more > 0 else "")
