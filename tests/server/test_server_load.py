"""Bounded load on loopback: concurrent clients, mixed add/search, zero errors, no lost write
(count and content checked). Also two separate server processes on one SQLite store."""

from __future__ import annotations

from pathlib import Path

from server_support import Served

import ltm
from ltm.server.auth import KeyStore
from ltm.server.load import run_load, server_processes


def test_concurrent_clients_lose_no_write(served: Served) -> None:
    report = run_load([served.url], served.key["root"], clients=8, requests=1200, seed=1)
    assert report.errors == 0, report.error_samples
    assert report.adds + report.searches == 1200
    assert report.adds > 400 and report.searches > 400
    assert report.lost_writes == 0 and report.wrong_content == 0
    stored = sum(1 for u in range(10) for _ in served.store.backend.iter_export(
        f"load-user-{u}", with_vectors=False))
    assert stored == report.adds == report.stored


def test_two_server_processes_share_one_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    ltm.open(store).close()
    keys = KeyStore(store)
    key, _ = keys.create(["*"], "read,write,admin")
    keys.close()
    with server_processes(store, 2) as urls:
        report = run_load(urls, key, clients=6, requests=600, seed=2, server_processes=2)
    assert report.errors == 0, report.error_samples
    assert report.lost_writes == 0 and report.wrong_content == 0
    with ltm.open(store) as mem:  # after both have exited: everything is in the file
        assert mem.stats()["memories"] == report.adds
