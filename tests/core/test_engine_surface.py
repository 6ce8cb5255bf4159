"""The engine the policies work on (issue 16): ``embed``, ``cascade``, ``flush_access``,
``atomic()`` and ``scan(filters, order, limit, before)`` are public members of
``ltm.engine.Engine``, the layer ``MemoryStore`` stands on."""

from __future__ import annotations

from pathlib import Path

import pytest

import ltm
from ltm.backends.base import Filters


def test_engine_offers_embed_cascade_flush_access_atomic_and_scan(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        engine = mem.engine
        made = [mem.add(f"note {i}", user="u", time=f"2026-01-0{i + 1}") for i in range(5)]
        mem.add("someone else's note", user="v")
        assert engine.embed(["a", "b"]).shape == (2, mem.embedder.dim)
        with engine.atomic():
            pass
        engine.flush_access()
        newest = engine.scan(Filters(user="u"), limit=2)
        assert [m.id for m in newest] == [made[4].id, made[3].id]
        last = newest[-1]
        key = (int(last.time.timestamp() * 1_000_000), last.id)
        assert [m.id for m in engine.scan(Filters(user="u"), limit=2, before=key)] == \
            [made[2].id, made[1].id]
        oldest = engine.scan(Filters(user="u"), order="oldest", limit=10)
        assert [m.id for m in oldest] == [m.id for m in made]
        fact = mem.add("a fact", user="u", kind="fact", sources=[made[0].id])
        receipt = mem.forget(made[0].id, user="u")  # the store's forget cascades ...
        assert fact.id in receipt.ids_by_kind["fact"]
        assert engine.cascade("u", receipt).count == receipt.count  # ... and nothing is left
    with pytest.raises(ltm.StoreError):
        engine.scan(Filters(user="u"))
