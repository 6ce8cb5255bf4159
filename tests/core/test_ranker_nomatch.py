"""Stage-1 column ``dense_nomatch`` (issue 15: a new user's paraphrased question, where no
memory holds a word of it): the dense z above the background where no candidate matches a query
word, else 0. Measured, not fitted (``ranker.UNFITTED_OWN`` says why): the fit leaves it at 0,
weights stored before it existed load with 0, and the shipped weights rank as before."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from ltm.retrieval.ranker import OWN, UNFITTED_OWN, Ranker, RawPool, fit, own_features, shipped

COL = OWN.index("dense_nomatch")


def _pool(text: list[float], dense: list[float]) -> RawPool:
    n = len(text)
    return RawPool(np.array(text, dtype=float), np.array(dense, dtype=float),
                   np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.int64),
                   np.zeros(n, dtype=bool), np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool),
                   np.zeros(n), np.zeros(n))


def test_dense_above_the_background_only_where_no_candidate_matches_a_word() -> None:
    none = own_features(_pool([0.0, 0.0, 0.0], [3.0, -1.0, 20.0]))
    assert none[:, COL].tolist() == [3.0, 0.0, 15.0]  # max(z, 0), z clipped at 15 as dense is
    some = own_features(_pool([0.0, 0.4, 0.0], [3.0, -1.0, 2.0]))
    assert some[:, COL].tolist() == [0.0, 0.0, 0.0]
    assert own_features(_pool([], [])).shape == (0, len(OWN))


def test_not_fitted_and_older_weights_load() -> None:
    assert "dense_nomatch" in UNFITTED_OWN and shipped().own_w[COL] == 0.0
    d = json.loads(resources.files("ltm.retrieval").joinpath("ranker.json").read_text())
    names = [f for f in OWN if f != "dense_nomatch"]
    stored = dict(zip(d["own"]["features"], d["own"]["weights"]))
    d["own"] = {"features": names, "weights": [stored.get(f, 0.0) for f in names],
                "bias": d["own"]["bias"]}
    old = Ranker.from_dict(d)
    assert old.own_w[COL] == 0.0 and np.array_equal(old.own_w, shipped().own_w)
    # a stored weight for it is read; unknown names, a reordered set, a missing original one:
    # refused
    d["own"] = {"features": list(OWN), "bias": 0.0,
                "weights": [0.5 if f == "dense_nomatch" else stored.get(f, 0.0) for f in OWN]}
    assert Ranker.from_dict(d).own_w[COL] == 0.5
    for bad in (names + ["nonsense"], names[::-1], names[1:]):
        d["own"] = {"features": bad, "weights": [0.0] * len(bad), "bias": 0.0}
        with pytest.raises(ValueError):
            Ranker.from_dict(d)


def test_the_fit_leaves_it_at_zero() -> None:
    rng = np.random.default_rng(0)
    pools, labels = [], []
    for q in range(30):  # pools without a word match, where the dense z tells the evidence
        z = rng.normal(0.0, 1.0, 8)
        z[0] += 3.0
        pools.append(_pool([0.0] * 8 if q % 2 else [1.0] + [0.0] * 7, list(z)))
        labels.append(np.eye(8)[0])
    model = fit(pools, labels)
    assert model.own_w[COL] == 0.0 and model.own_w[OWN.index("dense")] > 0
