"""One user's scoring columns as numpy arrays: what ranking needs besides the scores.

Built from one range read of a covering index, cached by the backend until the next write
of the user's memories (its user mark), so conversation structure, recency, importance and the
superseded penalty are computed over the candidate pool without SQL. Rows are in row-id order;
after the user's own inserts the backend makes the next view from this one and the new rows
(``appended``: the same arrays a cold read gives).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NO_EXPIRY = np.iinfo(np.int64).max

_MAGIC = b"LTMSCOPE1\n"
# (name, dtype) of the arrays a snapshot holds, in order; then the ids, NUL-separated UTF-8
_LAYOUT = (("rowids", "<i8"), ("session", "<i4"), ("seq", "<i8"), ("has_seq", "|b1"),
           ("time", "<f8"), ("importance", "<f8"), ("superseded", "|b1"), ("expires", "<i8"),
           ("_id_rank", "<i8"))


@dataclass
class ScopeView:
    user: str
    rowids: np.ndarray  # (m,) int64, ascending
    ids: list[str]  # (m,) memory ids
    session: np.ndarray  # (m,) int32 session code, -1 = no session
    seq: np.ndarray  # (m,) int64, -1 = no seq
    has_seq: np.ndarray  # (m,) bool
    time: np.ndarray  # (m,) float64 microseconds
    importance: np.ndarray  # (m,) float64, 0.5 where unset
    superseded: np.ndarray  # (m,) bool
    expires: np.ndarray  # (m,) int64, NO_EXPIRY where unset
    _id_rank: np.ndarray | None = None
    # the session of each code (``session``), where the codes are the sessions' ranks in
    # name order (``from_rows`` of rows by session, as a covering index gives them); None
    # where not known (a snapshot's view): ``appended`` then gives None
    _sessions: list[str] | None = field(default=None, init=False, repr=False, compare=False)
    # what upper layers derive from the arrays alone (``ltm.retrieval``'s conversation order),
    # kept as long as the view: a view never changes (a write gives a new one)
    memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    # where this view was made from another (``appended``, ``changed``): that view's length
    # and its ``memo`` (its rows are this one's first, with the same session order, turn
    # numbers and row ids), so what was derived there may be extended rather than redone
    base: tuple[int, dict[str, Any]] | None = field(default=None, init=False, repr=False,
                                                      compare=False)

    @property
    def session_names(self) -> list[str] | None:
        """The session of each code, where known (see ``_sessions``)."""
        return self._sessions

    @property
    def id_rank(self) -> np.ndarray:
        """(m,) int64: rank of each id among the scope's ids (ties in score break by id)."""
        if self._id_rank is None:
            rank = np.empty(len(self.ids), dtype=np.int64)
            rank[np.argsort(np.array(self.ids, dtype=str), kind="stable")] = \
                np.arange(len(self.ids))
            self._id_rank = rank
        return self._id_rank

    def __len__(self) -> int:
        return len(self.rowids)

    def positions(self, rowids: np.ndarray) -> np.ndarray:
        """Positions of row ids in this view, -1 where absent."""
        pos = np.searchsorted(self.rowids, rowids)
        pos = np.minimum(pos, max(len(self.rowids) - 1, 0))
        ok = (len(self.rowids) > 0) & (self.rowids[pos] == rowids)
        return np.where(ok, pos, -1)

    def live(self, now: int | None) -> np.ndarray:
        """Rows not expired at ``now`` (all rows when ``now`` is None)."""
        if now is None:
            return np.ones(len(self.rowids), dtype=bool)
        return self.expires > now

    def to_bytes(self) -> bytes:
        """A snapshot of the view (``from_bytes`` reads it back): the arrays' raw bytes in a
        fixed layout, then the ids. Persisted by the SQLite backend so that a cold scope is
        one blob read instead of a thousand-row index walk."""
        m = len(self)
        parts = [_MAGIC, np.array([m], "<i8").tobytes()]
        for name, dtype in _LAYOUT:
            value = self.id_rank if name == "_id_rank" else getattr(self, name)
            parts.append(np.ascontiguousarray(value, dtype=dtype).tobytes())
        parts.append("\x00".join(self.ids).encode())
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, user: str, data: bytes) -> ScopeView | None:
        """The view a ``to_bytes`` snapshot holds; None for bytes of another layout."""
        if not data.startswith(_MAGIC):
            return None
        at = len(_MAGIC)
        m = int(np.frombuffer(data, "<i8", 1, at)[0])
        at += 8
        arrays: dict[str, np.ndarray] = {}
        try:
            for name, dtype in _LAYOUT:
                arr = np.frombuffer(data, dtype, m, at)
                arrays[name] = arr
                at += arr.nbytes
            ids = data[at:].decode().split("\x00") if m else []
        except (ValueError, UnicodeDecodeError):
            return None
        if len(ids) != m:
            return None
        rank = arrays.pop("_id_rank")
        view = cls(user, ids=ids, **arrays)
        view._id_rank = rank
        return view

    @classmethod
    def from_rows(cls, user: str, rows: Sequence[tuple[Any, ...]]) -> ScopeView:
        """From ``(n, id, session, seq or -1, seq is set, time, importance or 0.5,
        superseded, expiry or NO_EXPIRY)`` rows in any order (no NULL but session; the expiry
        of a pinned memory is NO_EXPIRY: ``backends.common.SCOPE_EXPIRY``)."""
        m = len(rows)
        cols = list(zip(*rows)) if m else [()] * 9
        rowids = np.fromiter(cols[0], dtype=np.int64, count=m)
        ids = list(cols[1])
        codes: dict[str | None, int] = {None: -1}
        session = np.fromiter((codes.setdefault(s, len(codes) - 1) for s in cols[2]),
                              dtype=np.int32, count=m)
        seq = np.fromiter(cols[3], dtype=np.int64, count=m)
        has_seq = np.fromiter(cols[4], dtype=bool, count=m)
        time = np.fromiter(cols[5], dtype=np.float64, count=m)
        importance = np.fromiter(cols[6], dtype=np.float64, count=m)
        superseded = np.fromiter(cols[7], dtype=bool, count=m)
        expires = np.fromiter(cols[8], dtype=np.int64, count=m)
        view = cls(user, rowids, ids, session, seq, has_seq, time, importance, superseded,
                   expires)
        names = [s for s in codes if s is not None]
        if all(isinstance(s, str) for s in names) and names == sorted(names):
            view._sessions = names
        if m > 1 and not bool(np.all(rowids[1:] > rowids[:-1])):
            order = np.argsort(rowids, kind="stable")
            for name in ("rowids", "session", "seq", "has_seq", "time", "importance",
                         "superseded", "expires"):
                setattr(view, name, getattr(view, name)[order])
            view.ids = [ids[i] for i in order]
        return view

    def name_sessions(self, names: list[Any]) -> None:
        """Give a view whose session names are not known (a snapshot's) ``names``: the
        distinct sessions of its rows in SQLite's order (``appended`` needs them). Kept only
        where they are the codes' names (as many as codes, strings, in code order)."""
        codes = int(self.session.max()) + 1 if len(self) else 0
        if (self._sessions is None and len(names) == codes
                and all(isinstance(s, str) for s in names) and names == sorted(names)):
            self._sessions = names

    def _as_base(self) -> tuple[int, dict[str, Any]]:
        """``base`` of a view made from this one: this one, or while nothing was derived
        from it yet, its own base (the rows of that are a prefix of this one's too)."""
        return (len(self), self.memo) if self.memo or self.base is None else self.base

    def changed(self, rows: Sequence[tuple[Any, ...]]) -> ScopeView | None:
        """A new view: this one with ``rows`` (``from_rows``' columns, rows of this view whose
        time, importance, supersession or expiry changed) in place of its own. None where a
        row is not in the view or its id, session or turn number differ (a cold read then)."""
        names = self._sessions
        if names is None or not rows:
            return None
        new = ScopeView.from_rows(self.user, rows)
        at = self.positions(new.rowids)
        if not bool((at >= 0).all()) or [self.ids[i] for i in at.tolist()] != new.ids:
            return None
        for i, r in zip(at.tolist(), rows):
            code = int(self.session[i])
            if (None if code < 0 else names[code]) != r[2] or \
                    int(self.seq[i]) != r[3] or bool(self.has_seq[i]) != bool(r[4]):
                return None
        view = ScopeView(self.user, self.rowids, self.ids, self.session, self.seq, self.has_seq,
                         self.time.copy(), self.importance.copy(), self.superseded.copy(),
                         self.expires.copy())
        for name in ("time", "importance", "superseded", "expires"):
            getattr(view, name)[at] = getattr(new, name)
        view._id_rank, view._sessions = self._id_rank, names
        view.base = self._as_base()
        return view

    def appended(self, rows: Sequence[tuple[Any, ...]]) -> ScopeView | None:
        """A new view: this one's rows and ``rows`` (``from_rows``' columns, row ids ascending
        and above this view's), the same arrays, ids and session codes as ``from_rows`` of
        all of them in session order gives (a session new to the view takes its rank among
        the names; the codes after it move up one); the id ranks carried over where every
        new id sorts after the old ones. None where the session codes cannot be made so
        (their names unknown, a name not a string) or the row ids are not ascending."""
        names = self._sessions
        m, k = len(self), len(rows)
        if names is None:
            return None
        given = [r[2] for r in rows]
        added = {s for s in given if s is not None}
        if not k or not all(isinstance(s, str) for s in added):
            return None
        new = ScopeView.from_rows(self.user, rows)
        if (m and int(new.rowids[0]) <= int(self.rowids[-1])) or (
                not bool(np.all(new.rowids[1:] > new.rowids[:-1]))):
            return None
        session = self.session
        if not added <= set(names):
            old, names = names, sorted(set(names) | added)
            place = {s: i for i, s in enumerate(names)}
            remap = np.array([place[s] for s in old] + [-1], dtype=np.int32)
            session = remap[session]  # (-1: the last entry, -1)
        else:
            place = {s: i for i, s in enumerate(names)}
        own = np.fromiter((-1 if s is None else place[s] for s in given), np.int32, count=k)

        def joined(name: str) -> np.ndarray:
            return np.concatenate([getattr(self, name), getattr(new, name)])

        view = ScopeView(self.user, joined("rowids"), self.ids + new.ids,
                         np.concatenate([session, own]), joined("seq"), joined("has_seq"),
                         joined("time"), joined("importance"), joined("superseded"),
                         joined("expires"))
        view._sessions = names
        view.base = self._as_base()
        if self._id_rank is not None and m:
            top = self.ids[int(np.argmax(self._id_rank))]
            if min(new.ids) > top:
                view._id_rank = np.concatenate([self._id_rank, m + new.id_rank])
        return view
