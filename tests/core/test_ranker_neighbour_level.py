"""Stage-2 features added in issue 15's sixth pass: the full-text ratio of the turn before and
after a memory (``previous_text``, ``next_text``); weights stored before those features
existed (a store's own, fitted from feedback) still load."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from ltm.retrieval.ranker import ADDED, FULL, OWN, Ranker, RawPool, shipped


def _pool(text: list[float], dense: list[float], session: list[int], seq: list[int]) -> RawPool:
    n = len(text)
    return RawPool(np.array(text, dtype=float), np.array(dense, dtype=float),
                   np.array(session, dtype=np.int64), np.array(seq, dtype=np.int64),
                   np.array([s >= 0 for s in session], dtype=bool), np.zeros(n), np.zeros(n),
                   np.zeros(n, dtype=bool), np.zeros(n), np.zeros(n))


def test_neighbour_text_is_the_turn_before_and_after() -> None:
    # session 0: turns 1, 2, 4 (3 missing); session 1: turn 2; one memory outside any session
    pool = _pool([1.0, 0.2, 5.0, 0.7, 0.9], [0.0] * 5, [0, 0, 0, 1, -1], [1, 2, 4, 2, 0])
    x = shipped().features(pool)
    prev, nxt = x[:, FULL.index("previous_text")], x[:, FULL.index("next_text")]
    # relative to the best candidate's ratio, clipped at 3 as in own_features (5.0 -> 3)
    assert prev.tolist() == pytest.approx([0.0, 1.0 / 3, 0.0, 0.0, 0.0])  # turn 3 absent
    assert nxt.tolist() == pytest.approx([0.2 / 3, 0.0, 0.0, 0.0, 0.0])
    pool = _pool([0.0, 7.0], [0.0, 0.0], [0, 0], [1, 2])
    assert shipped().features(pool)[0, FULL.index("next_text")] == 1.0
    # a uniform change of every BM25 score (the store-wide length average moving) changes
    # nothing
    base = [1.0, 0.2, 1.5, 0.7, 0.9]
    cols = [FULL.index("previous_text"), FULL.index("next_text")]
    shape = ([0.0] * 5, [0, 0, 0, 1, -1], [1, 2, 4, 2, 0])
    before = shipped().features(_pool(base, *shape))[:, cols]
    after = shipped().features(_pool([1.1 * t for t in base], *shape))[:, cols]
    assert before[1, 0] > 0 and np.allclose(after, before)
    empty = shipped().features(_pool([], [], [], []))
    assert empty.shape == (0, len(FULL))


def test_weights_from_before_the_added_features_load() -> None:
    d = json.loads(resources.files("ltm.retrieval").joinpath("ranker.json").read_text())
    names = [f for f in FULL if f not in ADDED]
    stored = dict(zip(d["full"]["features"], d["full"]["weights"]))
    d["full"] = {"features": names, "weights": [stored[f] for f in names],
                 "bias": d["full"]["bias"]}
    old = Ranker.from_dict(d)
    for f in ADDED:
        assert old.full_w[FULL.index(f)] == 0.0
    assert old.full_w[FULL.index("own")] == shipped().full_w[FULL.index("own")]
    # unknown names, a reordered set, a missing original feature: refused
    for bad in (names + ["nonsense"], names[::-1], names[1:]):
        d["full"] = {"features": bad, "weights": [0.0] * len(bad), "bias": 0.0}
        with pytest.raises(ValueError):
            Ranker.from_dict(d)
    assert len(OWN) == len(shipped().own_w)
