"""Plain typed data: Memory, Hit, history events and receipts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

KINDS = ("episode", "fact", "summary")
# what a kind may be called (any lowercase word: a letter, then up to 31 letters, digits, _, -)
KIND_NAME = re.compile(r"[a-z][a-z0-9_\-]{0,31}")


@dataclass(frozen=True, slots=True)
class Memory:
    """One stored memory. Times are timezone-aware UTC datetimes."""

    id: str
    user: str
    text: str
    kind: str
    time: datetime
    recorded_at: datetime
    agent: str | None = None
    session: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    importance: float | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    superseded_by: str | None = None
    sources: tuple[str, ...] = ()
    access_count: int = 0
    last_accessed: datetime | None = None
    pinned: bool = False
    expires_at: datetime | None = None
    seq: int | None = None  # position of an episode within its session

    @property
    def speaker(self) -> str | None:
        value = self.metadata.get("speaker")
        return value if isinstance(value, str) else None

    def expired(self, at: datetime) -> bool:
        """Whether the memory is past its ``expires_at`` at ``at``: never while it is pinned
        (pinning exempts a memory from expiry, as from every retention policy)."""
        return not self.pinned and self.expires_at is not None and self.expires_at <= at


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result: the memory, its score (the ranking key, equal to ``relevance``), the
    signals that made it, and ``relevance``: the calibrated probability, in [0, 1], that the
    memory is evidence for the query (the same meaning in a store of 3 memories or 3
    million; ``search(..., min_relevance=...)`` filters by it)."""

    memory: Memory
    score: float
    signals: dict[str, float] = field(default_factory=dict)
    relevance: float = 0.0


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One change to a memory. ``data`` holds the previous values for updates; deletions
    keep no content (``data`` is None)."""

    memory_id: str
    event: str  # created | updated | superseded | accessed | deleted
    at: datetime
    data: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ForgetReceipt:
    """What ``forget`` erased: how many memories and which ids, by kind."""

    count: int
    ids_by_kind: dict[str, list[str]]
    at: datetime

    @property
    def ids(self) -> list[str]:
        return [i for ids in self.ids_by_kind.values() for i in ids]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of ``MemoryStore.list``: its memories (newest first by default) and the
    cursor of the next page (None on the last)."""

    memories: list[Memory]
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[Memory]:
        return iter(self.memories)

    def __len__(self) -> int:
        return len(self.memories)


@dataclass(frozen=True, slots=True)
class SessionStats:
    session: str
    count: int
    first: datetime
    last: datetime


@dataclass(frozen=True, slots=True)
class UserStats:
    """What ``MemoryStore.user_stats`` counts of one user's memories (expired ones left
    out): the total, by kind, by session (most recent first) and by UTC day (oldest first)."""

    user: str
    memories: int
    by_kind: dict[str, int]
    sessions: list[SessionStats]
    per_day: list[tuple[str, int]]
    first: datetime | None = None
    last: datetime | None = None
