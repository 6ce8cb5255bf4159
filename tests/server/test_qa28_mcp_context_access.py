"""MCP ``context`` (helper 67, thirteenth session): when its block came out empty it ran a
1-result search to tell "nothing relevant" from "relevant but too long for the budget", and
that search counted as a retrieval (access_count + 1, last_accessed now: what decay and
capacity read) of a memory the agent never got. It no longer counts
(``search(..., count_access=False)``)."""

from __future__ import annotations

from pathlib import Path

from server_support import mcp_tool_texts

import ltm


def test_the_fit_check_of_mcp_context_counts_no_access(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "store", embedder="hash") as mem:
        m = mem.add("Priya has been vegetarian since 2019 and avoids eggs", user="p",
                    kind="fact")
        got = mcp_tool_texts(mem, "p", {"too_small": (
            "context", {"query": "is Priya vegetarian", "budget_tokens": 2,
                        "min_relevance": 0})})
        error, block = got["too_small"]
        assert not error and "budget_tokens" in block
    with ltm.open(tmp_path / "store", embedder="hash") as mem:  # (counts are written on close)
        got_m = mem.get(m.id, user="p")
        assert (got_m.access_count, got_m.last_accessed) == (0, None)
        # a search that is not a retrieval counts nothing either; one that is, counts
        assert mem.search("vegetarian", user="p", min_relevance=0, count_access=False)
        assert mem.search("vegetarian", user="p", min_relevance=0)
    with ltm.open(tmp_path / "store", embedder="hash") as mem:
        assert mem.get(m.id, user="p").access_count == 1
