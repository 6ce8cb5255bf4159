"""One user's scoring columns as numpy arrays: what ranking needs besides the scores.

Built from one range read of a covering index, cached by the backend until the next write
(its write mark), so conversation structure, recency, importance and the superseded penalty
are computed over the candidate pool without SQL. Rows are in row-id order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

NO_EXPIRY = np.iinfo(np.int64).max


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
    id_rank: np.ndarray  # (m,) int64: rank of the id among the scope's ids (tie-break)

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

    @classmethod
    def from_rows(cls, user: str, rows: Sequence[tuple[Any, ...]]) -> ScopeView:
        """From ``(n, id, session, seq, time, importance, superseded, expires_at)`` rows in
        row-id order."""
        m = len(rows)
        cols = list(zip(*rows)) if m else [()] * 8
        rowids = np.fromiter(cols[0], dtype=np.int64, count=m)
        ids = list(cols[1])
        sessions = cols[2]
        codes: dict[str, int] = {}
        session = np.fromiter((-1 if s is None else codes.setdefault(s, len(codes))
                               for s in sessions), dtype=np.int32, count=m)
        has_seq = np.fromiter((s is not None for s in cols[3]), dtype=bool, count=m)
        seq = np.fromiter((-1 if s is None else s for s in cols[3]), dtype=np.int64, count=m)
        time = np.fromiter(cols[4], dtype=np.float64, count=m)
        importance = np.fromiter((0.5 if v is None else v for v in cols[5]), dtype=np.float64,
                                 count=m)
        superseded = np.fromiter(cols[6], dtype=bool, count=m)
        expires = np.fromiter((NO_EXPIRY if v is None else v for v in cols[7]),
                              dtype=np.int64, count=m)
        id_rank = np.empty(m, dtype=np.int64)
        id_rank[np.argsort(np.array(ids, dtype=str), kind="stable")] = np.arange(m)
        return cls(user, rowids, ids, session, seq, has_seq, time, importance, superseded,
                   expires, id_rank)
