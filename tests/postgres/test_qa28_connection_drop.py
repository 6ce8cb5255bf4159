"""Connections the server (or the network) dropped where the pool's idle poll cannot see it
(session 13, helper 64). ``_pooled`` passes over a pooled connection whose socket already holds
the server's goodbye, but one dropped a moment ago (``pg_terminate_backend`` without waiting,
a restart) or lost on the way (a proxy, a NAT, a failover) looks healthy until it is used: the
first calls after the drop failed with StoreError, one per dead pooled connection. Now a read
runs again on the next connection, a write whose transaction was lost before it committed
starts over on the next connection (nothing of it was written), and a connection lost while a
write committed is ``ConnectionLost`` with ``maybe_written`` (the commit may have been
applied); never a raw psycopg error.

The loss is made by a real proxy on a Unix socket between the store and the server: ``cut()``
closes its server sides and leaves the store's sockets open and silent, so the idle poll sees
nothing; the store's next message on one is answered by its end (what a dead peer behind a
proxy gives)."""

from __future__ import annotations

import io
import os
import secrets
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

import ltm
from ltm.errors import ConnectionLost, StoreError


class _Proxy:
    """Forwards connections from a Unix socket of its own to the PostgreSQL server."""

    def __init__(self, server_url: str) -> None:
        info = psycopg.conninfo.conninfo_to_dict(server_url)
        host, port = str(info.get("host") or "localhost"), int(info.get("port") or 5432)
        self.upstream: Any = (f"{host}/.s.PGSQL.{port}" if host.startswith("/")
                              else (host, port))
        self.info = info
        self.folder = tempfile.mkdtemp(prefix="ltm-px-")  # (a short path: sun_path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(f"{self.folder}/.s.PGSQL.5432")
        self.listener.listen(64)
        self.lock = threading.Lock()
        self.pairs: list[list[Any]] = []  # [client, server, dead]
        self.commit_lost = False  # the next COMMIT reaches the server, its answer does not
        self.threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def url(self, schema: str) -> str:
        user = quote(str(self.info.get("user") or "postgres"))
        password = self.info.get("password")
        auth = user + (":" + quote(str(password)) if password else "")
        db = quote(str(self.info.get("dbname") or "postgres"))
        return f"postgresql://{auth}@/{db}?host={quote(self.folder)}&port=5432&schema={schema}"

    def _spawn(self, fn: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        self.threads.append(t)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            family = socket.AF_UNIX if isinstance(self.upstream, str) else socket.AF_INET
            server = socket.socket(family, socket.SOCK_STREAM)
            server.connect(self.upstream)
            pair = [client, server, False]
            with self.lock:
                self.pairs.append(pair)
            self._spawn(self._pump, pair, True)
            self._spawn(self._pump, pair, False)

    def _pump(self, pair: list[Any], upward: bool) -> None:
        src, dst = (pair[0], pair[1]) if upward else (pair[1], pair[0])
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data or pair[2]:
                # the end: of the server (after cut(), at the store's next message), or of
                # either side
                _close(pair[0])
                _close(pair[1])
                return
            if upward and self.commit_lost and b"COMMIT\x00" in data:
                with self.lock:
                    self.commit_lost = False
                pair[2] = True  # the server gets it; its answer is dropped with the socket
            try:
                dst.sendall(data)
            except OSError:
                _close(pair[0])
                _close(pair[1])
                return

    def cut(self) -> int:
        """Close the server side of every connection open now; the store's sides stay
        open and silent until it sends something. Returns how many."""
        with self.lock:
            pairs = [p for p in self.pairs if not p[2]]
            for p in pairs:
                p[2] = True
                _close(p[1])
        return len(pairs)

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            for p in self.pairs:
                _close(p[0])
                _close(p[1])
        shutil.rmtree(self.folder, ignore_errors=True)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@pytest.fixture
def proxied(postgres_url: str) -> Iterator[tuple[_Proxy, str]]:
    """A proxy in front of the test server and a store URL (a fresh schema) through it."""
    if not os.path.exists("/tmp"):
        pytest.skip("no /tmp for the proxy's socket")
    proxy = _Proxy(postgres_url)
    schema = "t_" + secrets.token_hex(6)
    yield proxy, proxy.url(schema)
    proxy.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _fill_pool(store: ltm.MemoryStore, n: int = 4) -> None:
    """Have the pool hold ``n`` open connections."""
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


def _export(store: ltm.MemoryStore) -> str:
    buf = io.StringIO()
    store.export(buf)
    return buf.getvalue()


def test_reads_after_a_silent_drop_answer(proxied: tuple[_Proxy, str]) -> None:
    proxy, url = proxied
    with ltm.open(url, embedder="hash") as store:
        kept = store.add("I moved to Lisbon in March", user="alice", session="s1")
        reads: dict[str, Callable[[], object]] = {
            "search": lambda: [h.memory.id for h in store.search("Lisbon", user="alice")],
            "search filtered": lambda: [h.memory.id for h in store.search(
                "Lisbon", user="alice", session="s1")],
            "get": lambda: store.get(kept.id, user="alice").id,
            "list": lambda: [m.id for m in store.list("alice").memories],
            "stats": lambda: store.stats()["memories"],
            "user_stats": lambda: store.user_stats("alice").memories,
            "users": lambda: store.users(),
            "history": lambda: [e.event for e in store.history(kept.id, user="alice")],
            "context": lambda: kept.text in store.context("Lisbon", user="alice"),
            "export": lambda: _export(store).count("\n"),
        }
        want = {name: read() for name, read in reads.items()}
        for name, read in reads.items():
            _fill_pool(store)
            assert proxy.cut() >= 4
            assert read() == want[name], name  # the first call after the drop answers


def test_writes_after_a_silent_drop_are_written_once(proxied: tuple[_Proxy, str]) -> None:
    proxy, url = proxied
    with ltm.open(url, embedder="hash") as store:
        kept = store.add("I moved to Lisbon in March", user="alice")
        writes: list[Callable[[], object]] = [
            lambda: store.add("my cat is called Miso", user="alice"),
            lambda: store.add_many([{"text": "one", "user": "alice"},
                                    {"text": "two", "user": "alice"}]),
            lambda: store.update(kept.id, user="alice", importance=0.9),
            lambda: store.add("Porto now", user="alice", supersedes=kept.id),
        ]
        for write in writes:
            _fill_pool(store)
            assert proxy.cut() >= 4
            write()
        texts = sorted(m.text for m in store.list("alice", limit=100).memories)
        assert texts == sorted(["I moved to Lisbon in March", "my cat is called Miso", "one",
                                "two", "Porto now"])
        assert store.get(kept.id, user="alice").importance == 0.9
        assert store.user_stats("alice").memories == 5
        _fill_pool(store)
        proxy.cut()
        assert store.forget(user="alice").count == 5
        assert store.users() == []


def test_a_connection_lost_inside_a_transaction(proxied: tuple[_Proxy, str]) -> None:
    """Inside ``atomic()`` the transaction is lost with its connection: ConnectionLost (a
    StoreError) saying so, nothing of it written; not run again behind the caller's back."""
    proxy, url = proxied
    with ltm.open(url, embedder="hash") as store:
        kept = store.add("first memory", user="alice")
        with pytest.raises(ConnectionLost, match="was lost .*nothing of this call was "
                                                 "written") as got:
            with store.backend.atomic():  # type: ignore[attr-defined]
                store.add("written inside the lost transaction", user="alice")
                proxy.cut()
                store.add("and another", user="alice")
        assert not got.value.maybe_written and isinstance(got.value, StoreError)
        assert not isinstance(got.value.__cause__, ConnectionLost)
        assert [m.id for m in store.list("alice").memories] == [kept.id]


def test_a_connection_lost_while_committing_may_have_written(
        proxied: tuple[_Proxy, str]) -> None:
    """The COMMIT reached the server, its answer was lost: the write is not run again (it
    would be written twice), and the error says it may have been applied."""
    proxy, url = proxied
    with ltm.open(url, embedder="hash") as store:
        store.add("first memory", user="alice")
        proxy.commit_lost = True
        with pytest.raises(ConnectionLost, match="while a write committed: it may or may not "
                                                 "have been applied") as got:
            store.add("committed, unacknowledged", user="alice")
        assert got.value.maybe_written
        assert isinstance(got.value.__cause__, psycopg.OperationalError)
        assert sorted(m.text for m in store.list("alice").memories) == [
            "committed, unacknowledged", "first memory"]  # once, as the server has it


def test_a_search_of_long_memories_after_a_silent_drop(proxied: tuple[_Proxy, str]) -> None:
    """With passage vectors on (chunk_min_chars), a search also reads the user's passages
    (chunk_set, several statements on one connection): it runs again on the next one too."""
    proxy, url = proxied
    with ltm.open(url, embedder="hash", chunk_min_chars=200) as store:
        long = " ".join(f"On day {i} we walked along the river in Lisbon and ate pastries."
                        for i in range(12))
        kept = store.add(long, user="alice")
        store.add("my cat is called Miso", user="alice")
        want = [h.memory.id for h in store.search("pastries by the river", user="alice")]
        assert want[0] == kept.id
        backend: Any = store.backend
        passages = backend.chunk_set("alice")
        assert passages is not None and passages.ids == [kept.id]
        for _ in range(3):
            _fill_pool(store)
            assert proxy.cut() >= 4
            got = backend.chunk_set("alice")  # the first read after the cut
            assert got is not None and got.ids == [kept.id]
            assert [h.memory.id for h in store.search("pastries by the river",
                                                      user="alice")] == want
