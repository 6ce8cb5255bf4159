"""Shared by the server tests (imported by name: the test folders are not packages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client

import ltm
from ltm.server.auth import RIGHTS, ApiKey, KeyStore


@dataclass
class Served:
    url: str
    store: ltm.MemoryStore
    keys: KeyStore
    path: Path
    key: dict[str, str] = field(default_factory=dict)

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.key[key]}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def mcp_tool_texts(mem: ltm.MemoryStore, user: str,
                   calls: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, tuple[bool, str]]:
    """Each named call (tool, arguments) made through the official SDK client to the MCP
    server over ``mem`` (in-memory transport, a key with every right for ``user`` alone): its
    (is_error, first content text)."""
    from ltm.server.mcp_server import build_mcp

    principal = ApiKey("test", (user,), frozenset(RIGHTS))
    server = build_mcp(mem, lambda _headers: principal)

    async def session() -> dict[str, tuple[bool, str]]:
        out: dict[str, tuple[bool, str]] = {}
        async with Client(server) as client:
            for name, (tool, args) in calls.items():
                r = await client.call_tool(tool, args)
                out[name] = (r.is_error, r.content[0].text if r.content else "")
        return out

    return anyio.run(session)
