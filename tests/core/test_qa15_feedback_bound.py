"""Feedback judgments (issue 15, item 2) stay bounded in bytes, not only in number: each one
holds its query (up to 100,000 characters) and every ``feedback`` call rewrites the user's
list, so 100 judgments of a 100 KB query made a 10 MB record rewritten per call (60 ms a call
and growing; at the 5,000-judgment cap, 500 MB). The newest judgments that fit are kept, and
the store's weights are still fitted from them."""

from __future__ import annotations

import json

import ltm
from ltm.retrieval.feedback import MAX_BYTES_PER_USER, load_feedback
from ltm.retrieval.train import fit_store


def test_long_queries_keep_the_newest_judgments_within_the_bound(
        store: ltm.MemoryStore) -> None:
    fact = store.add("Priya has been vegetarian since 2019 and avoids eggs", user="p",
                     kind="fact")
    other = store.add("Priya works as a nurse at the city hospital", user="p", kind="fact")
    long_query = "does Priya eat eggs " * 4_900  # ~98,000 characters
    calls = 3 * MAX_BYTES_PER_USER // len(long_query)
    for n in range(calls):
        store.feedback(f"{long_query} {n}", fact.id, True, user="p")
    store.feedback("where does Priya work", other.id, True, user="p")
    kept = load_feedback(store.backend, "p")
    assert len(json.dumps(kept)) <= MAX_BYTES_PER_USER
    assert kept[-1]["query"] == "where does Priya work"
    assert [k["query"].rsplit(" ", 1)[-1] for k in kept[:-1]] == \
        [str(n) for n in range(calls - len(kept) + 1, calls)]  # the newest, in order
    model, judged = fit_store(store)
    assert model is not None and judged == len(kept)
