"""Command-line details users trip over: `python -m ltm`, `--store` before the command, read-only
commands on a missing store, JSON errors under --json, readable stats, `context --json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run(cwd: Path, *args: str, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LTM_")}
    base["LTM_EMBEDDER"] = "hash"
    return subprocess.run([sys.executable, "-m", "ltm", *args], capture_output=True, text=True,
                          cwd=cwd, env=dict(base, **(env or {})), timeout=120)


def test_python_dash_m_and_store_before_the_command(tmp_path: Path) -> None:
    r = run(tmp_path, "--store", "s", "add", "-u", "alice", "I moved to Lisbon", "--json")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "s" / "memories.db").is_file()
    r = run(tmp_path, "--store", "s", "search", "-u", "alice", "Lisbon", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["memory"]["text"] == "I moved to Lisbon"
    # the command's own --store wins over the one before it, and over LTM_STORE
    r = run(tmp_path, "--store", "elsewhere", "stats", "--store", "s", "--json",
            env={"LTM_STORE": "other"})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["memories"] == 1
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "other").exists()


def test_read_only_commands_on_a_missing_store_create_nothing(tmp_path: Path) -> None:
    for args in (["search", "-u", "a", "x"], ["get", "-u", "a", "01ABC"], ["stats"],
                 ["context", "-u", "a", "x"], ["history", "-u", "a", "01ABC"],
                 ["export", "-u", "a"]):
        r = run(tmp_path, *args)
        assert r.returncode == 4, (args, r.stderr)
        assert "no store at 'ltm-data'" in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_errors_are_json_under_json_and_stats_read_as_lines(tmp_path: Path) -> None:
    assert run(tmp_path, "add", "-u", "alice", "hello there").returncode == 0
    r = run(tmp_path, "get", "-u", "alice", "01NOPE", "--json")
    assert r.returncode == 3
    err = json.loads(r.stderr)
    assert err["error"] == "NotFound" and err["exit_code"] == 3 and "01NOPE" in err["message"]
    r = run(tmp_path, "get", "-u", "alice", "01NOPE")
    assert r.returncode == 3 and r.stderr.startswith("ltm: ")
    r = run(tmp_path, "stats")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["memories", "1"]
    assert any(line.startswith("by kind") and "episode 1" in line for line in lines)
    assert "{" not in r.stdout
    r = run(tmp_path, "context", "-u", "alice", "hello", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["query"] == "hello" and isinstance(got["context"], str)
