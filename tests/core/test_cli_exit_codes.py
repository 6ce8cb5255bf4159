"""The README's exit codes for an external service that fails (6: the LLM, a remote embedder)
through ``errors_to_exit``, which maps the ``LtmError`` base (issue 16): one line, JSON under
``--json``, no traceback. The LLM and embedding endpoints are a loopback port nobody listens
on."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from click.testing import CliRunner

import ltm
from ltm.cli import main


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_llm_that_is_down_exits_6(tmp_path: Path) -> None:
    store = tmp_path / "s"
    with ltm.open(store, embedder="hash") as mem:
        mem.add("I moved to Lisbon in March", user="alice")
    env = {"LTM_LLM_URL": f"http://127.0.0.1:{_closed_port()}/v1", "LTM_LLM_RETRIES": "0"}
    got = CliRunner().invoke(main, ["--store", str(store), "process", "--json"], env=env)
    assert got.exit_code == 6, got.output
    error = json.loads(got.stderr.strip().splitlines()[-1])
    assert error["exit_code"] == 6 and error["error"] == "LLMUnavailable"
    assert "stay queued" in error["message"] and "Traceback" not in got.output
    with ltm.open(store) as mem:  # the episode is still stored
        assert mem.user_stats("alice").memories == 1


def test_an_embedding_service_that_is_down_exits_6(tmp_path: Path) -> None:
    env = {"LTM_EMBEDDER": "openai:any-model",
           "LTM_EMBED_URL": f"http://127.0.0.1:{_closed_port()}/v1"}
    got = CliRunner().invoke(main, ["--store", str(tmp_path / "s"), "add", "-u", "alice",
                                    "I moved to Lisbon", "--json"], env=env)
    assert got.exit_code == 6, got.output
    error = json.loads(got.stderr.strip().splitlines()[-1])
    assert error["exit_code"] == 6 and error["error"] == "EmbeddingServiceError"
    assert "Traceback" not in got.output
