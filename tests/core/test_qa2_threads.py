"""Several threads on one store while one of them closes it (QA of issue 2; a server shutting
down with requests in flight): a call that began before close() raised sqlite3's
``ProgrammingError('Cannot operate on a closed database.')`` from wherever it touched the
connection (BEGIN, the write mark, the vector index, the scope cache). Every call now ends
in ``StoreError('the store is closed')`` or completes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import ltm
from ltm.errors import StoreError


def _round(path: Path) -> list[BaseException]:
    mem = ltm.open(path, embedder="hash")
    if not mem.stats()["memories"]:
        mem.add_many([{"text": f"memory {i} about topic {i % 7}", "user": f"u{i % 3}",
                       "session": f"s{i % 5}"} for i in range(2000)])
    errors: list[BaseException] = []
    done = threading.Event()

    def work(k: int) -> None:
        while not done.is_set():
            try:
                if k % 2:
                    mem.search(f"topic {k}", user=f"u{k % 3}", k=5)
                else:
                    mem.add(f"new memory {k}", user=f"u{k % 3}")
            except BaseException as exc:  # noqa: BLE001 - the test sorts them below
                errors.append(exc)
                return

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    mem.close()
    time.sleep(0.2)
    done.set()
    for t in threads:
        t.join(timeout=30)
    return errors


def test_calls_racing_close_end_in_store_error(tmp_path: Path) -> None:
    for _ in range(4):
        errors = _round(tmp_path / "s")
        assert len(errors) == 4  # every thread was stopped by the close
        assert all(type(e) is StoreError and str(e) == "the store is closed"
                   for e in errors), [repr(e) for e in errors]
    with ltm.open(tmp_path / "s") as mem:  # and the store opens again, whole
        assert mem.stats()["memories"] >= 2000
