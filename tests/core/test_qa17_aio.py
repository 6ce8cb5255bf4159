"""QA of ltm.AsyncMemoryStore as a user porting sync code meets it: the store's attributes
(settings, embedder, backend) read as on MemoryStore (they raised AttributeError), and every
call of MemoryStore is there."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import ltm


def test_attributes_read_as_on_the_sync_store(tmp_path: Path) -> None:
    async def main() -> None:
        async with await ltm.open_async(tmp_path / "s", embedder="hash",
                                        dense_weight=0.4) as mem:
            assert mem.settings.dense_weight == 0.4
            assert mem.settings is mem.sync.settings
            assert mem.embedder.name == mem.sync.embedder.name
            assert mem.backend is mem.sync.backend
            with pytest.raises(AttributeError):
                mem.no_such_attribute  # noqa: B018

    asyncio.run(main())
