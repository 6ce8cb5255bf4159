"""Bringing every memory up to this version's indexing (``MemoryStore.reindex``, ``ltm
reindex``).

The migrations write the full text of the rows a store holds when a newer ltm first opens
it; a process of the older version still running writes its rows the older way afterwards,
and the migrations, recorded, do not run again. ``reindex`` writes each row's full text
afresh (``segment.fts_words``) where it differs from what the row holds, a batch at a time
(one transaction each: safe to interrupt and run again, readers go on), and with
``embeddings=True`` embeds every memory again with the store's embedder and replaces the
vectors that differ (through the backend's update, the path a change of text takes, so the
vector index follows; each replacement is a ``reembedded`` history event). A store that takes
passage vectors of long memories (``chunk_min_chars`` > 0, ``ltm.retrieval.chunks``) also
gives them, with ``embeddings=True``, to the long memories that have none (written before it
took them): the count is ``passages``, a key only such a store returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from .backends.base import Backend, ChunkReader
from .engine import Engine, embed_text
from .model import Memory

log = logging.getLogger(__name__)

__all__ = ["reindex"]

TEXT_BATCH = 1000  # rows a full-text transaction reads (and rewrites, where they differ)
EMBED_BATCH = 256  # memories embedded at once (their replaced vectors: one transaction)
# a vector is replaced when one of its components moved more than this (float32 sums of the
# same rows in another order differ by ~1e-7; a change of what is embedded, by far more)
VECTOR_TOLERANCE = 1e-5


def reindex(engine: Engine, *, user: str | None = None, embeddings: bool = False,
            progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Write every row's full text afresh where it differs and, with ``embeddings``, its
    vector; ``progress(n)`` after each batch of ``n`` rows (a row is counted once per pass:
    twice with ``embeddings``). Returns {"checked", "rewritten", "reembedded"}: rows read,
    rows whose full text was rewritten, vectors replaced."""
    counts = {"checked": 0, "rewritten": 0, "reembedded": 0}
    after: Any = None
    while True:
        step = engine.backend.reindex_text(user, after, TEXT_BATCH)
        if step is None:
            break
        read, rewritten, after = step
        counts["checked"] += read
        counts["rewritten"] += rewritten
        if progress is not None:
            progress(read)
    if embeddings:
        block: list[tuple[Memory, np.ndarray | None]] = []
        for item in engine.backend.iter_export(user, True):
            block.append(item)
            if len(block) == EMBED_BATCH:
                counts["reembedded"] += _reembed(engine, block)
                if progress is not None:
                    progress(len(block))
                block = []
        if block:
            counts["reembedded"] += _reembed(engine, block)
            if progress is not None:
                progress(len(block))
        if isinstance(engine.backend, ChunkReader) and engine.backend.chunker is not None:
            counts["passages"] = _passages(engine.backend, user, engine.settings.chunk_min_chars)
    log.info("reindexed %d memories: %d full texts rewritten, %d vectors replaced",
             counts["checked"], counts["rewritten"], counts["reembedded"])
    return counts


def _reembed(engine: Engine, block: list[tuple[Memory, np.ndarray | None]]) -> int:
    """Embed ``block``'s memories and replace the vectors that differ (one transaction)."""
    vectors = engine.embed([embed_text(m.text, m.metadata) for m, _ in block])
    stale = [(m, v) for (m, old), v in zip(block, vectors)
             if old is None or old.shape != v.shape
             or not np.allclose(old, v, rtol=0.0, atol=VECTOR_TOLERANCE)]
    replaced = 0
    if stale:
        with engine.atomic():
            for user in sorted({m.user for m, _ in stale}):
                # read again inside the transaction: a memory changed or forgotten since
                # it was embedded here has the vector its writer gave it
                now = engine.backend.get_many([m.id for m, _ in stale if m.user == user], user)
                for m, v in stale:
                    held = now.get(m.id) if m.user == user else None
                    if held is not None and (held.text, held.metadata) == (m.text, m.metadata):
                        engine.backend.update(m.id, user, {}, v, event="reembedded")
                        replaced += 1
    return replaced


def _passages(backend: ChunkReader, user: str | None, min_chars: int) -> int:
    """Give the long memories without passage vectors theirs, a batch at a time (one
    transaction each); how many got them."""
    have: dict[str, set[str]] = {}
    done = 0
    block: list[tuple[str, str, str]] = []
    for m, _ in cast(Backend, backend).iter_export(user, False):
        if len(m.text) < min_chars:
            continue
        if m.user not in have:
            got = backend.chunk_set(m.user)
            have[m.user] = set(got.ids) if got is not None else set()
        if m.id not in have[m.user]:
            block.append((m.user, m.id, m.text))
        if len(block) == EMBED_BATCH:
            done += backend.store_chunks(block)
            block = []
    if block:
        done += backend.store_chunks(block)
    return done
