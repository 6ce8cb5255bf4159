"""MCP recall and context take ``now``, the agent's own time with its UTC offset, so time
phrases are read in the user's calendar (issue 15, guarantee (b) across time zones): asked
"yesterday" at 10:00-05:00 on a Monday, the film seen at 23:30-05:00 on Sunday (04:30 UTC
Monday) is the answer, not the same words from Saturday evening (Sunday in UTC). An agent had
no way to give its offset: the server's UTC calendar answered Saturday's."""

from __future__ import annotations

import json
from pathlib import Path

from server_support import mcp_tool_texts

import ltm

ASKED = "which film did we watch at the cinema yesterday?"
NOW = "2026-03-09T10:00:00-05:00"


def test_recall_and_context_read_time_phrases_in_the_agents_calendar(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "store") as mem:
        sunday = mem.add("We watched a film at the cinema downtown", user="p", session="sun",
                         time="2026-03-08T23:30:00-05:00")
        mem.add("We watched a film at the cinema downtown", user="p", session="sat",
                time="2026-03-07T20:00:00-05:00")
        got = mcp_tool_texts(mem, "p", {
            "recall": ("recall", {"query": ASKED, "k": 1, "now": NOW, "min_relevance": 0}),
            "context": ("context", {"query": ASKED, "now": NOW, "min_relevance": 0}),
            "bad": ("recall", {"query": ASKED, "now": "Monday morning"})})
    error, found = got["recall"]
    assert not error and json.loads(found)["id"] == sunday.id
    error, block = got["context"]
    assert not error and "session sun" in block and "session sat" in block
    error, message = got["bad"]
    assert error and "now" in message
