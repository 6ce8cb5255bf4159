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
