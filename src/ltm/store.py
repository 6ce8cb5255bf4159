"""MemoryStore: the facade users hold. It validates input, embeds, and orchestrates the layers.

Every read and write names a ``user``: that is the isolation boundary. Nothing here reaches
across users; ``export(user=None)`` and ``stats()`` are the only whole-store operations.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import os
import re
import time as _time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timezone
from typing import IO, Any

import numpy as np

from . import ids as _ids
from . import validate as check
from .backends.base import Backend, Filters, NewRow, check_metadata_filter
from .config import Settings
from .embed import Embedder
from .engine import EMBED_BLOCK, Embedding, Engine, embed_text
from .errors import (
    DimensionMismatch,
    InvalidInput,
    LtmError,
    NotFound,
    StoreError,
)
from .model import ForgetReceipt, HistoryEvent, Hit, Memory, Page, SessionStats, UserStats
from .registry import open_backend, store_embedder
from .retrieval.context import pack
from .retrieval.feedback import forget_feedback, ranker_from_meta, record_feedback
from .retrieval.pipeline import search as _search
from .retrieval.ranker import META_KEY as _RANKER_KEY
from .retrieval.ranker import Ranker
from .retrieval.ranker import shipped as shipped_ranker
from .timeutil import from_us, now_us, opt_us, to_us
from .transfer import EXPORT_FORMAT as EXPORT_FORMAT  # re-exported
from .transfer import ImportReport, export_jsonl, import_jsonl
from .transfer import memory_from_json as memory_from_json  # re-exported
from .transfer import memory_to_json as memory_to_json  # re-exported
from .validate import MAX_TEXT_CHARS as MAX_TEXT_CHARS  # re-exported

log = logging.getLogger(__name__)

# how often (seconds) an open store looks for weights another process fitted or dropped
# (``ltm train ranker --store``): one meta read, ~7 us on SQLite, ~0.15 ms on PostgreSQL
RANKER_RECHECK_S = 1.0

# meta key set by a forget whose erasure is not compacted yet (``MemoryStore._compact_pending``)
_ERASE_PENDING = "erase_pending"

_ADD_FIELDS = {"text", "user", "agent", "session", "kind", "time", "metadata", "importance",
               "pinned", "expires_at", "valid_from", "valid_to", "sources", "id"}


class MemoryStore:
    """A memory store in one folder: SQLite (source of truth) + derived vector indexes."""

    def __init__(self, backend: Backend, settings: Settings, embedder: Embedder) -> None:
        self.engine = Engine(backend, settings, embedder)
        self._ranker: Ranker | None = None
        self._ranker_raw: str | None = None  # the meta value it was read from
        self._ranker_checked = 0.0  # time.monotonic() of that read

    # the engine's parts, as users and tests reach them (``store.embedder = ...`` included)
    @property
    def backend(self) -> Backend:
        return self.engine.backend

    @backend.setter
    def backend(self, value: Backend) -> None:
        self.engine.backend = value

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self.engine.settings = value

    @property
    def embedder(self) -> Embedder:
        return self.engine.embedder

    @embedder.setter
    def embedder(self, value: Embedder) -> None:
        dim = getattr(self.backend, "dim", None)
        if dim is not None and getattr(value, "dim", None) != dim:
            # (its vectors would be written beside the store's and break every search)
            raise DimensionMismatch(dim, int(getattr(value, "dim", 0) or 0))
        self.engine.embedder = value

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Compact what an ``erase="fast"`` forget left (see ``forget``), flush pending access
        counts and the vector index, then close the database."""
        if not self.engine.closed and not self.engine.inherited:
            try:
                self._compact_pending()
            except LtmError as exc:  # a read-only or busy store: the next close tries again
                log.warning("erased memories not compacted yet (the next close tries "
                            "again): %s", exc)
        self.engine.close()

    def _check_open(self) -> None:
        self.engine.check_open()

    # -- writing --------------------------------------------------------------------------
    def add(self, text: str, *, user: str, agent: str | None = None,
            session: str | None = None, kind: str = "episode", time: Any = None,
            metadata: Mapping[str, Any] | None = None, importance: float | None = None,
            pinned: bool = False, expires_at: Any = None, valid_from: Any = None,
            sources: Sequence[str] | None = None, supersedes: str | None = None) -> Memory:
        """Store one memory and return it. ``time`` is when it happened (default now).

        ``valid_from`` is when a fact started to hold (default ``time``); ``sources`` the ids it
        was derived from. ``supersedes`` names a current memory of the same user that this one
        replaces: it gets ``valid_to`` = this one's ``valid_from`` and ``superseded_by``, stays
        queryable with ``search(..., as_of=...)`` and ranks below its successor. A fact or
        summary nearly identical to a current one of the same kind reinforces it instead of
        being stored (see ``ltm.policies.dedup``); the reinforced memory is returned."""
        return self.engine.add(text, user=user, agent=agent, session=session, kind=kind,
                               time=time, metadata=metadata, importance=importance,
                               pinned=pinned, expires_at=expires_at, valid_from=valid_from,
                               sources=sources, supersedes=supersedes)

    def add_many(self, items: Iterable[Mapping[str, Any]]) -> list[Memory]:
        """Store many memories with one batched embedding call and one transaction. Each item
        is a dict with the keyword arguments of ``add`` (``text`` and ``user`` required)."""
        self._check_open()
        now = now_us()
        rows: list[NewRow] = []
        # An embedder that runs in this process embeds each block of rows on the worker
        # thread while this one validates the next items (and later writes the rows): the
        # tokenizer and SQLite release the GIL, so on two cores the embedding costs no wall
        # time. Remote embedders get the whole batch in one request, as before.
        if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
            raise InvalidInput("items must be a list of dicts with text and user",
                               field="items")
        pending = Embedding() if getattr(self.embedder, "in_process", False) else None
        queued = 0
        try:
            for n, item in enumerate(items):
                if not isinstance(item, Mapping):
                    raise InvalidInput(f"item {n} must be a dict with text and user",
                                       field="items")
                unknown = set(item) - _ADD_FIELDS
                if unknown:
                    raise InvalidInput(f"item {n} has unknown fields "
                                       f"{sorted(unknown, key=repr)}", field="items")
                if "text" not in item or "user" not in item:
                    raise InvalidInput(f"item {n} needs 'text' and 'user'", field="items")
                fields = dict(item)
                try:  # (as _numbered: a context manager an item cost ~1.6 us)
                    rows.append(self.engine.row(fields.pop("text"), now=now, **fields))
                except InvalidInput as exc:
                    numbered = _numbered_error("item", n, exc)
                    if numbered is exc:
                        raise
                    raise numbered from None
                if pending is not None and len(rows) - queued == EMBED_BLOCK:
                    self.engine.embed_later(rows[queued:], pending)
                    queued = len(rows)
        except BaseException:
            if pending is not None:
                pending.cancel()
            raise
        if pending is None or not pending.futures:
            return self.engine.write(rows)  # under one block: embedded here, in one call
        if queued < len(rows):
            self.engine.embed_later(rows[queued:], pending)
        return self.engine.write(rows, pending)

    def add_conversation(self, messages: Iterable[Mapping[str, Any]], *, user: str,
                         session: str, agent: str | None = None, time: Any = None,
                         metadata: Mapping[str, Any] | None = None) -> list[Memory]:
        """Store each turn of a conversation as an episode, in order. A message is a dict with
        ``content`` (or ``text``), optional ``role``/``speaker`` (kept as metadata.speaker),
        ``time`` and ``metadata``; turns without a time take ``time`` (default now)."""
        self._check_open()
        now = now_us()
        base_time = now if time is None else to_us(time)
        base_meta = self.engine.meta(metadata)
        if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Iterable):
            raise InvalidInput("messages must be a list of dicts with 'content'",
                               field="messages")
        rows = []
        for n, msg in enumerate(messages):
            with _numbered("message", n):
                if not isinstance(msg, Mapping):
                    raise InvalidInput("each message must be a dict with 'content'",
                                       field="messages")
                text = msg.get("content", msg.get("text"))
                meta = dict(base_meta)
                meta.update(self.engine.meta(msg.get("metadata")))
                speaker = msg.get("speaker", msg.get("name", msg.get("role")))
                if speaker is not None:
                    if not isinstance(speaker, str):
                        raise InvalidInput("speaker must be a string", field="messages")
                    meta["speaker"] = speaker
                rows.append(self.engine.row(text, user=user, agent=agent, session=session,
                                      time=msg.get("time"), time_us=None if msg.get("time")
                                      is not None else base_time, metadata=meta,
                                      importance=msg.get("importance"), now=now))
        if not rows:
            raise InvalidInput("a conversation needs at least one message", field="messages")
        return self.engine.write(rows)

    def add_vectors(self, items: Sequence[Mapping[str, Any]], vectors: np.ndarray
                    ) -> list[Memory]:
        """Like ``add_many`` with precomputed vectors (unit length, the store's dimension)."""
        self._check_open()
        if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
            raise InvalidInput("items must be a list of dicts with text and user", field="items")
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # > 3.4e38: inf, refused below
                vectors = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError):
            raise InvalidInput("vectors must be a matrix of numbers", field="embedding") from None
        if vectors.ndim != 2 or vectors.shape[0] != len(items):
            raise InvalidInput("vectors must have shape (len(items), dim)", field="embedding")
        if vectors.shape[1] != self.embedder.dim:
            raise DimensionMismatch(self.embedder.dim, int(vectors.shape[1]))
        now = now_us()
        rows = []
        for n, item in enumerate(items):
            with _numbered("item", n):
                if not isinstance(item, Mapping):
                    raise InvalidInput("each item must be a dict with text and user",
                                       field="items")
                unknown = set(item) - _ADD_FIELDS
                if unknown:
                    raise InvalidInput(f"unknown fields {sorted(unknown, key=repr)}",
                                       field="items")
                if "text" not in item or "user" not in item:
                    raise InvalidInput("each item needs 'text' and 'user'", field="items")
                fields = dict(item)
                rows.append(self.engine.row(fields.pop("text"), now=now, **fields))
        return self.engine.write(rows, vectors)

    # -- reading --------------------------------------------------------------------------
    def get(self, id: str, *, user: str) -> Memory:
        """One memory of ``user``. One past its ``expires_at`` and not pinned is gone for
        reads, as for list, search and stats: ``NotFound`` (saying when it expired)."""
        self._check_open()
        mem = self._stored(id, user)
        if mem.expired(from_us(now_us())):
            raise _expired(mem)
        return mem

    def _stored(self, id: str, user: str) -> Memory:
        """The stored row, expired or not (until gc erases it)."""
        mem = self.backend.get(check.memory_id(id), check.user(user))
        if mem is None:
            raise NotFound(str(id), user=user)
        return mem

    def update(self, id: str, *, user: str, text: str | None = None,
               metadata: Mapping[str, Any] | None = None, importance: float | None = None,
               pinned: bool | None = None, expires_at: Any = None, time: Any = None,
               kind: str | None = None, session: str | None = None,
               agent: str | None = None, clear_expiry: bool = False) -> Memory:
        """Change a memory in place; the previous values go into its history. A field left
        None keeps its value; ``clear_expiry=True`` removes ``expires_at`` (the memory no
        longer expires), which ``expires_at=None`` cannot say."""
        self._check_open()
        user = check.user(user)
        if not isinstance(clear_expiry, bool):
            raise InvalidInput("clear_expiry must be true or false", field="clear_expiry")
        if clear_expiry and expires_at is not None:
            raise InvalidInput("give expires_at or clear_expiry=True, not both",
                               field="clear_expiry")
        # an expired memory can be revived (a later expiry, none, pinned) until gc erases it;
        # any other change to it answers NotFound, as get does
        current = self._stored(id, user)
        changes: dict[str, Any] = {}
        vector = None
        if text is not None or metadata is not None:
            new_text = check.text(text) if text is not None else current.text
            new_meta = self.engine.meta(metadata) if metadata is not None else current.metadata
            if text is not None:
                changes["text"] = new_text
            if embed_text(new_text, new_meta) != embed_text(current.text, current.metadata):
                vector = self.engine.embed([embed_text(new_text, new_meta)])[0]
        if metadata is not None:
            changes["metadata"] = self.engine.meta(metadata)
        if importance is not None:
            changes["importance"] = check.importance(importance)
        if pinned is not None:
            if not isinstance(pinned, bool):
                raise InvalidInput("pinned must be true or false", field="pinned")
            changes["pinned"] = pinned
        if expires_at is not None:
            changes["expires_at"] = to_us(expires_at, field="expires_at")
        if clear_expiry:
            changes["expires_at"] = None
        if time is not None:
            changes["time"] = to_us(time)
        if kind is not None:
            changes["kind"] = check.kind(kind)
        if session is not None:
            changes["session"] = check.opt_name(session, "session")
        if agent is not None:
            changes["agent"] = check.opt_name(agent, "agent")
        if "time" in changes and changes.get("kind", current.kind) == "episode" \
                and current.valid_to is None and current.valid_from == current.time:
            # an episode's validity starts at its time (as_of reads it so): it moves with it
            changes["valid_from"] = changes["time"]
        if not changes:
            raise InvalidInput("update needs at least one field to change")
        now = from_us(now_us())
        if current.expired(now):
            after = dataclasses.replace(current, pinned=changes.get("pinned", current.pinned))
            if "expires_at" in changes:
                end = changes["expires_at"]
                after = dataclasses.replace(after, expires_at=None if end is None else from_us(end))
            if after.expired(now):
                raise _expired(current)
        return self.backend.update(id, user, changes, vector)

    def _filters(self, user: str, agent: object, session: object, kinds: object, since: object,
                 until: object, as_of: object, metadata: object, now: int) -> Filters:
        return Filters(user=check.user(user), agent=check.opt_name(agent, "agent"),
                       session=check.opt_name(session, "session"), kinds=check.kinds(kinds),
                       since=opt_us(since, field="since"), until=opt_us(until, field="until"),
                       as_of=opt_us(as_of, field="as_of"),
                       metadata=check_metadata_filter(metadata),  # type: ignore[arg-type]
                       now=now)

    def search(self, query: str, *, user: str, k: int = 10, agent: str | None = None,
               session: str | None = None, kinds: Sequence[str] | None = None,
               since: Any = None, until: Any = None, as_of: Any = None,
               metadata: Mapping[str, Any] | None = None, now: Any = None,
               min_relevance: float = 0.0, count_access: bool = True) -> list[Hit]:
        """The ``k`` memories of ``user`` most relevant to ``query``, best first; none whose
        ``relevance`` (the calibrated probability that it is evidence for the query, in
        [0, 1]) is below ``min_relevance``. Each hit counts as retrieved (``access_count``,
        ``last_accessed``: what decay and capacity read) unless ``count_access=False`` (a
        look that hands nothing on)."""
        if not isinstance(count_access, bool):
            raise InvalidInput("count_access must be true or false", field="count_access")
        hits, scope = self._ranked(query, user=user, k=k, agent=agent, session=session,
                                   kinds=kinds, since=since, until=until, as_of=as_of,
                                   metadata=metadata, now=now, min_relevance=min_relevance)
        if count_access:
            self.engine.note_access([h.memory.id for h in hits], scope)
        return hits

    def _ranked(self, query: str, *, user: str, k: int, min_relevance: float,
                agent: str | None = None, session: str | None = None,
                kinds: Sequence[str] | None = None, since: Any = None, until: Any = None,
                as_of: Any = None, metadata: Mapping[str, Any] | None = None,
                now: Any = None) -> tuple[list[Hit], str]:
        """``search``'s hits and the user they are of, not yet counted as retrieved."""
        self._check_open()
        check.query(query)
        floor = _min_relevance(min_relevance)
        now_ = now_us() if now is None else to_us(now, field="now")
        flt = self._filters(user, agent, session, kinds, since, until, as_of, metadata, now_)
        window = None
        if self.settings.time_phrases != "off":
            from .timeparse import parse_time_window, utc_offset
            # the calendar of now's own UTC offset, when it carries one ("yesterday" at
            # 10:00-05:00 is the day before in UTC-5)
            offset = utc_offset(now)
            window = parse_time_window(query, now_ if not offset else
                                       from_us(now_).astimezone(timezone(offset)))
            if window is not None and self.settings.time_phrases == "filter":
                # what happened or held in the window (Filters.window); since and until
                # still bound the memories' own time
                flt = dataclasses.replace(flt, window=(window.start, window.end - 1))
        hits = _search(self.backend, self.embedder, self.settings, query, flt, check.top_k(k),
                       now=now_, window=window, ranker=self.ranker, min_relevance=floor)
        return hits, flt.user

    def context(self, query: str, *, user: str, budget_tokens: int = 1000, k: int = 50,
                min_relevance: float | None = None, **filters: Any) -> str:
        """The most relevant memories that fit ``budget_tokens``, as prompt-ready lines in
        chronological order; only memories with relevance at least ``min_relevance``
        (default: the ``context_min_relevance`` setting), so the block is empty when nothing
        stored is relevant. Lines are dated in UTC, or in the UTC offset ``now`` carries
        (``now="2026-03-09T10:00-05:00"``: the user's own calendar, as time phrases are)."""
        if isinstance(budget_tokens, bool) or not isinstance(budget_tokens, int) \
                or budget_tokens < 1:
            raise InvalidInput("budget_tokens must be a positive integer", field="budget_tokens")
        unknown = sorted(set(filters) - _CONTEXT_FILTERS)
        if unknown:  # (as Python says it, but of context, not of the search it calls)
            raise TypeError(f"MemoryStore.context() got an unexpected keyword argument "
                            f"{unknown[0]!r} (its filters: {', '.join(sorted(_CONTEXT_FILTERS))})")
        floor = self.settings.context_min_relevance if min_relevance is None else min_relevance
        from .timeparse import utc_offset
        hits, scope = self._ranked(query, user=user, k=k, min_relevance=floor, **filters)
        block, given = pack(hits, budget_tokens, utc_offset(filters.get("now")))
        # only what the block holds was used (decay and capacity read it so), not the
        # candidates that did not fit
        self.engine.note_access([m.id for m in given], scope)
        return block

    # -- learned relevance -------------------------------------------------------------------
    @property
    def ranker(self) -> Ranker:
        """The relevance model searches use: this store's own weights (``ltm train ranker
        --store``, fitted from ``feedback``) when it holds them, else the shipped ones. Looked
        up again at most every ``RANKER_RECHECK_S`` seconds, so weights fitted (or dropped) by
        another process reach a store that stays open, such as ``ltm serve``'s."""
        self._check_open()
        at = _time.monotonic()
        if self._ranker is None or at - self._ranker_checked >= RANKER_RECHECK_S:
            raw = self.backend.get_meta(_RANKER_KEY) or ""
            if self._ranker is None or raw != self._ranker_raw:
                self._ranker = ranker_from_meta(raw) or shipped_ranker()
                self._ranker_raw = raw
            self._ranker_checked = at
        return self._ranker

    def feedback(self, query: str, memory_id: str, useful: bool, *, user: str,
                 now: Any = None) -> None:
        """Record whether ``memory_id`` was useful for ``query`` (a judgment ``ltm train ranker
        --store`` fits this store's relevance weights from). Kept per user; erased with the
        user."""
        self._check_open()
        check.query(query)
        user = check.user(user)
        mid = check.memory_id(memory_id)
        if not isinstance(useful, bool):
            raise InvalidInput("useful must be true or false", field="useful")
        if self.backend.get(mid, user) is None:
            raise NotFound(mid, user=user)
        at = now_us() if now is None else to_us(now, field="now")
        record_feedback(self.backend, user, query, mid, useful, at)

    def history(self, id: str, *, user: str) -> list[HistoryEvent]:
        self._check_open()
        user = check.user(user)
        events = self.backend.history(check.memory_id(id), user)
        if not events:
            raise NotFound(id, user=user)
        return events

    # -- forgetting -----------------------------------------------------------------------
    def forget(self, id: str | None = None, *, user: str, session: str | None = None,
               before: Any = None) -> ForgetReceipt:
        """Erase memories of ``user``: one by id, a session, everything before a time, or
        (with no other argument) everything. Derived memories whose every source is erased go
        too. Text, vectors, index entries and history content are removed; a content-free
        record of the deletion is kept."""
        self._check_open()
        user = check.user(user, stored=True)  # '*' too: what an earlier ltm stored under it
        session = check.opt_name(session, "session")
        before_us = opt_us(before, field="before")
        if id is not None and self.backend.get(check.memory_id(id), user) is None:
            raise NotFound(str(id), user=user)
        compact = self.settings.erase == "full"
        # one transaction: a kill between the steps would leave the rows gone but what quotes
        # them (a summary to rebuild, their judgments) in place, and a retry answers NotFound
        with self.engine.atomic():
            receipt = self.backend.forget(user, ids=[id] if id is not None else None,
                                          session=session, before=before_us, compact=False)
            receipt = self.engine.cascade(user, receipt)
            if id is None and session is None and before_us is None:
                forget_feedback(self.backend, user)  # the user's judgments hold their queries
            elif receipt.count:
                # judgments of an erased memory: their queries may quote it
                forget_feedback(self.backend, user, receipt.ids)
            if receipt.count:
                # until a compaction: set with the erasure, so that a kill or a failed
                # compaction leaves it for the next forget, gc or close to finish
                self.backend.set_meta(_ERASE_PENDING, "1")
        if compact and receipt.count:
            try:
                self._compact_pending()
            except StoreError as exc:  # a full disk: the erasure itself is committed
                raise StoreError(
                    f"forgot {receipt.count} memories of user {user!r}, but the store could "
                    f"not be compacted afterwards ({exc.__cause__ or exc}): what they held may "
                    "stay in the store's free pages until a later forget, gc or close "
                    "compacts it") from exc
        return receipt

    def _compact_pending(self) -> None:
        """Compact the store when an erasure has not been compacted since (``erase="fast"``,
        a compaction that failed or was cut short), so that no erased text stays in a file."""
        if self.backend.get_meta(_ERASE_PENDING) is None:
            return
        self.backend.compact()
        self.backend.delete_meta(_ERASE_PENDING)  # after: a kill in between compacts again

    def reindex(self, *, user: str | None = None, embeddings: bool = False,
                progress: Callable[[int], None] | None = None) -> dict[str, int]:
        """Bring every memory (of ``user``, or of all) up to this version's indexing: write
        its full text afresh where it differs (a row an older ltm process wrote after the
        upgrade's migrations keeps the older one), a batch at a time, one transaction each
        (interrupt and run again at will; reads go on); with ``embeddings=True`` embed every
        memory again with the store's embedder and replace the vectors that differ (also
        those ``add_vectors`` gave). ``progress(n)`` after each batch of ``n`` rows (twice a
        row with ``embeddings``). Returns {"checked", "rewritten", "reembedded"}: rows read,
        full texts rewritten, vectors replaced."""
        self._check_open()
        if not isinstance(embeddings, bool):
            raise InvalidInput("embeddings must be true or false", field="embeddings")
        _check_progress(progress)
        from .reindex import reindex
        return reindex(self.engine,
                       user=None if user is None else check.user(user, stored=True),
                       embeddings=embeddings, progress=progress)

    # -- export / import ------------------------------------------------------------------
    def export(self, fp: IO[str], *, user: str | None = None, embeddings: bool = True) -> int:
        """Write memories as JSON Lines (a header line, then one memory per line)."""
        self._check_open()
        return export_jsonl(self.engine, fp, user=user, embeddings=embeddings)

    def import_(self, fp: Iterable[str] | Iterable[bytes], *,
                progress: Callable[[int], None] | None = None,
                batch_size: int = 1000) -> ImportReport:
        """Read an export: a text stream, or any iterable of its lines (``bytes`` lines are
        decoded as UTF-8). Memories keep their ids and times; ids already present for the
        same user are skipped. Embeddings are reused when the export was made with this
        store's embedder (checked as the store keeps them: the store's dimension, finite,
        unit length). All or nothing: one transaction, and a bad line (``InvalidInput``
        naming its number) leaves the store as it was."""
        self._check_open()
        _check_progress(progress)
        return import_jsonl(self.engine, fp, progress=progress, batch_size=batch_size)

    # -- policies (ltm.policies) -----------------------------------------------------------
    def process(self, *, user: str | None = None, max_batches: int | None = None,
                llm: Any = None) -> Any:
        """Extract facts from episodes not processed yet, with the configured LLM
        (``llm_url``), resuming where the last run stopped; returns a ``ProcessReport``.
        ``add()`` never waits for this."""
        self._check_open()
        from .policies.extract import process
        return process(self.engine, user=None if user is None else check.user(user), llm=llm,
                       max_batches=max_batches)

    def gc(self, now: Any = None, *, dry_run: bool = False, user: str | None = None) -> Any:
        """Apply the retention policies (TTL, decay, capacity, near-duplicates, consolidation)
        as of ``now``; returns a ``GcReport`` of what was expired, evicted, merged or
        consolidated (with ``dry_run``, what would be)."""
        self._check_open()
        from .policies.retention import gc
        report = gc(self.engine, now, dry_run=dry_run,
                    user=None if user is None else check.user(user, stored=True))
        if not dry_run:
            if report.count:  # gc's own erasures (compacted now, whatever the erase setting) ...
                self.backend.set_meta(_ERASE_PENDING, "1")
            # ... and those of erase="fast" forgets before it: a compaction that cannot finish
            # (another connection kept the store busy) is StoreError, and they stay pending
            self._compact_pending()
        return report

    def consolidate(self, session: str, *, user: str) -> Memory | None:
        """Fold the episodes of ``session`` into a ``summary`` memory now (LLM if configured,
        else extractive), applying the episode policy's ``originals``; None if nothing new."""
        self._check_open()
        from .llm import LLMClient
        from .policies.consolidate import consolidate_session
        user = check.user(user)
        name = check.opt_name(session, "session")
        if name is None:  # None folded nothing and said so as if the session were done
            raise InvalidInput("session must name the session to consolidate", field="session")
        llm = LLMClient.from_settings(self.settings)
        try:
            return consolidate_session(self.engine, user, name, llm=llm)
        finally:
            if llm is not None:
                llm.close()

    def users(self) -> list[str]:
        return self.engine.users()

    def stats(self) -> dict[str, Any]:
        self._check_open()
        out = self.backend.stats()
        out["embedder"] = self.embedder.name
        return out

    # -- listing (defined last: the name ``list`` shadows the builtin in the class body) ----
    def user_stats(self, user: str) -> UserStats:
        """Counts of ``user``'s memories (expired ones left out): total, by kind, by session
        (most recent first) and by UTC day."""
        self._check_open()
        flt = self._filters(user, None, None, None, None, None, None, None, now_us())
        user = flt.user
        by_kind, sessions, days = self.backend.user_counts(user, flt.now)
        per_session = sorted(
            (SessionStats(s, n, from_us(first), from_us(last)) for s, n, first, last in sessions),
            key=lambda s: (s.last, s.session), reverse=True)
        per_day = [(from_us(d * _DAY_US).date().isoformat(), n) for d, n in days]  # 0042-...
        oldest = self.backend.scan(flt, order="oldest", limit=1)
        newest = self.backend.scan(flt, order="newest", limit=1)
        return UserStats(user=user, memories=sum(by_kind.values()), by_kind=by_kind,
                         sessions=per_session, per_day=per_day,
                         first=oldest[0].time if oldest else None,
                         last=newest[0].time if newest else None)

    def list(self, user: str, *, kinds: Sequence[str] | None = None,
             session: str | None = None, since: Any = None, until: Any = None,
             limit: int = 50, cursor: str | None = None, agent: str | None = None,
             metadata: Mapping[str, Any] | None = None, order: str = "newest") -> Page:
        """A page of ``user``'s memories by time, newest first (``order="oldest"``: oldest
        first), expired ones left out (what other memory libraries call get_all); the filters
        are ``search``'s. Pass the page's ``next_cursor`` as ``cursor`` for the next page; it
        is None on the last page."""
        self._check_open()
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidInput(f"limit must be an integer in [1, 1000], got {limit!r}",
                               field="limit")
        flt = self._filters(user, agent, session, kinds, since, until, None, metadata,
                            now_us())
        rows = self.backend.scan(flt, order=order, limit=limit + 1,
                                 before=_parse_cursor(cursor))
        nxt = None
        if len(rows) > limit:
            rows = rows[:limit]
            nxt = f"{to_us(rows[-1].time)}.{rows[-1].id}"
        return Page(memories=rows, next_cursor=nxt)


_DAY_US = 86_400_000_000

# what SQLite says of a database file it cannot read as one: a damaged page, a file that is
# not a database, an I/O error, text that is not UTF-8 where the file holds text
_DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_IOERR")


def _damage(exc: Exception) -> str | None:
    """The message of ``exc`` when it says the store's database file is damaged, else None
    (any other raw error stays as it is: a bug to see, not to hide)."""
    import sqlite3
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    if str(getattr(exc, "sqlite_errorname", "")).startswith(_DAMAGED) \
            or str(exc).startswith("Could not decode to UTF-8"):
        return str(exc).split(" with text ")[0]  # (not the damaged bytes themselves)
    return None


def _typed_damage(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` raising StoreError where SQLite finds the store's file damaged (a page
    another program or the disk overwrote, a bad copy): reads raised the raw
    sqlite3.DatabaseError ('database disk image is malformed'), a traceback in the CLI and
    a 500 over REST, where writes already said StoreError."""
    @functools.wraps(method)
    def call(self: MemoryStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except LtmError:
            raise
        except Exception as exc:
            what = _damage(exc)
            if what is None:
                raise
            raise StoreError(f"the store's database file is damaged ({what}): restore it from "
                             "a backup, or copy out what can still be read (ltm export "
                             "--user, user by user)") from exc
    return call


for _name, _value in list(vars(MemoryStore).items()):
    if callable(_value) and not _name.startswith("_") and _name != "close":
        setattr(MemoryStore, _name, _typed_damage(_value))


def _expired(mem: Memory) -> NotFound:
    """What a read of ``mem``, past its ``expires_at``, answers."""
    end = mem.expires_at
    return NotFound(mem.id, user=mem.user,
                    expired=None if end is None else end.isoformat().replace("+00:00", "Z"))


def _parse_cursor(cursor: object) -> tuple[int, str] | None:
    """The (time, id) key of a ``Page.next_cursor`` ("<microseconds>.<id>")."""
    if cursor is None:
        return None
    if isinstance(cursor, str):
        head, _, mid = cursor.partition(".")
        if re.fullmatch(r"-?[0-9]{1,20}", head) and _ids.is_id(mid):
            return int(head), mid
    raise InvalidInput("cursor must be the next_cursor of a page from list()", field="cursor")


def _min_relevance(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0.0 <= float(value) <= 1.0:
        raise InvalidInput("min_relevance must be a number in [0, 1]", field="min_relevance")
    return float(value)


def _check_progress(progress: object) -> None:
    """A ``progress`` argument: None or something to call with a count of rows (checked
    before any work: found out after the first batch, it would stop the run half done)."""
    if progress is not None and not callable(progress):
        raise InvalidInput(f"progress must be a function taking a count of rows, or None, "
                           f"not {type(progress).__name__}", field="progress")


@contextmanager
def _numbered(what: str, n: int) -> Iterator[None]:
    """Name the item of a batch (its position ``n``) in the InvalidInput raised inside."""
    try:
        yield
    except InvalidInput as exc:
        numbered = _numbered_error(what, n, exc)
        if numbered is exc:
            raise
        raise numbered from None


def _numbered_error(what: str, n: int, exc: InvalidInput) -> InvalidInput:
    """``exc`` naming the item of a batch it was raised for (position ``n``), or ``exc``
    itself when it names one already or is a DimensionMismatch."""
    if exc.item is not None or isinstance(exc, DimensionMismatch):
        return exc
    return InvalidInput(f"{what} {n}: {exc}", field=exc.field, item=n)


def open(path: str | os.PathLike[str] | None = None, *, embedder: str | Embedder | None = None,
         **settings: Any) -> MemoryStore:
    """Open (or create) the store in folder ``path`` (default ``$LTM_STORE`` or ./ltm-data).

    Settings (see ``ltm.config.Settings``) come from, first to last: keyword arguments here,
    ``LTM_*`` environment variables, the store folder's ``ltm.toml``, defaults. ``embedder``
    may be a name ("wordllama",
    "st:<folder or package>", "openai:<model>", "hash") or an object with ``name``, ``dim`` and
    ``embed()``. A store remembers its embedder: opening it with another raises
    ``EmbedderMismatch``.
    """
    # PostgreSQL: a "postgresql://" / "postgres://" path, or backend="postgres" with dsn=...
    # (optional schema=..., also as ?schema= in the URL); see docs/postgres.md
    if isinstance(embedder, str):
        settings["embedder"] = embedder
    backend, cfg = open_backend(path, settings)
    try:
        return MemoryStore(backend, cfg, store_embedder(backend, embedder, cfg))
    except BaseException:
        # a backend that can (SQLite) removes the store this open created: a failed open
        # leaves nothing behind
        getattr(backend, "abandon", backend.close)()
        raise


# the filters ``context`` passes on to ``search`` (its keyword arguments but those context has,
# and count_access: context counts what its block holds)
_CONTEXT_FILTERS = frozenset(
    name for name in inspect.signature(MemoryStore.search).parameters
    if name not in ("self", "query", "user", "k", "min_relevance", "count_access"))
