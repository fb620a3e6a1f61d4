"""The Space as an MCP server and its version footer: space/app.py started on 127.0.0.1, its tools listed and called
with the `mcp` client library (streamable HTTP), the footer read from the served page's config."""

from __future__ import annotations

import ast
import asyncio
import json
import re
import urllib.request

import numpy as np
import pytest

from space_server import running_space
from pokembed.dataset.facts import MARKER


@pytest.fixture(scope="module")
def server(built_dataset, tiny_models, tmp_path_factory):
    with running_space(built_dataset, tiny_models, tmp_path_factory.mktemp("space-mcp")) as url:
        yield url


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def mcp_session(server: str, work):
    """Run `await work(session)` in an initialised MCP client session on the Space's MCP endpoint."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def main():
        async with streamable_http_client(server + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)

    return asyncio.run(asyncio.wait_for(main(), timeout=120))


def text_of(result) -> str:
    return "\n".join(item.text for item in result.content if item.type == "text")


def test_every_named_endpoint_is_a_tool_a_model_can_act_on(server):
    async def work(session):
        return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in mcp_session(server, work)}
    endpoints = get_json(server + "gradio_api/info")["named_endpoints"]
    assert len(tools) == len(endpoints) >= 5
    for name, tool in tools.items():
        assert len(tool.description) >= 60, f"{name}: the description says too little: {tool.description!r}"
        assert "Returns" in tool.description, f"{name}: the description does not say what it returns"
        for parameter, schema in tool.inputSchema["properties"].items():
            assert schema.get("description"), f"{name}({parameter}) has no description"
    similar = tools["similar"]
    assert set(similar.inputSchema["properties"]) == {"name", "mode", "k", "default_only"}
    assert set(similar.inputSchema["properties"]["mode"]["enum"]) == {"text", "image", "umap", "combined"}


def test_calling_a_tool_ranks_like_the_dataset(server, built_dataset):
    import pyarrow.parquet as pq

    table = pq.read_table(sorted((built_dataset / "data").glob("*.parquet"))[0],
                          columns=["name", "text_embedding", "is_default"])
    names = table.column("name").to_pylist()
    vectors = np.asarray(table.column("text_embedding").to_pylist(), dtype=np.float64)
    chosen = names[3]
    scores = vectors @ vectors[3]
    scores[3] = -np.inf
    scores[~np.asarray(table.column("is_default").to_pylist(), dtype=bool)] = -np.inf  # default forms only
    expected = [names[i] for i in np.argsort(-scores, kind="stable")[:4]]

    async def work(session):
        found = await session.call_tool("similar", {"name": chosen, "mode": "text", "k": 4})
        bad = await session.call_tool("ask", {"question": "   ", "k": 3})
        return found, bad

    found, bad = mcp_session(server, work)
    assert not found.isError, text_of(found)
    result = ast.literal_eval(text_of(found))  # Gradio hands a dict result to MCP as its Python repr
    assert result["pokemon"]["name"] == chosen
    assert [match["name"] for match in result["matches"]] == expected
    assert bad.isError and "Traceback" not in text_of(bad) and len(text_of(bad)) < 400


def test_the_page_names_the_dataset_version(server, built_dataset):
    config = get_json(server + "config")
    foot = next(c["props"]["value"] for c in config["components"] if c["props"].get("elem_id") == "pk-footer")
    version = re.search(r'<p id="dataset-version">(.*?)</p>', foot, re.S).group(1)
    marker = json.loads((built_dataset / MARKER).read_text(encoding="utf-8"))
    assert version.startswith(f"Dataset <code>{built_dataset}</code> (local folder) · version {marker['version']} · ")
    assert "changelog" in version
