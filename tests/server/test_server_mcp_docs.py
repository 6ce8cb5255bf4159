"""What an agent reads before calling: the MCP server's name and version, and a description
on every tool parameter, seen through the official client over ``/mcp`` of a live server."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from server_support import Served

import ltm


def _listing(served: Served) -> tuple[Any, list[Any]]:
    found: list[Any] = []

    async def run() -> None:
        headers = {"Authorization": f"Bearer {served.key['alice']}"}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
                Client(streamable_http_client(served.url + "/mcp", http_client=http)) as client:
            found.append(client.server_info)
            found.append((await client.list_tools()).tools)

    anyio.run(run)
    return found[0], found[1]


def test_mcp_server_reports_the_package_version(served: Served) -> None:
    info, _ = _listing(served)
    assert info.name == "ltm"
    assert info.version == ltm.__version__


def test_every_tool_parameter_has_a_description(served: Served) -> None:
    _, tools = _listing(served)
    assert {t.name for t in tools} >= {"remember", "recall", "forget", "context", "recent"}
    missing = []
    for tool in tools:
        props = tool.input_schema.get("properties", {})
        assert props, tool.name
        assert "ctx" not in props  # the request context is not a parameter
        for name, prop in props.items():
            text = prop.get("description") or ""
            if len(text) < 20:
                missing.append(f"{tool.name}.{name}")
    assert missing == []
    by_name = {t.name: t.input_schema["properties"] for t in tools}
    assert "ISO-8601" in by_name["remember"]["time"]["description"]
    assert "lowercase word" in by_name["remember"]["kind"]["description"]
