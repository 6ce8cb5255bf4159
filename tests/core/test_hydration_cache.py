"""The SQLite backend decodes memories read since the last write from its hydration cache
(``Reads.get_many``) instead of reading them again. What it returns is what a freshly opened
store reads: after this connection's access counts, updates and rolled-back writes, after
another connection's writes, and whatever a caller did to the memories it was given."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

import ltm
from ltm.backends.sqlite import SqliteBackend


def _backend(store: ltm.MemoryStore) -> SqliteBackend:
    backend = store.backend
    assert isinstance(backend, SqliteBackend)
    return backend


def _read(store: ltm.MemoryStore, ids: list[str]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(m) for m in _backend(store).get_many(ids, "u").values()]


def _fresh(folder: Path, ids: list[str]) -> list[dict[str, Any]]:
    with ltm.open(folder, embedder="hash") as fresh:
        return _read(fresh, ids)


def test_cached_reads_answer_like_a_fresh_store(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    with ltm.open(folder, embedder="hash") as store:
        added = store.add_many(
            [{"text": f"turn {i} about boats", "user": "u", "session": "s",
              "metadata": {"speaker": "Ana", "n": i}} for i in range(6)]
            + [{"text": "nested", "user": "u", "metadata": {"tags": ["a", "b"], "at": {"x": 1}}}])
        ids = [m.id for m in added]
        first = _read(store, ids[::-1])
        assert [m["id"] for m in first] == sorted(ids)  # id order, as a read by id
        assert first == _fresh(folder, ids)
        assert len(_backend(store)._held_cache) == len(ids)  # the reads are held now

        # a caller changes what it was given: the next read is not changed with it
        got = _backend(store).get_many(ids, "u")
        got[ids[0]].metadata["speaker"] = "Mallory"
        nested = got[ids[6]].metadata
        nested["tags"].append("c")
        nested["at"]["x"] = 2
        assert _read(store, ids) == first

        # this connection's access counts (a commit that keeps the write mark)
        store.search("boats", user="u", k=3)
        store.engine.flush_access()
        after = _read(store, ids)
        assert after != first
        assert after == _fresh(folder, ids)

        # this connection's update
        store.update(ids[1], user="u", text="turn 1 about ships")
        assert _read(store, ids) == _fresh(folder, ids)
        assert _backend(store).get_many([ids[1]], "u")[ids[1]].text == "turn 1 about ships"

        # a write rolled back inside a transaction is never read back
        backend = _backend(store)
        with pytest.raises(RuntimeError):
            with backend.atomic() as c:
                c.execute("UPDATE memories SET text = 'uncommitted' WHERE id = ?", (ids[2],))
                assert backend.get_many([ids[2]], "u")[ids[2]].text == "uncommitted"
                raise RuntimeError("roll back")
        assert backend.get_many([ids[2]], "u")[ids[2]].text == "turn 2 about boats"

        # another connection's update and forget
        with ltm.open(folder, embedder="hash") as other:
            other.update(ids[3], user="u", metadata={"speaker": "Bo"})
            other.forget(ids[4], user="u")
        final = _read(store, ids)
        assert ids[4] not in [m["id"] for m in final]
        assert final == _fresh(folder, ids)
