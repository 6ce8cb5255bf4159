"""Lone memories in the ranker's training data (issue 15): ``make_small(seed, lone=True)``
(``ltm train ranker --data small-lone:1-3``) writes small stores whose notes, and half of whose
chats' facts, are stored outside any session, as an application adds single notes; the small
stores' benchmark (seed 0, ``lone`` off) is what it was, and the trainer counts the lone
variant as part of the small stores' share of the fit."""

from __future__ import annotations

import numpy as np
import pytest

from ltm.bench.ranker_data import UnknownData, load_data
from ltm.bench.small import make_small
from ltm.retrieval.ranker import RawPool
from ltm.retrieval.train import Sample, _weights


def test_lone_stores_hold_memories_outside_any_session() -> None:
    convs = make_small(1, 12, lone=True)
    assert convs == make_small(1, 12, lone=True)  # deterministic
    assert all(c.source == "small-lone" and c.name.startswith("small-lone-s1-") for c in convs)
    plain = make_small(1, 12)
    assert not {c.name for c in convs} & {c.name for c in plain}
    assert [c.items for c in convs] != [c.items for c in plain]  # other stores, not relabelled
    lone = [it for c in convs for it in c.items if "session" not in it]
    turns = [it for c in convs for it in c.items if "session" in it]
    assert lone and turns  # notes alone, and chats with notes beside them
    assert all(it["session"].startswith("chat-") for it in turns)
    # a chat store whose asked facts are some lone, some in its sessions
    mids = {q_ev for c in convs for q in c.questions for q_ev in q.evidence}
    assert any({"session" in it for it in c.items if it["metadata"]["mid"] in mids}
               == {True, False} for c in convs)
    # the benchmark's stores have every memory in a session
    assert all("session" in it for c in make_small(0, 12) for it in c.items)


def test_small_lone_is_training_data_for_seeds_from_1() -> None:
    got = load_data("small-lone:2")
    assert len(got) == 40 and all(c.source == "small-lone" for c in got)
    for bad in ("small-lone:0", "small-lone:0-2", "small-lone:x"):
        with pytest.raises(UnknownData):
            load_data(bad)


def _sample(source: str) -> Sample:
    pool = RawPool(*(np.zeros(1) for _ in range(10)))
    return Sample(source, source, "fact", True, pool, np.ones(1), 0)


def test_the_lone_variant_shares_the_small_stores_part_of_the_fit() -> None:
    samples = [_sample("locomo")] * 4 + [_sample("small")] * 3 + [_sample("small-lone")] * 5
    w = np.array(_weights(samples))
    assert w[:4].sum() == pytest.approx(w[4:].sum())  # LoCoMo half, small + small-lone half
    assert len(set(w[4:].round(12))) == 1  # each small question counts the same
    # (without the variant: each source its part, as before)
    assert _weights([_sample("locomo")] * 4 + [_sample("small")] * 2) == \
        pytest.approx([0.75] * 4 + [1.5] * 2)
