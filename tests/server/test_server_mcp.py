"""MCP: a real client session from the official SDK against ``ltm mcp`` over stdio, and against
``/mcp`` (streamable HTTP) of the running REST server with API keys."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from server_support import Served

import ltm


def _payload(result: Any) -> Any:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        data = result.structured_content
        return data.get("result", data) if isinstance(data, dict) and len(data) == 1 else data
    return json.loads(result.content[0].text)


def test_stdio_session_remember_recall_context_forget(tmp_path: Path) -> None:
    store = tmp_path / "store"
    ltm.open(store).close()  # create it (and its embedder choice) up front
    params = StdioServerParameters(command=sys.executable, args=[
        "-m", "ltm.cli", "mcp", "--store", str(store), "--user", "alice"],
        env={"TOKENIZERS_PARALLELISM": "false"})

    async def session() -> None:
        async with Client(params, read_timeout_seconds=60) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == {"remember", "recall", "forget", "context", "recent"}
            for t in tools.values():  # descriptions an agent can act on
                assert t.description and len(t.description) > 80

            added = _payload(await client.call_tool("remember", {
                "text": "Alice moved to Lisbon in March 2026", "time": "2026-03-02T10:00:00Z",
                "session": "s1"}))
            _payload(await client.call_tool("remember", {"text": "Alice drinks jasmine tea",
                                                         "kind": "fact"}))
            hits = _payload(await client.call_tool("recall", {"query": "moved to Lisbon",
                                                              "k": 2}))
            assert hits[0]["id"] == added["id"] and "Lisbon" in hits[0]["text"]

            block = await client.call_tool("context", {"query": "Lisbon", "budget_tokens": 200})
            assert not block.is_error and "Lisbon" in block.content[0].text

            other = await client.call_tool("recall", {"query": "x", "user": "bob"})
            assert other.is_error and "no access" in other.content[0].text
            bad = await client.call_tool("remember", {"text": "x", "time": "not a time"})
            assert bad.is_error and "invalid input" in bad.content[0].text

            listed = {str(r.uri) for r in (await client.list_resources()).resources}
            assert "memories://recent" in listed
            default = json.loads((await client.read_resource("memories://recent")).contents[0].text)
            assert len(default) == 2
            res = await client.read_resource("memories://alice/recent")
            recent = json.loads(res.contents[0].text)
            assert {r["text"] for r in recent} == {"Alice moved to Lisbon in March 2026",
                                                   "Alice drinks jasmine tea"}

            gone = _payload(await client.call_tool("forget", {"memory_id": added["id"]}))
            assert gone["forgotten"] == 1
            hits = _payload(await client.call_tool("recall", {"query": "Lisbon"}))
            assert all(h.get("id") != added["id"] for h in hits)
            # nothing stored is relevant any more: recall says so instead of listing the tea
            assert hits == [{"note": hits[0]["note"]}] and "relevant" in hits[0]["note"]

    anyio.run(session)
    with ltm.open(store) as mem:
        assert {h.memory.text for h in mem.search("tea", user="alice")} == \
            {"Alice drinks jasmine tea"}


def test_http_mcp_uses_the_api_keys(served: Served) -> None:
    url = served.url + "/mcp"

    async def call(key: str | None, tool: str, args: dict[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {served.key[key]}"} if key else {}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
                Client(streamable_http_client(url, http_client=http)) as client:
            return await client.call_tool(tool, args)

    async def run() -> None:
        r = await call("alice", "remember", {"text": "alice said this over MCP HTTP"})
        assert not r.is_error, r.content
        r = await call("alice", "recall", {"query": "MCP HTTP"})
        assert "over MCP HTTP" in r.content[0].text or "over MCP HTTP" in json.dumps(
            r.structured_content)
        r = await call("alice", "recall", {"query": "anything", "user": "bob"})
        assert r.is_error and "no access" in r.content[0].text
        r = await call("alice_ro", "remember", {"text": "read-only key writes"})
        assert r.is_error and "write" in r.content[0].text
        r = await call(None, "recall", {"query": "x", "user": "alice"})
        assert r.is_error and "API key" in r.content[0].text
        r = await call("root", "recall", {"query": "x"})  # '*' key must say which user
        assert r.is_error and "which user" in r.content[0].text

    anyio.run(run)
    texts = [m.text for m, _ in served.store.backend.iter_export("alice", with_vectors=False)]
    assert "alice said this over MCP HTTP" in texts
    assert "read-only key writes" not in texts
