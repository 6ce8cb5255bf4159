"""Sum-tree / min-tree invariants under random operation sequences."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ltm.replay import SumMinTree


def _check(tree: SumMinTree, leaves: np.ndarray) -> None:
    size = tree.size
    # every internal node is exactly the sum / min of its two children
    for node in range(1, size):
        assert tree.sum[node] == tree.sum[2 * node] + tree.sum[2 * node + 1]
        assert tree.min[node] == min(tree.min[2 * node], tree.min[2 * node + 1])
    np.testing.assert_array_equal(tree.sum[size : size + tree.capacity], leaves)
    assert np.isclose(tree.total, leaves.sum(), rtol=1e-12, atol=0)
    pos = leaves[leaves > 0]
    assert tree.min_value == (pos.min() if pos.size else np.inf)


ops = st.lists(
    st.tuples(
        st.lists(st.integers(0, 36), min_size=1, max_size=60),
        st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e3)), min_size=1, max_size=60),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(capacity=st.integers(1, 37), ops=ops, masses=st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_sum_tree_invariants_and_search(capacity: int, ops: list, masses: list) -> None:
    tree = SumMinTree(capacity)
    leaves = np.zeros(capacity)
    for idx, vals in ops:
        k = min(len(idx), len(vals))
        i = np.array(idx[:k]) % capacity
        v = np.array(vals[:k])
        tree.update(i, v)
        for a, b in zip(i, v):  # reference: sequential assignment, last write wins
            leaves[a] = b
        _check(tree, leaves)
    if leaves.sum() == 0:
        return
    m = np.array(masses) * tree.total
    found = tree.find(m)
    assert np.all(leaves[found] > 0), "search must never land on an empty leaf"
    cum = np.cumsum(leaves)
    ref = np.minimum(np.searchsorted(cum, m, side="right"), capacity - 1)
    # away from float ties the leaf is the one whose prefix interval holds the mass
    clear = np.abs(cum[np.clip(ref - 1, 0, None)] - m) > 1e-9 * tree.total
    clear &= np.abs(cum[ref] - m) > 1e-9 * tree.total
    assert np.array_equal(found[clear & (leaves[ref] > 0)], ref[clear & (leaves[ref] > 0)])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 50), min_size=1, max_size=200))
def test_set_all_equals_incremental_updates(values: list) -> None:
    v = np.array(values)
    a, b = SumMinTree(v.size), SumMinTree(v.size)
    a.set_all(v)
    for i, x in enumerate(v):
        b.update(np.array([i]), np.array([x]))
    # nodes are recomputed from children, so both paths are bit-identical
    np.testing.assert_array_equal(a.sum, b.sum)
    np.testing.assert_array_equal(a.min, b.min)


def test_contiguous_and_scattered_paths_agree() -> None:
    rng = np.random.default_rng(0)
    a, b = SumMinTree(5000), SumMinTree(5000)
    for _ in range(30):
        lo = int(rng.integers(0, 4900))
        run = np.arange(lo, lo + 100)
        vals = rng.random(100)
        a.update(run, vals)  # slice path
        for j in range(0, 100, 10):  # small scattered updates path
            b.update(run[j : j + 10][::-1], vals[j : j + 10][::-1])
    np.testing.assert_array_equal(a.sum, b.sum)
    np.testing.assert_array_equal(a.min, b.min)


def test_rejects_negative_values() -> None:
    import pytest

    with pytest.raises(ValueError):
        SumMinTree(4).update(np.array([0]), np.array([-1.0]))
