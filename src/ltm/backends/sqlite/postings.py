"""A user's cache of query terms' postings (row ids, BM25 term-frequency parts, labels), kept
per user mark and brought up to date after the connection's own inserts alone (``_Postings``,
``PostingsCache._postings``). A part of ``SqliteBackend``, split from ``fulltext.py``, which
reads the postings (``_term_postings``, ``_grow_postings``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .connection import Connection

# Rows of postings the cache of query terms' postings holds (``FullText._postings``; ~16
# bytes a row) before it starts afresh
_POSTINGS_MAX_ROWS = 1_000_000


# a term's entries in a user's postings cache of an earlier user mark: that mark, and
# (kind, term) -> the arrays (``_Postings.stale``)
_Stale = tuple[tuple[int, int], dict[tuple[str, str], tuple[np.ndarray, ...]]]
_STALE_TERMS = 20_000  # terms whose earlier entries a user's postings cache carries


class _Postings(dict[tuple[str, str], tuple[np.ndarray, ...]]):
    """A user's postings cache (``FullText._postings``). After the user's own inserts alone,
    a term's entries of an earlier user mark (``stale``) are brought up to date by ``grow``
    when one of them is first asked for, instead of being read again; those not asked for
    are carried to the next mark's cache while only this connection's inserts come between."""

    def __init__(self) -> None:
        super().__init__()
        self.stale: dict[str, _Stale] = {}
        self.grow: Callable[[str, _Stale], None] | None = None

    def _fresh(self, key: tuple[str, str]) -> None:
        if key[1] in self.stale and key[0] in ("tf", "label", "raw"):
            old = self.stale.pop(key[1])
            if self.grow is not None:
                self.grow(key[1], old)

    def carried(self, mark: tuple[int, int]) -> dict[str, _Stale]:
        """The stale entries of the next mark's cache: this one's entries (of ``mark``, its
        own mark) and those of earlier marks not asked for since."""
        out: dict[str, _Stale] = {}
        for (kind, term), arrays in dict.items(self):
            if kind in ("tf", "label", "raw"):
                out.setdefault(term, (mark, {}))[1][(kind, term)] = arrays
        for term, old in self.stale.items():
            out.setdefault(term, old)
        return out if len(out) <= _STALE_TERMS else {}

    def get(self, key: tuple[str, str], default: Any = None) -> Any:
        if not dict.__contains__(self, key):
            self._fresh(key)
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, tuple) and not dict.__contains__(self, key):
            self._fresh(key)
        return dict.__contains__(self, key)

    def clear(self) -> None:
        super().clear()
        self.stale = {}
        self.grow = None


class PostingsCache(Connection):
    """Users' postings caches (a part of ``SqliteBackend``)."""

    def _postings(self, user: str, mark: tuple[int, int]
                  ) -> dict[tuple[str, str], tuple[np.ndarray, ...]]:
        """The cache of ``user``'s postings of query terms (row ids, and for ``scope_text``
        their BM25 term-frequency parts) as of the user mark ``mark``, emptied when it moved
        (a write of another user's leaves it): a search reads each term's rows once for
        ``label_rows``, ``scope_text`` and ``text_ceiling``, and a user's searches share their
        names and topics."""
        hit = self._postings_cache.get(user)
        if hit is not None and hit[0] == mark:
            return hit[1]
        grown = self._own_appends(user, hit[0], mark) if hit is not None else None
        self._drop_postings(user)
        held = _Postings()
        if hit is not None and grown is not None and isinstance(hit[1], _Postings):
            # after this connection's own inserts alone: each term's entries are brought up
            # to date when first asked for (``_grow_postings``), not read again
            held.stale = hit[1].carried(hit[0])
            held.grow = lambda term, old: self._grow_postings(user, term, old, mark)
        self._postings_cache[user] = (mark, held)
        return held

    def _drop_postings(self, user: str) -> None:
        """Drop ``user``'s postings cache (stale, or the user forgotten), its rows uncounted."""
        hit = self._postings_cache.pop(user, None)
        if hit is not None:
            self._postings_rows -= sum(len(a[0]) for a in hit[1].values())

    def _keep_postings(self, user: str, key: tuple[str, str], *arrays: np.ndarray
                       ) -> tuple[np.ndarray, ...]:
        """Hold ``arrays`` (read-only) under ``key`` in ``user``'s postings cache (the one
        ``_postings`` gave the caller); returns them. Past ``_POSTINGS_MAX_ROWS`` rows in all
        every user's cache starts afresh."""
        for a in arrays:
            a.flags.writeable = False
        rows = len(arrays[0])
        if self._postings_rows + rows > _POSTINGS_MAX_ROWS:
            for _, held in self._postings_cache.values():
                held.clear()
            self._postings_rows = 0
            if len(self._postings_cache) > 10_000:  # (users' marks without postings)
                self._postings_cache = {u: e for u, e in self._postings_cache.items()
                                        if u == user}
        entry = self._postings_cache.get(user)
        if entry is not None:
            entry[1][key] = arrays
            self._postings_rows += rows
        return arrays
