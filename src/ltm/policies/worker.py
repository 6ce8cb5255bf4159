"""A background thread that runs extraction and gc on a store, for long-running servers.

    worker = BackgroundWorker(store)
    worker.start()      # e.g. in the server's startup hook
    ...
    worker.stop()       # in its shutdown hook; waits for the pass in flight

Every ``worker_interval_s`` it runs ``store.process()`` (only when an LLM is configured); every
``gc_interval_s`` it runs ``store.gc()``. Errors are logged, never raised: an unreachable LLM
endpoint backs the worker off (doubling up to 10 minutes) while episodes stay queued.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from ..config import Settings
from ..errors import LtmError

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 600.0


class Maintained(Protocol):
    """What the worker drives: a ``MemoryStore`` (the facade above this room) satisfies it."""

    settings: Settings

    def process(self) -> Any: ...

    def gc(self) -> Any: ...


class BackgroundWorker:
    def __init__(self, store: Maintained, *, interval_s: float | None = None,
                 gc_interval_s: float | None = None) -> None:
        self.store = store
        self.interval_s = store.settings.worker_interval_s if interval_s is None else interval_s
        self.gc_interval_s = (store.settings.gc_interval_s if gc_interval_s is None
                              else gc_interval_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_process: Any = None  # the last ProcessReport
        self.last_gc: Any = None  # the last GcReport
        self.last_error: str | None = None
        self.passes = 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ltm-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self, *, do_gc: bool = False) -> None:
        """One extraction pass (and a gc pass when asked); errors propagate, the extraction's
        after the gc pass (an endpoint down for days must not keep retention from running)."""
        failed: LtmError | None = None
        if self.store.settings.llm_url:
            try:
                self.last_process = self.store.process()
            except LtmError as exc:
                failed = exc
        if do_gc:
            self.last_gc = self.store.gc()
        self.passes += 1
        if failed is not None:
            raise failed

    def _run(self) -> None:
        next_gc = time.monotonic() + self.gc_interval_s if self.gc_interval_s > 0 else None
        wait = self.interval_s if self.interval_s > 0 else MAX_BACKOFF_S
        while not self._stop.is_set():
            do_gc = next_gc is not None and time.monotonic() >= next_gc
            try:
                self.run_once(do_gc=do_gc)
                self.last_error = None
                wait = self.interval_s if self.interval_s > 0 else MAX_BACKOFF_S
            except LtmError as exc:
                self.last_error = str(exc)
                wait = min(MAX_BACKOFF_S, max(wait, 1.0) * 2)
                log.warning("background pass failed (%s); next try in %.0fs", exc, wait)
            except Exception:  # keep the server's worker alive whatever happens
                log.exception("background pass crashed")
                wait = min(MAX_BACKOFF_S, max(wait, 1.0) * 2)
            if do_gc and next_gc is not None:
                next_gc = time.monotonic() + self.gc_interval_s
            self._stop.wait(wait)
