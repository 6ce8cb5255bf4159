"""A store on a file system mounted read-only (a backup, a read-only container volume; session
12 sweep). SQLite's WAL mode reads through a -shm file it cannot make there, so before every
command, reads too, was StoreError 'unable to open database file' (exit 4) with no word of
why. Now a store closed cleanly is read as an immutable file: search, list, get, export and
stats answer, writes are StoreError (exit 4) and nothing changes; a store whose -wal still
holds writes (a process killed before the mount went read-only) opens as before where its
-shm file is there too, and otherwise says what to do.

A real tmpfs mounted read-only: needs root and mount(8); skipped elsewhere."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import ltm
from ltm.errors import StoreError

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("mount") is None,
    reason="needs root and mount(8) for a read-only tmpfs")


def _mount(folder: Path, *options: str) -> bool:
    args = ["mount", "-t", "tmpfs", "-o", ",".join(["size=16m", *options]), "tmpfs",
            str(folder)] if "remount" not in options else \
        ["mount", "-o", ",".join(options), str(folder)]
    return subprocess.run(args, capture_output=True, timeout=30).returncode == 0


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "mnt"
    folder.mkdir()
    if not _mount(folder):
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


def _ltm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ltm", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "LTM_EMBEDDER": "hash"})


def test_a_store_on_a_read_only_mount_answers_reads(mounted: Path) -> None:
    store = mounted / "s"
    with ltm.open(store, embedder="hash") as mem:
        ids = [mem.add(f"memory {i} about Lisbon", user="alice", session="a").id
               for i in range(30)]
        buf = io.StringIO()
        mem.export(buf)
        dump = buf.getvalue()
    assert _mount(mounted, "remount", "ro")
    with ltm.open(store, embedder="hash") as mem:
        assert mem.search("memory 7 about Lisbon", user="alice")[0].memory.id == ids[7]
        assert len(mem.list("alice", limit=100).memories) == 30
        assert mem.get(ids[0], user="alice").text == "memory 0 about Lisbon"
        buf = io.StringIO()
        mem.export(buf)
        assert buf.getvalue() == dump
        for write in (lambda: mem.add("new", user="alice"),
                      lambda: mem.forget(ids[0], user="alice"),
                      lambda: mem.update(ids[1], user="alice", text="changed")):
            with pytest.raises(StoreError, match="read-?only"):
                write()
        assert mem.stats()["memories"] == 30
    got = _ltm("--store", str(store), "search", "-u", "alice", "memory 3 about Lisbon",
               "--json")
    assert got.returncode == 0, got.stderr
    assert ids[3] in got.stdout
    got = _ltm("--store", str(store), "add", "-u", "alice", "new")
    assert got.returncode == 4 and "Traceback" not in got.stderr, got.stderr
    assert sorted(p.name for p in store.iterdir()) == ["index", "memories.db"]


def test_writes_left_in_the_wal(mounted: Path) -> None:
    """A process killed before the mount went read-only: its -wal holds the writes. With the
    -shm file beside it SQLite reads both; without, the error says why."""
    store = mounted / "s"
    code = ("import ltm, os, sys\n"
            "s = ltm.open(sys.argv[1], embedder='hash')\n"
            "for i in range(10): s.add(f'memory {i}', user='alice')\n"
            "os._exit(0)\n")
    subprocess.run([sys.executable, "-c", code, str(store)], check=True, timeout=120)
    assert (store / "memories.db-wal").stat().st_size > 0
    assert _mount(mounted, "remount", "ro")
    with ltm.open(store, embedder="hash") as mem:
        assert len(mem.list("alice").memories) == 10
    assert _mount(mounted, "remount", "rw")
    (store / "memories.db-shm").unlink()
    assert _mount(mounted, "remount", "ro")
    with pytest.raises(StoreError, match="mounted read-only, and its memories.db-wal"):
        ltm.open(store, embedder="hash")
    got = _ltm("--store", str(store), "list", "-u", "alice")
    assert got.returncode == 4 and "memories.db-wal holds writes" in got.stderr, got.stderr
