"""The relevance model's last calibration step (``ranker.context_features``): it turns the
stage-2 logit and the competition from the candidates ranked above into the probability, and
never changes the order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltm.retrieval.ranker import FULL, OWN, Ranker, context_features, sigmoid


def _model(w_logit: float, w_above: float) -> Ranker:
    full_w = np.zeros(len(FULL))
    full_w[FULL.index("own")] = 1.0
    return Ranker(np.zeros(len(OWN)), 0.0, full_w, 0.0, context_w=np.array([w_logit, w_above]),
                  context_b=-0.5)


def test_competition_by_hand() -> None:
    f = context_features(np.array([0.0, np.log(3.0), -5.0]))
    assert f[1, 1] == 0.0  # the best candidate has no competition
    assert f[0, 1] == pytest.approx(np.log1p(3.0))  # odds 3 above, its own 1
    assert f[2, 1] > f[0, 1]
    assert context_features(np.zeros(0)).shape == (0, 2)


@given(st.lists(st.floats(-20, 20), min_size=1, max_size=40),
       st.floats(0.05, 3.0), st.floats(-3.0, 0.0))
def test_calibration_keeps_the_order(logits: list[float], w_logit: float,
                                     w_above: float) -> None:
    model = _model(w_logit, w_above)
    x = np.zeros((len(logits), len(FULL)))
    x[:, FULL.index("own")] = logits
    out, _ = model.logits(x)
    raw = np.array(logits)
    before = np.argsort(-raw, kind="stable")
    # a better stage-2 logit never ends below a worse one (rounding may make them equal)
    for a, b in zip(before[:-1], before[1:]):
        assert out[a] >= out[b]
    p = sigmoid(out)
    assert np.all((p >= 0) & (p <= 1))


def test_weights_that_would_reorder_are_refused() -> None:
    d = _model(1.0, -0.5).to_dict()
    assert Ranker.from_dict(d).context_w is not None
    d["context"]["weights"] = [1.0, 0.5]  # competition raising a probability
    with pytest.raises(ValueError):
        Ranker.from_dict(d)
    d["context"]["weights"] = [-1.0, 0.0]
    with pytest.raises(ValueError):
        Ranker.from_dict(d)
