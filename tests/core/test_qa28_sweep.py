"""Defects found by the session-13 sweep (helper 64) of the async API, the integrations,
export/import with hostile files and the CLI's options; one test each."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

import ltm
from ltm.cli import main
from ltm.embed.hashing import HashingEmbedder
from ltm.errors import DimensionMismatch


def test_async_store_sets_the_stores_attributes(tmp_path: Path) -> None:
    """``amem.embedder = x`` set an attribute of the async face that hid the store's: no
    DimensionMismatch for an embedder of another dimension, and ``amem.embedder`` reported
    one the store did not use. Now the store's attributes are set on the store, with its
    checks."""

    async def run() -> None:
        async with await ltm.open_async(tmp_path / "s", embedder="hash") as amem:
            await amem.add("I moved to Lisbon", user="alice")
            with pytest.raises(DimensionMismatch):
                amem.embedder = HashingEmbedder(16)
            assert amem.embedder is amem.sync.embedder and amem.embedder.dim == 256
            other = HashingEmbedder(256)
            amem.embedder = other
            assert amem.sync.embedder is other and amem.embedder is other
            with pytest.raises(AttributeError):
                amem.ranker = None  # (a property without a setter, as on the store)
            amem.note = "mine"  # other names stay the face's own
            assert amem.note == "mine" and not hasattr(amem.sync, "note")

    asyncio.run(run())


def test_cli_export_to_an_empty_file_name(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``ltm export --out ''`` wrote the whole export beside the working folder, then failed
    to rename it to '' with a FileNotFoundError traceback (exit 1). Now one line, exit 2, and
    nothing written."""
    store = tmp_path / "s"
    with ltm.open(store, embedder="hash") as mem:
        mem.add("I moved to Lisbon", user="alice")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    got = CliRunner().invoke(main, ["--store", str(store), "export", "--out", ""])
    assert got.exit_code == 2, got.output
    assert got.stderr.strip() == "ltm: --out needs a file name (or - for standard output)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s", "work"]
    assert list(work.iterdir()) == []


@pytest.mark.parametrize(("option", "value"), [
    ("--batch-size", "0"), ("--batch-size", "-1"), ("--lr", "nan"), ("--lr", "-1"),
    ("--lr", "inf"), ("--adam-beta2", "nan"), ("--warmup-steps", "-1"),
    ("--weight-average", "1"), ("--weight-average", "nan"), ("--max-len", "0"), ("--min-len", "9"), ("--bits", "0"),
    ("--memory-n", "0"), ("--read-heads", "-1"), ("--eval-every", "0"),
    ("--eval-lengths", "x,y"), ("--eval-lengths", "-1"), ("--eval-sequences", "-1"),
    ("--eval-memory-n", "-1"), ("--stop-bits", "nan"),
])
def test_cli_train_refuses_numbers_a_run_cannot_take(tmp_path: Path, option: str,
                                                     value: str) -> None:
    """``ltm train ntm-copy`` with a batch size of 0 or -1, a NaN or negative learning rate,
    a max length of 0, eval every 0 updates, eval lengths 'x,y' ... ended in a traceback
    (torch's RuntimeError, ZeroDivisionError, ValueError, an uncaught InvalidInput): now a
    usage error naming the option, exit 2, before anything is trained or written."""
    out = tmp_path / "run"
    got = CliRunner().invoke(main, ["train", "ntm-copy", "--out", str(out), "--steps", "2",
                                    "--eval-every", "1", "--max-len", "3", option, value])
    assert got.exit_code == 2, (got.output, got.exception)
    assert option in got.output and "Traceback" not in got.output
    assert not out.exists()


@pytest.mark.parametrize("args", [
    ["load", "--servers", "0"], ["load", "--clients", "0"], ["load", "--requests", "-1"],
    ["load", "--search-ratio", "nan"], ["load", "--workers", "0"],
    ["soak", "--seconds", "nan"], ["soak", "--users", "0"], ["fuzz", "--max-time", "nan"],
])
def test_cli_server_benchmarks_refuse_numbers_they_cannot_run(args: list[str]) -> None:
    """``ltm bench load --servers 0`` raised ZeroDivisionError in a client thread and never
    ended; 0 clients, a negative request count, a NaN share or time ran a report of nothing.
    Now a usage error, exit 2, before any server starts."""
    got = CliRunner().invoke(main, ["bench", *args])
    assert got.exit_code == 2, (got.output, got.exception)
    assert args[1] in got.output


def test_cli_imports_a_conversation_saved_with_a_byte_order_mark(tmp_path: Path) -> None:
    """A conversation file saved by an editor that writes UTF-8 with a byte order mark was
    refused ('line 1: not JSON: Unexpected UTF-8 BOM'), where an export saved the same way
    imports: the mark is not part of the first line."""
    conv = tmp_path / "trip.jsonl"
    conv.write_bytes(b'\xef\xbb\xbf{"role": "user", "content": "I moved to Lisbon"}\r\n'
                     b'{"role": "assistant", "content": "Nice!"}\r\n')
    store = tmp_path / "s"
    got = CliRunner().invoke(main, ["--store", str(store), "import", "-u", "alice", str(conv),
                                    "--json"], env={"LTM_EMBEDDER": "hash"})
    assert got.exit_code == 0, got.output
    with ltm.open(store, embedder="hash") as mem:
        assert sorted(m.text for m in mem.list("alice").memories) == ["I moved to Lisbon",
                                                                      "Nice!"]


@pytest.mark.parametrize("user", ["", "*", "  "])
def test_cli_mcp_user_names_one_user(tmp_path: Path, user: str) -> None:
    """``ltm mcp --user ''`` (an unset variable: --user "$LTM_USER") and ``--user '*'``
    served every user's memories, as if --user had been left out, where the option says
    'act for this user only'. Now ScopeError, exit 2, before the server starts."""
    got = CliRunner().invoke(main, ["--store", str(tmp_path / "s"), "mcp", "--user", user],
                             env={"LTM_EMBEDDER": "hash"})
    assert got.exit_code == 2, (got.output, got.exception)
    assert "user" in got.stderr and "Traceback" not in got.output


@pytest.mark.parametrize("args", [["continual", "--seeds", "-1"], ["continual", "--seeds", "0,-2"],
                                  ["continual", "--", "-3"]])
def test_cli_train_refuses_negative_seeds(tmp_path: Path, args: list[str]) -> None:
    """``ltm train continual --seeds -1`` ended in numpy's ValueError ('expected non-negative
    integer') with a traceback, after loading its data. Now a usage error, exit 2."""
    got = CliRunner().invoke(main, ["train", *args[:1], "--out", str(tmp_path / "run"),
                                    *args[1:]])
    assert got.exit_code == 2, (got.output, got.exception)
    assert "at least 0" in got.output or "x>=0" in got.output
