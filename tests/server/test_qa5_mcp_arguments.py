"""An MCP tool called with arguments of the wrong type answers in plain words, as REST does
('since must be a string'), not pydantic's dump ('1 validation error for recent_toolArguments
... For further information visit https://errors.pydantic.dev/...'). Through the SDK client."""

from __future__ import annotations

from pathlib import Path

from server_support import mcp_tool_texts

import ltm

CALLS = {
    "since": ("recall", {"query": "x", "since": 5}, "since must be a string"),
    "kinds": ("recall", {"query": "x", "kinds": [5]}, "kinds.0 must be a string"),
    "query": ("recall", {}, "query is required"),
    "limit": ("recent", {"limit": 2.5}, "limit must be an integer"),
    "budget": ("context", {"query": "x", "budget_tokens": "lots"},
               "budget_tokens must be an integer"),
    "metadata": ("remember", {"text": "x", "metadata": [1]}, "metadata must be a JSON object"),
    "memory_id": ("forget", {"memory_id": 5}, "memory_id must be a string"),
}


def test_wrong_argument_types_are_plain_invalid_input(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        got = mcp_tool_texts(mem, "alice", {k: (tool, args) for k, (tool, args, _) in
                                            CALLS.items()})
        for name, (tool, _, words) in CALLS.items():
            is_error, text = got[name]
            assert is_error, (name, text)
            assert text.startswith(f"Error executing tool {tool}: invalid input: "), text
            assert words in text, (name, text)
            assert "pydantic" not in text and "Arguments" not in text, text
            assert "[" not in text, text  # no union member tags such as list[str]
        assert mem.stats()["memories"] == 0
