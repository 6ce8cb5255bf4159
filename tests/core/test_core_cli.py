"""The `ltm` command line: a real subprocess per call, real store folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

import ltm
from ltm.cli import main


def ltm_cli(store: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LTM_STORE=str(store))
    return subprocess.run([sys.executable, "-m", "ltm.cli", *args], capture_output=True,
                          text=True, input=input, env=env, timeout=120)


def test_add_search_get_history_forget(tmp_path: Path) -> None:
    s = tmp_path / "store"
    r = ltm_cli(s, "add", "--user", "alice", "I moved to Lisbon in March", "--session", "s1",
                "--json")
    assert r.returncode == 0, r.stderr
    mid = json.loads(r.stdout)["id"]
    r = ltm_cli(s, "search", "--user", "alice", "where do I live", "-k", "3", "--json")
    assert r.returncode == 0
    hits = json.loads(r.stdout)
    assert hits[0]["memory"]["id"] == mid and "dense" in hits[0]["signals"]
    assert ltm_cli(s, "get", "--user", "alice", mid).stdout.strip().endswith(
        "I moved to Lisbon in March")
    assert "created" in ltm_cli(s, "history", "--user", "alice", mid).stdout
    r = ltm_cli(s, "forget", "--user", "alice", mid, "--json")
    assert json.loads(r.stdout)["count"] == 1
    assert ltm_cli(s, "get", "--user", "alice", mid).returncode == 3


def test_exit_codes_and_one_line_messages(tmp_path: Path) -> None:
    s = tmp_path / "store"
    ltm.open(s).close()  # (a command that fails on a new store leaves none: test_qa20)
    cases = [
        (("add", "--user", "alice", "   "), 2),
        (("add", "--user", "alice", "x", "--importance", "7"), 2),
        (("add", "--user", "alice", "x", "--time", "someday"), 2),
        (("add", "--user", "alice", "x", "--metadata", "{not json"), 2),
        (("search", "--user", "alice", "q", "-k", "0"), 2),
        (("get", "--user", "bob", "01ARZ3NDEKTSV4RRFFQ69G5FAV"), 3),
        (("forget", "--user", "alice"), 2),
    ]
    for args, code in cases:
        r = ltm_cli(s, *args)
        assert r.returncode == code, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("ltm: ") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert ltm_cli(s, "stats", "--json").returncode == 0
    assert json.loads(ltm_cli(s, "stats", "--json").stdout)["memories"] == 0


def test_embedder_mismatch_exit_code(tmp_path: Path) -> None:
    s = tmp_path / "store"
    with ltm.open(s, embedder="hash") as m:
        m.add("x", user="u")
    env = dict(os.environ, LTM_STORE=str(s), LTM_EMBEDDER="wordllama")
    r = subprocess.run([sys.executable, "-m", "ltm.cli", "stats"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 4 and "built with embedder" in r.stderr


def test_import_export_roundtrip_and_conversation_import(tmp_path: Path) -> None:
    s = tmp_path / "store"
    conv = tmp_path / "trip.jsonl"
    conv.write_text("\n".join(json.dumps(t) for t in [
        {"role": "alice", "content": "We booked the train to Porto", "time": "2026-04-01T09:00"},
        {"role": "bob", "content": "Which day?"},
        {"role": "alice", "content": "Friday the 10th"}]) + "\n")
    r = ltm_cli(s, "import", str(conv), "--user", "alice", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"imported": 3, "session": "trip"}
    out = tmp_path / "dump.jsonl"
    assert ltm_cli(s, "export", "--user", "alice", "-o", str(out)).returncode == 0
    assert len(out.read_text().splitlines()) == 4
    r = ltm_cli(tmp_path / "copy", "import", str(out))
    assert r.returncode == 0 and "imported 3" in r.stdout
    assert "Porto" in ltm_cli(tmp_path / "copy", "context", "--user", "alice", "train").stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    r = ltm_cli(s, "import", str(bad), "--user", "alice")
    assert r.returncode == 2 and "line 1" in r.stderr


def _commands(group: click.Group, ctx: click.Context, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name in group.list_commands(ctx):
        try:
            cmd = group.get_command(ctx, name)
        except click.ClickException:
            continue
        if cmd is None:
            continue
        out.append((prefix + name, cmd))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, ctx, prefix + name + " ")
    return out


def test_every_command_has_help_text() -> None:
    ctx = click.Context(main)
    commands = _commands(main, ctx)
    names = {n for n, _ in commands}
    assert {"add", "search", "get", "forget", "history", "import", "export", "stats",
            "bench", "bench locomo"} <= names
    for name, cmd in commands:
        assert (cmd.help or cmd.short_help or "").strip(), f"`ltm {name}` has no help text"
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden and p.name not in ("help",):
                assert p.help, f"`ltm {name}` option {p.opts} has no help text"


@pytest.mark.parametrize("args", [["--help"], ["search", "--help"], ["bench", "--help"]])
def test_help_runs(tmp_path: Path, args: list[str]) -> None:
    r = ltm_cli(tmp_path / "s", *args)
    assert r.returncode == 0 and "Usage:" in r.stdout
