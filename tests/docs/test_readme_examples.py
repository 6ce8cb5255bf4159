"""The README's examples run as written and show what the README says they show.

The Python example runs in a fresh folder with the default (offline) embedder; the command
line block runs in order through the real ``ltm`` group in this process (commands that serve,
train, benchmark or call an LLM are only resolved: each command path and option must exist).
The adapter examples have their own test, tests/integrations/test_readme_adapters.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import ltm
from ltm.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"
ADAPTERS = "## Framework adapters"


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(title)
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_every_python_block_of_the_readme_is_run_by_a_test() -> None:
    every = _python_blocks(README.read_text())
    here = _python_blocks(_section("## Python"))
    adapters = _python_blocks(_section(ADAPTERS))  # tests/integrations/test_readme_adapters.py
    assert len(here) == 1
    assert len(every) == len(here) + len(adapters), "a README python block no test runs"


def test_quick_start_is_the_two_scripts() -> None:
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["./scripts/serve", "./scripts/test"]
    root = README.parent
    assert (root / "scripts" / "serve").is_file() and (root / "scripts" / "test").is_file()


def test_python_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = _python_blocks(_section("## Python"))[0]
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    scope: dict[str, object] = {"__name__": "__readme__"}
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md, ## Python", "exec"), scope)
    lines = out.getvalue().splitlines()
    # one line per memory: relevance, time, text, signals; Lisbon answers "where does alice live?"
    assert len(lines) == 4
    top = lines[0]
    assert "I moved to Lisbon in March" in top and "2026-03-02 10:00:00+00:00" in top
    assert "'relevance':" in top and "'dense':" in top  # the signals explain it
    # the context block: the cat conversation (alice's turns, dated, with the session), only it
    block = scope["block"]
    assert isinstance(block, str)
    assert "I adopted a cat named Miso" in block and "Orange with white paws" in block
    assert "session s2" in block and "Lisbon" not in block
    # forgetting session s1 erased the Lisbon episode, and listed it by kind
    receipt = scope["receipt"]
    assert isinstance(receipt, ltm.ForgetReceipt)
    assert receipt.count == 1 and list(receipt.ids_by_kind) == ["episode"]
    with ltm.open("./memories") as mem:  # the folder the example named
        left = [m.text for m in mem.list("alice")]
        assert sorted(left) == ["I adopted a cat named Miso", "Orange with white paws",
                                "What colour is Miso?"]
        assert mem.context("weekend trip", user="alice", budget_tokens=800) == ""


def _cli_lines() -> list[list[str]]:
    block = re.search(r"```\n(\$ ltm .*?)```", _section("## Command line"), re.S)
    assert block is not None
    commands = []
    for line in block.group(1).splitlines():
        for part in re.split(r"\s{2,}(?=\$ ltm )", line.strip()):
            assert part.startswith("$ ltm "), part
            commands.append(shlex.split(part[len("$ "):], comments=True)[1:])
    return commands


# what runs for real; the rest (serve, mcp, bench, train, process) is resolved only
_RUN = {"add", "search", "context", "get", "history", "list", "update", "forget", "import",
        "export", "stats", "gc"}


def _resolve(args: list[str]) -> tuple[click.Command, list[str]]:
    """The command an argument list names, and the arguments left for it."""
    command: click.Command = main
    ctx = click.Context(main, info_name="ltm")
    while isinstance(command, click.Group) and args:  # `ltm train ...` names the group
        name, args = args[0], args[1:]
        sub = command.get_command(ctx, name)
        assert sub is not None, f"README names a command that does not exist: {name}"
        command = sub
    return command, args


def _check_options(command: click.Command, args: list[str]) -> None:
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    for arg in args:
        if arg.startswith("-") and not re.fullmatch(r"-\d.*", arg):
            assert arg in known, f"{command.name}: README uses {arg}, which it does not take"


def test_commands_named_in_the_text_exist() -> None:
    named = set(re.findall(r"`ltm ([^`]*)`", README.read_text()))
    assert "keys create --user alice --rights read,write" in named
    for text in named:
        args = [a for a in shlex.split(text.replace("[", " ").replace("]", " ")) if a != "..."]
        if args and not args[0].startswith("-"):
            command, rest = _resolve(args)
            _check_options(command, rest)


def test_command_line_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LTM_STORE", raising=False)
    (tmp_path / "conversation.jsonl").write_text(
        '{"role": "alice", "content": "We should plan a weekend trip to Porto"}\n'
        '{"role": "assistant", "content": "Porto in May is lovely"}\n')
    runner = CliRunner()
    first_id = ""
    ran = []
    for args in _cli_lines():
        command, rest = _resolve(args)
        _check_options(command, rest)
        if args[0] not in _RUN:
            continue
        args = [first_id if a == "01J..." else a for a in args]
        result = runner.invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output)
        out = result.output
        ran.append(args[0])
        if args[:2] == ["add", "--user"] and not first_id:
            first_id = out.strip()
            assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", first_id), out
        elif "--explain" in args:  # each hit's relevance and signals
            assert "relevance=" in out and "dense=" in out and "Lisbon" in out
        elif "--min-relevance" in args:  # weaker hits dropped
            scores = [float(line.split()[0]) for line in out.splitlines() if line.strip()]
            assert scores and all(s >= 0.1 for s in scores), out  # Lisbon stays
        elif args[0] == "context":  # empty: nothing stored is relevant
            assert out.strip() == ""
        elif args[0] == "get":
            assert "I moved to Lisbon in March" in out
        elif args[0] == "history":
            assert "created" in out
        elif args[0] == "list":  # newest first
            assert first_id in out
        elif args[0] == "import":
            assert "imported 2" in out
        elif args[0] == "stats":
            assert json.loads(out)["memories"] == 2  # the imported conversation
    assert (tmp_path / "alice.jsonl").read_text().count("\n") == 3  # header and 2 memories
    assert sorted(set(ran)) == sorted(_RUN)
