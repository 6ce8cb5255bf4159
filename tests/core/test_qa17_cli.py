"""QA of issue 17's command line as a new user meets it: `ltm list` (a read-only command the
issue names) and the commands that change an existing memory must not create a store where
there is none, and under --json every error is a JSON object on stderr, including a bad
--metadata and a forget that names nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ltm.cli import main


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in [n for n in __import__("os").environ if n.startswith("LTM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LTM_EMBEDDER", "hash")
    monkeypatch.chdir(tmp_path)
    return CliRunner()


@pytest.mark.parametrize("args", [
    ["list", "-u", "alice"],
    ["list", "-u", "alice", "--json"],
    ["update", "-u", "alice", "01ABC", "--text", "hi"],
    ["forget", "-u", "alice", "01ABC"],
    ["gc", "--dry-run"],
    ["gc", "--json"],
    ["process"],
    ["keys", "list"],
])
def test_commands_on_a_missing_store_create_nothing(cli: CliRunner, tmp_path: Path,
                                                    args: list[str]) -> None:
    r = cli.invoke(main, args)
    assert r.exit_code == 4, (args, r.output, r.stderr)
    assert "no store at 'ltm-data'" in r.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [
    ["add", "-u", "alice", "hello", "--metadata", "{bad", "--json"],
    ["update", "-u", "alice", "01ABC", "--metadata", "{bad", "--json"],
    ["forget", "-u", "alice", "--json"],
    ["forget", "-u", "alice", "--all", "--session", "s1", "--yes", "--json"],
])
def test_usage_errors_are_json_under_json(cli: CliRunner, args: list[str]) -> None:
    r = cli.invoke(main, args)
    assert r.exit_code == 2, (args, r.output, r.stderr)
    err = json.loads(r.stderr)
    assert err["exit_code"] == 2 and err["error"] == "InvalidInput" and err["message"]
    assert r.stdout == ""
    # without --json the same error is one plain line
    plain = cli.invoke(main, [a for a in args if a != "--json"])
    assert plain.exit_code == 2 and plain.stderr.startswith("ltm: ")


@pytest.mark.parametrize("args", [
    ["list", "--json"],                              # a required option missing
    ["search", "-u", "alice", "q", "-k", "abc", "--json"],  # a bad option value
    ["list", "-u", "alice", "--no-such-option", "--json"],
    ["nosuchcommand", "--json"],
])
def test_click_usage_errors_are_json_under_json(cli: CliRunner, args: list[str]) -> None:
    r = cli.invoke(main, args)
    assert r.exit_code == 2, (args, r.output)
    err = json.loads(r.stderr)
    assert err == {"error": "UsageError", "message": err["message"], "exit_code": 2}
    assert err["message"] and "Usage:" not in err["message"]
    plain = cli.invoke(main, [a for a in args if a != "--json"])
    assert plain.exit_code == 2 and "Usage:" in plain.stderr


def test_lines_of_list_and_search_are_one_memory_each(cli: CliRunner) -> None:
    assert cli.invoke(main, ["add", "-u", "alice", "first line\nsecond line\r\nthird"]
                      ).exit_code == 0
    assert cli.invoke(main, ["add", "-u", "alice", "another memory"]).exit_code == 0
    listed = cli.invoke(main, ["list", "-u", "alice"])
    assert listed.exit_code == 0 and len(listed.stdout.splitlines()) == 2
    assert "first line second line third" in listed.stdout
    found = cli.invoke(main, ["search", "-u", "alice", "second line", "-k", "1"])
    assert found.exit_code == 0 and len(found.stdout.splitlines()) == 1


def test_a_bad_store_before_the_command_is_a_json_error_under_json(cli: CliRunner,
                                                                   tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a store")
    r = cli.invoke(main, ["--store", "afile", "stats", "--json"])
    assert r.exit_code == 2
    err = json.loads(r.stderr)
    assert err["error"] == "UsageError" and "afile" in err["message"]
