"""Per-store weights (issue 15, item 2) from one-sided feedback keep relevance meaningful. A
user who only ever marks results useful gives judgments that are all positive; the fitted
bias was not pulled toward the shipped one, so it ran off (+26 against the shipped -5.4 on
120 judgments) and every memory got relevance 1.0 for every query: an unrelated question
filled the context, and no floor could abstain any more. The unjudged candidates of a judged
query now count as weak negatives (``train.UNJUDGED_WEIGHT``)."""

from __future__ import annotations

from collections.abc import Callable

from relevance_guarantees import PRIYA_FACTS

import ltm
from ltm.retrieval.feedback import save_ranker
from ltm.retrieval.train import fit_store

FACTS = PRIYA_FACTS
ASKED = ["what does Priya eat?", "where does Priya work", "who is Priya's sister",
         "does Priya exercise", "is Priya allergic to anything", "what car does Priya drive"]
UNRELATED = "what's the weather in Tokyo"


def test_only_useful_judgments_do_not_make_everything_relevant(
        open_store: Callable[..., ltm.MemoryStore]) -> None:
    store = open_store()
    for f in FACTS:
        store.add(f, user="p", kind="fact")
    assert store.context(UNRELATED, user="p") == ""
    for q in ASKED:  # a happy user: the top two of every search were useful
        for h in store.search(q, user="p", k=2):
            store.feedback(q, h.memory.id, True, user="p")
    model, judged = fit_store(store)
    if model is not None:  # (declining to fit one-sided judgments would be an answer too)
        save_ranker(store.backend, model)
    store.close()
    mem = open_store()
    assert mem.search(UNRELATED, user="p", k=1)[0].relevance < 0.5
    assert mem.context(UNRELATED, user="p") == ""
