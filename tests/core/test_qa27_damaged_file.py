"""A store whose database file is damaged (pages another program or the disk overwrote, a bad
copy; session 12 sweep). The open checks only what it reads, so the damage shows on a later
read: list, export, stats and user_stats raised the raw sqlite3.DatabaseError ('database disk
image is malformed') or OperationalError ('Could not decode to UTF-8 column ...' with the
damaged bytes), a traceback and exit 1 in the CLI, a 500 over REST, where writes already said
StoreError. Now every MemoryStore call says StoreError (CLI exit 4, one line) naming the
damage, never quoting the damaged bytes; other raw errors are left as they are."""

from __future__ import annotations

import io
import random
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import ltm
from ltm.cli import main
from ltm.errors import StoreError


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    store = tmp_path / "s"
    with ltm.open(store, embedder="hash") as mem:
        mem.add_many([{"text": f"memory {i} about Lisbon " + "pad " * 50, "user": f"u{i % 5}"}
                      for i in range(3_000)])
    db = store / "memories.db"
    data = bytearray(db.read_bytes())
    rnd = random.Random(1)
    for _ in range(30):  # past the header and schema pages
        at = rnd.randrange(8192, len(data) - 4096)
        data[at:at + 512] = bytes(rnd.randrange(256) for _ in range(512))
    db.write_bytes(bytes(data))
    conn = sqlite3.connect(db)
    try:  # (what the test stands for)
        assert conn.execute("PRAGMA quick_check").fetchone()[0] != "ok"
    except sqlite3.DatabaseError:
        pass
    finally:
        conn.close()
    return store


def test_reads_of_a_damaged_file_are_store_errors(damaged: Path) -> None:
    with ltm.open(damaged, embedder="hash") as mem:
        refused = 0
        for call in (lambda: mem.list("u2", limit=1000), lambda: mem.export(io.StringIO()),
                     mem.stats, lambda: mem.user_stats("u4"),
                     lambda: mem.search("memory about Lisbon", user="u1", k=1000)):
            try:
                call()
            except StoreError as exc:
                assert "database file is damaged" in str(exc)
                assert "\ufffd" not in str(exc) and "\n" not in str(exc), str(exc)
                refused += 1
        assert refused >= 3
    for args in (["list", "-u", "u2", "-n", "1000"], ["export"], ["stats"]):
        got = CliRunner().invoke(main, ["--store", str(damaged), *args])
        assert got.exit_code in (0, 4), got.output
        assert "Traceback" not in got.output
        if got.exit_code == 4:
            assert got.stderr.startswith("ltm: the store's database file is damaged (")
