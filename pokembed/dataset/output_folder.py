"""The output folder is the user's too: one writer at a time, our files swapped in whole, everything else kept.

pokembed owns only ``README.md``, ``.pokembed``, ``data/*.parquet`` and ``images/*.png`` (the card's figures) in
``--out``; anything else there (a
``.git`` of a clone of the Hub repo, notes, figures) is the user's and survives every rebuild. A new version is
written into a hidden sibling ``.<name>.tmp-<hex>``, the user's entries are carried into it (hard links, or copies
where links are not possible: the originals are not touched), and it replaces ``--out`` in one atomic exchange
(``renameat2(RENAME_EXCHANGE)``; two renames where the file system lacks it). The marker is written last, so a
temporary folder with a marker is complete.

A crash at any moment leaves either the previous folder or the new one in place, or (two-rename fallback only) no
folder and a complete sibling: ``recover`` (run under the lock at the start of every build) finishes or undoes an
interrupted swap and deletes the ``.tmp-*`` / ``.old-*`` leftovers. ``output_lock`` makes a second writer of the
same folder fail at once with one line instead of racing.
"""

from __future__ import annotations

import ctypes
import errno
import fnmatch
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pokembed.errors import BadInputError
from pokembed.errors import describe_os_error as os_problem
from pokembed.dataset.facts import MARKER

logger = logging.getLogger(__name__)

#: What pokembed writes in --out (paths relative to it, fnmatch patterns); everything else is the user's.
FIGURES_DIR = "images"  # the card's figures (pokembed.dataset.figures)
OWNED = ("README.md", MARKER, "data/*.parquet", f"{FIGURES_DIR}/*.png")


@contextmanager
def output_lock(out_dir: Path) -> Iterator[Path]:
    """Hold the lock of ``out_dir`` (the file ``.<name>.lock`` beside it, removed on release) or fail at once."""
    out_dir = real_folder(out_dir)
    lock = out_dir.parent / f".{out_dir.name}.lock"
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        fd = _take_lock(lock, out_dir)
    except OSError as exc:
        raise BadInputError(f"cannot write beside `out` {out_dir} ({os_problem(exc)}); choose a writable `out`") from None
    try:
        yield lock
    finally:
        try:
            lock.unlink(missing_ok=True)  # still holding it: a writer that opens the old file re-checks the inode
        finally:
            os.close(fd)  # releases the lock; the kernel does the same for a killed process


def _take_lock(lock: Path, out_dir: Path) -> int:
    import fcntl

    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise BadInputError(
                f"another build (pid {holder}) is writing {out_dir} (lock {lock}); wait for it to finish or choose "
                "another `out`"
            ) from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
            return fd
        os.close(fd)  # the holder removed it as we opened it: take the new one


def recover(out_dir: Path) -> None:
    """Finish or undo a swap a crash interrupted, then delete the temporary leftovers. Call it under the lock."""
    out_dir = real_folder(out_dir)
    parent = out_dir.parent
    if not parent.is_dir():
        return
    tmps = sorted(parent.glob(f".{_glob_escape(out_dir.name)}.tmp-*"), key=_mtime, reverse=True)
    olds = sorted(parent.glob(f".{_glob_escape(out_dir.name)}.old-*"), key=_mtime, reverse=True)
    if not os.path.lexists(out_dir):
        complete = [t for t in tmps if (t / MARKER).is_file()]
        if complete:
            os.rename(complete[0], out_dir)
            logger.warning("finished the swap of %s that an interrupted build had started", out_dir)
        elif olds:
            os.rename(olds[0], out_dir)
            logger.warning("put back the previous %s that an interrupted build had moved aside", out_dir)
    for leftover in (*tmps, *olds):
        if leftover.exists() and not leftover.is_symlink():
            logger.info("removing %s, left by an interrupted build", leftover)
            shutil.rmtree(leftover, ignore_errors=True)


def replace_folder(
    out_dir: Path, write: Callable[[Path], None], marker_text: str, *, is_ours: Callable[[Path], bool]
) -> None:
    """Write a new version with ``write(folder)`` (our files but the marker) and swap it in whole.

    The user's entries of an existing ``out_dir`` are carried over, then ``marker_text`` is written as the marker,
    last. An existing folder is replaced only when ``is_ours(out_dir)``. On any failure ``out_dir`` is left as it
    was and the temporary folder removed; an OSError (full disk, read-only) becomes one BadInputError line.
    """
    out_dir = real_folder(out_dir)
    parent = out_dir.parent
    tmp = parent / f".{out_dir.name}.tmp-{secrets.token_hex(4)}"
    try:
        tmp.mkdir()
        write(tmp)
        if out_dir.is_dir():
            _carry_user_entries(out_dir, tmp)
        _write_synced(tmp / MARKER, marker_text.encode("utf-8"))
        _swap(tmp, out_dir, is_ours)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BadInputError(
            f"cannot write the dataset to {out_dir} ({os_problem(exc)}); the previous output is untouched: free "
            "space or choose a writable `out`"
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def real_folder(out_dir: Path) -> Path:
    """``out_dir``, or the folder it links to: a symlinked --out is written where it points, the link kept."""
    out_dir = Path(out_dir)
    return out_dir.resolve() if out_dir.is_symlink() else out_dir


def is_owned(relative: str) -> bool:
    """Whether a path inside --out (posix, relative) is one pokembed writes."""
    return any(fnmatch.fnmatchcase(relative, pattern) for pattern in OWNED)


# --- internals ---------------------------------------------------------------------------------------------------


def _carry_user_entries(src: Path, dst: Path, relative: str = "") -> None:
    for entry in sorted(os.scandir(src), key=lambda e: e.name):
        rel = f"{relative}{entry.name}"
        if is_owned(rel):
            continue
        target = dst / entry.name
        if entry.is_dir(follow_symlinks=False):
            if any(pattern.startswith(rel + "/") for pattern in OWNED):  # a folder we write into: merge
                target.mkdir(exist_ok=True)
                _carry_user_entries(Path(entry.path), target, rel + "/")
                shutil.copystat(entry.path, target)
            else:
                shutil.copytree(entry.path, target, symlinks=True, copy_function=_link_or_copy)
        elif entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
        else:
            _link_or_copy(entry.path, target)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)


def _swap(new: Path, out_dir: Path, is_ours: Callable[[Path], bool]) -> None:
    if not os.path.lexists(out_dir):
        os.rename(new, out_dir)
        return
    if not is_ours(out_dir):  # again, right before touching it
        raise BadInputError(f"{out_dir} is not a pokembed output folder; choose an empty or new `out`")
    if _exchange(new, out_dir):
        shutil.rmtree(new, ignore_errors=True)  # the previous version now lives there
        return
    old = out_dir.parent / f".{out_dir.name}.old-{secrets.token_hex(4)}"
    os.rename(out_dir, old)
    try:
        os.rename(new, out_dir)
    except BaseException:
        os.rename(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def _glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)


def out_folder(value: str | Path) -> Path:
    """The output folder a user named, as a Path; BadInputError for an empty name, which Path would silently read
    as the current folder."""
    if not str(value).strip():
        raise BadInputError(f"`out` {str(value)!r} is empty; name the output folder, e.g. `out` build/dataset")
    return Path(value)


def check_build_paths(out_dir: Path, cache_dir: Path) -> None:
    """Before any work: --out and --cache-dir must be folders we can write, and the cache must not be inside --out.

    Each problem is one BadInputError line naming the path and the fix.
    """
    out_dir, cache_dir = Path(out_dir).absolute(), Path(cache_dir).absolute()
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        raise BadInputError(f"`out` {out_dir} is a file, not a folder; choose an empty or new `out`")
    real_out, real_cache = out_dir.resolve(), cache_dir.resolve()
    if real_cache == real_out or real_out in real_cache.parents:
        raise BadInputError(
            f"`cache_dir` {cache_dir} is inside `out` {out_dir}, whose content is replaced on every build; put the "
            f"cache elsewhere (the default is {out_dir.parent / '.pokembed-cache'})"
        )
    if os.path.lexists(cache_dir) and not cache_dir.is_dir():
        raise BadInputError(f"`cache_dir` {cache_dir} is a file, not a folder; pass a folder (it is created if absent)")
    _probe_writable(real_out.parent, "`out`", out_dir)
    if real_out.is_dir():
        _probe_writable(real_out, "`out`", out_dir)  # its entries are carried over at the swap
    _probe_writable(cache_dir, "`cache_dir`", cache_dir, create=True)


def _probe_writable(folder: Path, option: str, given: Path, *, create: bool = False) -> None:
    import tempfile

    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        else:
            existing = folder
            while not existing.exists():  # the nearest existing ancestor is where the folder will be created
                existing = existing.parent
            folder = existing
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".pokembed-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BadInputError(
            f"{option} {given} is not writable ({os_problem(exc)}); choose a folder you can write to"
        ) from None
