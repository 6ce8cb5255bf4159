"""Abstention on a query that asks nothing (issue 15, item 4): a query made only of stop words
("the", "what is it?") names no content, so ``context()`` returns an empty block, as it does
for a query of punctuation. PostgreSQL's full text drops stop words and abstains; SQLite's
fell back to the stop words when nothing else remained, and since the full-text ratio divides
BM25 by the query's own ceiling, every memory holding "the" got the ratio of a memory holding
every query word: the block filled with memories that happen to say "the". Now it drops them
too."""

from __future__ import annotations

from collections.abc import Callable

from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm
from ltm.bench.corpus import Corpus

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

NOTHING = ["the", "what is it?", "is that so", "a", "and then"]


def test_a_query_of_stop_words_gets_an_empty_context(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    mem.add_many([{"text": i.text, "user": "u", "session": i.session, "time": i.time}
                  for i in Corpus(300, 1, seed=2).items()])
    assert mem.context("?!", user="u") == ""
    assert "Ziggy" in mem.context("what about Ziggy?", user="u")  # real matches get through
    filled = {q: len(mem.context(q, user="u").splitlines()) for q in NOTHING}
    assert filled == dict.fromkeys(NOTHING, 0)
