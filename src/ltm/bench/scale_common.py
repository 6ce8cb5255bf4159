"""What both scale benchmarks (SQLite ``ltm.bench.scale``, PostgreSQL ``ltm.bench.scale_pg``)
share: the one-scope user, progress bars, peak memory, the timed search passes and the
reopen-and-first-query probe. Only the standard library is imported at module level."""

from __future__ import annotations

import resource
import sys
import time
from typing import Any

from .corpus import Corpus

SINGLE_USER = "scope-all"


class PhaseFailed(RuntimeError):
    """A phase's own process exited with an error (its traceback is on stderr)."""


def nothing_to_measure(multi_user: bool, single_scope: bool) -> None:
    """Refuse a run with both halves switched off."""
    if not (multi_user or single_scope):
        raise ValueError("nothing to measure: both the multi-user and the single-scope runs "
                         "are switched off")


def _rss_mb() -> float:
    """Peak resident set of this process in MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def _bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="mem" if "ingest" in desc else "q",
                disable=not enabled, file=sys.stderr, smoothing=0.1, mininterval=0.5)


class _Precomputed:
    """The store's embedder with the query vectors already computed: ``search()`` minus the
    embedding, everything else the same."""

    def __init__(self, inner: Any, texts: list[str]) -> None:
        self.name, self.dim = inner.name, inner.dim
        self._inner = inner
        vecs = inner.embed(texts)
        self._vec = {t: vecs[i] for i, t in enumerate(texts)}

    def embed(self, texts: Any) -> Any:
        """The cached vectors; a text not seen yet (the retrieval may embed a query's content
        words without the speaker's name) is embedded once and kept."""
        import numpy as np
        missing = [t for t in dict.fromkeys(texts) if t not in self._vec]
        if missing:
            for t, v in zip(missing, self._inner.embed(missing)):
                self._vec[t] = v
        return np.stack([self._vec[t] for t in texts])


def timed_scoped_passes(store: Any, queries: list[tuple[str, str]], k: int, bar: Any
                        ) -> tuple[list[float], list[float], list[float], list[float]]:
    """Three passes over ``queries`` (user, text), one ``bar`` step per query and pass:
    ``search()`` wall and process-CPU seconds, ``search()`` with the query vectors
    precomputed, and the backend's dense search alone. Shared by both backends' runs."""
    from ltm.backends.base import Filters

    lat, cpu = [], []
    for user, q in queries:
        t1, c1 = time.perf_counter(), time.process_time()
        store.search(q, user=user, k=k)
        lat.append(time.perf_counter() - t1)
        cpu.append(time.process_time() - c1)
        bar.update()
    real = store.embedder
    store.embedder = _Precomputed(real, sorted({q for _, q in queries}))
    try:
        for user, q in queries:  # untimed: caches whatever text the retrieval embeds
            store.search(q, user=user, k=k)
        alone = []
        for user, q in queries:
            t1 = time.perf_counter()
            store.search(q, user=user, k=k)
            alone.append(time.perf_counter() - t1)
            bar.update()
        dense = []
        for user, q in queries:
            qv = store.embedder.embed([q])[0]
            t1 = time.perf_counter()
            store.backend.dense_search(qv, Filters(user=user), k)
            dense.append(time.perf_counter() - t1)
            bar.update()
    finally:
        store.embedder = real
    return lat, cpu, alone, dense


def single_reopen_first_query(target: str, a: dict[str, Any]) -> dict[str, Any]:
    """Open the one-scope store at ``target`` (folder or URL) and answer one query."""
    import ltm

    corpus = Corpus(a["n"], a["users"], a["seed"])
    q = corpus.queries(1, seed=a["seed"] + 3)[0][1]
    t0 = time.perf_counter()
    store = ltm.open(target, **a.get("settings", {}))
    store.search(q, user=SINGLE_USER, k=a["k"])
    first = time.perf_counter() - t0
    store.close()
    return {"single_reopen_first_query_s": round(first, 4),
            "single_reopen_peak_rss_mb": _rss_mb()}
