"""Stage-2 word coverage (issue 15, twelfth pass): ``win_cov``, the IDF-weighted share of the
query's words a turn and the turns just before and after it hold together, and
``sess_cov``, the share its whole session holds, and ``lone_cov``, the share a memory outside
any conversation holds itself (``ltm.retrieval.ranker.coverage``)."""

from __future__ import annotations

import numpy as np
import pytest

from ltm.retrieval.ranker import FULL, UNFITTED, Ranker, RawPool, coverage, fit, shipped

WIN, SESS, LONE = FULL.index("win_cov"), FULL.index("sess_cov"), FULL.index("lone_cov")


def covering() -> Ranker:
    """The shipped weights with weight 1 on the coverage columns."""
    base = shipped()
    w = base.full_w.copy()
    w[[WIN, SESS, LONE]] = 1.0
    return Ranker(base.own_w, base.own_b, w, base.full_b, base.context_window)


def _pool(session: list[int], seq: list[int], words: list[int], weight: list[float],
          assistant: list[float] | None = None) -> RawPool:
    n = len(session)
    return RawPool(np.ones(n), np.zeros(n), np.array(session, dtype=np.int64),
                   np.array(seq, dtype=np.int64), np.array([s >= 0 for s in session]),
                   np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n), np.zeros(n),
                   assistant=None if assistant is None else np.array(assistant),
                   words=np.array(words, dtype=np.uint8), word_w=np.array(weight))


def test_a_neighbour_holding_the_missing_word_raises_win_cov() -> None:
    # two words: "puppy" (bit 0, weight 3) and "name" (bit 1, weight 1). Session 0: the turn
    # before the reply says "puppy"; session 1: the same reply after a turn that does not;
    # session 2: "puppy" three turns before the reply; one memory outside any session
    pool = _pool([0, 0, 0, 1, 1, 1, 2, 2, 2, 2, -1],
                 [1, 2, 3, 1, 2, 3, 1, 2, 3, 4, 0],
                 [1, 2, 0, 0, 2, 0, 1, 0, 0, 2, 2], [3.0, 1.0])
    cov = coverage(pool)
    assert cov[1].tolist() == pytest.approx([1.0, 1.0, 0.0])  # "puppy" from the turn before
    assert cov[4].tolist() == pytest.approx([0.25, 0.25, 0.0])  # "name" alone, its own
    assert cov[9].tolist() == pytest.approx([0.25, 1.0, 0.0])  # "puppy" in its session only
    assert cov[0].tolist() == pytest.approx([1.0, 1.0, 0.0])  # "name" after its own "puppy"
    assert cov[2].tolist() == pytest.approx([0.25, 1.0, 0.0])  # "name" before it
    assert cov[3].tolist() == pytest.approx([0.25, 0.25, 0.0])
    # a neighbour never covers more than the turn that lends it its words holds with them
    assert cov[1, 0] <= cov[0, 0]
    # outside any conversation: no neighbour, no session, its own words in a column of their own
    assert cov[10].tolist() == pytest.approx([0.0, 0.0, 0.25])
    # the ranker's columns are these, and with weight on them the reply after "puppy" ranks
    # above the same reply after another turn
    x = covering().features(pool)
    assert np.allclose(x[:, [WIN, SESS, LONE]], cov)
    logit = covering().logit(x)
    assert logit[1] > logit[4] and logit[9] > logit[4]
    assert covering().reads_words


def test_the_shipped_weights_fit_coverage() -> None:
    # fitted since the thirteenth pass (ranker.json's provenance): a search reads the words,
    # and a fit weighs the columns where they vary
    assert not {"win_cov", "sess_cov", "lone_cov"} & set(UNFITTED)
    assert min(shipped().full_w[WIN], shipped().full_w[SESS], shipped().full_w[LONE]) > 0.0
    assert shipped().reads_words
    pool = _pool([0, 0, 0, 1, 1, 1], [1, 2, 3, 1, 2, 3], [1, 2, 0, 0, 2, 0], [3.0, 1.0])
    pool.dense = np.array([1.0, 2.0, 0.0, 0.0, 1.9, 0.0])
    model = fit([pool, pool], [np.array([0, 1, 0, 0, 0, 0.0])] * 2)
    assert model.full_w[WIN] != 0.0


def test_a_turn_is_its_neighbours_only_in_its_session_and_by_turn_number() -> None:
    # turn 5 is not next to turn 3 (turn 4 is missing), nor is session 1's turn 2 next to
    # session 0's turn 3
    pool = _pool([0, 0, 1], [3, 5, 2], [1, 2, 1], [1.0, 1.0])
    cov = coverage(pool)
    assert cov[:, 0].tolist() == pytest.approx([0.5, 0.5, 0.5])  # (each its own word)
    assert cov[:, 1].tolist() == pytest.approx([1.0, 1.0, 0.5])
    cov = coverage(_pool([0, 0, 1], [3, 4, 2], [1, 2, 1], [1.0, 1.0]))
    assert cov[:, 0].tolist() == pytest.approx([1.0, 1.0, 0.5])


def test_an_assistant_lends_no_words_to_its_neighbours_window() -> None:
    # user, assistant, user: the assistant's reply holds both words
    pool = _pool([0, 0, 0], [1, 2, 3], [0, 3, 1], [1.0, 1.0], assistant=[0.0, 1.0, 0.0])
    cov = coverage(pool)
    assert cov[:, 0].tolist() == pytest.approx([0.0, 1.0, 0.5])  # (the assistant's own: all)
    assert cov[:, 1].tolist() == pytest.approx([1.0, 1.0, 1.0])  # (its session's words)
    # where the query names the assistant (no assistant column), its words count
    assert coverage(_pool([0, 0, 0], [1, 2, 3], [0, 3, 1], [1.0, 1.0]))[:, 0].tolist() == \
        pytest.approx([1.0, 1.0, 1.0])


def test_without_words_coverage_is_zero() -> None:
    pool = _pool([0, 0], [1, 2], [1, 0], [1.0])
    pool.words = None
    assert coverage(pool).tolist() == [[0.0] * 3] * 2
    assert coverage(_pool([0, -1], [1, 2], [0, 0], [0.0])).tolist() == [[0.0] * 3] * 2
    assert coverage(_pool([], [], [], [1.0])).shape == (0, 3)


def test_many_words_and_take() -> None:
    rng = np.random.default_rng(3)
    n, t = 40, 21
    weight = rng.uniform(0.1, 5.0, t)
    bits = rng.random((n, t)) < 0.2
    masks = (bits * (np.uint64(1) << np.arange(t, dtype=np.uint64))).sum(axis=1,
                                                                         dtype=np.uint64)
    session = np.repeat(np.arange(4), 10)
    pool = _pool(session.tolist(), list(range(10)) * 4, [0] * n, weight.tolist())
    pool.words = masks.astype(np.uint32)
    cov = coverage(pool)
    for j in range(n):
        win = ((bits[j - 1] if j % 10 else False) | (bits[j + 1] if j % 10 < 9 else False)) \
            | bits[j]
        sess = bits[session == session[j]].any(axis=0)
        assert cov[j].tolist() == pytest.approx([weight[win].sum() / weight.sum(),
                                                 weight[sess].sum() / weight.sum(), 0.0])
    part = pool.take(np.arange(10))
    assert part.words is not None and part.words.tolist() == pool.words[:10].tolist()
    assert np.allclose(coverage(part), cov[:10])


def test_a_lone_memory_holds_only_its_own_words() -> None:
    """A lone memory (no session, or a session without a turn number) has no neighbours and no
    session of others: ``lone_cov`` is the share of the query's words it holds, whatever the
    turns around it hold; a turn's ``lone_cov`` is 0."""
    pool = _pool([-1, -1, 0, 0, 1], [0, 0, 1, 2, 1], [1, 3, 2, 1, 2], [3.0, 1.0])
    pool.has_seq[4] = False  # (a session without turn numbers: outside any conversation too)
    cov = coverage(pool)
    assert cov[:, 2].tolist() == pytest.approx([0.75, 1.0, 0.0, 0.0, 0.25])
    assert cov[[0, 1, 4], :2].tolist() == [[0.0, 0.0]] * 3
    assert cov[2].tolist() == pytest.approx([1.0, 1.0, 0.0])
    # the same memories with other lone ones beside them, or alone: the same columns
    assert np.allclose(coverage(pool.take(np.array([0, 4]))), cov[[0, 4]])
    x = covering().features(pool)
    assert np.allclose(x[:, LONE], cov[:, 2])
