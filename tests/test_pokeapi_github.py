"""pokeapi:REF against a local server playing GitHub: download, verify, cache; auto's fallback; shared data."""

from __future__ import annotations

import hashlib
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fake_github import FakeGitHub

from pokembed.sources.documents import document_text
from pokembed.errors import BadInputError, SourceUnavailableError
from pokembed.sources.csv_tables import TABLES
from pokembed.sources.choice import load_source, parse_source
from conftest import SHARED
from pokembed.dataset.facts import MARKER

SHA = hashlib.sha1(b"pokeapi at some commit").hexdigest()
SHARED_CSV = SHARED / "pokeapi" / "csv"
FAST = {"retries": 2, "backoff": 0.0, "timeout": 20.0, "progress": False}


@pytest.fixture
def github(csv_fixture, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    for path in csv_fixture.iterdir():
        (served / path.name).write_bytes(path.read_bytes())
    (served / "languages.csv").write_bytes(b"id,iso639\n9,en\n")  # a table the records do not need
    with FakeGitHub(served, refs={"main": SHA}) as server:
        yield server


def documents(data) -> list[str]:
    return [document_text(record) for record in data.records]


def test_parse_pokeapi_refs():
    assert parse_source("pokeapi:main") == ("pokeapi", "main")
    assert parse_source(f"pokeapi: {SHA} ") == ("pokeapi", SHA)
    assert parse_source("auto") == ("auto", "")
    for bad in ("pokeapi:", "pokeapi:a b", "pokeapi:../x", "pokeapi:-x"):
        with pytest.raises(BadInputError, match=r"pokeapi:|unknown source"):
            parse_source(bad)


def test_tables_download_verify_and_cache(github, csv_fixture, tmp_path):
    cache = tmp_path / "cache"
    data = load_source("pokeapi:main", cache_dir=cache, github=github.endpoints(), **FAST)
    expected = load_source(f"csv:{csv_fixture}", progress=False)
    assert documents(data) == documents(expected) and data.meta == expected.meta
    assert (data.source, data.data_version, data.note) == (f"pokeapi:{SHA}", SHA, None)
    assert sorted(github.raw_requests()) == sorted(f"{name}.csv" for name in TABLES)  # only what the query needs
    folder = cache / "source" / f"pokeapi-{SHA}"
    for name in TABLES:
        assert (folder / f"{name}.csv").read_bytes() == (csv_fixture / f"{name}.csv").read_bytes()
    assert not list(folder.glob(".*part"))

    github.requests.clear()  # the same commit again: every table comes from the cache, no download
    again = load_source(f"pokeapi:{SHA}", cache_dir=cache, github=github.endpoints(), **FAST)
    assert documents(again) == documents(expected) and github.requests == []

    (folder / "pokemon.csv").write_bytes(b"id,identifier\n")  # a damaged cached table is fetched again
    again = load_source(f"pokeapi:{SHA}", cache_dir=cache, github=github.endpoints(), **FAST)
    assert documents(again) == documents(expected) and github.raw_requests() == ["pokemon.csv"]


def test_main_is_resolved_each_time(github, tmp_path):
    load_source("pokeapi:main", cache_dir=tmp_path, github=github.endpoints(), **FAST)
    assert "/api/repos/PokeAPI/pokeapi/commits/main" in github.requests


def test_truncated_table_is_refused_by_name(github, tmp_path):
    github.truncate.add("pokemon_moves.csv")
    with pytest.raises(SourceUnavailableError, match=r"table pokemon_moves\.csv .* bytes, not the .* GitHub lists"):
        load_source("pokeapi:main", cache_dir=tmp_path, github=github.endpoints(), **FAST)
    assert github.raw_requests().count("pokemon_moves.csv") == FAST["retries"] + 1
    assert not (tmp_path / "source" / f"pokeapi-{SHA}" / "pokemon_moves.csv").exists()  # nothing unverified cached


def test_mismatching_table_is_refused_by_name(github, tmp_path):
    github.corrupt.add("types.csv")
    with pytest.raises(SourceUnavailableError, match=r"table types\.csv .* does not match its git blob sha1"):
        load_source("pokeapi:main", cache_dir=tmp_path, github=github.endpoints(), **FAST)
    assert not (tmp_path / "source" / f"pokeapi-{SHA}" / "types.csv").exists()


def test_transient_errors_are_retried(github, csv_fixture, tmp_path):
    github.fail["pokemon.csv"] = 2
    data = load_source("pokeapi:main", cache_dir=tmp_path, github=github.endpoints(), **FAST)
    assert documents(data) == documents(load_source(f"csv:{csv_fixture}", progress=False))
    assert github.raw_requests().count("pokemon.csv") == 3


def test_unknown_ref_and_missing_table(github, tmp_path):
    with pytest.raises(SourceUnavailableError, match=r"no commit, branch or tag 'nope'"):
        load_source("pokeapi:nope", cache_dir=tmp_path, github=github.endpoints(), **FAST)
    (github.folder / "pokemon_colors.csv").unlink()
    with pytest.raises(SourceUnavailableError, match=r"has no pokemon_colors\.csv in data/v2/csv"):
        load_source("pokeapi:main", cache_dir=tmp_path, github=github.endpoints(), **FAST)


def test_unreachable_github(tmp_path):
    from pokembed.sources.github_tables import GitHubEndpoints

    with pytest.raises(SourceUnavailableError, match=r"cannot fetch http://127\.0\.0\.1:9/"):
        load_source("pokeapi:main", cache_dir=tmp_path, **FAST,
                    github=GitHubEndpoints(api="http://127.0.0.1:9", raw="http://127.0.0.1:9"))


@pytest.fixture
def graphql_stub():
    """``start(status, body)`` -> (url, calls): a GraphQL endpoint giving that answer to every request."""
    servers = []

    def start(status: int, body: bytes):
        calls = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                calls.append(1)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1beta2", calls

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def failing_graphql(graphql_stub):
    """A GraphQL endpoint that answers 502 to everything."""
    return graphql_stub(502, b"bad gateway")


def test_auto_falls_back_when_graphql_answers_502(github, failing_graphql, csv_fixture, tmp_path, caplog):
    url, calls = failing_graphql
    with caplog.at_level(logging.WARNING, logger="pokembed"):
        data = load_source("auto", cache_dir=tmp_path, graphql_url=url, github=github.endpoints(), **FAST)
    assert len(calls) == FAST["retries"] + 1  # GraphQL's own retries ran first
    assert data.source == f"pokeapi:{SHA}" and data.data_version == SHA
    assert documents(data) == documents(load_source(f"csv:{csv_fixture}", progress=False))
    assert "HTTP 502" in data.note and SHA in data.note
    fallback = [r.getMessage() for r in caplog.records if "falling back" in r.getMessage()]
    assert len(fallback) == 1 and "pokeapi:main" in fallback[0] and "\n" not in fallback[0]


def test_auto_without_either_source_names_both(failing_graphql, tmp_path):
    from pokembed.sources.github_tables import GitHubEndpoints

    url, _ = failing_graphql
    dead = GitHubEndpoints(api="http://127.0.0.1:9", raw="http://127.0.0.1:9")
    with pytest.raises(SourceUnavailableError, match=r"GraphQL endpoint failed \(.*HTTP 502.*\) and so did the "
                       r"fallback pokeapi:main \(cannot fetch http://127\.0\.0\.1:9/.*\); retry later or use csv:PATH"):
        load_source("auto", cache_dir=tmp_path, graphql_url=url, github=dead, **FAST)


@pytest.mark.shared
def test_shared_tables_through_github_equal_the_csv_source(tmp_path):
    if not SHARED_CSV.is_dir():
        pytest.skip(f"shared PokéAPI data absent ({SHARED_CSV})")
    with FakeGitHub(SHARED_CSV, refs={"main": SHA}) as server:
        data = load_source(f"pokeapi:{SHA}", cache_dir=tmp_path, github=server.endpoints(), **FAST)
    expected = load_source(f"csv:{SHARED_CSV}", progress=False)
    assert len(data.records) == len(expected.records) == 1351
    assert [document_text(r).encode() for r in data.records] == [document_text(r).encode() for r in expected.records]
    assert data.meta == expected.meta and data.data_version == SHA


def test_build_from_a_commit_and_the_card_says_so(github, graphql_stub, csv_fixture, artwork_fixture,
                                                  tiny_models, tmp_path, monkeypatch):
    """auto with GraphQL erroring falls back to the commit: the card names it, and why, and how to rebuild it."""
    import json as jsonlib

    from conftest import build_args, load_cli

    # GraphQL errors in a 200 answer are not retried (a 502 is, as tested above), so the fallback is immediate
    url, calls = graphql_stub(200, b'{"errors": [{"message": "database is down"}]}')
    monkeypatch.setenv("POKEMBED_GITHUB_API_URL", github.api_url)
    monkeypatch.setenv("POKEMBED_GITHUB_RAW_URL", github.raw_url)
    monkeypatch.setenv("POKEMBED_GRAPHQL_URL", url)
    out = tmp_path / "out"
    args = build_args(csv_fixture, artwork_fixture, tiny_models, out, "--cache-dir", str(tmp_path / "cache"))
    args[1] = "auto"
    assert load_cli().main(args) == 0
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"PokéAPI's CSV tables at commit [`{SHA}`](https://github.com/PokeAPI/pokeapi/tree/{SHA}/data/v2/csv)" in card
    assert f"`--source pokeapi:{SHA}`" in card
    assert f"Note: `auto` fell back to PokéAPI's tables at commit `{SHA}` because the GraphQL endpoint failed" in card
    marker = jsonlib.loads((out / MARKER).read_text(encoding="utf-8"))
    assert marker["source"] == f"pokeapi:{SHA}" and marker["data_version"] == SHA
    assert len(calls) == 1 and "database is down" in card


def test_a_new_commit_with_the_same_records_is_no_new_version(github, csv_fixture, artwork_fixture, tiny_models,
                                                              tmp_path, monkeypatch, capsys, caplog):
    from conftest import build_args, load_cli

    newer = hashlib.sha1(b"a later commit, same tables").hexdigest()
    github.refs = {"old": SHA, "main": newer}
    monkeypatch.setenv("POKEMBED_GITHUB_API_URL", github.api_url)
    monkeypatch.setenv("POKEMBED_GITHUB_RAW_URL", github.raw_url)
    out = tmp_path / "out"
    args = build_args(csv_fixture, artwork_fixture, tiny_models, out, "--cache-dir", str(tmp_path / "cache"))
    args[1] = "pokeapi:old"
    cli = load_cli()
    assert cli.main([*args, "--version", "1.0.0"]) == 0
    before = (out / "README.md").read_bytes()
    args[1] = "pokeapi:main"
    with caplog.at_level(logging.INFO, logger="pokembed"):
        assert cli.main([*args, "--version", "auto"]) == 0
    assert "Nothing changed since v1.0.0" in capsys.readouterr().out
    assert any(f"the source moved from {SHA} to {newer}, but nothing the records hold changed" in r.getMessage()
               for r in caplog.records)
    assert (out / "README.md").read_bytes() == before
