"""MCP over HTTP from `ltm mcp --transport http`: the official conformance suite (through
scripts/mcp-conformance), and the `recent` tool with the official Python client."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

import ltm

ROOT = Path(__file__).resolve().parents[2]
# the scenarios ltm must pass; the others need the suite's own fixture tools and prompts or
# optional capabilities (listed with reasons in scripts/mcp-conformance-baseline.yaml)
MUST_PASS = {"server-initialize", "ping", "tools-list", "tools-call-simple-text",
             "tools-call-error", "server-sse-multiple-streams", "resources-list",
             "prompts-list", "dns-rebinding-protection"}


def test_official_conformance_suite() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "mcp-conformance"), "--json"],
                         capture_output=True, text=True, timeout=900)
    if run.returncode == 77:
        pytest.skip(f"npm cannot install the MCP conformance suite: {run.stderr[-500:]}")
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert run.returncode == 0 and summary["baseline_ok"], summary
    assert MUST_PASS <= set(summary["scenarios_passed"]), summary
    assert summary["checks_passed"] >= 11


@pytest.fixture
def mcp_url(tmp_path: Path) -> Iterator[str]:
    store = tmp_path / "store"
    with ltm.open(store, embedder="hash") as mem:
        for i in range(5):
            mem.add(f"note {i}", user="alice", session="s1" if i < 3 else "s2",
                    time=f"2026-01-0{i + 1}T10:00:00Z")
        mem.add("bob's note", user="bob")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "ltm.cli", "mcp", "--store", str(store),
                             "--user", "alice", "--transport", "http", "--port", str(port)],
                            env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "ltm mcp did not listen"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stderr:
            proc.stderr.close()


def test_recent_tool_pages_newest_first(mcp_url: str) -> None:
    async def call(tool: str, args: dict[str, Any]) -> Any:
        async with httpx2.AsyncClient(timeout=60) as http, \
                Client(streamable_http_client(mcp_url, http_client=http)) as client:
            if tool == "list":
                return {t.name: t for t in (await client.list_tools()).tools}
            return await client.call_tool(tool, args)

    def payload(result: Any) -> Any:
        assert not result.is_error, result.content
        return result.structured_content or json.loads(result.content[0].text)

    async def run() -> None:
        tools = await call("list", {})
        assert "recent" in tools and len(tools["recent"].description or "") > 80
        first = payload(await call("recent", {"limit": 2}))
        assert [m["text"] for m in first["memories"]] == ["note 4", "note 3"]
        rest = payload(await call("recent", {"limit": 10, "cursor": first["next_cursor"]}))
        assert [m["text"] for m in rest["memories"]] == ["note 2", "note 1", "note 0"]
        assert rest["next_cursor"] is None
        s2 = payload(await call("recent", {"session": "s2"}))
        assert [m["text"] for m in s2["memories"]] == ["note 4", "note 3"]
        denied = await call("recent", {"user": "bob"})
        assert denied.is_error and "no access" in denied.content[0].text
        bad = await call("recent", {"limit": 0})
        assert bad.is_error and "invalid input" in bad.content[0].text
        bad = await call("recent", {"cursor": "nonsense"})
        assert bad.is_error and "invalid input" in bad.content[0].text

    anyio.run(run)


def test_http_transport_listens_on_loopback_only(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "ltm.cli", "mcp", "--store", str(tmp_path / "s"),
                          "--transport", "http", "--host", "0.0.0.0"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "loopback" in run.stderr
