"""QA of the MCP tools as an agent meets them on a server for every user (``ltm mcp`` without
``--user``, or a key for '*'): '*' means every user in keys and is not a user name (REST
refuses it with 422), so a tool given ``user='*'`` is an error and writes nothing; it used to
store memories under the user '*', which neither REST nor the web page can reach."""

from __future__ import annotations

from pathlib import Path

from server_support import mcp_tool_texts

import ltm


def test_star_is_not_a_user_name(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "store", embedder="hash") as mem:
        mem.add("Alice's cat Miso is orange", user="alice")
        got = mcp_tool_texts(mem, "*", {
            "remember": ("remember", {"text": "a note for everyone", "user": "*"}),
            "recall": ("recall", {"query": "cat", "user": "*"}),
            "recent": ("recent", {"user": "*"}),
            "forget": ("forget", {"session": "s1", "user": "*"}),
            "alice": ("recall", {"query": "cat", "user": "alice", "min_relevance": 0}),
        })
        for name in ("remember", "recall", "recent", "forget"):
            is_error, text = got[name]
            assert is_error and "'*'" in text, (name, text)
        assert not got["alice"][0] and "Miso" in got["alice"][1]
        assert mem.users() == ["alice"]
