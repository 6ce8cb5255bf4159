"""Ids are per user on PostgreSQL (two users may hold the same one, as add_many and import let
them) and store-wide on SQLite. An export of such a PostgreSQL store could be imported
nowhere, not even into a fresh PostgreSQL store: import refused the second line as 'id comes
twice in the file'. A file may repeat an id for different users; SQLite refuses it as an id
in use (InvalidInput naming the line, nothing written), PostgreSQL round-trips it."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest

import ltm

SHARED = "01M97X3CVFASMJPYJ4S6GNF64S"


def _file() -> str:
    lines = [{"ltm_export": 1, "embedder": "hash:256", "dim": 256}]
    for user in ("alice", "bob"):
        lines.append({"id": SHARED, "user": user, "kind": "episode", "text": f"{user}'s note",
                      "time": "2026-01-01T00:00:00Z", "recorded_at": "2026-01-01T00:00:00Z"})
    return "\n".join(json.dumps(x) for x in lines) + "\n"


def test_an_id_held_by_two_users(copen: Callable[..., ltm.MemoryStore], backend_kind: str,
                                 new_location: Callable[[str], object]) -> None:
    mem = copen(embedder="hash")
    if backend_kind == "sqlite":
        with pytest.raises(ltm.errors.InvalidInput) as err:
            mem.import_(io.StringIO(_file()))
        assert err.value.item == 3
        assert mem.stats()["memories"] == 0
        return
    assert mem.import_(io.StringIO(_file())).imported == 2
    assert mem.get(SHARED, user="alice").text == "alice's note"
    assert mem.get(SHARED, user="bob").text == "bob's note"
    out = io.StringIO()
    mem.export(out, embeddings=False)
    assert mem.import_(io.StringIO(out.getvalue())).skipped == 2  # again: all skipped
    with ltm.open(new_location(backend_kind), embedder="hash") as fresh:  # a new store
        assert fresh.import_(io.StringIO(out.getvalue())).imported == 2
        again = io.StringIO()
        fresh.export(again, embeddings=False)
    assert sorted(again.getvalue().splitlines()) == sorted(out.getvalue().splitlines())
