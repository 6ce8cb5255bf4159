"""A memory's text must not drive the terminal that prints it (session 12 sweep). Stored text
comes from conversations and agents; ``ltm search``/``list``/``get``/``context`` printed it
raw, so ESC sequences in it cleared the screen, retitled the window (OSC ... BEL) or recoloured
what followed on a terminal (Click strips some ANSI sequences only where the output is not a
terminal, and never OSC). Now human output shows every control character but line feed and
tab as ``\\xNN``; ``--json`` is unchanged (JSON escapes them itself)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

import ltm
from ltm.cli import main

EVIL = "evil \x1b]0;pwned\x07 \x1b[2J\x1b[31mred\x1b[0m \x9b31m text"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_stored_text_is_shown_not_obeyed(tmp_path: Path) -> None:
    store = tmp_path / "s"
    with ltm.open(store, embedder="hash") as mem:
        m = mem.add(EVIL, user="alice", session="s\x1b[1m")
    runner = CliRunner()
    for args in (["search", "evil", "-u", "alice"], ["list", "-u", "alice"],
                 ["get", m.id, "-u", "alice"], ["context", "evil", "-u", "alice"],
                 ["history", m.id, "-u", "alice"]):
        # color=True: the output is treated as a terminal's (Click strips nothing)
        got = runner.invoke(main, ["--store", str(store), *args], color=True)
        assert got.exit_code == 0, got.output
        assert not CONTROL.search(got.stdout.replace("\n", "").replace("\t", "")), \
            (args, got.stdout)
        if args[0] != "history":
            assert "\\x1b]0;pwned\\x07" in got.stdout and "\\x9b31m" in got.stdout, got.stdout
    got = runner.invoke(main, ["--store", str(store), "get", m.id, "-u", "alice", "--json"],
                        color=True)
    assert json.loads(got.stdout)["text"] == EVIL  # scripts get the text as stored


def test_key_labels_and_users_are_shown_not_obeyed(tmp_path: Path) -> None:
    store = tmp_path / "s"
    runner = CliRunner()
    got = runner.invoke(main, ["--store", str(store), "keys", "create", "-u", "bo\x1b[8mb",
                               "--label", "x\x1b]0;t\x07"], color=True)
    assert got.exit_code == 0, got.output
    assert not CONTROL.search(got.stderr.replace("\n", "")), got.stderr
    got = runner.invoke(main, ["--store", str(store), "keys", "list"], color=True)
    assert not CONTROL.search(got.stdout.replace("\n", "")), got.stdout
    assert "bo\\x1b[8mb" in got.stdout and "x\\x1b]0;t\\x07" in got.stdout
