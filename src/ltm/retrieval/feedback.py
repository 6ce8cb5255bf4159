"""Relevance judgments (``MemoryStore.feedback``) and the per-store weights fitted from them.

Judgments are kept per user in the store's meta (both backends have it, no migration), the
newest ``MAX_PER_USER`` within ``MAX_BYTES_PER_USER``; ``ltm train ranker --store PATH``
replays each judged query through the store, takes the judged memory's calibrated signals,
and fits weights pulled toward the shipped ones (a few judgments move them a little, many move them more), saved in
the meta under ``ranker.META_KEY`` and used by every later search of the store.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Collection
from typing import Any

from .ranker import META_KEY, Ranker

log = logging.getLogger(__name__)

MAX_PER_USER = 5_000
# ... and at most this many bytes of them (the newest that fit): a judgment holds its query,
# up to 100,000 characters, and every judgment rewrites the user's list
MAX_BYTES_PER_USER = 2_000_000
_PREFIX = "feedback:"
_lock = threading.Lock()


def _key(user: str) -> str:
    return _PREFIX + user


def load_feedback(backend: Any, user: str) -> list[dict[str, Any]]:
    raw = backend.get_meta(_key(user))
    if not raw:
        return []
    try:
        got = json.loads(raw)
    except ValueError:
        return []
    return got if isinstance(got, list) else []


def record_feedback(backend: Any, user: str, query: str, memory_id: str, useful: bool,
                    at: int) -> None:
    # one read-modify-write at a time, across processes (lock_meta in a transaction) and
    # threads: another's judgment is never lost, an erased one never written back (the
    # transaction first, then _lock: a forget holds its transaction when it gets here)
    with backend.atomic(), _lock:
        backend.lock_meta(_key(user))
        items = load_feedback(backend, user)
        items.append({"query": query, "id": memory_id, "useful": bool(useful), "at": at})
        items = items[-MAX_PER_USER:]
        sizes = [len(json.dumps(it)) + 2 for it in items]
        total, start = sum(sizes), 0
        while total > MAX_BYTES_PER_USER and start < len(items) - 1:
            total -= sizes[start]
            start += 1
        backend.set_meta(_key(user), json.dumps(items[start:]))


def forget_feedback(backend: Any, user: str, ids: Collection[str] | None = None) -> None:
    """Erase a user's judgments (they hold the user's queries): all of them, or (``ids``)
    those naming one of these memories, whose queries may quote what was erased, and every
    other judgment of those queries (each holds the query too)."""
    with backend.atomic(), _lock:
        backend.lock_meta(_key(user))
        if backend.get_meta(_key(user)) is None:
            return
        if ids is None:  # the key itself names the user: it goes
            backend.delete_meta(_key(user))
            return
        gone = set(ids)
        items = load_feedback(backend, user)
        quoted = {str(it.get("query")) for it in items
                  if isinstance(it, dict) and it.get("id") in gone}
        kept = [it for it in items if not (isinstance(it, dict) and (
            it.get("id") in gone or str(it.get("query")) in quoted))]
        if len(kept) != len(items):
            backend.set_meta(_key(user), json.dumps(kept))


def stored_ranker(backend: Any) -> Ranker | None:
    """The store's own weights, if it holds valid ones."""
    return ranker_from_meta(backend.get_meta(META_KEY))


def ranker_from_meta(raw: str | None) -> Ranker | None:
    """The weights a store's meta value ``ranker.META_KEY`` holds (None: none, or invalid)."""
    if not raw:
        return None
    try:
        return Ranker.from_dict(json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring the store's ranker weights (searches use the shipped ones; "
                    "'ltm train ranker --store' fits new ones): %s", exc)
        return None


def save_ranker(backend: Any, ranker: Ranker | None) -> None:
    """Store (or, with None, drop) the store's own weights."""
    backend.set_meta(META_KEY, "" if ranker is None else json.dumps(ranker.to_dict()))
