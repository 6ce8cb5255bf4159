"""The arithmetic of the benchmarks: latency percentiles, recall against exact search, rates.

Standard library only, so it is importable (and testable) without numpy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks (the
    same definition as numpy's default), so p50 of [1, 2, 3, 4] is 2.5."""
    if not values:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be in [0, 100], got {q}")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def latency_summary(seconds: Sequence[float], prefix: str) -> dict[str, float]:
    """p50/p95/p99/mean in milliseconds under ``<prefix>_ms_p50`` etc."""
    ms = [s * 1000.0 for s in seconds]
    return {f"{prefix}_ms_p50": round(percentile(ms, 50), 4),
            f"{prefix}_ms_p95": round(percentile(ms, 95), 4),
            f"{prefix}_ms_p99": round(percentile(ms, 99), 4),
            f"{prefix}_ms_mean": round(sum(ms) / len(ms), 4),
            f"{prefix}_queries": len(ms)}


def recall_at_k(found: Iterable[Any], truth: Iterable[Any], k: int) -> float:
    """|top-k found ∩ top-k truth| / min(k, |truth|); 1.0 when the truth is empty."""
    if k < 1:
        raise ValueError("k must be >= 1")
    want = list(truth)[:k]
    if not want:
        return 1.0
    got = set(list(found)[:k])
    return sum(1 for t in want if t in got) / len(want)


def mean_recall(found: Sequence[Iterable[Any]], truth: Sequence[Iterable[Any]], k: int) -> float:
    if len(found) != len(truth):
        raise ValueError("found and truth must hold the same number of queries")
    if not found:
        raise ValueError("no queries")
    return sum(recall_at_k(f, t, k) for f, t in zip(found, truth)) / len(found)


def recall_at_k_ties(found_scores: Sequence[float], kth_exact: float, k: int,
                     truth_count: int, eps: float = 1e-5) -> float:
    """Recall@k that counts ties as hits (the ann-benchmarks definition): the share of the
    first ``k`` found items whose *exact* score is at least the exact k-th best score
    (``kth_exact``) minus ``eps``, over ``min(k, truth_count)``. With duplicate vectors the
    exact top k is not unique, and a found duplicate of a true neighbour is no miss."""
    if k < 1:
        raise ValueError("k must be >= 1")
    want = min(k, truth_count)
    if want == 0:
        return 1.0
    return min(want, sum(1 for sc in list(found_scores)[:k] if sc >= kth_exact - eps)) / want


def rate(count: int, seconds: float) -> float:
    """Items per second (inf is never reported: a zero duration raises)."""
    if seconds <= 0:
        raise ValueError("duration must be positive")
    return count / seconds


def ratio(peer: float, ours: float) -> float:
    """Peer time / ltm time: above 1 means ltm is faster."""
    if ours <= 0:
        raise ValueError("ltm time must be positive")
    return peer / ours


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call, on the monotonic high-resolution clock."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out
