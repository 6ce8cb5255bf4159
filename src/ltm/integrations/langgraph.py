"""LangGraph's long-term memory in ltm (extra ``ltm[langgraph]``): ``LtmStore``, a ``BaseStore``.

A namespace tuple names the ltm user first and a path after it: ``("alice", "memories")`` is
user ``alice``, path ``("memories",)``. Each item is one memory of that user (kind ``item``):
its text is what LangGraph would embed (the ``index`` config's ``fields`` of the value, else
the whole value as JSON), and its metadata keeps the path, the key and the value, so the
memories are also ordinary ltm memories (listed, searched, exported, forgotten with the user).

What differs from LangGraph's ``InMemoryStore`` (the same calls give the same items):

- ``search`` with a ``query`` ranks by ltm's hybrid retrieval (full text + vectors + time),
  not by cosine alone, so the order of the results (and their ``score``) differ;
  without a query, items come newest update first (as in LangGraph's PostgreSQL store);
- ``list_namespaces`` lists the namespaces that hold items (``InMemoryStore`` also lists those
  that were only read or whose items were deleted);
- TTL is supported (``ttl`` minutes -> the memory's ``expires_at``; refreshed on read unless
  ``refresh_ttl=False``, once a hundredth of the TTL has passed since the last refresh, since
  each refresh is an update recorded in the memory's history); expired items are never
  returned;
- ``created_at`` is when the item was first put (``InMemoryStore`` resets it on every put);
- a value must be JSON (``InvalidInput`` otherwise), as in LangGraph's PostgreSQL store;
  a query with nothing but whitespace lists the items as a search without a query does.

The writes of one ``LtmStore`` run one at a time, so parallel nodes putting the same key leave
one item; a put or delete also removes any second copy another process may have written (until
then, a get may give either copy: it reads the memory it last saw holding the item by id). The
new items of a batch are added in one ``add_many`` (one embedding call, one transaction); a
search without a query reads only the pages of the newest items it returns.

``index={"embed": ..., "dims": ..., "fields": [...]}`` picks the embedder of a store opened
by ``LtmStore.open`` (a LangChain ``Embeddings``, a function, or a ``provider:model`` string)
and the value fields embedded; the async forms run the same code in a worker thread, like
``ltm.AsyncMemoryStore``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from . import findable, index_key, require, searchable_text

require("langgraph.store.base", "langgraph")

from langgraph.store.base import (  # noqa: E402
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    ensure_embeddings,
    get_text_at_path,
    tokenize_path,
)
from langgraph.store.memory import _compare_values, _does_match  # noqa: E402

from ..errors import InvalidInput  # noqa: E402
from ..model import Memory  # noqa: E402
from ..store import MemoryStore  # noqa: E402
from ..store import open as open_store  # noqa: E402
from ..validate import has_content  # noqa: E402
from ..validate import metadata as check_metadata  # noqa: E402
from ..validate import user as check_user  # noqa: E402
from .langchain import LangChainEmbedder  # noqa: E402

KIND = "item"
_META = "langgraph"  # the metadata key that holds path, key, value, ttl, updated
_MAX_K = 1000
_LOOKUPS = 16  # a batch writing more items of one user walks the user's items once
_IDS_MAX = 65_536  # items whose memory id a store object keeps
#: A read refreshes an item's TTL once this part of the TTL has passed since the last refresh.
TTL_REFRESH_STEP = 0.01


class _Write(NamedTuple):
    """One put of a batch, checked: its item's metadata and text (None: a delete)."""

    op: PutOp
    user: str
    path: tuple[str, ...]
    meta: dict[str, Any] | None
    text: str
    now: datetime


def _locate(namespace: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    if not namespace:
        raise ValueError("a namespace names the ltm user first: (user, *path)")
    return namespace[0], tuple(namespace[1:])


def _path_filter(path: tuple[str, ...], *, exact: bool) -> dict[str, Any]:
    """The ltm metadata filter of the items under ``path`` (``exact``: at ``path`` itself)."""
    out: dict[str, Any] = {f"lg_ns{i + 1}": label for i, label in enumerate(path)}
    if exact:
        out["lg_depth"] = len(path)
    return out


class LtmStore(BaseStore):
    """A LangGraph ``BaseStore`` over an ltm ``MemoryStore``."""

    supports_ttl = True

    def __init__(self, store: MemoryStore, *, index: IndexConfig | None = None,
                 ttl: TTLConfig | None = None) -> None:
        self.store = store
        self.index_config = index
        self.ttl_config = ttl
        fields = (index or {}).get("fields") or ["$"]
        self._fields = [(f, tokenize_path(f) if f != "$" else f) for f in fields]
        # writes of one store object one at a time: a put looks its item up, then writes it,
        # so two threads putting the same new key (parallel graph nodes) would each add one
        self._writing = threading.Lock()
        # (user, path, key) -> the memory last seen holding the item: a get reads it by its
        # id (checked to hold the item still) instead of by a metadata filter, which reads
        # every item of the user in the database; a put still looks its item up in full, to
        # remove a second copy another process may have written
        self._ids: dict[tuple[str, tuple[str, ...], str], str] = {}
        index_key(store, "lg_key")  # a lookup by key reads the item's rows, not the user's

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *,
             index: IndexConfig | None = None, ttl: TTLConfig | None = None,
             embedder: Any = None, **settings: Any) -> LtmStore:
        """Open (or create) the ltm store at ``path``; ``index["embed"]`` (LangChain
        ``Embeddings``, a function of texts, or ``"provider:model"``) becomes its embedder,
        else ``embedder`` (as in ``ltm.open``)."""
        if index and index.get("embed") is not None:
            embedder = LangChainEmbedder(ensure_embeddings(index["embed"]))
            dims = index.get("dims")
            if dims is not None and dims != embedder.dim:
                raise ValueError(f"index dims {dims} but the embeddings give {embedder.dim}")
        return cls(open_store(path, embedder=embedder, **settings), index=index, ttl=ttl)

    def close(self) -> None:
        self.store.close()

    # -- mapping items <-> memories ------------------------------------------------------------
    def _text(self, value: Mapping[str, Any], index: Any) -> str:
        texts: list[str] = []
        if index is not False:
            fields = self._fields if index is None else [(f, tokenize_path(f)) for f in index]
            for path, tokens in fields:
                if path == "$":
                    texts.append(json.dumps(value, ensure_ascii=False))
                else:
                    texts += get_text_at_path(value, tokens)
        # the text only serves search (the value is kept whole): cleaned to what ltm holds
        text = searchable_text("\n".join(t for t in texts if t and t.strip()))
        return text or searchable_text(json.dumps(value, ensure_ascii=False))

    def _find(self, user: str, path: tuple[str, ...], key: str) -> Memory | None:
        known = self._ids.get((user, path, key))
        if known is not None:
            self.store.engine.check_open()
            mem = self.store.backend.get(known, user)
            if mem is not None and _holds(mem, path, key):
                return mem
            self._ids.pop((user, path, key), None)
        page = self.store.list(user, kinds=[KIND], limit=1,
                               metadata={**_path_filter(path, exact=True), "lg_key": key})
        if not page.memories:
            return None
        self._remember(page.memories[0])
        return page.memories[0]

    def _remember(self, mem: Memory) -> None:
        meta = mem.metadata.get(_META)
        if isinstance(meta, dict):
            if len(self._ids) >= _IDS_MAX:
                self._ids.clear()
            self._ids[(mem.user, tuple(meta["ns"]), meta["key"])] = mem.id

    def _copies(self, user: str, path: tuple[str, ...], key: str) -> list[Memory]:
        """Every memory that holds the item, newest first (more than one only when another
        process put the same new key at the same moment)."""
        page = self.store.list(user, kinds=[KIND], limit=1000,
                               metadata={**_path_filter(path, exact=True), "lg_key": key})
        return page.memories

    @staticmethod
    def _item(mem: Memory, score: float | None = None, *,
              search: bool = False) -> Item:
        meta = mem.metadata[_META]
        namespace = (mem.user, *meta["ns"])
        updated = datetime.fromisoformat(meta["updated"])
        if search:
            return SearchItem(namespace=namespace, key=meta["key"], value=meta["value"],
                              created_at=mem.recorded_at, updated_at=updated, score=score)
        return Item(value=meta["value"], key=meta["key"], namespace=namespace,
                    created_at=mem.recorded_at, updated_at=updated)

    def _refresh(self, mem: Memory) -> None:
        """Push the item's expiry to a full TTL from now, once ``TTL_REFRESH_STEP`` of the TTL
        has passed since it was last set: each refresh is an update with its history event,
        so a read within that adds nothing (the item may expire that much before a full TTL
        after its last read)."""
        ttl = mem.metadata[_META].get("ttl")
        if ttl is None or mem.expires_at is None:
            return
        expires = _expiry(ttl)
        if expires - mem.expires_at >= timedelta(minutes=float(ttl) * TTL_REFRESH_STEP):
            self.store.update(mem.id, user=mem.user, expires_at=expires)

    # -- operations ------------------------------------------------------------------------
    def _get(self, op: GetOp) -> Item | None:
        user, path = _locate(op.namespace)
        if not findable(op.key):  # never stored (a put refuses it)
            return None
        mem = self._find(user, path, op.key)
        if mem is None:
            return None
        if op.refresh_ttl:
            self._refresh(mem)
        return self._item(mem)

    def _search(self, op: SearchOp) -> list[SearchItem]:
        if not op.namespace_prefix:
            users = self.store.users()
            path: tuple[str, ...] = ()
        else:
            first, path = _locate(op.namespace_prefix)
            users = [first]
        want = op.offset + op.limit
        found: list[tuple[Memory, float | None]] = []
        # a query with nothing to search for (only whitespace) lists, as without a query
        query = op.query if op.query and has_content(op.query) else None
        meta = _path_filter(path, exact=False)
        for user in users:
            if query:
                k = _MAX_K if op.filter else min(_MAX_K, max(want, 1))
                hits = self.store.search(query, user=user, k=k, kinds=[KIND],
                                         metadata=meta)
                found += [(h.memory, float(h.score)) for h in hits
                          if _passes(h.memory, op.filter)]
            elif want > 0:
                found += [(m, None) for m in self._newest(user, meta, op.filter, want)]
        if query:
            found.sort(key=lambda ms: -(ms[1] or 0.0))
        else:
            found.sort(key=lambda ms: (ms[0].metadata[_META]["updated"], ms[0].id),
                       reverse=True)
        page_items = found[op.offset:op.offset + op.limit]
        if op.refresh_ttl:
            for mem, _ in page_items:
                self._refresh(mem)
        return [self._item(m, s, search=True) for m, s in page_items]  # type: ignore[misc]

    def _newest(self, user: str, meta: dict[str, Any], flt: dict[str, Any] | None,
                want: int) -> list[Memory]:
        """The ``want`` items of ``user`` under ``meta``'s path last updated, newest first,
        that pass ``flt``: ``list`` is read page by page until that many are found (a put
        writes an item's time as its update time, so ``list``'s order is the update's)."""
        out: list[Memory] = []
        cursor = None
        while len(out) < want:
            size = want - len(out)
            if flt:  # how many pass is not known: larger pages
                size = max(2 * size, 100)
            page = self.store.list(user, kinds=[KIND], metadata=meta, cursor=cursor,
                                   limit=min(_MAX_K, size))
            out += [m for m in page if _passes(m, flt)]
            cursor = page.next_cursor
            if cursor is None:
                break
        return out[:want]

    def _namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        users = self.store.users()
        for cond in op.match_conditions or ():
            if cond.match_type == "prefix" and cond.path and cond.path[0] != "*":
                users = [u for u in users if u == cond.path[0]]
        seen: set[tuple[str, ...]] = set()
        for user in users:
            cursor = None
            while True:
                page = self.store.list(user, kinds=[KIND], limit=_MAX_K, cursor=cursor)
                for m in page:
                    seen.add((user, *m.metadata[_META]["ns"]))
                cursor = page.next_cursor
                if cursor is None:
                    break
        names = [ns for ns in seen if all(_does_match(c, ns) for c in op.match_conditions or ())]
        if op.max_depth is not None:
            names = list({ns[:op.max_depth] for ns in names})
        return sorted(names)[op.offset:op.offset + op.limit]

    def _prepare(self, op: PutOp) -> _Write:
        """What ``op`` writes, checked before any put of the batch is applied, so a bad value
        or user refuses the whole batch (``InvalidInput`` / ``ScopeError``)."""
        user, path = _locate(op.namespace)
        check_user(user)
        if not findable(op.key):
            # such a key could be written but never found again by its metadata filter
            raise InvalidInput("key must be a string without NUL characters or lone "
                               "surrogates", field="key")
        if op.value is None:
            return _Write(op, user, path, None, "", datetime.now(UTC))
        # (a list, a string or a number as the value was a raw TypeError or ValueError of
        # dict(); an index that is no list of fields, a TTL of 1e18 minutes one of timedelta)
        if not isinstance(op.value, Mapping):
            raise InvalidInput(f"the value of {op.key!r} must be a dict (a JSON object), got "
                               f"{type(op.value).__name__}", field="value")
        if op.index is not None and op.index is not False and not (
                isinstance(op.index, (list, tuple)) and all(isinstance(f, str)
                                                            for f in op.index)):
            raise InvalidInput("index must be False, None or a list of field paths",
                               field="index")
        if op.ttl is not None:
            try:
                _expiry(op.ttl)
            except (TypeError, ValueError, OverflowError):
                raise InvalidInput(f"ttl must be a finite number of minutes (ending before the "
                                   f"year 10000), got {op.ttl!r}",
                                   field="ttl") from None
        value = dict(op.value)
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"the value of {op.key!r} must be JSON: {exc}",
                               field="value") from None
        now = datetime.now(UTC)
        meta = {**_path_filter(path, exact=True), "lg_key": op.key,
                _META: {"ns": list(path), "key": op.key, "value": value, "ttl": op.ttl,
                        "updated": now.isoformat()}}
        settings = self.store.settings
        check_metadata(meta, max_bytes=settings.max_metadata_bytes,
                       max_depth=settings.max_metadata_depth)
        return _Write(op, user, path, meta, self._text(value, op.index), now)

    def _held(self, user: str, writes: list[_Write]
              ) -> dict[tuple[tuple[str, ...], str], list[Memory]]:
        """The memories that hold the items ``writes`` name, newest first: one look-up per
        item (a metadata filter, which reads every item of the user in the database), or
        for a batch naming many, one walk over the user's items."""
        if len(writes) <= _LOOKUPS:
            return {(w.path, w.op.key): self._copies(user, w.path, w.op.key) for w in writes}
        wanted = {(w.path, w.op.key) for w in writes}
        out: dict[tuple[tuple[str, ...], str], list[Memory]] = {}
        cursor = None
        while True:
            page = self.store.list(user, kinds=[KIND], limit=_MAX_K, cursor=cursor)
            for mem in page:
                meta = mem.metadata.get(_META)
                if not isinstance(meta, dict):  # an item-kind memory not written here
                    continue
                at = (tuple(meta["ns"]), meta["key"])
                if at in wanted:
                    out.setdefault(at, []).append(mem)
            cursor = page.next_cursor
            if cursor is None:
                return out

    def _put(self, write: _Write, copies: list[Memory]) -> dict[str, Any] | None:
        """Apply ``write`` to the item held by ``copies``; a new item is returned as an
        ``add_many`` entry instead, for the batch's new items to be added in one write."""
        op, user, path, meta, text, now = write
        for extra in copies[1:]:
            self.store.forget(extra.id, user=user)
        old = copies[0] if copies else None
        self._ids.pop((user, path, op.key), None)
        if meta is None:
            if old is not None:
                self.store.forget(old.id, user=user)
            return None
        expires = _expiry(op.ttl) if op.ttl is not None else None
        if old is None:
            return {"text": text, "user": user, "kind": KIND, "metadata": meta, "time": now,
                    "expires_at": expires}
        # a TTL taken away clears the expiry: the item stays (its created_at too)
        self._remember(self.store.update(
            old.id, user=user, text=text, metadata=meta, time=now, expires_at=expires,
            clear_expiry=expires is None and old.expires_at is not None))
        return None

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` in order; as in LangGraph's stores, reads see the store as it was
        before the batch, and the batch's writes (the last one per item) are applied
        after them."""
        results: list[Result] = []
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for op in ops:
            if isinstance(op, GetOp):
                results.append(self._get(op))
            elif isinstance(op, SearchOp):
                results.append(self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(self._namespaces(op))
            elif isinstance(op, PutOp):
                puts[(op.namespace, op.key)] = op
                results.append(None)
            else:
                raise ValueError(f"unknown operation {type(op).__name__}")
        writes = [self._prepare(op) for op in puts.values()]
        by_user: dict[str, list[_Write]] = {}
        for write in writes:
            by_user.setdefault(write.user, []).append(write)
        with self._writing:
            new: list[dict[str, Any]] = []
            for user, mine in by_user.items():
                held = self._held(user, mine)
                for write in mine:
                    row = self._put(write, held.get((write.path, write.op.key), []))
                    if row is not None:
                        new.append(row)
            if new:  # the batch's new items: one embedding call, one transaction
                for mem in self.store.add_many(new):
                    self._remember(mem)
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self.batch, list(ops))


def _holds(mem: Memory, path: tuple[str, ...], key: str) -> bool:
    """Whether ``mem`` is the item ``path``/``key``, not expired."""
    meta = mem.metadata.get(_META)
    return (mem.kind == KIND and isinstance(meta, dict) and meta.get("key") == key
            and tuple(meta.get("ns") or ()) == path
            and not mem.expired(datetime.now(UTC)))


def _passes(mem: Memory, flt: dict[str, Any] | None) -> bool:
    """Whether the item's value passes a LangGraph search ``filter``."""
    if not flt:
        return True
    value = mem.metadata[_META]["value"]
    return all(_compare_values(value.get(key), want) for key, want in flt.items())


def _expiry(ttl_minutes: float) -> datetime:
    if not math.isfinite(float(ttl_minutes)):
        raise ValueError(f"not a finite number of minutes: {ttl_minutes!r}")
    return datetime.now(UTC) + timedelta(minutes=float(ttl_minutes))
