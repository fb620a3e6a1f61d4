"""Faults and bad input, one section per class of issue 10: nothing of the user's lost, no cache poisoned, no
hang, one line for every mistake. The README's "Reliability" table points at these tests."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest

from test_artwork import BLUE, RED, ArtServer
from test_http import Server, answer, drip_body

from pokembed.sources.artwork import artwork_cache_dir, load_artwork
from pokembed.errors import BadInputError, SourceUnavailableError
from pokembed.sources.choice import load_source
from pokembed.dataset.facts import MARKER


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def graphql_body(records: list[dict], meta: list[dict] | None = None) -> dict:
    if meta is None:
        meta = [{"id": r.get("id"), "pokemon_species_id": r.get("id"), "is_default": True} for r in records]
    return {"data": {"pokemon": records, "meta": meta}}


def record(pokemon_id, name="bulbasaur", **fields) -> dict:
    return {"id": pokemon_id, "name": name, "height": 7,
            "pokemontypes": [{"type": {"name": "grass"}}],
            "pokemonspecy": {"generation": {"name": "generation-i"}}, **fields}


def json_answer(body: dict):
    return answer(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


# --- 1. the output folder is the user's too ----------------------------------------------------------------------


def _user_files(out: Path) -> dict[str, bytes]:
    """The user's files in an output folder: everything but README.md, .pokembed and data/*.parquet."""
    from pokembed.dataset.output_folder import is_owned

    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not is_owned(p.relative_to(out).as_posix())}


def _add_user_files(out: Path) -> dict[str, bytes]:
    import subprocess

    (out / "notes.md").write_text("my notes\n")
    (out / "figures").mkdir()
    (out / "figures" / "map.png").write_bytes(b"\x89PNG fake")
    (out / "data" / "extra.csv").write_text("a,b\n1,2\n")
    (out / ".gitattributes").write_text("*.parquet filter=lfs\n")
    subprocess.run(["git", "init", "-q", str(out)], check=True)
    (out / ".git" / "description").write_text("a clone of the Hub dataset repo\n")
    return _user_files(out)


def test_rebuild_keeps_user_files_and_git(tmp_path):
    from test_dataset import write

    out = tmp_path / "out"
    write(out)
    kept = _add_user_files(out)
    assert ".git/HEAD" in kept and "data/extra.csv" in kept
    write(out, card_text="# version two\n", marker={"version": "2.0.0"})
    assert (out / "README.md").read_text() == "# version two\n"
    assert _user_files(out) == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder, lock or leftovers


def test_a_symlinked_out_is_written_where_it_points(tmp_path):
    from test_dataset import write

    real = tmp_path / "elsewhere" / "dataset"
    write(real)
    (real / "notes.md").write_text("mine")
    link = tmp_path / "out"
    link.symlink_to(real, target_is_directory=True)
    write(link, card_text="# via the link\n")
    assert link.is_symlink() and (real / "README.md").read_text() == "# via the link\n"
    assert (real / "notes.md").read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == ["dataset"]


def test_crash_between_the_renames_is_finished_on_the_next_run(tmp_path, monkeypatch):
    """The state a kill between the two renames of the fallback swap leaves: no --out, a complete new folder and
    the old one aside. The next run finishes the swap instead of starting from nothing."""
    import pokembed.dataset.output_folder as output_folder
    from test_dataset import write

    out = tmp_path / "out"
    write(out, card_text="# version one\n")
    kept = _add_user_files(out)
    monkeypatch.setattr(output_folder, "_exchange", lambda a, b: False)  # a file system without RENAME_EXCHANGE
    real_rename = os.rename

    class Killed(BaseException):
        pass

    def rename(src, dst):
        real_rename(src, dst)
        if ".old-" in str(dst):
            raise Killed  # dies right after moving the old folder aside
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(output_folder.shutil, "rmtree", lambda *a, **k: None)  # a killed process cleans nothing
    with pytest.raises(Killed):
        write(out, card_text="# version two\n", marker={"version": "2.0.0"})
    monkeypatch.undo()
    assert not out.exists()
    names = sorted(p.name.split("-")[0] for p in tmp_path.iterdir())
    assert names == [".out.old", ".out.tmp"]
    from pokembed.dataset.output_folder import output_lock, recover

    with output_lock(out):
        recover(out)
    assert (out / "README.md").read_text() == "# version two\n"  # rolled forward: the new version is whole
    assert _user_files(out) == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_leftovers_are_cleaned_and_a_second_writer_gets_one_line(tmp_path):
    from pokembed.dataset.output_folder import output_lock
    from test_dataset import write

    out = tmp_path / "out"
    write(out)
    for name in (".out.tmp-dead0001", ".out.old-dead0002"):
        (tmp_path / name / "data").mkdir(parents=True)
    with output_lock(out):
        with pytest.raises(BadInputError, match=rf"another build \(pid {os.getpid()}\) is writing .*out") as info:
            write(out, card_text="# racing\n")
    assert "\n" not in str(info.value) and (out / "README.md").read_text() != "# racing\n"
    write(out, card_text="# after\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_three_concurrent_cli_builds_one_wins_the_others_say_why(tmp_path, csv_fixture, artwork_fixture, tiny_models):
    import subprocess
    import sys

    from conftest import ROOT, build_args

    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "build_dataset.py"),
           *build_args(csv_fixture, artwork_fixture, tiny_models, out, "--limit", "6", "--quiet")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0, results
    for code, err in results:
        if code:
            assert code == 1 and err.strip().startswith("Error: another build") and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".pokembed-cache")) == ["out"]
    assert (out / MARKER).is_file()
    # While another writer holds the folder, a build stops at once with one line (deterministic, unlike the race).
    from pokembed.dataset.output_folder import output_lock

    with output_lock(out):
        blocked = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert blocked.returncode == 1 and blocked.stderr.count("\n") == 1, blocked.stderr
    assert blocked.stderr.startswith(f"Error: another build (pid {os.getpid()}) is writing {out}")


# --- 2. caches never remember failures ---------------------------------------------------------------------------


def test_artwork_404_and_html_are_not_remembered(tmp_path, caplog):
    cache = tmp_path / "cache"
    responses = {1: [(200, RED)], 4: [(404, b"not found"), (200, BLUE)], 5: [(200, b"<html>oops</html>"), (200, RED)]}
    with ArtServer(responses) as server, caplog.at_level(logging.WARNING):
        first = load_artwork([1, 4, 5], server.template, cache_dir=cache, backoff=0.0, progress=False)
        assert first.missing == [4, 5] and first.corrupt == [5]
        assert any("404" in r.getMessage() and "4" in r.getMessage() for r in caplog.records), "404s are warned"
        # The server is fixed. The HTML answer was never cached: it is asked again at once.
        second = load_artwork([1, 4, 5], server.template, cache_dir=cache, backoff=0.0, progress=False)
        assert list(second.images) == [1, 5] and second.missing == [4]
        assert server.hits[5] == 2 and server.hits[1] == 1
        # A 404 is remembered for a while only: --refresh asks again ...
        third = load_artwork([1, 4, 5], server.template, cache_dir=cache, refresh=True, backoff=0.0, progress=False)
        assert list(third.images) == [1, 4, 5] and third.missing == []
        assert server.hits[4] == 2


def test_artwork_404_marker_expires(tmp_path):
    cache = tmp_path / "cache"
    with ArtServer({4: [(404, b"not found"), (200, BLUE)]}) as server:
        assert load_artwork([4], server.template, cache_dir=cache, progress=False).missing == [4]
        assert load_artwork([4], server.template, cache_dir=cache, progress=False).missing == [4]
        assert server.hits[4] == 1  # remembered within a day: a rebuild makes no request
        marker = artwork_cache_dir(cache, server.template) / "4.missing"
        old = time.time() - 2 * 86400
        os.utime(marker, (old, old))
        assert list(load_artwork([4], server.template, cache_dir=cache, progress=False).images) == [4]
        assert server.hits[4] == 2


def test_graphql_response_is_checked_before_it_is_cached(tmp_path):
    bad = graphql_body([record(1), {"id": 2, "height": 10}])  # no name
    good = graphql_body([record(1), record(2, "ivysaur")])
    with Server([json_answer(bad), json_answer(good)]) as server:
        with pytest.raises(SourceUnavailableError, match=r"Pokémon 2 .*'name'") as info:
            load_source(f"graphql:{server.url}", cache_dir=tmp_path, progress=False)
        assert "\n" not in str(info.value)
        assert not list((tmp_path / "source").glob("*.json")) if (tmp_path / "source").exists() else True
        data = load_source(f"graphql:{server.url}", cache_dir=tmp_path, progress=False)
        assert [r["name"] for r in data.records] == ["bulbasaur", "ivysaur"] and server.hits == 2


def test_graphql_mistyped_species_id_is_refused_before_caching(tmp_path):
    body = graphql_body([record(1), record(4, "charmander")],
                        [{"id": 1, "pokemon_species_id": 1, "is_default": True},
                         {"id": 4, "pokemon_species_id": "four", "is_default": True}])
    with Server([json_answer(body)]) as server:
        with pytest.raises(SourceUnavailableError, match=r"Pokémon 4 .*pokemon_species_id.*'four'"):
            load_source(f"graphql:{server.url}", cache_dir=tmp_path, progress=False)
    assert not (tmp_path / "source").exists() or not list((tmp_path / "source").glob("*.json"))


def test_a_bad_cached_graphql_response_is_not_replayed(tmp_path, caplog):
    from pokembed.sources import graphql as pokeapi_graphql
    from pokembed.sources.choice import QUERY

    good = graphql_body([record(1), record(2, "ivysaur")])
    with Server([json_answer(good)]) as server:
        # A cache written by an older pokembed that did not check: a record with a null name.
        path = pokeapi_graphql.cache_path(tmp_path, server.url)
        path.parent.mkdir(parents=True)
        query = pokeapi_graphql.query_for_url(QUERY, server.url)
        import hashlib

        path.write_text(json.dumps({
            "url": server.url, "query_sha256": hashlib.sha256(query.encode()).hexdigest(),
            "fetched_at": "2024-01-01T00:00:00Z", "response": graphql_body([record(1), record(2, None)]),
        }))
        with caplog.at_level(logging.WARNING):
            data = load_source(f"graphql:{server.url}", cache_dir=tmp_path, progress=False)
        assert [r["name"] for r in data.records] == ["bulbasaur", "ivysaur"] and server.hits == 1
        assert any("cached" in r.getMessage() for r in caplog.records)


# --- 3. bad records are refused before work starts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "meta", "message"),
    [
        ([record(1), record(2, "ivysaur"), record(2, "ivysaur")], None, r"Pokémon 2 .*more than once"),
        ([record(1), record(2, None)], None, r"Pokémon 2 .*'name'.*null"),
        ([record(1), record(2, 7)], None, r"Pokémon 2 .*'name'.*7"),
        ([record(1), record(None)], None, r"'id'.*null"),
        ([record(1), record("2")], None, r"'id'.*'2'"),
        ([record(1), record(2, pokemontypes=[{"type": {"name": 5}}])], None, r"Pokémon 2 .*pokemontypes"),
        ([record(1)], [{"id": 1, "pokemon_species_id": 1, "is_default": "yes"}], r"Pokémon 1 .*is_default"),
        ([record(1)], [{"id": 1, "pokemon_species_id": None, "is_default": True}], r"Pokémon 1 .*species"),
    ],
)
def test_graphql_bad_records_name_id_and_field(tmp_path, records, meta, message):
    with Server([json_answer(graphql_body(records, meta))]) as server:
        with pytest.raises(SourceUnavailableError, match=message) as info:
            load_source(f"graphql:{server.url}", cache_dir=tmp_path, progress=False)
    assert "\n" not in str(info.value)


def test_csv_duplicate_id_is_refused(tmp_path, csv_fixture):
    import shutil

    folder = tmp_path / "csv"
    shutil.copytree(csv_fixture, folder)
    lines = (folder / "pokemon.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    second = next(line for line in lines[1:] if line.startswith("2,"))
    (folder / "pokemon.csv").write_text("".join(lines) + second, encoding="utf-8")
    with pytest.raises(BadInputError, match=r"Pokémon 2 .*more than once.*pokemon\.csv"):
        load_source(f"csv:{folder}", progress=False)


def test_cli_refuses_bad_records_before_any_work(tmp_path, csv_fixture, tiny_models, capsys):
    import shutil

    from conftest import load_cli

    folder = tmp_path / "csv"
    shutil.copytree(csv_fixture, folder)
    text = (folder / "pokemon.csv").read_text(encoding="utf-8")
    (folder / "pokemon.csv").write_text(text.replace("\n2,ivysaur,", "\n1,ivysaur,", 1), encoding="utf-8")
    art = tmp_path / "art"
    art.mkdir()
    code = load_cli().main(["--source", f"csv:{folder}", "--artwork", str(art), "--out", str(tmp_path / "out"),
                            "--cache-dir", str(tmp_path / "cache"), "--text-model", str(tiny_models / "text"),
                            "--image-model", str(tiny_models / "image"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Pokémon 1" in err and "more than once" in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache" / "artwork").exists()


# --- 4. file system faults: one line, early where possible -------------------------------------------------------


def _config(tmp_path, **kw):
    from pokembed.pipeline import BuildConfig

    return BuildConfig(out=tmp_path / "out", source=f"csv:{tmp_path / 'no-such-csv'}", artwork=str(tmp_path),
                       text_model=str(tmp_path / "no-model"), image_model=str(tmp_path / "no-model"),
                       progress=False, **kw)


def test_bad_cache_dir_is_refused_before_any_work(tmp_path):
    from pokembed.pipeline import build

    (tmp_path / "cachefile").write_text("x")
    with pytest.raises(BadInputError, match=r"`cache_dir` .*cachefile is a file, not a folder"):
        build(_config(tmp_path, cache_dir=tmp_path / "cachefile"))
    with pytest.raises(BadInputError, match=r"`cache_dir` .*out/cache is inside `out` .*put the cache elsewhere"):
        build(_config(tmp_path, cache_dir=tmp_path / "out" / "cache"))
    (tmp_path / "outfile").write_text("x")
    with pytest.raises(BadInputError, match=r"`out` .*outfile is a file"):
        build(_config(tmp_path, cache_dir=tmp_path / "c").__class__(**{**_config(tmp_path).__dict__,
                                                                         "out": tmp_path / "outfile"}))


@pytest.mark.parametrize("which", ["`out`", "`cache_dir`"])
def test_unwritable_folders_are_refused_before_any_work(tmp_path, monkeypatch, which):
    import errno
    import tempfile

    from pokembed.pipeline import build

    readonly = tmp_path / "ro"
    readonly.mkdir()
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):  # as root, chmod does not stop writes: simulate a read-only mount
        if dir is not None and Path(dir).is_relative_to(readonly):
            raise OSError(errno.EROFS, "Read-only file system", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    config = _config(tmp_path, cache_dir=tmp_path / "cache")
    if which == "`out`":
        config = config.__class__(**{**config.__dict__, "out": readonly / "out"})
    else:
        config = config.__class__(**{**config.__dict__, "cache_dir": readonly / "cache"})
    with pytest.raises(BadInputError, match=rf"{which} .* is not writable \(read-only file system") as info:
        build(config)
    assert "\n" not in str(info.value)


def test_full_disk_for_the_output_is_one_line_and_keeps_the_old_output(tmp_path, monkeypatch):
    import errno

    import pyarrow.parquet as pq

    from test_dataset import snapshot, write

    out = tmp_path / "out"
    write(out)
    before = snapshot(out)

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    with pytest.raises(BadInputError, match=r"cannot write the dataset to .*no space left on the device.*untouched"):
        write(out, card_text="# new\n")
    assert snapshot(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_full_disk_for_the_artwork_cache_warns_once_and_goes_on(tmp_path, monkeypatch, caplog):
    import errno

    import pokembed.sources.artwork as artwork
    from test_artwork import png_bytes, sprite

    folder = tmp_path / "art"
    folder.mkdir()
    for i in (1, 2, 3):
        (folder / f"{i}.png").write_bytes(png_bytes(sprite((i * 60, 0, 0))))

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(artwork, "write_atomic", full)
    with caplog.at_level(logging.WARNING):
        result = load_artwork([1, 2, 3], str(folder), cache_dir=tmp_path / "cache", workers=1, progress=False)
    assert list(result.images) == [1, 2, 3]
    warnings = [r.getMessage() for r in caplog.records if "artwork cache" in r.getMessage()]
    assert len(warnings) == 1 and "no space left" in warnings[0]


def test_full_vector_database_keeps_the_embeddings_just_computed(tmp_path, caplog):
    import numpy as np

    from pokembed.embedding.cached import embed_cached
    from pokembed.embedding.vector_cache import VectorCache

    cache = VectorCache(tmp_path / "vectors.sqlite")
    cache._db.execute("PRAGMA max_page_count = 16")  # past 16 pages SQLite answers "database or disk is full"
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((40, 256)).astype(np.float32)

    def embed(positions):
        return vectors[positions], [{} for _ in positions]

    keys = [f"{i:064x}" for i in range(40)]
    with caplog.at_level(logging.WARNING):
        got, _, embedded = embed_cached(keys, cache=cache, model_key="m", embed=embed, chunk=10)
    assert embedded == 40 and np.array_equal(got, vectors)
    assert any("full" in r.getMessage() for r in caplog.records)
    # What fitted stays cached and readable.
    assert 0 < len(cache.get_many("m", keys)) < 40


# --- 5. a damaged previous output never blocks a rebuild ---------------------------------------------------------


@pytest.mark.parametrize("damage", ["marker", "parquet"])
def test_damaged_previous_output_does_not_block_a_rebuild(tmp_path, built_dataset, csv_fixture, artwork_fixture,
                                                          tiny_models, damage, caplog):
    import shutil

    from conftest import build_args, load_cli

    out = tmp_path / "dataset"
    shutil.copytree(built_dataset, out)
    (out / "notes.txt").write_text("mine")
    if damage == "marker":
        (out / MARKER).write_text('{"version": "0.1.0", "coun')
    else:
        parquet = out / "data" / "train-00000-of-00001.parquet"
        parquet.write_bytes(parquet.read_bytes()[:1000])
    code = load_cli().main(build_args(csv_fixture, artwork_fixture, tiny_models, out, "--version", "0.2.0",
                                      "--cache-dir", str(built_dataset.parent / ".pokembed-cache"), "--quiet"))
    assert code == 0
    assert json.loads((out / MARKER).read_text())["version"] == "0.2.0"
    assert (out / "notes.txt").read_text() == "mine"
    assert any("damaged" in r.getMessage() for r in caplog.records)


# --- 6. no hangs -------------------------------------------------------------------------------------------------


def test_graphql_dripping_server_ends_at_the_deadline():
    # One byte every 0.3 s: every read is far inside any per-read timeout; only a total deadline ends it.
    with Server([drip_body(0.3, size=1000)]) as server:
        started = time.monotonic()
        with pytest.raises(SourceUnavailableError, match=r"did not answer within 1\.5 s"):
            load_source(f"graphql:{server.url}", timeout=1.5, progress=False)
        assert time.monotonic() - started < 3.0


def test_artwork_dripping_server_ends_at_the_deadline():
    with Server([drip_body(0.3, size=1000)]) as server:
        template = server.url + "/{id}.png"
        started = time.monotonic()
        with pytest.raises(SourceUnavailableError, match=r"cannot download artwork .*deadline"):
            load_artwork([1], template, timeout=1.0, progress=False)
        assert time.monotonic() - started < 3.0


def test_artwork_entries_that_are_not_regular_files_are_missing_with_a_warning(tmp_path, caplog):
    from test_artwork import png_bytes, sprite

    folder = tmp_path / "art"
    folder.mkdir()
    (folder / "1.png").write_bytes(png_bytes(sprite((255, 0, 0))))
    os.mkfifo(folder / "5.png")  # reading it would block for ever
    (folder / "6.png").mkdir()
    os.symlink(folder / "7.png", folder / "7.png")  # a loop onto itself
    os.symlink(folder / "8-target.png", folder / "8.png")  # dangling: simply missing
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        result = load_artwork([1, 5, 6, 7, 8], str(folder), cache_dir=tmp_path / "cache", progress=False)
    assert time.monotonic() - started < 5
    assert list(result.images) == [1] and result.missing == [5, 6, 7, 8]
    text = " ".join(r.getMessage() for r in caplog.records)
    for name in ("5.png", "6.png", "7.png"):
        assert name in text, f"no warning names {name}"


# --- 7. images as they are ---------------------------------------------------------------------------------------


def _png(image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_16_bit_grayscale_is_scaled_not_blanked():
    import numpy as np
    from PIL import Image

    from pokembed.sources.artwork import preprocess_artwork

    levels = np.full((64, 64), 257 * 40, dtype=np.uint16)  # dark grey 40/255 in 16 bits
    levels[:, 32:] = 257 * 200
    image = Image.fromarray(levels)
    assert image.mode == "I;16"
    out = np.asarray(preprocess_artwork(_png(image)))
    assert tuple(out[112, 10]) == (40, 40, 40) and tuple(out[112, 210]) == (200, 200, 200)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr",
                                  "HSV", "LAB", "I", "F", "I;16", "I;16B"])
def test_every_mode_gives_the_colour_it_means(mode):
    """A mid-grey (or its mode's closest) square in every Pillow mode comes out as that grey, opaque, 224x224."""
    import numpy as np
    from PIL import Image

    from pokembed.sources.artwork_images import _to_rgba

    grey = {"1": 255, "F": 0.5}.get(mode, 128)
    values = {"L": 128, "LA": (128, 255), "La": (128, 255), "P": 0, "PA": (0, 255), "RGB": (128,) * 3,
              "RGBA": (128, 128, 128, 255), "RGBa": (128, 128, 128, 255), "RGBX": (128, 128, 128, 0),
              "CMYK": (0, 0, 0, 127), "YCbCr": (128, 128, 128), "HSV": (0, 0, 128), "LAB": (137, 128, 128),
              "I": 128 * 257, "F": grey, "I;16": 128 * 257, "I;16B": 128 * 257, "1": 1}
    image = Image.new(mode, (8, 8), values[mode])
    if mode in ("P", "PA"):
        image.putpalette([128, 128, 128] * 256)
    rgba = np.asarray(_to_rgba(image))
    expected = 255 if mode == "1" else 128
    assert rgba.shape == (8, 8, 4) and (rgba[..., 3] == 255).all(), mode
    assert np.abs(rgba[..., :3].astype(int) - expected).max() <= 2, (mode, rgba[0, 0])


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_huge_image_is_refused_from_its_header_before_decoding():
    import tracemalloc

    from PIL import Image

    from pokembed.sources.artwork import preprocess_artwork

    bomb = _png(Image.new("L", (12000, 12000), 255))  # about 150 kB of PNG, 144 megapixels
    tracemalloc.start()
    with pytest.raises(BadInputError, match=r"12000x12000 pixels is larger than"):
        preprocess_artwork(bomb)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 << 20, f"decoding started: {peak} bytes"


def test_concurrent_decodes_stay_within_the_pixel_budget(monkeypatch, tmp_path):
    import threading

    from PIL import Image

    import pokembed.sources.artwork as artwork
    import pokembed.sources.artwork_images as artwork_images

    folder = tmp_path / "art"
    folder.mkdir()
    for i in range(1, 9):
        Image.new("RGB", (1000, 1000), (i * 20, 0, 0)).save(folder / f"{i}.png")
    monkeypatch.setattr(artwork, "DECODE_PIXEL_BUDGET", 2_000_000)  # two of these images at once
    in_flight, peak, lock = [0], [0], threading.Lock()
    real = artwork_images._to_rgba

    def counting(image):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.05)
        try:
            return real(image)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(artwork_images, "_to_rgba", counting)
    result = load_artwork(list(range(1, 9)), str(folder), cache_dir=None, workers=8, progress=False)
    assert len(result.images) == 8 and peak[0] == 2


# --- 8. CSV tables -----------------------------------------------------------------------------------------------


def _csv_copy(tmp_path, csv_fixture) -> Path:
    import shutil

    folder = tmp_path / "csv"
    shutil.copytree(csv_fixture, folder)
    return folder


def test_csv_non_utf8_byte_names_file_and_line(tmp_path, csv_fixture):
    folder = _csv_copy(tmp_path, csv_fixture)
    path = folder / "types.csv"
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b",", b"\xe9,", 1)  # a Latin-1 é in the first 8 kB
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(BadInputError, match=r"types\.csv is not UTF-8 \(byte 0xe9 on line 4, ") as info:
        load_source(f"csv:{folder}", progress=False)
    assert "\n" not in str(info.value)


def test_csv_utf16_names_file(tmp_path, csv_fixture):
    folder = _csv_copy(tmp_path, csv_fixture)
    path = folder / "stats.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(BadInputError, match=r"stats\.csv is UTF-16.*convert it to UTF-8"):
        load_source(f"csv:{folder}", progress=False)


def test_csv_unclosed_quote_names_the_line_it_starts_on(tmp_path, csv_fixture):
    folder = _csv_copy(tmp_path, csv_fixture)
    path = folder / "pokemon_species_flavor_text.csv"
    header, rest = path.read_text(encoding="utf-8").split("\n", 1)
    filler = "\n".join(f"1,1,9,{'x' * 2000}" for _ in range(1500))  # > DuckDB's 2 MB line limit once joined
    path.write_text(f"{header}\n{rest}1,1,9,\"never closed\n{filler}\n", encoding="utf-8")
    opened_on = 2 + rest.count("\n")
    with pytest.raises(BadInputError, match=rf"pokemon_species_flavor_text\.csv: a quoted cell opened on line "
                                            rf"{opened_on} never closes") as info:
        load_source(f"csv:{folder}", progress=False)
    assert "\n" not in str(info.value)


def test_csv_non_integer_cell_names_file_column_and_row(tmp_path, csv_fixture):
    folder = _csv_copy(tmp_path, csv_fixture)
    path = folder / "pokemon_stats.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    cells = lines[5].split(",")
    cells[2] = "fifty"
    lines[5] = ",".join(cells)
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(BadInputError, match=r"pokemon_stats\.csv, column base_stat, row 5: 'fifty' is not an "
                                            r"integer"):
        load_source(f"csv:{folder}", progress=False)


# --- 9. cached vectors -------------------------------------------------------------------------------------------


def test_truncated_and_nan_vectors_are_dropped_and_embedded_again(tmp_path, caplog):
    import numpy as np

    from pokembed.embedding.cached import embed_cached
    from pokembed.embedding.vector_cache import VectorCache

    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((20, 16)).astype(np.float32)
    keys = [f"{i:064x}" for i in range(20)]
    calls: list[list[int]] = []

    def embed(positions):
        calls.append(list(positions))
        return vectors[positions], [{"n": int(p)} for p in positions]

    with VectorCache(tmp_path / "v.sqlite") as cache:
        embed_cached(keys, cache=cache, model_key="m", embed=embed)
        cache._db.execute("UPDATE vectors SET data = substr(data, 1, 10) WHERE hash = ?", (keys[3],))
        cache._db.execute("UPDATE vectors SET data = ? WHERE hash = ?",
                          (np.full(16, np.nan, dtype="<f4").tobytes(), keys[7]))
        cache._db.commit()
        calls.clear()
        with caplog.at_level(logging.WARNING):
            got, infos, embedded = embed_cached(keys, cache=cache, model_key="m", embed=embed)
        assert embedded == 2 and sorted(calls[0]) == [3, 7]
        assert np.array_equal(got, vectors) and infos[3] == {"n": 3}
        assert any("2 damaged entries" in r.getMessage() for r in caplog.records)
        calls.clear()
        embed_cached(keys, cache=cache, model_key="m", embed=embed)
        assert calls == []  # replaced: the next build reuses them


def test_garbage_in_a_page_of_the_vector_database(tmp_path, caplog):
    import numpy as np

    from pokembed.embedding.cached import embed_cached
    from pokembed.embedding.vector_cache import VectorCache

    path = tmp_path / "v.sqlite"
    vectors = np.random.default_rng(2).standard_normal((300, 64)).astype(np.float32)
    keys = [f"{i:064x}" for i in range(300)]

    def embed(positions):
        return vectors[positions], [{} for _ in positions]

    with VectorCache(path) as cache:
        embed_cached(keys, cache=cache, model_key="m", embed=embed)
        cache._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    assert len(data) > 20 * 4096
    data[10 * 4096: 12 * 4096] = os.urandom(2 * 4096)  # two pages of the b-tree become noise
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING), VectorCache(path) as cache:
        got, _, embedded = embed_cached(keys, cache=cache, model_key="m", embed=embed)
        assert np.array_equal(got, vectors) and embedded > 0
        assert len(cache.get_many("m", keys)) == 300  # a working database again
    assert any("damaged" in r.getMessage() for r in caplog.records)


# --- 10. half-finished pushes ------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
def test_commit_landed_tag_did_not_says_so_and_how_to_finish(tmp_path, monkeypatch):
    import httpx
    from huggingface_hub import HfApi

    from fake_hub import FakeHub, isolate_hub_env
    from test_publish import REPO, TOKEN, make_out_dir

    from pokembed.errors import PublishError
    from pokembed.hub.publish import push

    isolate_hub_env(monkeypatch, tmp_path / "hf-home")

    def tag_fails(self, *args, **kwargs):
        raise httpx.ConnectError("connection reset while tagging")

    with FakeHub(token=TOKEN) as hub:
        monkeypatch.setattr(HfApi, "create_tag", tag_fails)
        with pytest.raises(PublishError) as info:
            push(make_out_dir(tmp_path / "out"), REPO, "0.1.0", token=TOKEN, endpoint=hub.endpoint)
        repo = hub.repo(REPO)
        oid = repo.head.oid
        message = str(info.value)
        assert f"the commit {oid} landed on {REPO} but the tag v0.1.0 was not created" in message
        assert f"hf repos tag create {REPO} v0.1.0 --revision {oid} --repo-type dataset" in message
        assert "\n" not in message and TOKEN not in message and repo.tags == {}
        monkeypatch.undo()
        isolate_hub_env(monkeypatch, tmp_path / "hf-home")
        HfApi(endpoint=hub.endpoint, token=TOKEN).create_tag(REPO, tag="v0.1.0", revision=oid, repo_type="dataset")
        assert hub.repo(REPO).tags == {"v0.1.0": oid}  # the command it names finishes the push


def test_an_unopenable_vector_database_is_never_deleted(tmp_path, monkeypatch):
    import sqlite3

    import numpy as np

    from pokembed.embedding.vector_cache import VectorCache

    path = tmp_path / "v.sqlite"
    with VectorCache(path) as cache:
        cache.put_many("m", [("h", np.ones(4, dtype=np.float32), {})])
    size = path.stat().st_size
    def unopenable(*args, **kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(sqlite3, "connect", unopenable)
    with pytest.raises(BadInputError, match=r"vector cache .* cannot be opened"):
        VectorCache(path)
    assert path.stat().st_size == size  # not a damaged file: kept as it is


# --- 11. one HTTP policy -----------------------------------------------------------------------------------------


def test_graphql_and_artwork_share_one_session_factory(monkeypatch, tmp_path):
    import pokembed.http

    made = []
    real = pokembed.http.make_session

    def counting(*args, **kwargs):
        made.append(args[0] if args else kwargs.get("policy"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pokembed.http, "make_session", counting)
    good = graphql_body([record(1)])
    with Server([answer(503, b"busy", {"Retry-After": "0"}), json_answer(good)]) as server:
        load_source(f"graphql:{server.url}", progress=False)
        assert server.hits == 2
    with ArtServer({1: [(503, b"busy"), (200, RED)]}) as art:
        assert list(load_artwork([1], art.template, progress=False).images) == [1]
        assert art.hits[1] == 2
    assert len(made) == 2 and all(isinstance(p, pokembed.http.HttpPolicy) for p in made)
