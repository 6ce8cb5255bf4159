"""Forgetting a whole user leaves no trace of the user's name (issue 14: deletion really
erases; a user id is often an e-mail address). The content-free records a forget keeps (the
history's 'deleted' events, the deletion log) name the user by a hash, and what the store built
for the user's scope alone (SQLite's time index of a large scope, PostgreSQL's HNSW index of
one) goes with the scope. ``history(id, user=...)`` still shows the deletion."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable

import pytest

import ltm
from ltm.backends.common import user_hash

VICTIM = "victim.name@example.com"
NEEDLES = (VICTIM.encode(), VICTIM.encode().hex().encode(), VICTIM.encode().hex().upper().encode())


def _sqlite_traces(mem: ltm.MemoryStore) -> list[str]:
    folder = pathlib.Path(mem.backend.folder)  # type: ignore[attr-defined]
    return [f"{p.name}: {n[:12]!r}" for p in folder.rglob("*") if p.is_file()
            for n in NEEDLES if n in p.read_bytes()]


def _postgres_traces(mem: ltm.MemoryStore) -> list[str]:
    backend = mem.backend
    schema = backend.schema  # type: ignore[attr-defined]
    found = []
    with backend.pool.connection() as conn:  # type: ignore[attr-defined]
        for (d,) in conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = %s",
                                 [schema]).fetchall():
            if VICTIM in d:
                found.append(f"index: {d[:80]}")
        for table in ("memories", "history"):
            n = conn.execute(f'SELECT count(*) FROM "{schema}".{table} WHERE user_id = %s',
                             [VICTIM]).fetchone()[0]
            if n:
                found.append(f"{table}: {n} rows")
    return found


def test_forget_user_leaves_no_trace_of_the_name(copen: Callable[..., ltm.MemoryStore],
                                                 backend_kind: str) -> None:
    mem = copen(embedder="hash", hnsw_min_scope=40)
    made = mem.add_many([{"text": f"note {i} about the garden", "user": VICTIM,
                          "session": f"s{i % 3}", "time": f"2026-01-{i % 28 + 1:02d}"}
                         for i in range(60)])
    mem.add_many([{"text": f"other note {i}", "user": "keeper"} for i in range(5)])
    mem.update(made[0].id, user=VICTIM, text="rewritten note")
    mem.forget(made[1].id, user=VICTIM)  # an earlier single forget: its tombstone too
    assert len(mem.list(VICTIM, since="2026-01-02", limit=100).memories) > 0  # large scope
    mem.search("garden", user=VICTIM, since="2026-01-02")
    mem.forget(user=VICTIM)
    assert [e.event for e in mem.history(made[0].id, user=VICTIM)] == ["deleted"]
    assert [e.event for e in mem.history(made[1].id, user=VICTIM)] == ["deleted"]
    mem.close()
    mem = copen(embedder="hash", hnsw_min_scope=40)
    assert [e.event for e in mem.history(made[2].id, user=VICTIM)] == ["deleted"]
    traces = _sqlite_traces(mem) if backend_kind == "sqlite" else _postgres_traces(mem)
    assert traces == []
    assert mem.list("keeper").memories and mem.users() == ["keeper"]


def _postgres_rows_naming(mem: ltm.MemoryStore, skip: tuple[str, ...] = ()) -> list[str]:
    """Every text column of every table in the store's schema (but ``skip``), searched for
    the name."""
    backend = mem.backend
    schema = backend.schema  # type: ignore[attr-defined]
    found = []
    with backend.pool.connection() as conn:  # type: ignore[attr-defined]
        cols = conn.execute("SELECT table_name, column_name FROM information_schema.columns "
                            "WHERE table_schema = %s AND data_type IN ('text', 'jsonb')",
                            [schema]).fetchall()
        for table, column in cols:
            if table in skip:
                continue
            n = conn.execute(f'SELECT count(*) FROM "{schema}"."{table}" '
                             f'WHERE "{column}"::text LIKE %s', [f"%{VICTIM}%"]).fetchone()[0]
            if n:
                found.append(f"{table}.{column}: {n}")
    return found


def test_forget_user_with_judgments_leaves_no_trace(copen: Callable[..., ltm.MemoryStore],
                                                    backend_kind: str) -> None:
    mem = copen(embedder="hash")
    made = mem.add_many([{"text": f"note {i}", "user": VICTIM} for i in range(3)])
    mem.feedback("which note", made[0].id, True, user=VICTIM)
    mem.forget(user=VICTIM)
    mem.close()
    mem = copen(embedder="hash")
    traces = _sqlite_traces(mem) if backend_kind == "sqlite" else \
        _postgres_rows_naming(mem, skip=("user_stats",))  # (the test below)
    assert traces == []


@pytest.mark.postgres
def test_forget_user_leaves_no_statistics_row(new_location: Callable[[str], object]) -> None:
    with ltm.open(new_location("postgres"), embedder="hash") as mem:
        mem.add_many([{"text": f"note {i}", "user": VICTIM} for i in range(3)])
        mem.forget(user=VICTIM)
        assert _postgres_rows_naming(mem) == []


def test_tombstones_of_an_older_version_go_with_the_user(
        copen: Callable[..., ltm.MemoryStore], backend_kind: str) -> None:
    """A store written before tombstones were hashed holds 'deleted' events naming the user;
    forgetting the user's last memory rewrites them (history still finds them)."""
    mem = copen(embedder="hash")
    made = mem.add_many([{"text": f"note {i}", "user": VICTIM} for i in range(2)])
    old_id = "01M97X3CVFASMJPYJ4S6GNF64S"
    if backend_kind == "sqlite":
        import sqlite3
        db = sqlite3.connect(pathlib.Path(mem.backend.folder) / "memories.db")  # type: ignore[attr-defined]
        with db:  # as an older version's forget wrote them: tombstone + deletion log
            db.execute("INSERT INTO history (memory_id, user, event, at, data) "
                       "VALUES (?, ?, 'deleted', 1, NULL)", (old_id, VICTIM))
            db.execute("INSERT INTO deletions (at, user_hash, count, ids) VALUES (1, ?, 1, ?)",
                       (user_hash(VICTIM), json.dumps({"episode": [old_id]})))
        db.close()
    else:
        backend = mem.backend
        schema = backend.schema  # type: ignore[attr-defined]
        with backend.pool.connection() as conn:  # type: ignore[attr-defined]
            conn.execute(f'INSERT INTO "{schema}".history (user_id, memory_id, event, at) '
                         f"VALUES (%s, %s, 'deleted', 1)", [VICTIM, old_id])
            conn.execute(f'INSERT INTO "{schema}".deletions (at, user_hash, count, ids) '
                         f"VALUES (1, %s, 1, %s)",
                         [user_hash(VICTIM), json.dumps({"episode": [old_id]})])
    assert [e.event for e in mem.history(old_id, user=VICTIM)] == ["deleted"]
    mem.forget(made[0].id, user=VICTIM)
    mem.forget(made[1].id, user=VICTIM)  # the last one
    assert [e.event for e in mem.history(old_id, user=VICTIM)] == ["deleted"]
    assert [e.event for e in mem.history(made[0].id, user=VICTIM)] == ["deleted"]
    mem.close()
    mem = copen(embedder="hash")
    traces = _sqlite_traces(mem) if backend_kind == "sqlite" else _postgres_traces(mem)
    assert traces == []
