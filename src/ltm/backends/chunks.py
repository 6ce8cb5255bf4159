"""Passage vectors of long memories, as the backends store and read them.

A memory's one vector is the mean of everything its text says: a pasted document of twenty
topics matches a question about one of them barely better than an unrelated one
(benchmarks/long_memories.py). A memory whose text is long (``ltm.retrieval.chunks``
decides what is long and cuts it into passages) therefore also gets one vector per passage,
stored beside it (SQLite: the table ``chunk_vectors``; PostgreSQL: ``chunk_vectors`` with a
foreign key) and erased with it: by trigger or cascade in the same transaction as the row,
whatever deletes it, and again when its text or vector changes (the writer stores them
afresh). Besides the passages each such memory keeps ``bg`` and ``bg_sd``: the mean and
standard deviation, over the shipped unrelated questions (``retrieval/background.json``), of
what its best passage's cosine gains on its whole vector's: the reference a passage's gain
for a query is measured against (``ltm.retrieval.chunks.lifted``).

This module holds what both backends share: the blob format (float16 rows) and ``ChunkSet``,
one user's passages as one matrix, which the pipeline scores a query against.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import EmbedderError, InvalidInput

log = logging.getLogger(__name__)

# Where a store takes passage vectors, BM25's length normalisation saturates at this many
# times the scope's average length: a long memory's words count as a passage's would, not
# diluted by the thousands of tokens of its other topics (its dense signal is its best
# passage's: ``ltm.retrieval.chunks``). Neutral where memories are long on average (a scope
# of long chat replies: few are 4 times the average).
LENGTH_CAP = 4.0

# (texts) -> for each text None (not long) or (its passages' unit vectors, bg, bg_sd)
Chunker = Callable[[Sequence[str]], list[tuple[np.ndarray, float, float] | None]]


def pack(vectors: np.ndarray) -> bytes:
    """A memory's passage vectors as stored: float16 rows (half the bytes of float32; a
    cosine moves by ~1e-3 at most, less than what tells passages apart)."""
    return np.ascontiguousarray(vectors, dtype=np.float16).tobytes()


def prepared(chunker: Chunker | None, items: Sequence[tuple[str, str, str]]
             ) -> list[tuple[str, str, float, float, bytes]]:
    """(user, id, bg, bg_sd, blob) of the long ones among ``items`` ((user, id, text)),
    computed before the transaction that stores them where the caller can (embedding holds
    no lock)."""
    if chunker is None or not items:
        return []
    try:
        got = chunker([t for _, _, t in items])
    except (EmbedderError, InvalidInput) as exc:
        # derived data: the memories are written without them (their whole vectors serve
        # them; ``reindex(embeddings=True)`` gives them theirs), as a forget that rebuilds a
        # summary with the embedder down still erases (policies.consolidate)
        log.warning("passage vectors of %d long memories not made: %s", len(items), exc)
        return []
    return [(user, mid, float(g[1]), float(g[2]), pack(g[0]))
            for (user, mid, _), g in zip(items, got) if g is not None]


@dataclass(frozen=True)
class ChunkSet:
    """One user's long memories and their passages: memory j's passages are rows
    ``starts[j]`` to ``starts[j + 1]`` (or the end) of ``matrix``."""

    rowids: np.ndarray  # int64: the memories' row ids (n), ascending
    ids: list[str]
    starts: np.ndarray  # int64
    matrix: np.ndarray  # float32 (passages, dim)
    bg: np.ndarray  # float64: what its best passage gains on its whole vector on unrelated
    bg_sd: np.ndarray  # questions: mean, standard deviation

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[int, str, float, float, bytes]], dim: int
                  ) -> ChunkSet | None:
        """From (row id, id, bg, bg_sd, blob) rows (None where there is none, or no blob holds a
        whole vector of ``dim``: another embedder's, until they are written again)."""
        keep = [r for r in rows if r[4] and len(r[4]) % (2 * dim) == 0]
        if not keep or dim <= 0:
            return None
        keep.sort(key=lambda r: r[0])
        blocks = [np.frombuffer(r[4], dtype=np.float16).reshape(-1, dim) for r in keep]
        sizes = np.array([len(b) for b in blocks], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        return cls(np.array([r[0] for r in keep], dtype=np.int64), [r[1] for r in keep],
                   starts, np.concatenate(blocks).astype(np.float32),
                   np.array([r[2] for r in keep], dtype=np.float64),
                   np.array([r[3] for r in keep], dtype=np.float64))

    def __len__(self) -> int:
        return len(self.rowids)

    def best(self, vector: np.ndarray) -> np.ndarray:
        """Each memory's best passage's cosine with ``vector`` (float64)."""
        # (einsum's loop, as the exact index scans: BLAS's threads woken per query cost more
        # than the scan of a few thousand rows)
        sims = np.einsum("ij,j->i", self.matrix, np.asarray(vector, dtype=np.float32))
        return np.maximum.reduceat(sims, self.starts).astype(np.float64)
