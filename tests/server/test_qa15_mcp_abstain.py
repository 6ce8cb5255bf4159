"""MCP abstention (issue 15, item 4) through the official SDK client: ``context`` accepts
``min_relevance`` as ``recall`` does, and where no memory goes into the block it says why in
plain words (nothing stored is relevant, or the relevant memories do not fit the budget)
instead of answering an empty string an agent cannot read; a floor outside [0, 1] is a tool
error naming it."""

from __future__ import annotations

import json
from pathlib import Path

from server_support import mcp_tool_texts

import ltm

UNRELATED = "what's the weather in Tokyo"


def test_context_and_recall_say_when_nothing_is_relevant(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "store") as mem:
        mem.add("Priya has been vegetarian since 2019 and avoids eggs", user="p", kind="fact")
        mem.add("Priya works as a nurse at the city hospital", user="p", kind="fact")
        got = mcp_tool_texts(mem, "p", {
            "recall": ("recall", {"query": UNRELATED}),
            "context": ("context", {"query": UNRELATED}),
            "context_floor_0": ("context", {"query": UNRELATED, "min_relevance": 0}),
            "related": ("context", {"query": "is Priya vegetarian?"}),
            "too_small": ("context", {"query": "is Priya vegetarian?", "budget_tokens": 2}),
            "bad": ("context", {"query": UNRELATED, "min_relevance": 1.5}),
            # an agent often names one kind as a plain string
            "kind_str": ("recall", {"query": "is Priya vegetarian?", "kinds": "fact",
                                    "min_relevance": 0}),
            "kind_other": ("recall", {"query": "is Priya vegetarian?", "kinds": "summary"})})
    error, note = got["recall"]
    assert not error and "relevant" in json.loads(note)["note"]
    error, block = got["context"]
    assert not error and block.startswith("No stored memory is relevant")
    error, block = got["context_floor_0"]
    assert not error and "vegetarian" in block and "nurse" in block
    error, block = got["related"]
    assert not error and "vegetarian" in block
    error, block = got["too_small"]
    assert not error and "budget_tokens" in block and "relevant" in block
    error, message = got["bad"]
    assert error and "min_relevance" in message
    error, found = got["kind_str"]
    assert not error and json.loads(found)["kind"] == "fact" and "vegetarian" in found
    error, found = got["kind_other"]
    assert not error and "relevant" in json.loads(found)["note"]
