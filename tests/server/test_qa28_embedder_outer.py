"""A custom embedder's own error through the outer layers (session 13, helper 64): before,
a user's ``embed()`` raising RuntimeError was a 500 with no JSON body over REST, a traceback
and exit 1 in the CLI, and a bare exception text in MCP. Now ``EmbedderError``: REST 503
``embedder_failed`` with a message, CLI exit 6 (an external part failed, as for a remote
embedder that is down) on one line, MCP a tool error naming the embedder; nothing written."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from click.testing import CliRunner
from server_support import mcp_tool_texts

import ltm
import ltm.embed
from ltm.cli import main
from ltm.server.app import create_app
from ltm.server.live import LiveServer


class _Crashing:
    """One vector a text, unless a text holds "boom": then its own RuntimeError."""

    name = "crashing"
    dim = 8

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if any("boom" in t for t in texts):
            raise RuntimeError("model crashed")
        out = np.zeros((len(texts), 8), np.float32)
        for i, text in enumerate(texts):
            out[i, sum(map(ord, text)) % 8] = 1.0
        return out


def test_rest_answers_503_embedder_failed(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder=_Crashing()) as mem:
        kept = mem.add("I moved to Lisbon", user="u")
        with LiveServer(create_app(mem, require_keys=False, mcp=False)) as srv, \
                httpx.Client(base_url=srv.url, timeout=30) as c:
            for path, body in (("memories", {"text": "boom"}),
                               ("memories/batch", {"items": [{"text": "boom"}]}),
                               ("search", {"query": "boom"}),
                               ("context", {"query": "boom"})):
                r = c.post(f"/v1/users/u/{path}", json=body)
                assert r.status_code == 503, (path, r.status_code, r.text)
                got = r.json()
                assert got["error"] == "embedder_failed", got
                assert "'crashing' failed: RuntimeError: model crashed" in got["message"]
            assert c.post("/v1/users/u/search", json={"query": "Lisbon"}).status_code == 200
        assert [m.id for m in mem.list("u").memories] == [kept.id]


def test_mcp_tools_say_the_embedder_failed(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder=_Crashing()) as mem:
        kept = mem.add("I moved to Lisbon", user="u")
        got = mcp_tool_texts(mem, "u", {"remember": ("remember", {"text": "boom"}),
                                        "recall": ("recall", {"query": "boom"})})
        for tool, (is_error, text) in got.items():
            assert is_error, (tool, text)
            assert "'crashing' failed: RuntimeError: model crashed" in text, text
        assert [m.id for m in mem.list("u").memories] == [kept.id]


def test_cli_exits_6_on_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a provider registered as a plugin would register it (ltm.embed.register)
    def factory(arg: str, settings: Any) -> _Crashing:
        return _Crashing()

    monkeypatch.setitem(ltm.embed._REGISTRY, "crashing", factory)
    store = tmp_path / "s"
    env = {"LTM_EMBEDDER": "crashing"}
    run = CliRunner()
    ok = run.invoke(main, ["--store", str(store), "add", "-u", "alice", "I moved"], env=env)
    assert ok.exit_code == 0, ok.output
    for args in (["add", "-u", "alice", "boom"], ["search", "-u", "alice", "boom"]):
        got = run.invoke(main, ["--store", str(store), *args, "--json"], env=env)
        assert got.exit_code == 6, got.output
        error = json.loads(got.stderr.strip().splitlines()[-1])
        assert error["error"] == "EmbedderError", error
        assert "RuntimeError: model crashed" in error["message"]
        assert "Traceback" not in got.output
    with ltm.open(store, embedder=_Crashing()) as mem:
        assert mem.user_stats("alice").memories == 1
