"""The SQLite vector cache and its keys."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil

import numpy as np
import pytest

from pokembed.errors import BadInputError
from pokembed.embedding.registry import MODELS, get_model_spec
from pokembed.embedding.vector_cache import VectorCache, content_hash, folder_fingerprint, model_cache_key


def test_content_hash_is_sha256_of_utf8_or_bytes():
    assert content_hash("Pokémon") == hashlib.sha256("Pokémon".encode("utf-8")).hexdigest()
    assert content_hash(b"\x89PNG") == hashlib.sha256(b"\x89PNG").hexdigest()
    with pytest.raises(BadInputError, match=r"content_hash takes str or bytes, not int"):
        content_hash(3)


def test_round_trip_and_persistence(tmp_path):
    path = tmp_path / "cache" / "vectors.sqlite"
    rng = np.random.default_rng(0)
    items = [(content_hash(f"doc {i}"), rng.standard_normal(8).astype(np.float32), {"tokens": np.int32(i), "truncated": np.bool_(i % 2)}) for i in range(3)]
    with VectorCache(path) as cache:
        cache.put_many("model-a", items)
        assert len(cache) == 3
    reopened = VectorCache(path)
    hits = reopened.get_many("model-a", [items[0][0], items[2][0], content_hash("absent")])
    assert set(hits) == {items[0][0], items[2][0]}
    vector, info = hits[items[2][0]]
    assert vector.dtype == np.float32 and np.array_equal(vector, items[2][1])
    assert info == {"tokens": 2, "truncated": False}
    assert reopened.get_many("model-b", [items[0][0]]) == {}  # keys are per model
    reopened.close()


def test_put_replaces_and_keeps_shapes(tmp_path):
    cache = VectorCache(tmp_path / "v.sqlite")
    digest = content_hash("x")
    cache.put_many("m", [(digest, np.zeros(4, np.float32), {})])
    cache.put_many("m", [(digest, np.ones((2, 3), np.float64), {"n": 1})])
    vector, info = cache.get_many("m", [digest])[digest]
    assert vector.shape == (2, 3) and vector.dtype == np.float32 and vector.sum() == 6 and info == {"n": 1}
    assert len(cache) == 1


def test_many_hashes_in_one_call(tmp_path):
    cache = VectorCache(tmp_path / "v.sqlite")
    items = [(content_hash(str(i)), np.full(2, i, np.float32), {"i": i}) for i in range(1300)]
    cache.put_many("m", items)
    hits = cache.get_many("m", [digest for digest, _, _ in items] + [items[0][0]])
    assert len(hits) == 1300 and hits[items[1299][0]][1] == {"i": 1299}


def test_a_corrupt_cache_file_is_replaced_with_a_warning(tmp_path, caplog):
    path = tmp_path / "vectors.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with VectorCache(path) as cache:  # a cache only costs time: start afresh rather than stop the build
        assert len(cache) == 0
        cache.put_many("m", [("h", np.ones(4, dtype=np.float32), {})])
        assert set(cache.get_many("m", ["h"])) == {"h"}
    assert any("damaged" in r.getMessage() for r in caplog.records)


def test_model_cache_key_changes_with_what_changes_vectors():
    spec = MODELS["nomic-embed-text-v1.5"]
    key = model_cache_key(spec, "truncate")
    assert key.startswith("nomic-ai/nomic-embed-text-v1.5@" + spec.revision) and "|truncate|" in key
    assert model_cache_key(spec, "truncate") == key
    assert model_cache_key(spec, "chunk") != key
    for change in ({"revision": "0" * 40}, {"dimension": 256}, {"document_prompt": ""}, {"max_tokens": 2048},
                   {"layer_norm": False}, {"rope_scaling_factor": None}):
        assert model_cache_key(dataclasses.replace(spec, **change), "truncate") != key, change


def test_local_folders_are_keyed_by_content_not_path(tmp_path, tiny_models):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_models / "text", copy)
    original = get_model_spec(str(tiny_models / "text"), "text")
    copied = get_model_spec(str(copy), "text")
    assert model_cache_key(original) == model_cache_key(copied)
    assert model_cache_key(original).startswith(f"local:{folder_fingerprint(copy)}|text|")
    (copy / "pokembed.json").write_text((copy / "pokembed.json").read_text().replace("search_document: ", "doc: "))
    assert model_cache_key(get_model_spec(str(copy), "text")) != model_cache_key(original)
    with pytest.raises(BadInputError, match=r"model folder .* does not exist"):
        folder_fingerprint(tmp_path / "absent")
