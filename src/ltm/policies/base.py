"""What the policies work on: the engine's interface, as a protocol of this room.

The policies (dedup, supersession, retention, consolidation, extraction, cascade) receive the
engine (``ltm.engine.Engine``, the layer the ``MemoryStore`` facade stands on) and use only
these members: storage, settings, embedding, writing a new memory, the forget cascade, the
pending access counts, pages of memories (scan) and the list of users. They never see the
facade or its private parts, and nothing here imports a layer above.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from ..backends.base import Backend, Filters
from ..config import Settings
from ..model import ForgetReceipt, Memory


class Engine(Protocol):
    backend: Backend
    settings: Settings

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` (float32, the store's dimension)."""

    def add(self, text: str, *, user: str, agent: str | None = None,
            session: str | None = None, kind: str = "episode", time: Any = None,
            metadata: Mapping[str, Any] | None = None, importance: float | None = None,
            pinned: bool = False, expires_at: Any = None, valid_from: Any = None,
            sources: Sequence[str] | None = None, supersedes: str | None = None) -> Memory:
        """Store one memory as ``MemoryStore.add`` does (validation, dedup, supersedes)."""

    def cascade(self, user: str, receipt: ForgetReceipt) -> ForgetReceipt:
        """Forget what was derived only from the memories in ``receipt``."""

    def flush_access(self) -> None:
        """Write the pending access counts of searches."""

    def scan(self, flt: Filters, *, order: str = "newest", limit: int = 100,
             before: tuple[int, str] | None = None) -> list[Memory]:
        """A page of the memories ``flt`` matches, by (time, id) (``Backend.scan``)."""

    def users(self) -> list[str]: ...
