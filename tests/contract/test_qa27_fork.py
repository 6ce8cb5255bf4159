"""A store carried across ``fork()`` (session 12 sweep), on every backend. A connection does
not survive a fork (SQLite: "do not carry an open database connection across a fork", the
child may corrupt the file; psycopg's likewise), and a lock another thread of the parent held
at the fork stays held in the child for ever: before, the child's first call hung (SQLite:
``atomic``'s lock, a thread of the parent in a transaction). Now every call of the inherited
store in the child is ``StoreError`` at once, its ``close()`` touches nothing of the parent's,
and the child may open the store again; the parent goes on with every write kept."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import ltm
from ltm.errors import StoreError

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")


def _in_child(body: Callable[[], int], report: Path, timeout: float = 60.0) -> int | str:
    """Run ``body`` in a forked child; its return value is the exit code ('hung' when it
    did not end within ``timeout``). What it raises is written to ``report``."""
    pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        code = 99
        try:
            code = body()
        except BaseException as exc:  # noqa: BLE001 (reported to the parent)
            report.write_text(f"{type(exc).__name__}: {exc}")
        os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return "hung"
        time.sleep(0.02)


def _refused(call: Callable[[], object]) -> bool:
    try:
        call()
    except StoreError as exc:
        return "forked" in str(exc)
    return False


def test_the_inherited_store_is_refused_in_the_child_not_a_hang(
        copen: Callable[..., ltm.MemoryStore], tmp_path: Path) -> None:
    store = copen(embedder="hash")
    kept = [store.add(f"note {i} about Lisbon", user="alice").id for i in range(5)]
    # a thread of the parent is inside a transaction when the process forks
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with store.engine.atomic():
            inside.set()
            leave.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(30)

    def child() -> int:
        calls: list[Callable[[], object]] = [
            lambda: store.add("from the child", user="alice"),
            lambda: store.add_many([{"text": "from the child", "user": "alice"}]),
            lambda: store.search("Lisbon", user="alice"),
            lambda: store.get(kept[0], user="alice"),
            lambda: store.list("alice"),
            lambda: store.forget(kept[0], user="alice"),
            lambda: store.users(),
            lambda: store.stats()]
        refused = sum(_refused(call) for call in calls)
        store.close()  # marks it closed; the parent's connection is left alone
        return 0 if refused == len(calls) and _refused_closed(store) else 1

    try:
        code = _in_child(child, tmp_path / "child.txt")
    finally:
        leave.set()
        holder.join()
    assert code == 0, (tmp_path / "child.txt").read_text() if code == 99 else code
    # the parent goes on: its connection, lock and writes are its own
    store.add("after the fork", user="alice")
    assert {m.id for m in store.list("alice").memories} >= set(kept)
    assert store.get(kept[0], user="alice").text == "note 0 about Lisbon"
    assert len(store.list("alice").memories) == 6
    assert store.search("after the fork", user="alice")[0].memory.text == "after the fork"


def _refused_closed(store: ltm.MemoryStore) -> bool:
    try:
        store.search("Lisbon", user="alice")
    except StoreError as exc:
        return "closed" in str(exc)
    return False


def test_the_child_opens_the_store_again(copen: Callable[..., ltm.MemoryStore],
                                         tmp_path: Path) -> None:
    store = copen(embedder="hash")
    store.add("written by the parent before", user="alice")
    again: Callable[..., ltm.MemoryStore] = copen

    def child() -> int:
        store.close()
        fresh = again(embedder="hash")
        for i in range(5):
            fresh.add(f"written by the child {i}", user="alice")
        found = fresh.search("written by the child 3", user="alice")[0].memory.text
        fresh.close()
        return 0 if found == "written by the child 3" else 1

    code = _in_child(child, tmp_path / "child.txt")
    assert code == 0, (tmp_path / "child.txt").read_text() if code == 99 else code
    store.add("written by the parent after", user="alice")
    texts = {m.text for m in store.list("alice").memories}
    assert texts == {"written by the parent before", "written by the parent after",
                     *(f"written by the child {i}" for i in range(5))}
    assert store.search("written by the child 4", user="alice")[0].memory.text \
        == "written by the child 4"
    folder = getattr(store.backend, "folder", None)
    store.close()
    if folder is not None:  # SQLite: the file is sound
        with sqlite3.connect(Path(folder) / "memories.db") as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
