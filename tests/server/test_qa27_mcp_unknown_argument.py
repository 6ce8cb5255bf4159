"""An MCP tool called with an argument it does not take (session 12 sweep): the SDK dropped
it and the call went on with the default, so an agent's ``limit`` for recall's ``k``, or
``id`` for forget's ``memory_id``, went unnoticed (forget then answered 'give exactly one of
memory_id or session', recall returned 5 hits). Now it is invalid input naming the argument
and what the tool takes, as REST refuses an unknown field; nothing is written. Through the
SDK client."""

from __future__ import annotations

from pathlib import Path

from server_support import mcp_tool_texts

import ltm


def test_an_argument_the_tool_does_not_take_is_invalid_input(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        kept = mem.add("I moved to Lisbon in March", user="alice", session="s1")
        got = mcp_tool_texts(mem, "alice", {
            "recall": ("recall", {"query": "Lisbon", "limit": 1}),
            "remember": ("remember", {"text": "a new note", "tags": ["x"]}),
            "forget": ("forget", {"id": kept.id}),
            "recent": ("recent", {"count": 3}),
            "fine": ("recall", {"query": "Lisbon", "k": 1})})
        for tool, wrong in (("recall", "limit"), ("remember", "tags"), ("forget", "id"),
                            ("recent", "count")):
            is_error, text = got[tool]
            assert is_error, (tool, text)
            assert text.startswith(f"Error executing tool {tool}: invalid input: unknown "
                                   f"argument '{wrong}' ({tool} takes "), text
        assert "(recall takes k, kinds, min_relevance, now, query, session, since, until, " \
            "user)" in got["recall"][1]
        assert not got["fine"][0] and kept.id in got["fine"][1]
        assert [m.id for m in mem.list("alice").memories] == [kept.id]  # nothing written
