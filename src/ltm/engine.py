"""The engine: what the ``MemoryStore`` facade and the policies share.

It holds the backend, the settings and the embedder, and does the work every write needs:
building validated rows, embedding (large batches block by block on a worker thread), writing
(with near-duplicate reinforcement and supersession), access counts, and the forget cascade.
The facade (``ltm.store``) parses the public calls and delegates here; the policies
(``ltm.policies``) receive the engine itself — typed by their own protocol,
``ltm.policies.base.Engine`` — and never see the facade or its private parts.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from . import ids as _ids
from . import validate as check
from .backends.base import Backend, ChunkReader, Filters, NewRow
from .backends.common import memory_from_columns
from .config import Settings
from .embed import Embedder, check_finite, embedded
from .errors import InvalidInput, NotFound, StoreError
from .model import ForgetReceipt, Memory
from .retention_rules import policies
from .retrieval.chunks import Chunker
from .timeutil import from_us, now_us, opt_us, to_us

# Rows per embedding call when a large batch is embedded on the store's worker thread while
# the caller's thread validates the following items and writes the rows already embedded.
EMBED_BLOCK = 125

# The backends of stores a forked child inherited and closed: kept, never closed in the child
# (closing a connection the parent still uses may checkpoint or unlock under it)
_INHERITED: list[Backend] = []


class Embedding:
    """The vectors of a batch, embedded block by block on the store's worker thread."""

    def __init__(self) -> None:
        self.futures: list[Future[np.ndarray]] = []

    def blocks(self) -> Iterator[np.ndarray]:
        for f in self.futures:
            yield f.result()  # (checked finite on the worker: ``Engine._embed_block``)

    def matrix(self) -> np.ndarray:
        return np.concatenate(list(self.blocks()))

    def cancel(self) -> None:
        for f in self.futures:
            f.cancel()


class Engine:
    """Backend + settings + embedder, and the write path on top of them."""

    def __init__(self, backend: Backend, settings: Settings, embedder: Embedder) -> None:
        policies(settings.retention)  # a malformed policy is InvalidInput now, not at gc
        self.backend = backend
        self.settings = settings
        self.embedder = embedder
        self.closed = False
        self._access: set[tuple[str, str]] = set()  # (user, id) retrieved since the last flush
        self._access_lock = threading.Lock()
        self._worker: ThreadPoolExecutor | None = None  # embeds large batches block by block
        self._worker_lock = threading.Lock()
        self._worker_closed = False
        self._worker_pid = 0
        self.pid = os.getpid()  # the process that opened the store: the only one to use it
        if settings.chunk_min_chars > 0 and isinstance(backend, ChunkReader):
            # long memories get passage vectors, written with them (ltm.retrieval.chunks)
            backend.chunker = Chunker(embedder, settings.chunk_min_chars)

    @property
    def inherited(self) -> bool:
        """True in a process forked from the one that opened the store."""
        return self.pid != os.getpid()

    def close(self) -> None:
        """Flush pending access counts, stop the embedding worker, close the backend (in a
        forked child: only mark the store closed, see ``check_open``)."""
        if self.closed:
            return
        if self.inherited:
            self.closed = True
            _INHERITED.append(self.backend)
            return
        self.flush_access()
        with self._worker_lock:
            worker, self._worker, self._worker_closed = self._worker, None, True
        if worker is not None:
            worker.shutdown(wait=True)
        self.backend.close()
        self.closed = True

    def check_open(self) -> None:
        if self.closed:
            raise StoreError("the store is closed")
        if self.pid != os.getpid():
            # A connection does not survive fork() (SQLite: "do not carry an open database
            # connection across a fork", a child may corrupt the file; psycopg likewise), and
            # a lock another thread held at the fork stays held in the child for ever: its
            # first call hung. Checked before any lock is taken.
            raise StoreError(
                f"this store was opened by process {self.pid} and cannot be used in process "
                f"{os.getpid()}, forked from it: open the store again in this process "
                "(ltm.open), or start processes with the 'spawn' method")

    def atomic(self) -> AbstractContextManager[Any]:
        """One transaction around several calls (a savepoint when nested)."""
        return self.backend.atomic()

    def users(self) -> list[str]:
        self.check_open()
        return self.backend.users()

    def scan(self, flt: Filters, *, order: str = "newest", limit: int = 100,
             before: tuple[int, str] | None = None) -> list[Memory]:
        """A page of the memories ``flt`` matches, by (time, id), ``newest`` or ``oldest``
        first, past the (time, id) key ``before``, at most ``limit`` (``Backend.scan``)."""
        self.check_open()
        return self.backend.scan(flt, order=order, limit=limit, before=before)

    # -- writing --------------------------------------------------------------------------
    def row(self, text: object, *, user: object, agent: object = None, session: object = None,
             kind: object = "episode", time: object = None, metadata: object = None,
             importance: object = None, pinned: object = False, expires_at: object = None,
             valid_from: object = None, valid_to: object = None, sources: object = None,
             id: object = None, now: int, time_us: int | None = None) -> NewRow:
        new_id = check.new_id(id)
        t = time_us if time_us is not None else (now if time is None else to_us(time))
        if not isinstance(pinned, bool):
            raise InvalidInput("pinned must be true or false", field="pinned")
        kind_ = check.kind(kind)
        vf = opt_us(valid_from, field="valid_from")
        vt = opt_us(valid_to, field="valid_to")
        if vt is not None and vt < (vf if vf is not None else t):
            raise InvalidInput("valid_to must not be before valid_from (default: time)",
                               field="valid_to")
        return NewRow(
            id=new_id if new_id is not None else _ids.new_id(),
            user=check.user(user), agent=check.opt_name(agent, "agent"),
            session=check.opt_name(session, "session"), kind=kind_, text=check.text(text),
            metadata=self.meta(metadata), importance=check.importance(importance), time=t,
            recorded_at=now, valid_from=vf if vf is not None else t,
            valid_to=vt, superseded_by=None,
            sources=check.sources(sources), pinned=pinned,
            expires_at=opt_us(expires_at, field="expires_at"))

    def meta(self, value: object) -> dict[str, Any]:
        return check.metadata(value, max_bytes=self.settings.max_metadata_bytes,
                              max_depth=self.settings.max_metadata_depth)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The embedder's vectors of ``texts``, checked: the store's dimension, finite (an
        embedder's NaN reached the store through update, reindex and the policies, which
        wrote what this returned without the check a new row's vectors get)."""
        return embedded(self.embedder, texts)

    def embed_later(self, rows: Sequence[NewRow], into: Embedding) -> None:
        """Queue the embedding of ``rows`` (one block) on the worker thread."""
        with self._worker_lock:
            if self._worker_closed:
                raise StoreError("the store is closed")
            if self._worker is None or self._worker_pid != os.getpid():
                # (a forked child inherits the executor but not its thread)
                self._worker = ThreadPoolExecutor(1, thread_name_prefix="ltm-embed")
                self._worker_pid = os.getpid()
            texts = [embed_text(r.text, r.metadata) for r in rows]
            into.futures.append(self._worker.submit(self._embed_block, texts))

    def _embed_block(self, texts: list[str]) -> np.ndarray:
        """One block on the worker, checked there: numpy leaves the GIL for the check, and the
        thread that writes the batch would wait to get it back while the worker runs Python."""
        return self.embed(texts)  # (checked finite there)

    def write(self, rows: list[NewRow], vectors: np.ndarray | Embedding | None = None, *,
               dedup: bool = True, sources_held: bool = False) -> list[Memory]:
        self.check_open()
        if not rows:
            return []
        if vectors is None:
            if getattr(self.embedder, "in_process", False) and len(rows) > EMBED_BLOCK:
                # embedded block by block while the first blocks are written
                vectors = Embedding()
                for start in range(0, len(rows), EMBED_BLOCK):
                    self.embed_later(rows[start:start + EMBED_BLOCK], vectors)
            else:
                vectors = self.embed([embed_text(r.text, r.metadata) for r in rows])
        try:
            check_unique(rows)
            if any(r.sources for r in rows) and not sources_held:
                # the sources checked and the rows written in one transaction that holds the
                # sources: a forget of one meanwhile either erased it first (InvalidInput
                # here) or waits and then cascades to what was derived from it; checked
                # before it, a fact could be left naming a source the forget had erased
                with self.backend.atomic():
                    self.check_sources(rows, hold=True)
                    return self.write(rows, vectors, dedup=dedup, sources_held=True)
            if dedup:
                thresholds = {k: p.dedup_threshold for k, p in policies(self.settings.retention)
                              .items() if p.dedup_threshold is not None}
                if any(r.kind in thresholds for r in rows):
                    from .policies.dedup import write_deduplicated
                    if isinstance(vectors, Embedding):
                        vectors = vectors.matrix()
                    check_finite(vectors)
                    return write_deduplicated(self, rows, vectors, thresholds)
            if isinstance(vectors, Embedding):
                # each block is written as it arrives: embedding overlaps the INSERTs
                self.backend.insert(rows, vectors.blocks())
            else:
                check_finite(vectors)
                self.backend.insert(rows, vectors)
        except BaseException:
            if isinstance(vectors, Embedding):
                vectors.cancel()
            raise
        # what was written, without reading it back (the backend assigned ``seq``)
        return [memory_of(r) for r in rows]

    def check_sources(self, rows: list[NewRow], *, hold: bool = False) -> None:
        """InvalidInput unless every source of a row is a memory of its user (or a row of the
        batch). ``hold``: inside ``atomic()``, keep them from a concurrent forget until the
        transaction ends (``hold_sources``, where the backend needs it: PostgreSQL; SQLite's
        write transaction already excludes one)."""
        held = getattr(self.backend, "hold_sources", None) if hold else None
        for r in rows:
            if r.sources:
                found = held(r.sources, r.user) if held is not None \
                    else self.backend.get_many(r.sources, r.user)
                batch = {x.id for x in rows if x.user == r.user}
                missing = [s for s in r.sources if s not in found and s not in batch]
                if missing:  # (named up to 5: a list of 40,000 made a 1 MB message)
                    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
                    raise InvalidInput(f"sources {missing[:5]}{more} are not memories of user "
                                       f"{r.user!r}", field="sources")

    def add(self, text: str, *, user: str, agent: str | None = None,
            session: str | None = None, kind: str = "episode", time: Any = None,
            metadata: Mapping[str, Any] | None = None, importance: float | None = None,
            pinned: bool = False, expires_at: Any = None, valid_from: Any = None,
            sources: Sequence[str] | None = None, supersedes: str | None = None) -> Memory:
        """``MemoryStore.add`` (documented there): one validated row, written with dedup, or
        superseding ``supersedes`` in the same transaction."""
        self.check_open()
        row = self.row(text, user=user, agent=agent, session=session, kind=kind, time=time,
                        metadata=metadata, importance=importance, pinned=pinned,
                        expires_at=expires_at, valid_from=valid_from, sources=sources,
                        now=now_us())
        if supersedes is None:
            return self.write([row])[0]
        if not isinstance(supersedes, str):
            raise InvalidInput("supersedes must be a memory id", field="supersedes")
        old = self._supersedable(check.memory_id(supersedes), row)
        with self.backend.atomic():
            # checked again under the lock: another process may have superseded it since
            # (both writes went through, and the first successor lost its link)
            self.backend.lock_meta(f"supersede:{row.user}:{old.id}")
            old = self._supersedable(old.id, row)
            mem = self.write([row], dedup=False)[0]
            self.backend.update(old.id, row.user, {"valid_to": row.valid_from,
                                                   "superseded_by": mem.id}, None,
                                event="superseded")
        return mem

    def _supersedable(self, old_id: str, row: NewRow) -> Memory:
        """The memory ``row`` may supersede, or the typed error that says why not."""
        old = self.backend.get(old_id, row.user)
        if old is None:
            raise NotFound(old_id, user=row.user)
        if old.superseded_by is not None:
            raise InvalidInput(f"memory {old.id} is already superseded by {old.superseded_by}",
                               field="supersedes")
        old_from = to_us(old.valid_from if old.valid_from is not None else old.time)
        if row.valid_from is not None and row.valid_from < old_from:
            # the old fact would get valid_to < valid_from: never valid for as_of, and inside
            # every time window that holds its valid_from
            raise InvalidInput(
                f"valid_from must not be before that of memory {old.id}, which it supersedes "
                f"({from_us(old_from).isoformat()})", field="valid_from")
        return old

    # -- access counts and forgetting -----------------------------------------------------
    def note_access(self, ids: list[str], user: str) -> None:
        """Count a retrieval of ``user``'s memories ``ids`` (written in batches)."""
        with self._access_lock:
            for i in ids:
                self._access.add((user, i))  # ids are per user on PostgreSQL
            big = len(self._access) >= 2000
        if big:
            self.flush_access()

    def flush_access(self) -> None:
        with self._access_lock:
            pending, self._access = self._access, set()
        by_user: dict[str, list[str]] = {}
        for user, mid in pending:
            by_user.setdefault(user, []).append(mid)
        at = now_us()
        for user, ids in by_user.items():
            self.backend.touch(ids, at, user)

    def cascade(self, user: str, receipt: ForgetReceipt) -> ForgetReceipt:
        """Forget what was derived only from the memories ``receipt`` lists."""
        from .policies.cascade import cascade
        return cascade(self, user, receipt)


def embed_text(text: str, metadata: Mapping[str, Any]) -> str:
    """What the embedder sees: a conversation turn is embedded with its speaker ("Ana: I moved
    to Lisbon"), so questions that name a person find what that person said."""
    speaker = metadata.get("speaker")
    return f"{speaker}: {text}" if isinstance(speaker, str) and speaker else text


def check_unique(rows: Sequence[NewRow]) -> None:
    """Ids chosen by the caller must not repeat inside one batch."""
    if len({r.id for r in rows}) == len(rows):
        return
    first: dict[str, int] = {}
    for n, r in enumerate(rows):
        if r.id in first:
            raise InvalidInput(f"item {n}: id {r.id} is also the id of item {first[r.id]}; "
                               "ids are unique", field="id", item=n)
        first[r.id] = n


def memory_of(row: NewRow) -> Memory:
    """The Memory a freshly inserted row reads back as (built as a read builds it: ~2 us
    where ``Memory(...)`` took ~7, which a batch of 1,000 paid on its writing thread)."""
    return memory_from_columns(
        row.user, row.id, row.agent, row.session, row.kind, row.text, row.metadata,
        row.importance, row.time, row.recorded_at, row.valid_from, row.valid_to,
        row.superseded_by, row.sources, row.access_count, row.last_accessed, row.pinned,
        row.expires_at, row.seq)
