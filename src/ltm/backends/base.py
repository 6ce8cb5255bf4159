"""The storage contract every backend fulfils, and the plain records that cross it."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ..errors import DimensionMismatch, InvalidInput
from ..model import ForgetReceipt, HistoryEvent, Memory

if TYPE_CHECKING:
    from ..index.scope import ScopeView
    from .chunks import Chunker, ChunkSet

_META_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
# keys of one metadata filter (REST takes 16): each is a condition of the query, and SQLite
# refuses a WHERE nested past depth 1,000 (~400 keys: a raw OperationalError before)
MAX_METADATA_FILTER_KEYS = 100


@dataclass(frozen=True)
class Filters:
    """What a read may see. Times are integer microseconds UTC."""

    user: str
    agent: str | None = None
    session: str | None = None
    kinds: tuple[str, ...] | None = None
    since: int | None = None
    until: int | None = None
    as_of: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    now: int | None = None  # hide memories whose expires_at <= now (unless pinned)
    # (start, end), both included: only memories that meet this window (a query's time
    # phrase under time_phrases="filter"): an episode by its time, a fact by its validity
    # (from valid_from, else time, until valid_to; none: still holds), another kind by its
    # span (from valid_from, else time, until valid_to, else its time: a summary's turns)
    window: tuple[int, int] | None = None

    @property
    def only_user(self) -> bool:
        return (self.agent is None and self.session is None and self.kinds is None
                and self.since is None and self.until is None and self.as_of is None
                and not self.metadata and self.window is None)


def is_encodable(text: str) -> bool:
    """False for strings holding lone surrogates, which no UTF-8 store can keep."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_metadata_filter(metadata: dict[str, Any] | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInput("metadata filter must be a dict of key -> value", field="metadata")
    if len(metadata) > MAX_METADATA_FILTER_KEYS:
        raise InvalidInput(f"a metadata filter takes at most {MAX_METADATA_FILTER_KEYS} keys, "
                           f"got {len(metadata)}", field="metadata")
    for key, value in metadata.items():
        if not isinstance(key, str) or not _META_KEY.fullmatch(key):
            raise InvalidInput(f"metadata filter key {key!r} must match [A-Za-z0-9_-]{{1,64}}",
                               field="metadata")
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            raise InvalidInput(f"metadata filter value for {key!r} must be a scalar",
                               field="metadata")
        if isinstance(value, int) and not -2**63 <= value < 2**63:
            raise InvalidInput(f"metadata filter value for {key!r} is out of the 64-bit range",
                               field="metadata")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"metadata filter value for {key!r} must be finite",
                               field="metadata")
        if isinstance(value, str) and not is_encodable(value):
            raise InvalidInput(f"metadata filter value for {key!r} is not valid Unicode",
                               field="metadata")
    return dict(metadata)


@dataclass
class NewRow:
    """A memory about to be written (times in microseconds)."""

    id: str
    user: str
    agent: str | None
    session: str | None
    kind: str
    text: str
    metadata: dict[str, Any]
    importance: float | None
    time: int
    recorded_at: int
    valid_from: int | None
    valid_to: int | None
    superseded_by: str | None
    sources: list[str]
    pinned: bool
    expires_at: int | None
    access_count: int = 0
    last_accessed: int | None = None
    seq: int | None = None


class Backend(Protocol):
    """What ``MemoryStore`` needs from storage. Vectors are float32, unit length."""

    dim: int | None

    def close(self) -> None: ...
    def atomic(self) -> AbstractContextManager[Any]:
        """One transaction around several calls of this thread (a savepoint when nested)."""
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def delete_meta(self, key: str) -> None:
        """Remove the meta row ``key`` (nothing when there is none)."""
    def lock_meta(self, key: str) -> None:
        """Inside ``atomic()``: hold ``key`` until the transaction ends, so that another
        process's read-modify-write of that meta row waits for this one's (StoreError
        outside a transaction)."""
    def insert(self, rows: Sequence[NewRow], vectors: np.ndarray | Iterable[np.ndarray]
               ) -> None:
        """Insert ``rows`` atomically; ``vectors`` is their matrix or its row blocks in
        order (an iterator that may still be computing them)."""
    def get(self, memory_id: str, user: str) -> Memory | None: ...
    def get_many(self, ids: Sequence[str], user: str) -> dict[str, Memory]: ...
    def update(self, memory_id: str, user: str, changes: dict[str, Any],
               vector: np.ndarray | None, event: str = "updated") -> Memory: ...
    def reindex_text(self, user: str | None, after: Any, limit: int
                     ) -> tuple[int, int, Any] | None:
        """Write the full text of the next ``limit`` rows past ``after`` (``None`` at first;
        then what the call before returned) afresh where it differs, in one transaction:
        (rows read, rows rewritten, where to go on) or ``None`` past the last row."""
    def text_search(self, query: str, flt: Filters, limit: int) -> list[tuple[str, float]]: ...
    def dense_search(self, vector: np.ndarray, flt: Filters,
                     limit: int) -> list[tuple[str, float]]: ...
    def vectors(self, ids: Sequence[str], user: str) -> dict[str, np.ndarray]: ...
    def neighbors(self, ids: Sequence[str], user: str, window: int) -> dict[str, list[str]]: ...
    def light_rows(self, ids: Sequence[str], flt: Filters, *,
                   whole_sessions: bool) -> list[tuple[Any, ...]]:
        """(id, session, seq, time, importance, superseded_by, row id) of the memories
        ``ids`` and, with ``whole_sessions``, of the rest of their sessions, that pass
        ``flt``."""
    def scores_at(self, rowids: np.ndarray, vector: np.ndarray, user: str) -> np.ndarray:
        """Inner products of ``vector`` with ``user``'s rows ``rowids`` (``light_rows``'
        row ids; 0 for a row without a vector)."""
    def scope_count(self, user: str) -> int:
        """How many memories ``user`` holds."""
    def text_ceiling(self, query: str, user: str) -> float:
        """The query's own BM25 ceiling in ``user``'s scope (``ltm.retrieval.calibrate``)."""
    def label_rows(self, query: str, user: str, *, only: Collection[str] = ()
                   ) -> list[tuple[str, np.ndarray]]:
        """Each query word that labels some of ``user``'s memories (speaker, name, title,
        caption), with those memories' row ids. ``only``: words of the query wanted for
        their labels alone (a backend may read less for them)."""
    def text_words(self, query: str, user: str, rowids: np.ndarray
                   ) -> list[tuple[float, np.ndarray]]:
        """For each word of the query as full text searches it, its weight (its IDF as
        ``text_ceiling`` weighs it) and the positions in ``rowids`` (``user``'s row ids) of
        the rows holding it."""
    def compact(self) -> None: ...
    def forget(self, user: str, *, ids: Sequence[str] | None, session: str | None,
               before: int | None, compact: bool = True) -> ForgetReceipt: ...
    def history(self, memory_id: str, user: str) -> list[HistoryEvent]: ...
    def superseded_until(self, ids: Sequence[str], user: str) -> dict[str, int]:
        """For each of ``ids`` that superseded memories of ``user``: the latest time those
        stopped holding (``valid_to``, else ``valid_from``, else ``time``; microseconds)."""
    def histories(self, ids: Sequence[str], user: str) -> dict[str, list[HistoryEvent]]:
        """The events of ``user``'s memories ``ids`` (those with any), each memory's in
        order, as ``history`` gives them, without the tombstones of forgotten memories."""
    def set_history(self, user: str, events: Sequence[tuple[str, str, int, Any]]) -> None:
        """Replace the history of ``user``'s memories that ``events`` (memory id, event, at
        in microseconds, previous values or None; in order) names with those events (an
        import restoring an export's history)."""
    def restored(self, user: str, ids: Sequence[str], at: int) -> None:
        """Of ``user``'s memories ``ids``, just written again by an import, those forgotten
        before (a ``deleted`` tombstone): the tombstone moves after the events written since
        and a ``restored`` event at ``at`` follows, so that their history reads in order."""
    def iter_export(self, user: str | None, with_vectors: bool = True
                    ) -> Iterator[tuple[Memory, np.ndarray | None]]: ...
    def derived_from(self, ids: Sequence[str], user: str) -> list[Memory]:
        """``user``'s memories whose ``sources`` name any of ``ids``, in insertion order (the
        forget cascade's read: its cost follows the user's derived memories, not the user)."""
    def touch(self, ids: Sequence[str], at: int, user: str) -> None:
        """Count one retrieval of each of ``user``'s memories ``ids`` at ``at``."""
    def scan(self, flt: Filters, *, order: str = "newest", limit: int = 100,
             before: tuple[int, str] | None = None) -> list[Memory]:
        """A page of the memories ``flt`` matches, ordered by (time, id) (``newest`` or
        ``oldest`` first), past the (time, id) key ``before``, at most ``limit``."""
    def user_counts(self, user: str, now: int | None = None
                    ) -> tuple[dict[str, int], list[tuple[str, int, int, int]],
                               list[tuple[int, int]]]:
        """``user``'s memories (not expired at ``now``) counted by kind, by session
        (session, count, first time, last time) and by UTC day (day number, count)."""
    def users(self) -> list[str]: ...
    def stats(self) -> dict[str, Any]: ...
    # fact extraction (ltm.policies.extract): per-user cursor over the episode stream
    def extraction_state(self, user: str, *, lock: bool = False) -> tuple[int, int, int]: ...
    def save_extraction_state(self, user: str, cursor: int, tokens: int, day: int) -> None: ...
    def extraction_pending(self, user: str | None = None) -> dict[str, int]: ...
    def episodes_after(self, user: str, cursor: int, limit: int) -> list[tuple[int, str]]: ...
    def prune_extraction_state(self) -> None: ...


@runtime_checkable
class ScopeReader(Protocol):
    """What a backend offers besides ``Backend`` for the user-scope fast path of
    ``ltm.retrieval.pipeline``: one user's scoring columns as arrays and the two retrievers
    over them. The pipeline checks for it once per backend class, not per query."""

    def scope_view(self, user: str) -> ScopeView | None:
        """``user``'s scoring columns; None where the scope is served otherwise (HNSW)."""
    def scope_dense(self, vector: np.ndarray, view: ScopeView) -> np.ndarray | None:
        """``vector``'s inner product with every row of ``view`` (NaN: no vector); None
        where the scope is too large for an exact scan."""
    def scope_text(self, query: str, view: ScopeView, masks: Sequence[tuple[np.ndarray, int]]
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each (allowed rows, limit): the positions in ``view`` of the best full-text
        matches among the allowed rows and their BM25 scores, best first."""
    def scope_words(self, query: str, view: ScopeView) -> list[tuple[float, np.ndarray]]:
        """For each word of the query as full text searches it, its weight (its IDF as
        ``text_ceiling`` weighs it) and the positions in ``view`` of the rows holding it."""


@runtime_checkable
class ChunkReader(Protocol):
    """A backend that stores long memories' passage vectors (``ltm.backends.chunks``):
    ``chunker`` (set by the engine) embeds them at every write of a long text, and they
    go with the memory."""

    chunker: Chunker | None

    def chunk_set(self, user: str) -> ChunkSet | None:
        """The user's long memories and their passages (None: none)."""
    def store_chunks(self, items: Sequence[tuple[str, str, str]]) -> int:
        """Embed (``chunker``) and store the passages of the long ones among ``items``
        ((user, memory id, its text)) that still exist, over any they have, in one
        transaction; how many memories got them (a memory written before the store took
        passages: ``ltm.reindex``)."""


@runtime_checkable
class Pinning(Protocol):
    """What a backend may offer so that one search reads what its per-user caches are keyed
    on once, not once per call (``SqliteBackend.pinned``)."""

    def pinned(self, user: str) -> AbstractContextManager[None]:
        """A search of ``user``'s memories: the calls inside the block share one read of
        the user's version."""


@runtime_checkable
class KindReader(Protocol):
    """What a backend may offer so that ``ltm.retrieval.pipeline`` reads whole only the
    memories of a ranking's head that an adjustment needs (without it: all of them)."""

    def kinds(self, ids: Sequence[str], user: str, key: str) -> dict[str, tuple[str, bool]]:
        """The kind of each of ``ids`` (absent: no such memory) and whether its metadata may
        hold a value under ``key`` (False only where it surely holds none)."""


def scan_order(order: str) -> bool:
    """True for ``Backend.scan``'s ``newest``-first order, False for ``oldest``."""
    if order not in ("newest", "oldest"):
        raise InvalidInput(f"order must be 'newest' or 'oldest', got {order!r}", field="order")
    return order == "newest"


def row_blocks(rows: Sequence[NewRow], blocks: Iterable[np.ndarray], dim: int | None
               ) -> Iterator[tuple[Sequence[NewRow], np.ndarray]]:
    """Pair ``rows`` with the blocks of vectors ``Backend.insert`` was given, in order, each
    block checked (``vector_block``); ValueError when the blocks do not cover the rows."""
    done = 0
    for block in blocks:
        block = vector_block(block, dim)
        part = rows[done:done + len(block)]
        if len(part) != len(block):
            raise ValueError(f"{done + len(block)} vectors for {len(rows)} rows")
        done += len(block)
        yield part, block
    if done != len(rows):
        raise ValueError(f"{done} vectors for {len(rows)} rows")


def vector_block(block: np.ndarray, dim: int | None) -> np.ndarray:
    """One block of the vectors ``Backend.insert`` was given, as contiguous float32 rows of the
    store's dimension (``dim``; None: not fixed yet)."""
    block = np.ascontiguousarray(block, dtype=np.float32)
    if block.ndim != 2:
        raise ValueError(f"vectors must be a matrix, got shape {block.shape}")
    if dim is not None and block.shape[1] != dim:
        raise DimensionMismatch(dim, int(block.shape[1]))
    return block


def ids_taken(rows: Sequence[NewRow], existing: Iterable[str]) -> InvalidInput:
    """The error of an insert that broke the uniqueness of memory ids (``existing``: those of
    ``rows`` the database already held). It reads the same whoever holds the id, so that it
    tells a caller nothing about other users' memories."""
    held = set(existing)
    for n, row in enumerate(rows):
        if row.id in held:
            return InvalidInput(f"id {row.id} is already in use: memory ids are unique",
                                field="id", item=n)
    seen: set[str] = set()
    for n, row in enumerate(rows):  # (another user's row of the batch holds it)
        if row.id in seen:
            return InvalidInput(f"id {row.id} is already in use: memory ids are unique",
                                field="id", item=n)
        seen.add(row.id)
    return InvalidInput("an id comes twice in the batch: memory ids are unique", field="id")
