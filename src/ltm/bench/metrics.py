"""Retrieval-quality arithmetic shared by the labelled benchmarks (BEAM, small stores) and the
ranker trainer: evidence recall, first-hit rank, MRR, AUROC, calibration error, and the order
of updated against original information.

Standard library only. A ranking is a list of data-set ids (``metadata["mid"]``), best first.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence


def evidence_recall(ranked: Sequence[str], evidence: Collection[str], k: int) -> float:
    """Share of the evidence ids found in the first ``k`` of ``ranked``."""
    if k < 1:
        raise ValueError("k must be >= 1")
    if not evidence:
        raise ValueError("recall needs at least one evidence id")
    top = set(ranked[:k])
    return sum(1 for e in set(evidence) if e in top) / len(set(evidence))


def first_rank(ranked: Sequence[str], evidence: Collection[str]) -> int | None:
    """1-based rank of the first evidence id in ``ranked``; None when none is there."""
    want = set(evidence)
    for i, mid in enumerate(ranked):
        if mid in want:
            return i + 1
    return None


def precision_at_1(ranked: Sequence[str], evidence: Collection[str]) -> float:
    return 1.0 if ranked and ranked[0] in set(evidence) else 0.0


def reciprocal_rank(ranked: Sequence[str], evidence: Collection[str]) -> float:
    """1 / rank of the first evidence id (0 when none is ranked): averaged, this is MRR."""
    r = first_rank(ranked, evidence)
    return 0.0 if r is None else 1.0 / r


def update_first(ranked: Sequence[str], original: Collection[str],
                 updated: Collection[str]) -> bool | None:
    """Whether the best-ranked ``updated`` message ranks above every ``original`` message.

    An updated message must be ranked at all; an original message that is not ranked counts
    as below it. Ids in both lists are treated as updated (the message carries the update).
    None when the question does not define an order (no updated id, or no original id left).
    """
    upd = set(updated)
    orig = set(original) - upd
    if not upd or not orig:
        return None
    best_upd = first_rank(ranked, upd)
    if best_upd is None:
        return False
    best_orig = first_rank(ranked, orig)
    return best_orig is None or best_upd < best_orig


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random
    negative, ties counting one half (the Mann-Whitney U statistic over |pos| * |neg|)."""
    if not positive or not negative:
        raise ValueError("AUROC needs at least one positive and one negative score")
    scored = sorted([(s, 1) for s in positive] + [(s, 0) for s in negative])
    # average ranks (1-based) over ties, then U = sum of positive ranks - n_pos(n_pos+1)/2
    rank_sum = 0.0
    i = 0
    while i < len(scored):
        j = i
        while j + 1 < len(scored) and scored[j + 1][0] == scored[i][0]:
            j += 1
        avg = (i + j) / 2 + 1
        rank_sum += avg * sum(1 for t in range(i, j + 1) if scored[t][1] == 1)
        i = j + 1
    n_pos, n_neg = len(positive), len(negative)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def expected_calibration_error(probs: Sequence[float], labels: Sequence[bool],
                               bins: int = 10) -> float:
    """ECE with equal-width bins over [0, 1]: sum over bins of |bin share| * |mean predicted -
    observed rate|."""
    if len(probs) != len(labels):
        raise ValueError("probs and labels must have the same length")
    if not probs:
        raise ValueError("ECE of an empty sample")
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, p in enumerate(probs)
               if (lo <= p < hi) or (b == bins - 1 and p == 1.0)]
        if not idx:
            continue
        conf = sum(probs[i] for i in idx) / len(idx)
        rate = sum(1 for i in idx if labels[i]) / len(idx)
        total += len(idx) / len(probs) * abs(conf - rate)
    return total


def mean(values: Sequence[float]) -> float:
    """Plain mean, NaN for an empty sample (a metric over no question is undefined)."""
    return sum(values) / len(values) if values else math.nan
