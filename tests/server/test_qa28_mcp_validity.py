"""MCP ``recall`` and ``recent`` say when a fact held (helper 66, thirteenth session): an agent
that recalls a fact superseded by a newer one gets both, and without ``valid_to`` and
``superseded_by`` it could not tell the outdated one from the current one (``context`` says
"until ..."; ``recall`` said nothing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from server_support import RIGHTS

import ltm
from ltm.server.auth import ApiKey
from ltm.server.mcp_server import build_mcp


def _calls(mem: ltm.MemoryStore, user: str, calls: list[tuple[str, dict[str, Any]]]
           ) -> list[Any]:
    principal = ApiKey("test", (user,), frozenset(RIGHTS))
    server = build_mcp(mem, lambda _headers: principal)

    async def session() -> list[Any]:
        out = []
        async with Client(server) as client:
            for tool, args in calls:
                r = await client.call_tool(tool, args)
                assert not r.is_error, r.content
                out.append([json.loads(c.text) for c in r.content])
        return out

    return anyio.run(session)


def test_recall_and_recent_tell_a_superseded_fact_from_its_successor(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        ep = mem.add("Ana said she works at Acme", user="ana", time="2019-02-01")
        old = mem.add("Ana works at Acme", user="ana", kind="fact", valid_from="2019-01-01")
        new = mem.add("Ana works at Initech", user="ana", kind="fact",
                      valid_from="2021-03-01", supersedes=old.id)
        recalled, recent = _calls(mem, "ana", [
            ("recall", {"query": "Ana works at Acme Initech", "k": 5, "min_relevance": 0}),
            ("recent", {})])
    hits = recalled if len(recalled) > 1 else recalled[0]
    by_id = {h["id"]: h for h in hits}
    listed = {m["id"]: m for m in (recent[0]["memories"])}
    for got in (by_id, listed):
        assert got[old.id]["valid_from"] == "2019-01-01T00:00:00Z"
        assert got[old.id]["valid_to"] == "2021-03-01T00:00:00Z"
        assert got[old.id]["superseded_by"] == new.id
        assert got[new.id]["valid_from"] == "2021-03-01T00:00:00Z"
        assert "valid_to" not in got[new.id] and "superseded_by" not in got[new.id]
        # an episode's validity is its time: nothing more to say
        assert not {"valid_from", "valid_to", "superseded_by"} & set(got[ep.id])
