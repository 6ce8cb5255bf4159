"""Per-store weights (issue 15, item 2) learn from "not useful" judgments. ``fit_ranking`` read a
memory judged not useful as one more unjudged candidate of its query, so such judgments changed
the fit only when that memory was outside the query's top 20, and judgments that only ever said
"not useful" fitted nothing. Now each says every other candidate of its query should rank above
that memory (``train.not_useful_pairs``), moving the weights of what sets the memory apart
beyond its match (importance, age, speaker), never the match's own; "useful" judgments alone
fit exactly what they fitted before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner

import ltm
from ltm.cli import main
from ltm.retrieval.feedback import load_feedback
from ltm.retrieval.ranker import FULL, fit_ranking, shipped
from ltm.retrieval.train import MATCH, fit_store, store_samples

FACTS = ["Priya listens to jazz records on Sunday evenings",
         "Priya loves Thai green curry",
         "Priya's favourite film is Amelie",
         "Priya plays tennis at the club on Saturdays",
         "Priya collects old maps of Lisbon",
         "Priya reads a lot of Japanese crime fiction",
         "Priya has a grey cat called Miso",
         "Priya drinks oolong tea every afternoon"]
# an important note that matches every "what does Priya like" question better than the facts
REMINDER = "Reminder: ask Priya what she likes, what she enjoys and what she is into"
JUDGED = ["what music does Priya like", "what food does Priya like", "what films does Priya like",
          "what sport does Priya enjoy", "what does Priya collect",
          "what is Priya into these days"]
# the same family, never judged
HELD_OUT = ["what books does Priya like", "what pets does Priya like",
            "what drinks does Priya enjoy", "what kind of music is Priya into",
            "what does Priya like to eat"]


def _rank(mem: ltm.MemoryStore, query: str, memory_id: str) -> int:
    hits = mem.search(query, user="p", k=len(FACTS) + 1)
    return [h.memory.id for h in hits].index(memory_id)


def test_not_useful_judgments_push_a_memory_down_for_unjudged_queries(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with ltm.open(path) as mem:
        for f in FACTS:
            mem.add(f, user="p", kind="fact", importance=0.2)
        note = mem.add(REMINDER, user="p", importance=1.0)
        before = {q: _rank(mem, q, note.id) for q in HELD_OUT}
        assert sum(r == 0 for r in before.values()) >= 4, before  # first for most of them
        for q in JUDGED:
            for _ in range(10):  # and never what the user wanted
                mem.feedback(q, note.id, False, user="p")
    got = CliRunner().invoke(main, ["train", "ranker", "--store", str(path)])
    assert got.exit_code == 0, got.output
    assert "fitted this store's weights from 60 judgments" in got.output, got.output
    with ltm.open(path) as mem:
        assert mem.ranker is not shipped()
        after = {q: _rank(mem, q, note.id) for q in HELD_OUT}
        assert all(after[q] > 0 for q in HELD_OUT if before[q] == 0), (before, after)
        assert all(after[q] >= before[q] for q in HELD_OUT), (before, after)
        # the match keeps its weight (no "matching is bad"): what moved is the importance
        match = [FULL.index(f) for f in MATCH]
        np.testing.assert_array_equal(mem.ranker.full_w[match], shipped().full_w[match])
        assert mem.ranker.full_w[FULL.index("importance")] < shipped().full_w[
            FULL.index("importance")]
        # relevance keeps its meaning: the held-out questions still find a fact well above
        # the context floor
        assert all(mem.search(q, user="p", k=1)[0].relevance > 0.1 for q in HELD_OUT)


def test_useful_judgments_alone_fit_what_they_fitted_before(store: ltm.MemoryStore) -> None:
    """No "not useful" judgment: the weights are the ranking objective's alone (the fit before
    "not useful" judgments counted), to 1e-9, and they moved from the shipped ones."""
    for n, f in enumerate(FACTS):
        store.add(f, user="p", kind="fact", importance=0.1 * n, time=f"20{10 + n}-01-01")
    for q in JUDGED:
        for h in store.search(q, user="p", k=3)[1:]:
            store.feedback(q, h.memory.id, True, user="p")
    model, judged = fit_store(store)
    assert model is not None and judged == len(load_feedback(store.backend, "p")) == 12
    groups, _ = store_samples(store)
    assert all(not v.any() for _, _, v in groups)
    plain = fit_ranking([x for x, _, _ in groups], [y for _, y, _ in groups], l2=20.0,
                        prior=shipped().full_w)
    np.testing.assert_allclose(model.full_w, plain, rtol=0, atol=1e-9)
    assert np.abs(model.full_w - shipped().full_w).max() > 1e-3
