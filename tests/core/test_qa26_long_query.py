"""A pasted paragraph as the query: the question often comes last. SQLite searched a query by
its first 32 content words and PostgreSQL by its first 64 words (stop words counted), so a
question past the 32nd content word had no full-text match on SQLite: "...when are the
Zanzibar ferry tickets for?" after a paragraph of other business ranked an unrelated memory
first (relevance 0.055) where PostgreSQL found the ferry tickets (0.196). Both now search by
the first 64 words that are not stop words (``segment.QUERY_WORDS``, ``STOP_WORDS``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm
from ltm.backends.postgres.fulltext import query_words
from ltm.backends.segment import QUERY_WORDS
from ltm.backends.sqlite.fulltext import query_terms
from ltm.bench.corpus import Corpus

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

PREAMBLE = ("Hey so I was talking to my manager earlier today and she asked me about a bunch of "
            "things, like the offsite planning, the hiring pipeline for the backend team, "
            "whether we renewed the office lease, the new laptop policy, parking passes, the "
            "coffee machine vendor, holiday schedules, training budgets, onboarding documents, "
            "security badges, and the team photo. Anyway, ")
ASKED = {"when are the Zanzibar ferry tickets for?": "ferry",
         "what did the quarterly report say about APAC revenue?": "report"}
MEMORIES = {"ferry": "Zanzibar ferry tickets are booked for the 9th",
            "report": "The quarterly report showed revenue up 12% driven by the APAC region"}


def test_both_backends_search_the_same_words() -> None:
    for tail in ASKED:
        words = query_terms(PREAMBLE + tail)
        assert 32 < len(words) <= QUERY_WORDS
        assert words == query_words(PREAMBLE + tail)
    assert "zanzibar" in query_terms(PREAMBLE + "zanzibar")


def _fill(mem: ltm.MemoryStore) -> dict[str, str]:
    mem.add_many([{"text": i.text, "user": "u"} for i in Corpus(300, 1, seed=5).items()])
    return {mem.add(text, user="u").id: key for key, text in MEMORIES.items()}


def test_the_question_at_the_end_of_a_paragraph_is_found(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    ids = _fill(mem)
    for tail, want in ASKED.items():
        top = mem.search(PREAMBLE + tail, user="u", k=1)[0]
        assert ids.get(top.memory.id) == want, tail
        assert top.signals["text"] > 0 and top.relevance > 0.1, (tail, top.relevance)


@pytest.mark.postgres
def test_the_same_relevance_on_both_backends(new_location: Callable[[str], str]) -> None:
    got = {}
    for kind in ("sqlite", "postgres"):
        with ltm.open(new_location(kind)) as mem:
            _fill(mem)
            got[kind] = [[(h.memory.text, round(h.relevance, 6))
                          for h in mem.search(PREAMBLE + tail, user="u", k=3)] for tail in ASKED]
    assert got["postgres"] == got["sqlite"]
