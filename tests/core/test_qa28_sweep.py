"""Defects found by the session-13 sweep (helper 64) of the async API, the integrations,
export/import with hostile files and the CLI's options; one test each."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import ltm
from ltm.embed.hashing import HashingEmbedder
from ltm.errors import DimensionMismatch


def test_async_store_sets_the_stores_attributes(tmp_path: Path) -> None:
    """``amem.embedder = x`` set an attribute of the async face that hid the store's: no
    DimensionMismatch for an embedder of another dimension, and ``amem.embedder`` reported
    one the store did not use. Now the store's attributes are set on the store, with its
    checks."""

    async def run() -> None:
        async with await ltm.open_async(tmp_path / "s", embedder="hash") as amem:
            await amem.add("I moved to Lisbon", user="alice")
            with pytest.raises(DimensionMismatch):
                amem.embedder = HashingEmbedder(16)
            assert amem.embedder is amem.sync.embedder and amem.embedder.dim == 256
            other = HashingEmbedder(256)
            amem.embedder = other
            assert amem.sync.embedder is other and amem.embedder is other
            with pytest.raises(AttributeError):
                amem.ranker = None  # (a property without a setter, as on the store)
            amem.note = "mine"  # other names stay the face's own
            assert amem.note == "mine" and not hasattr(amem.sync, "note")

    asyncio.run(run())
