"""``AsyncMemoryStore``: the calls of ``MemoryStore``, awaitable.

It wraps the one synchronous core and runs each call in a worker thread (the store is
thread-safe), so an event loop is never blocked by SQLite, PostgreSQL or the embedder. There
is no second copy of any logic: every method is the ``MemoryStore`` method of the same name.
Cancelling an awaited call does not stop it: it finishes (a write is committed whole, or
fails whole) in its thread.

>>> mem = await ltm.open_async("./memories")
>>> await mem.add("I moved to Lisbon in March", user="alice")
>>> hits = await mem.search("where does alice live?", user="alice")
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from typing import Any

from .embed import Embedder
from .store import MemoryStore
from .store import open as open_store

#: The ``MemoryStore`` methods an ``AsyncMemoryStore`` offers as coroutines: every public one
#: (``close`` has its own coroutine).
ASYNC_METHODS = tuple(name for name, value in vars(MemoryStore).items()
                      if callable(value) and not name.startswith("_") and name != "close")


class _Awaitable:
    """A descriptor: ``MemoryStore.<name>`` run in a worker thread, awaited."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: AsyncMemoryStore | None, owner: type) -> Callable[..., Any]:
        sync = getattr(MemoryStore, self.name)
        if obj is None:
            return sync
        bound = getattr(obj.sync, self.name)

        @functools.wraps(sync)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(bound, *args, **kwargs)

        return call


class AsyncMemoryStore:
    """An awaitable face of a ``MemoryStore`` (``sync``): the same calls, the same
    arguments, the same results and errors, and its attributes (``settings``, ``embedder``,
    ...) as they are; ``async with`` closes it."""

    def __init__(self, store: MemoryStore) -> None:
        self.sync = store

    def __getattr__(self, name: str) -> Any:
        # only reached for names that are not MemoryStore methods (those are descriptors):
        # the store's attributes (settings, embedder, backend, ranker) read as on it
        if isinstance(getattr(MemoryStore, name, None), property):
            return getattr(self.sync, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        # the store's attributes are set on it, with its checks (an embedder of another
        # dimension is DimensionMismatch; ranker cannot be set): set here, they hid the
        # store's, and this face reported an embedder the store did not use
        if isinstance(getattr(MemoryStore, name, None), property):
            setattr(self.sync, name, value)
        else:
            super().__setattr__(name, value)

    async def close(self) -> None:
        await asyncio.to_thread(self.sync.close)

    async def __aenter__(self) -> AsyncMemoryStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


for _name in ASYNC_METHODS:
    setattr(AsyncMemoryStore, _name, _Awaitable(_name))


async def open_async(path: str | os.PathLike[str] | None = None, *,
                     embedder: str | Embedder | None = None,
                     **settings: Any) -> AsyncMemoryStore:
    """``ltm.open`` in a worker thread (loading the embedder takes a moment), awaitable:
    the same arguments, an ``AsyncMemoryStore``."""
    store = await asyncio.to_thread(open_store, path, embedder=embedder, **settings)
    return AsyncMemoryStore(store)
