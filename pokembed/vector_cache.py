"""Resumable vectors: an SQLite file of embeddings keyed by model and content hash.

A row is (model_key, content hash) -> float32 bytes + shape + a small JSON of per-item facts (token count,
truncation). ``model_key`` comes from ``model_cache_key``: it names the model id and revision (or, for a local
folder, a fingerprint of its files) and every spec setting that changes the vectors, plus a caller's variant (the
long-document mode), so a changed setting never reuses a stale vector. Each ``put_many`` is one committed
transaction, so a build that stops part-way keeps every chunk it finished. Deleting the file costs only time.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pokembed.errors import BadInputError

if TYPE_CHECKING:
    from pokembed.models import ModelSpec

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
_QUERY_CHUNK = 500  # stays well under SQLite's bound-parameter limit


def content_hash(data: str | bytes) -> str:
    """sha256 hex digest of the UTF-8 text or the raw bytes."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BadInputError(f"content_hash takes str or bytes, not {type(data).__name__}")
    return hashlib.sha256(data).hexdigest()


def model_cache_key(spec: "ModelSpec", variant: str = "") -> str:
    """The cache key of a model's vectors: id@revision (or local:<fingerprint>), kind, variant, settings hash."""
    if spec.revision:
        ident = f"{spec.model_id}@{spec.revision}"
    else:
        ident = f"local:{folder_fingerprint(Path(spec.model_id))}"
    settings = {
        "architecture": spec.architecture,
        "pooling": spec.pooling,
        "document_prompt": spec.document_prompt,
        "dimension": spec.dimension,
        "max_tokens": spec.max_tokens,
        "layer_norm": spec.layer_norm,
        "rope_scaling_factor": spec.rope_scaling_factor,
        "trained_positions": spec.trained_positions,
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return f"{ident}|{spec.kind}|d{spec.dimension}|{variant}|{digest}"


def folder_fingerprint(folder: Path) -> str:
    """sha256 over the names and bytes of a local model folder's files (hidden files skipped), first 16 hex digits."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError(f"model folder {folder} does not exist; pass an existing folder")
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _plain(value: object) -> object:
    """JSON for numpy scalars and arrays in an info dict."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class VectorCache:
    """SQLite cache of vectors: ``get_many`` returns hits, ``put_many`` stores and commits a chunk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise BadInputError(
                f"vector cache {self.path} is not a usable SQLite database ({exc}); delete it (it only costs time)"
            ) from exc

    def get_many(self, model_key: str, hashes: Sequence[str]) -> dict[str, tuple[np.ndarray, dict]]:
        """The cached (vector, info) of every hash that has one; misses are simply absent."""
        found: dict[str, tuple[np.ndarray, dict]] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), _QUERY_CHUNK):
            chunk = unique[start : start + _QUERY_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT hash, shape, data, info FROM vectors WHERE model_key = ? AND hash IN ({marks})",
                [model_key, *chunk],
            )
            for digest, shape, data, info in rows:
                vector = np.frombuffer(data, dtype="<f4").reshape(json.loads(shape)).astype(np.float32)
                found[digest] = (vector, json.loads(info))
        return found

    def put_many(self, model_key: str, items: Sequence[tuple[str, np.ndarray, dict]]) -> None:
        """Store (hash, vector, info) items, replacing earlier ones, in one committed transaction."""
        rows = []
        for digest, vector, info in items:
            array = np.ascontiguousarray(vector, dtype="<f4")
            rows.append((model_key, digest, json.dumps(list(array.shape)), array.tobytes(), json.dumps(info or {}, sort_keys=True, default=_plain)))
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (model_key, hash, shape, data, info) VALUES (?, ?, ?, ?, ?)", rows
            )

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def close(self) -> None:
        """Close the database (also done when the object is garbage-collected)."""
        self._db.close()

    def __enter__(self) -> "VectorCache":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
