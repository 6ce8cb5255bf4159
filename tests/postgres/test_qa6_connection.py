"""QA of issue 6: a PostgreSQL store whose connections the server drops (a restart, an
administrator's pg_terminate_backend, an idle timeout) answers with ``ltm.errors`` types,
loses nothing it acknowledged, writes nothing half, and works again at once."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

import psycopg
import pytest

import ltm
from ltm.errors import ConnectionLost, StoreBusy, StoreError


def _app_url(url: str) -> tuple[str, str]:
    """``url`` with an application_name of its own, to find (and drop) its connections."""
    name = "qa6_" + secrets.token_hex(4)
    return url + "&application_name=" + name, name


def _drop_connections(server_url: str, app: str) -> int:
    """Terminate the connections named ``app`` and wait until they are gone."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                           "WHERE application_name = %s", [app]).fetchone()
    assert row is not None
    return int(row[0])


def _fill_pool(store: ltm.MemoryStore, n: int = 4) -> None:
    """Have the pool open ``n`` connections (threads holding one each at once)."""
    barrier = threading.Barrier(n)

    def hold() -> None:
        with store.backend._conn() as conn:  # type: ignore[attr-defined]
            conn.execute("SELECT 1")
            barrier.wait(timeout=30)

    threads = [threading.Thread(target=hold) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_idle_connections_the_server_dropped_are_replaced(postgres_url: str,
                                                           pg_store_url: str) -> None:
    url, app = _app_url(pg_store_url)
    with ltm.open(url, embedder="hash") as store:
        kept = store.add("I moved to Lisbon in March", user="alice")
        _fill_pool(store)
        assert _drop_connections(postgres_url, app) >= 4
        # every pooled connection is dead: each operation still works, none raises
        assert [h.memory.id for h in store.search("Lisbon", user="alice")] == [kept.id]
        added = store.add("My cat is called Miso", user="alice")
        assert store.get(added.id, user="alice").text == "My cat is called Miso"
        assert store.list("alice").memories[0].id == added.id
        assert store.forget(added.id, user="alice").count == 1
        assert store.users() == ["alice"]


def test_a_connection_lost_mid_transaction_is_a_store_error(postgres_url: str,
                                                             pg_store_url: str) -> None:
    url, app = _app_url(pg_store_url)
    with ltm.open(url, embedder="hash") as store:
        kept = store.add("first memory", user="alice")
        backend = store.backend
        with pytest.raises(StoreError, match="connection"):
            with backend.atomic() as conn:  # type: ignore[attr-defined]
                store.add("written inside the lost transaction", user="alice")
                _drop_connections(postgres_url, app)
                conn.execute("SELECT 1")
        # nothing half-written; the store answers again at once
        assert [m.id for m in store.list("alice").memories] == [kept.id]
        assert store.user_stats("alice").memories == 1
        again = store.add("after the loss", user="alice")
        assert {m.id for m in store.list("alice").memories} == {kept.id, again.id}


def test_a_connection_lost_during_a_read(postgres_url: str, pg_store_url: str) -> None:
    """A read whose connection the server drops runs again on a fresh one (it was StoreError
    before session 13); inside ``atomic()`` the transaction is lost with the connection:
    ConnectionLost, a StoreError, not run again."""
    url, app = _app_url(pg_store_url)
    with ltm.open(url, embedder="hash") as store:
        store.add("first memory", user="alice")
        backend = store.backend
        dropper = threading.Timer(0.3, _drop_connections, [postgres_url, app])
        dropper.start()
        try:
            assert backend._read("SELECT 7 FROM pg_sleep(1)") == [(7,)]  # type: ignore[attr-defined]
        finally:
            dropper.join()
        dropper = threading.Timer(0.3, _drop_connections, [postgres_url, app])
        dropper.start()
        try:
            with pytest.raises(ConnectionLost, match="connection .* was lost") as got:
                with backend.atomic():  # type: ignore[attr-defined]
                    backend._read("SELECT pg_sleep(5)")  # type: ignore[attr-defined]
        finally:
            dropper.join()
        assert isinstance(got.value, StoreError) and not got.value.maybe_written
        assert store.user_stats("alice").memories == 1


def _deadlock_on(store: ltm.MemoryStore, dsn: str, run: Any) -> list[int]:
    """Have ``run(work)`` run ``work`` on the store's connection while another connection
    takes two meta rows in the other order: a real deadlock, of which the store's session is
    the victim (its deadlock_timeout is the shorter, so it is the one that checks). Returns
    the attempts ``work`` made."""
    backend: Any = store.backend
    backend.set_meta("qa6_a", "0")
    backend.set_meta("qa6_b", "0")
    meta = f"{backend._s}.meta"
    has_a, has_b = threading.Event(), threading.Event()
    attempts: list[int] = []

    def other() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
            conn.execute("SET LOCAL deadlock_timeout = '5s'")
            conn.execute(f"UPDATE {meta} SET value = 'x' WHERE key = 'qa6_a'")
            has_a.set()
            has_b.wait(10)
            conn.execute(f"UPDATE {meta} SET value = 'x' WHERE key = 'qa6_b'")

    def work(conn: Any) -> None:
        attempts.append(1)
        conn.execute("SET LOCAL deadlock_timeout = '10ms'")
        conn.execute(f"UPDATE {meta} SET value = 'w' WHERE key = 'qa6_b'")
        has_b.set()
        time.sleep(0.2)
        conn.execute(f"UPDATE {meta} SET value = 'w' WHERE key = 'qa6_a'")

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert has_a.wait(10)
        run(work)
    finally:
        has_b.set()
        thread.join()
    return attempts


def test_a_deadlock_is_retried_and_inside_atomic_is_store_busy(pg_store_url: str) -> None:
    dsn = pg_store_url.rsplit("schema=", 1)[0].rstrip("?&")
    with ltm.open(pg_store_url, embedder="hash") as store:
        backend: Any = store.backend
        # a write of its own (not inside atomic()) starts over
        assert len(_deadlock_on(store, dsn, backend._retry)) == 2
        assert backend.get_meta("qa6_a") == "w"

        # inside atomic() the transaction is lost: StoreBusy, a StoreError that says retry

        def in_atomic(work: Any) -> None:
            with backend.atomic() as conn:
                work(conn)

        with pytest.raises(StoreBusy, match="deadlock"):
            _deadlock_on(store, dsn, in_atomic)
        assert store.add("the store works on", user="u").text == "the store works on"
