"""`ltm list` (paged, newest first) and `ltm update`, run in-process on a real store folder."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import ltm
from ltm.cli import main


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_list_pages_and_update(tmp_path: Path) -> None:
    s = str(tmp_path / "store")
    with ltm.open(s, embedder="hash") as mem:
        ids = [mem.add(f"note {i}", user="alice", session="s1" if i % 2 else "s2",
                       time=f"2026-01-0{i + 1}T10:00:00Z").id for i in range(5)]
        mem.add("bob's note", user="bob")
    code, out, err = _run("list", "--store", s, "--user", "alice", "-n", "2", "--json")
    assert code == 0, err
    page = json.loads(out)
    assert [m["id"] for m in page["memories"]] == [ids[4], ids[3]]
    code, out, err = _run("list", "--store", s, "--user", "alice", "--cursor",
                          page["next_cursor"], "--json")
    rest = json.loads(out)
    assert [m["id"] for m in rest["memories"]] == [ids[2], ids[1], ids[0]]
    assert rest["next_cursor"] is None
    code, out, err = _run("list", "--store", s, "--user", "alice", "--session", "s1",
                          "--oldest")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == [ids[1], ids[3]]
    code, out, err = _run("list", "--store", s, "--user", "alice", "-n", "2")
    assert "more: --cursor" in err and len(out.splitlines()) == 2
    assert _run("list", "--store", s, "--user", "alice", "-n", "0")[0] == 2
    assert _run("list", "--store", s, "--user", "alice", "--cursor", "bad")[0] == 2
    assert _run("list", "--store", s, "--user", "carol")[1].strip() == "(no memories)"

    code, out, err = _run("update", "--store", s, "--user", "alice", ids[0], "--text",
                          "note zero, corrected", "--pinned", "--metadata", '{"src": "cli"}',
                          "--json")
    assert code == 0, err
    changed = json.loads(out)
    assert changed["text"] == "note zero, corrected" and changed["pinned"] is True
    assert changed["metadata"] == {"src": "cli"}
    with ltm.open(s, embedder="hash") as mem:
        assert mem.get(ids[0], user="alice").text == "note zero, corrected"
        assert [e.event for e in mem.history(ids[0], user="alice")] == ["created", "updated"]
        assert mem.search("corrected", user="alice", k=1)[0].memory.id == ids[0]
    assert _run("update", "--store", s, "--user", "alice", ids[0])[0] == 2  # nothing to change
    assert _run("update", "--store", s, "--user", "bob", ids[0], "--text", "x")[0] == 3
    assert _run("update", "--store", s, "--user", "alice", ids[0], "--importance", "7")[0] == 2
    assert _run("update", "--store", s, "--user", "alice", ids[0], "--metadata", "{")[0] == 2
