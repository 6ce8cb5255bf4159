"""Stage-1 column ``text_set`` (issue 15, notes in small stores): the best full-text ratio
(``text_top``) among the candidates holding the same query words. Among memories that hold the
same words, BM25 differs only by term frequency and length: "what is the name of Alba's
sibling?" over Alba's facts matches the name alone, held by all of them, and the shortest fact
won on its BM25 over the better dense match. Measured, not fitted yet (``ranker.UNFITTED_OWN``
says why): the fit leaves it at 0 and the shipped weights rank as before."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np

from ltm.retrieval.ranker import OWN, UNFITTED_OWN, Ranker, RawPool, fit, own_features, shipped

TOP, SET = OWN.index("text_top"), OWN.index("text_set")


def _pool(text: list[float], dense: list[float], words: list[int] | None) -> RawPool:
    n = len(text)
    return RawPool(np.array(text, dtype=float), np.array(dense, dtype=float),
                   np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.int64),
                   np.zeros(n, dtype=bool), np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool),
                   np.zeros(n), np.zeros(n),
                   words=None if words is None else np.array(words, dtype=np.uint64),
                   word_w=None if words is None else np.array([1.0, 2.0]))


def test_the_best_ratio_among_candidates_holding_the_same_words() -> None:
    # bit 0: the name, every candidate's; bit 1: "sister", the fourth one's too; the last
    # holds no query word
    x = own_features(_pool([0.4, 0.3, 0.2, 0.8, 0.0], [1.0, 2.0, 3.0, 0.0, 5.0],
                           [1, 1, 1, 3, 0]))
    assert np.allclose(x[:, TOP], [0.5, 0.375, 0.25, 1.0, 0.0])
    assert np.allclose(x[:, SET], [0.5, 0.5, 0.5, 1.0, 0.0])
    # without the words (not read) each memory is its own set
    x = own_features(_pool([0.4, 0.2], [0.0, 0.0], None))
    assert np.allclose(x[:, SET], x[:, TOP])
    assert own_features(_pool([], [], [])).shape == (0, len(OWN))
    assert own_features(_pool([0.0, 0.0], [1.0, 2.0], [0, 0]))[:, SET].tolist() == [0.0, 0.0]


def test_fitted_length_does_not_outrank_the_dense_match_among_the_same_words() -> None:
    base = shipped()
    assert base.own_w[SET] == 0.0 and "text_set" in UNFITTED_OWN
    # the weights the shipped command fits with it: text_top's weight moves to text_set
    w = base.own_w.copy()
    w[SET], w[TOP] = w[TOP], 0.0
    model = Ranker(w, base.own_b, base.full_w, base.full_b, base.context_window)
    assert model.reads_words
    # the same query word (the name), the shorter fact scoring higher by BM25 alone
    pool = _pool([0.31, 0.25], [6.58, 7.15], [1, 1])
    assert base.own_logit(pool)[0] > base.own_logit(pool)[1]
    assert model.own_logit(pool)[1] > model.own_logit(pool)[0]
    # a memory holding more of the query's words still ranks by its words
    pool = _pool([0.31, 0.62], [7.15, 6.58], [1, 3])
    own = model.own_logit(pool)
    assert own[1] > own[0]


def test_the_fit_leaves_it_at_zero() -> None:
    rng = np.random.default_rng(0)
    pools, labels = [], []
    for _ in range(20):
        t = rng.uniform(0.0, 1.0, 6)
        pools.append(_pool(list(t), list(rng.normal(0.0, 1.0, 6)), [1, 1, 1, 3, 3, 0]))
        labels.append((np.arange(6) == int(np.argmax(t))).astype(float))
    assert fit(pools, labels).own_w[SET] == 0.0


def test_weights_stored_before_it_load_with_zero() -> None:
    d = json.loads(resources.files("ltm.retrieval").joinpath("ranker.json").read_text())
    stored = dict(zip(d["own"]["features"], d["own"]["weights"]))
    names = [f for f in OWN if f != "text_set"]
    d["own"] = {"features": names, "weights": [stored[f] for f in names],
                "bias": d["own"]["bias"]}
    old = Ranker.from_dict(d)
    assert old.own_w[SET] == 0.0
    assert np.array_equal(np.delete(old.own_w, SET), np.delete(shipped().own_w, SET))
