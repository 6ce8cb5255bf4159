"""A store file that cannot take writes, as a new user meets it (QA of issue 2).

- Another process holds the write lock: a read (``ltm search``) printed its hits and then
  exited 4, because closing the store wrote the hits' access counts and waited for the lock.
- The file is read-only: reads printed their answer and then a traceback (exit 1) from the
  close; ``ltm add`` a raw ``sqlite3.OperationalError``.
- A full disk (a file-size limit, RLIMIT_FSIZE, stands in for it: no root needed): writes
  raised raw ``sqlite3.OperationalError('disk I/O error')``, close() too.
- A store written by a newer version (a migration this one does not know) opened silently.
- ``MemoryStore.ranker`` after close() raised ``sqlite3.ProgrammingError``.

Now a write the file refuses is a ``StoreError`` (exit 4, one line), nothing of it is written,
reads answer (exit 0) and close() leaves the upkeep it cannot do (access counts, checkpoint)."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import ltm
from ltm.errors import StoreBusy, StoreError

DB = "memories.db"


def _ltm(*args: str, env: dict[str, str] | None = None,
         prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, sys.executable, "-m", "ltm", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


@pytest.fixture
def store() -> Iterator[Path]:
    """A store with one memory in a folder every user may enter (the read-only case runs the
    command as another user when the tests run as root, who may write any file)."""
    base = Path(tempfile.mkdtemp(prefix="ltm-qa2-"))
    base.chmod(0o755)
    path = base / "store"
    with ltm.open(path, embedder="hash") as mem:
        mem.add("I moved to Lisbon in March", user="alice", session="s1")
    try:
        yield path
    finally:
        shutil.rmtree(base)


def _count(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path / DB}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM memories").fetchone()[0])
    finally:
        conn.close()


def test_a_read_while_another_process_writes_exits_0(store: Path) -> None:
    holder = sqlite3.connect(store / DB, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    try:
        env = {"LTM_BUSY_TIMEOUT_MS": "200"}
        got = _ltm("--store", str(store), "search", "--user", "alice", "Lisbon", env=env)
        assert got.returncode == 0, got.stderr
        assert "Lisbon" in got.stdout
        added = _ltm("--store", str(store), "add", "--user", "alice", "new", "--json", env=env)
        assert added.returncode == 4 and '"StoreBusy"' in added.stderr, added.stderr
        with ltm.open(store, busy_timeout_ms=100) as mem:  # the library the same way
            assert mem.search("Lisbon", user="alice")[0].memory.text.startswith("I moved")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _count(store) == 1


def test_a_store_locked_whole_by_another_process_is_busy(store: Path) -> None:
    """A process with SQLite's exclusive locking mode (a backup tool, a migration) keeps
    every reader out: opening was a plain StoreError ('cannot open ...: database is
    locked'), which a caller retrying on StoreBusy did not retry."""
    holder = sqlite3.connect(store / DB, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreBusy, match="another process holds it locked"):
            ltm.open(store, busy_timeout_ms=100)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with ltm.open(store) as mem:
        assert mem.stats()["memories"] == 1


def _other_user() -> tuple[str, ...]:
    """The command prefix that runs a command as a user the store's files do not belong to
    (nothing when the tests do not run as root, who may write any file)."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv to run as another user")
    return ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


def test_a_read_only_store_answers_reads_and_refuses_writes(store: Path) -> None:
    (store / DB).chmod(0o444)
    for folder in (store, store / "index"):
        if folder.exists():
            folder.chmod(0o777)  # the folder may take SQLite's -wal and -shm files
    other = _other_user()
    got = _ltm("--store", str(store), "search", "--user", "alice", "Lisbon", prefix=other)
    assert got.returncode == 0, got.stderr
    assert "Lisbon" in got.stdout and "Traceback" not in got.stderr
    got = _ltm("--store", str(store), "stats", "--json", prefix=other)
    assert got.returncode == 0 and '"memories": 1' in got.stdout, got.stderr
    added = _ltm("--store", str(store), "add", "--user", "alice", "new", prefix=other)
    assert added.returncode == 4, added.stderr
    assert added.stderr.strip().splitlines() == [added.stderr.strip()]
    assert "read-only" in added.stderr and added.stdout == ""
    assert _count(store) == 1


def test_a_read_only_store_lists_a_large_scope(store: Path) -> None:
    """A scope of hnsw_min_scope memories or more gets a time index on its first list or
    time-filtered search; on a read-only store making it failed, and after the StoreError of
    3e9e0ff that failure ended the read (exit 4) instead of walking the rows."""
    with ltm.open(store, hnsw_min_scope=30) as mem:
        mem.add_many([{"text": f"memory {i} about Lisbon", "user": "bob",
                       "time": f"2026-01-{i % 28 + 1:02d}"} for i in range(40)])
    (store / DB).chmod(0o444)
    store.chmod(0o777)
    env = {"LTM_HNSW_MIN_SCOPE": "30"}
    got = _ltm("--store", str(store), "list", "--user", "bob", "-n", "2", "--json", env=env,
               prefix=_other_user())
    assert got.returncode == 0, got.stderr
    assert len(json.loads(got.stdout)["memories"]) == 2
    got = _ltm("--store", str(store), "search", "--user", "bob", "Lisbon", "--since",
               "2026-01-20", "-k", "3", "--json", env=env, prefix=_other_user())
    assert got.returncode == 0, got.stderr
    assert len(json.loads(got.stdout)) == 3


def test_a_read_only_store_folder_says_why_it_cannot_be_opened(store: Path) -> None:
    """SQLite cannot read a store in WAL mode without making its -shm file: the message says
    so (it read only 'attempt to write a readonly database' for a search)."""
    for path in (store / DB, store / "index", store):
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        got = _ltm("--store", str(store), "search", "--user", "alice", "Lisbon",
                   prefix=_other_user())
    finally:
        for folder in (store, store / "index"):
            folder.chmod(0o755)
    assert got.returncode == 4, got.stderr
    assert "read-only" in got.stderr and "memories.db-shm" in got.stderr
    assert len(got.stderr.strip().splitlines()) == 1


def test_a_store_folder_this_user_may_not_enter_is_exit_4(store: Path) -> None:
    """Python's PermissionError escaped as a traceback (exit 1): from the check for a missing
    store (read commands) and from the look for the folder's ltm.toml (every command)."""
    store.chmod(0o000)
    try:
        for args in (["stats"], ["search", "--user", "alice", "Lisbon"],
                     ["add", "--user", "alice", "hello"]):
            got = _ltm("--store", str(store), *args, prefix=_other_user())
            assert got.returncode == 4, got.stderr
            assert got.stderr.startswith("ltm: ") and len(got.stderr.splitlines()) == 1, \
                got.stderr
    finally:
        store.chmod(0o755)


def test_an_unreadable_ltm_toml_is_named(store: Path) -> None:
    (store / "ltm.toml").write_text("dense_weight = 0.3\n")
    (store / "ltm.toml").chmod(0o000)
    got = _ltm("--store", str(store), "stats", prefix=_other_user())
    assert got.returncode == 2, got.stderr
    assert got.stderr.strip().splitlines() == [
        f"ltm: cannot read {store / 'ltm.toml'}: Permission denied"]


FILL = textwrap.dedent("""
    import sys
    import ltm
    from ltm.errors import StoreBusy, StoreError
    mem = ltm.open(sys.argv[1])
    acked = 0
    try:
        for i in range(10_000):
            mem.add_many([{"text": f"memory {i} {j} " + "filler " * 40, "user": "alice"}
                          for j in range(20)])
            acked += 20
    except StoreError as exc:
        print("refused", type(exc).__name__, file=sys.stderr)
    try:
        mem.add("one more", user="alice")
    except StoreError:
        print("refused again", file=sys.stderr)
    mem.close()
    print(acked)
""")


def _file_limit() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1_500_000, 1_500_000))


def test_a_full_disk_refuses_writes_as_store_error_and_keeps_acknowledged_ones(
        store: Path) -> None:
    got = subprocess.run([sys.executable, "-c", FILL, str(store)], capture_output=True,
                         text=True, timeout=120, preexec_fn=_file_limit)
    assert got.returncode == 0, got.stderr[-3000:]
    assert "refused StoreError" in got.stderr and "refused again" in got.stderr, got.stderr
    acked = int(got.stdout)
    assert acked > 0
    assert _count(store) == acked + 1  # every acknowledged write, nothing of the refused
    with ltm.open(store) as mem:
        assert len(mem.search("memory filler", user="alice", k=50)) == 50
        mem.add("room again", user="alice")


def test_a_store_of_a_newer_version_is_refused(store: Path) -> None:
    conn = sqlite3.connect(store / DB)
    conn.execute("INSERT INTO migrations VALUES ('9999_from_the_future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer version of ltm.*9999_from_the_future"):
        ltm.open(store)
    got = _ltm("--store", str(store), "stats")
    assert got.returncode == 4 and "newer version" in got.stderr


def test_the_ranker_of_a_closed_store(store: Path) -> None:
    mem = ltm.open(store)
    mem.close()
    with pytest.raises(StoreError, match="closed"):
        mem.ranker  # noqa: B018


FORGET = textwrap.dedent("""
    import os, resource, signal, sys
    import ltm
    from ltm.errors import StoreBusy, StoreError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = os.path.getsize(os.path.join(sys.argv[1], "memories.db")) + 20_000
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    with ltm.open(sys.argv[1]) as mem:
        try:
            mem.forget(user="bob")
            print("forgot")
        except StoreError as exc:
            print(exc)
""")


def test_a_forget_whose_compaction_fails_says_what_was_erased(store: Path) -> None:
    """The erasure commits, then compact() (zeroing free pages) needs room: on a full disk the
    error said 'nothing was written' (or, before, was a raw sqlite3 error) although every
    memory of the user was gone."""
    with ltm.open(store) as mem:
        mem.add_many([{"text": f"bob's memory {i} " + "filler " * 40, "user": "bob"}
                      for i in range(1000)])
    got = subprocess.run([sys.executable, "-c", FORGET, str(store)], capture_output=True,
                         text=True, timeout=120)
    assert got.returncode == 0, got.stderr[-3000:]
    assert got.stdout.startswith("forgot 1000 memories of user 'bob', but the store could not "
                                 "be compacted"), got.stdout
    with ltm.open(store) as mem:
        assert mem.user_stats("bob").memories == 0
        assert mem.user_stats("alice").memories == 1
    # with room again, the close compacted what the failed compaction left
    assert not [p for p in store.rglob("*") if p.is_file() and b"bob's memory" in p.read_bytes()]
