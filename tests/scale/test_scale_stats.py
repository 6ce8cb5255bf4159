"""Percentiles, recall@k and ratios used by the scale and peers benchmarks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltm.bench.stats import latency_summary, mean_recall, percentile, rate, ratio, recall_at_k


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 99) == 10
    assert percentile([3, 1, 2], 0) == 1
    assert percentile([3, 1, 2], 100) == 3
    assert percentile(list(range(101)), 95) == 95


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1,
                max_size=200), st.floats(min_value=0, max_value=100))
def test_percentile_matches_numpy(xs: list[float], q: float) -> None:
    assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)), rel=1e-9, abs=1e-6)


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary_is_in_milliseconds() -> None:
    s = latency_summary([0.001, 0.002, 0.003, 0.004], "q")
    assert s["q_ms_p50"] == 2.5
    assert s["q_ms_mean"] == 2.5
    assert s["q_queries"] == 4
    assert s["q_ms_p99"] == pytest.approx(3.97)


def test_recall_at_k() -> None:
    assert recall_at_k([1, 2, 3], [3, 2, 1], 3) == 1.0
    assert recall_at_k([1, 2, 9], [1, 2, 3], 3) == pytest.approx(2 / 3)
    # only the first k of each list count
    assert recall_at_k([9, 8, 1], [1, 2], 2) == 0.0
    # a scope smaller than k: recall over what exists
    assert recall_at_k([5], [5], 10) == 1.0
    assert recall_at_k([], [], 10) == 1.0
    assert mean_recall([[1, 2], [3, 4]], [[1, 2], [3, 5]], 2) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        mean_recall([[1]], [[1], [2]], 1)


def test_rate_and_ratio() -> None:
    assert rate(20_000, 0.5) == 40_000
    assert ratio(3.0, 1.5) == 2.0  # peer twice as slow: ltm faster
    with pytest.raises(ValueError):
        rate(1, 0)
    with pytest.raises(ValueError):
        ratio(1.0, 0.0)


def test_recall_with_ties_counts_duplicates_of_true_neighbours() -> None:
    from ltm.bench.stats import recall_at_k_ties

    # exact top-3 scores 0.9, 0.8, 0.8 (k-th = 0.8): a found duplicate scoring 0.8 is a hit
    assert recall_at_k_ties([0.9, 0.8, 0.8], 0.8, 3, truth_count=3) == 1.0
    assert recall_at_k_ties([0.9, 0.8, 0.5], 0.8, 3, truth_count=3) == pytest.approx(2 / 3)
    assert recall_at_k_ties([0.1, 0.2], 0.8, 2, truth_count=2) == 0.0
    # only the first k found count, and never more than the truth holds
    assert recall_at_k_ties([0.9, 0.9, 0.9, 0.9], 0.8, 2, truth_count=2) == 1.0
    assert recall_at_k_ties([0.9], 0.9, 10, truth_count=1) == 1.0
    assert recall_at_k_ties([], 0.0, 10, truth_count=0) == 1.0
    with pytest.raises(ValueError):
        recall_at_k_ties([0.9], 0.9, 0, truth_count=1)
