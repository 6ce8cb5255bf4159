"""Processes opening one new store at the same moment (QA of issue 2: ``ltm serve --workers 2``
on a fresh folder, two scripts started together): now and then one failed at once with
'cannot open ...: database is locked' (StoreError; 2 to 3 in 10 runs of 12 rounds of 4-6
processes). While the first process writes the new file's first page (rollback-journal
mode, before its switch to WAL), SQLite answers the second one's switch to WAL mode with
SQLITE_BUSY without calling the busy handler. Opening now retries for up to
``busy_timeout_ms``; the test holds that state open for 0.5 s."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

import ltm
from ltm.errors import StoreBusy


def _being_created(folder: Path, hold_s: float) -> threading.Thread:
    """Another connection in the middle of creating ``folder``'s database: its first table
    written, not committed, in rollback-journal mode."""
    folder.mkdir()
    holder = sqlite3.connect(folder / "memories.db", isolation_level=None,
                             check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE other_process (a)")

    def release() -> None:
        time.sleep(hold_s)
        holder.execute("ROLLBACK")
        holder.close()

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def test_opening_a_store_another_process_is_creating_waits(tmp_path: Path) -> None:
    thread = _being_created(tmp_path / "s", 0.5)
    try:
        started = time.monotonic()
        with ltm.open(tmp_path / "s", embedder="hash", busy_timeout_ms=10_000) as mem:
            mem.add("hello", user="u")
            assert time.monotonic() - started >= 0.4  # it waited for the other process
    finally:
        thread.join()
    with ltm.open(tmp_path / "s") as mem:
        assert mem.user_stats("u").memories == 1


def test_it_waits_no_longer_than_the_busy_timeout(tmp_path: Path) -> None:
    thread = _being_created(tmp_path / "s", 2.0)
    try:
        started = time.monotonic()
        with pytest.raises(StoreBusy):
            ltm.open(tmp_path / "s", embedder="hash", busy_timeout_ms=300)
        assert time.monotonic() - started < 1.5
    finally:
        thread.join()
