"""Streaming an export: ``MemoryStore.export`` runs on a worker thread and writes into a
bounded queue that the streaming response drains; a client that goes away stops the worker."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Iterator

from ..store import MemoryStore

log = logging.getLogger(__name__)


class _QueueWriter:
    """A file-like sink for ``MemoryStore.export`` that hands chunks to a streaming response."""

    def __init__(self) -> None:
        self.q: queue.Queue[str | None | BaseException] = queue.Queue(maxsize=64)
        self.buf: list[str] = []
        self.size = 0
        self.cancelled = False

    def write(self, s: str) -> int:
        self.buf.append(s)
        self.size += len(s)
        if self.size >= 64 * 1024:
            self.flush()
        return len(s)

    def flush(self) -> None:
        if self.buf:
            self._put("".join(self.buf))
            self.buf, self.size = [], 0

    def _put(self, item: str | None | BaseException) -> None:
        while True:
            if self.cancelled:
                raise _Cancelled
            try:
                self.q.put(item, timeout=0.5)
                return
            except queue.Full:
                continue


class _Cancelled(Exception):
    pass


def stream_export(store: MemoryStore, user: str | None, embeddings: bool) -> Iterator[bytes]:
    out = _QueueWriter()

    def work() -> None:
        try:
            store.export(out, user=user, embeddings=embeddings)  # type: ignore[arg-type]
            out.flush()
            out._put(None)
        except _Cancelled:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the response
            with contextlib.suppress(_Cancelled):
                out._put(exc)

    threading.Thread(target=work, name="ltm-export", daemon=True).start()
    try:
        while True:
            item = out.q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                log.error("export failed: %s", item)
                return
            yield item.encode()
    finally:
        out.cancelled = True
