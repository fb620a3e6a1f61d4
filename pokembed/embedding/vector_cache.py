"""Resumable vectors: an SQLite file of embeddings keyed by model and content hash.

A row is (model_key, content hash) -> float32 bytes + shape + a small JSON of per-item facts (token count,
truncation). ``model_key`` comes from ``model_cache_key``: it names the model id and revision (or, for a local
folder, a fingerprint of its files) and every spec setting that changes the vectors, plus a caller's variant (the
long-document mode), so a changed setting never reuses a stale vector. Each ``put_many`` is one committed
transaction, so a build that stops part-way keeps every chunk it finished. Deleting the file costs only time.

Damage is never fatal: an entry whose blob does not match its shape or holds NaN/inf is dropped with a warning and
embedded again; a file SQLite reports as damaged is replaced by a fresh one (warned; its vectors are embedded again);
a database that cannot be written (full disk, read-only) is warned about once and the build goes on with the
vectors in memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pokembed.errors import BadInputError
from pokembed.local_files import folder_fingerprint

if TYPE_CHECKING:
    from pokembed.embedding.registry import ModelSpec

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model_key TEXT NOT NULL,
    hash TEXT NOT NULL,
    shape TEXT NOT NULL,
    data BLOB NOT NULL,
    info TEXT NOT NULL,
    PRIMARY KEY (model_key, hash)
) WITHOUT ROWID
"""
_LOW_SPACE = 16 << 20  # bytes: an I/O error with less than this free is a full disk
_QUERY_CHUNK = 500  # stays well under SQLite's bound-parameter limit

logger = logging.getLogger(__name__)


def content_hash(data: str | bytes) -> str:
    """sha256 hex digest of the UTF-8 text or the raw bytes."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BadInputError(f"content_hash takes str or bytes, not {type(data).__name__}")
    return hashlib.sha256(data).hexdigest()


def model_cache_key(spec: "ModelSpec", variant: str = "") -> str:
    """The cache key of a model's vectors: id@revision (or local:<fingerprint>), kind, variant, and a hash of the
    settings that change them (``architectures.vector_settings``: each architecture declares its own)."""
    if spec.revision:
        ident = f"{spec.model_id}@{spec.revision}"
    else:
        ident = f"local:{folder_fingerprint(Path(spec.model_id))}"
    from pokembed.embedding.architectures import vector_settings

    digest = hashlib.sha256(json.dumps(vector_settings(spec), sort_keys=True).encode()).hexdigest()[:16]
    return f"{ident}|{spec.kind}|d{spec.dimension}|{variant}|{digest}"


def _plain(value: object) -> object:
    """JSON for numpy scalars and arrays in an info dict."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite says the file itself is damaged (corrupt or not a database), not just unusable right now."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    return any(words in str(exc) for words in ("malformed", "not a database"))


def _decode_entry(shape: str, data: bytes, info: str) -> tuple[np.ndarray, dict] | None:
    """(vector, info) of one row, or None when the row is damaged."""
    try:
        dims = json.loads(shape)
        if not isinstance(dims, list) or not all(isinstance(d, int) and d > 0 for d in dims):
            return None
        if not isinstance(data, bytes) or len(data) != 4 * math.prod(dims):
            return None
        vector = np.frombuffer(data, dtype="<f4").reshape(dims).astype(np.float32)
        if not np.isfinite(vector).all():
            return None
        facts = json.loads(info)
        return (vector, facts) if isinstance(facts, dict) else None
    except (TypeError, ValueError):
        return None


class VectorCache:
    """SQLite cache of vectors: ``get_many`` returns hits, ``put_many`` stores and commits a chunk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._read_only = False
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            full = self._full_disk(exc)
            if full:
                logger.warning("cannot open the vector cache %s: %s; going on without caching vectors, so a rebuild "
                               "embeds them again: free space or pass a `cache_dir` on another disk", self.path, full)
                self._db = sqlite3.connect(":memory:")
                self._db.execute(_SCHEMA)
                self._read_only = True
                return
            if not _is_damage(exc):
                raise BadInputError(
                    f"vector cache {self.path} cannot be opened ({exc}); pass a writable `cache_dir`"
                ) from None
            self._start_afresh(exc)

    def _open(self) -> None:
        self._db = sqlite3.connect(self.path)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
            self._db.execute("SELECT hash FROM vectors LIMIT 1").fetchall()
        except sqlite3.DatabaseError:
            self._db.close()
            raise

    def _full_disk(self, exc: sqlite3.DatabaseError) -> str | None:
        """A few words when SQLite's error means the disk holding the cache is full (SQLite often says only
        "disk I/O error" when its journal cannot grow), else None."""
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if code is not None else None
        try:
            free = shutil.disk_usage(self.path.parent).free
        except OSError:
            free = None
        if primary == sqlite3.SQLITE_FULL or (primary in (sqlite3.SQLITE_IOERR, None) and free is not None
                                              and free < _LOW_SPACE):
            left = f", {free:,} bytes free" if free is not None else ""
            return f"the disk holding {self.path.parent} is full ({exc}{left})"
        return None

    def _start_afresh(self, exc: Exception) -> None:
        logger.warning("vector cache %s is damaged (%s); replacing it with an empty one, so its vectors are "
                       "embedded again", self.path, exc)
        try:
            self._db.close()
        except (AttributeError, sqlite3.Error):
            pass
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        try:
            self._open()
        except sqlite3.DatabaseError as again:
            raise BadInputError(
                f"vector cache {self.path} cannot be created ({again}); pass a writable `cache_dir`"
            ) from None

    def get_many(self, model_key: str, hashes: Sequence[str]) -> dict[str, tuple[np.ndarray, dict]]:
        """The cached (vector, info) of every hash that has one; misses (and damaged entries) are absent."""
        found: dict[str, tuple[np.ndarray, dict]] = {}
        bad: list[str] = []
        unique = list(dict.fromkeys(hashes))
        try:
            for start in range(0, len(unique), _QUERY_CHUNK):
                chunk = unique[start : start + _QUERY_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT hash, shape, data, info FROM vectors WHERE model_key = ? AND hash IN ({marks})",
                    [model_key, *chunk],
                ).fetchall()
                for digest, shape, data, info in rows:
                    entry = _decode_entry(shape, data, info)
                    if entry is None:
                        bad.append(digest)
                    else:
                        found[digest] = entry
        except sqlite3.DatabaseError as exc:
            if _is_damage(exc):
                self._start_afresh(exc)
            else:  # locked, I/O: nothing to repair; embed again this time
                logger.warning("cannot read the vector cache %s (%s); embedding without it", self.path, exc)
            return {}
        if bad:
            logger.warning("vector cache %s: dropping %d damaged entr%s (truncated, misshaped or not finite); they "
                           "are embedded again", self.path, len(bad), "y" if len(bad) == 1 else "ies")
            self._delete(model_key, bad)
        return found

    def put_many(self, model_key: str, items: Sequence[tuple[str, np.ndarray, dict]]) -> None:
        """Store (hash, vector, info) items, replacing earlier ones, in one committed transaction.

        A database that cannot be written (full disk, read-only) is warned about once and no longer written; the
        caller keeps its vectors in memory.
        """
        if self._read_only:
            return
        rows = []
        for digest, vector, info in items:
            array = np.ascontiguousarray(vector, dtype="<f4")
            rows.append((model_key, digest, json.dumps(list(array.shape)), array.tobytes(), json.dumps(info or {}, sort_keys=True, default=_plain)))
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors (model_key, hash, shape, data, info) VALUES (?, ?, ?, ?, ?)", rows
                )
        except sqlite3.DatabaseError as exc:
            self._read_only = True
            problem = self._full_disk(exc) or f"{type(exc).__name__}: {exc}"
            logger.warning("cannot write the vector cache %s (%s); going on without caching vectors, so a "
                           "rebuild embeds these again: free space or pass a writable `cache_dir`",
                           self.path, problem)

    def _delete(self, model_key: str, hashes: list[str]) -> None:
        try:
            with self._db:
                self._db.executemany("DELETE FROM vectors WHERE model_key = ? AND hash = ?",
                                     [(model_key, digest) for digest in hashes])
        except sqlite3.DatabaseError:
            pass  # they are re-embedded and replaced anyway

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def close(self) -> None:
        """Close the database (also done when the object is garbage-collected)."""
        self._db.close()

    def __enter__(self) -> "VectorCache":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
