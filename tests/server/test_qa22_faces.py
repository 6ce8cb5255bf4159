"""MCP faces of issue 15 (helper 22's QA): a boolean is no number. The MCP SDK validates tool
arguments in pydantic's lax mode, which reads ``true`` as 1: ``recall(min_relevance=true)``
abstained from everything (a floor of 1), ``k=true`` returned one memory,
``remember(importance=true)`` stored importance 1.0 and ``context(budget_tokens=true)`` a
budget of one token, where the library and REST refuse a boolean (the tools' own
``isinstance(k, bool)`` checks never saw one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from server_support import mcp_tool_texts

import ltm

CALLS = {
    "min_relevance": ("recall", {"query": "Priya", "min_relevance": True}, "a number"),
    "context_floor": ("context", {"query": "Priya", "min_relevance": False}, "a number"),
    "k": ("recall", {"query": "Priya", "k": True}, "an integer"),
    "budget_tokens": ("context", {"query": "Priya", "budget_tokens": True}, "an integer"),
    "importance": ("remember", {"text": "Priya likes tea", "importance": True}, "a number"),
    "limit": ("recent", {"limit": False}, "an integer"),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_boolean_is_not_a_number(tmp_path: Path, name: str) -> None:
    tool, args, kind = CALLS[name]
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        mem.add("Priya has been vegetarian since 2019", user="p", kind="fact")
        is_error, text = mcp_tool_texts(mem, "p", {name: (tool, args)})[name]
        assert is_error, text
        arg = next(iter(a for a in args if isinstance(args[a], bool)))
        assert text == (f"Error executing tool {tool}: invalid input: {arg} must be {kind}, "
                        "not true or false"), text
        assert mem.stats()["memories"] == 1  # nothing written
