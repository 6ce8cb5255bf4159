"""The command line as a new user meets it (QA of issue 2): a conversation piped into ``ltm
import - --user U`` without ``--session`` was stored in a session named "-" (the default
session is the file's name), so every piped conversation became one session, their turns each
other's neighbours. It is now a one-line error (exit 2) that asks for ``--session``, and
nothing is created."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ltm.cli import main

CONVERSATION = ('{"role": "alice", "content": "I adopted a cat named Miso"}\n'
                '{"role": "assistant", "content": "What colour is Miso?"}\n')


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in [n for n in os.environ if n.startswith("LTM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LTM_EMBEDDER", "hash")
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def test_a_conversation_from_standard_input_needs_a_session(cli: CliRunner,
                                                           tmp_path: Path) -> None:
    got = cli.invoke(main, ["--store", "s", "import", "-", "--user", "alice"],
                     input=CONVERSATION)
    assert got.exit_code == 2
    assert got.stderr.strip() == "ltm: a conversation read from standard input needs --session"
    assert not (tmp_path / "s").exists()
    got = cli.invoke(main, ["--store", "s", "import", "-", "--user", "alice", "--session",
                            "chat-1", "--json"], input=CONVERSATION)
    assert got.exit_code == 0, got.output
    assert json.loads(got.stdout) == {"imported": 2, "session": "chat-1"}
    (tmp_path / "chat-2.jsonl").write_text(CONVERSATION)  # a file names its session
    got = cli.invoke(main, ["--store", "s", "import", "chat-2.jsonl", "--user", "alice",
                            "--json"])
    assert json.loads(got.stdout) == {"imported": 2, "session": "chat-2"}


def test_an_export_imported_with_user_says_what_it_is(cli: CliRunner, tmp_path: Path) -> None:
    """`ltm import export.jsonl --user alice` read the export's header as a chat turn: 'line
    1: text must be a string, not NoneType'."""
    assert cli.invoke(main, ["--store", "a", "add", "--user", "bob", "hello there"]).exit_code == 0
    assert cli.invoke(main, ["--store", "a", "export", "-o", "e.jsonl"]).exit_code == 0
    got = cli.invoke(main, ["--store", "b", "import", "e.jsonl", "--user", "alice"])
    assert got.exit_code == 2
    assert got.stderr.strip() == ("ltm: e.jsonl is an ltm export: import it without --user "
                                  "(each memory keeps its own user)")
    got = cli.invoke(main, ["--store", "b", "import", "e.jsonl", "--json"])
    assert got.exit_code == 0 and json.loads(got.stdout)["imported"] == 1
