"""A chat between a user and an assistant (issue 15): the assistant's replies are long and on
the topic of any question about it, while the user's own turns hold what the user said. A
memory an assistant said (its labels hold "assistant", as a chat turn's speaker role does)
carries the ranker's ``assistant`` column, a prior of -1 on the logit (``ranker.PRIOR_ONLY``),
shown in ``Hit.signals``; not when the query names the assistant or asks what it said ("what
did you recommend", "your advice"). Both backends, and
on SQLite both the user-scope fast path and the general one (a session filter)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm
from ltm.retrieval.ranker import FULL, Ranker, shipped

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

CHAT = [
    ("user", "I'm building a budget tracker in Flask and keep the expenses in a SQLite "
             "database"),
    ("assistant", "A budget tracker in Flask is a great project. For the expenses you could "
                  "use SQLite, PostgreSQL or MySQL as the database; an ORM such as "
                  "SQLAlchemy keeps the budget tracker's database code portable, and Flask "
                  "has extensions for each database."),
    ("user", "My sister Ana is visiting Lisbon next week"),
    ("assistant", "How lovely that Ana is visiting Lisbon! Lisbon in spring is beautiful; "
                  "your sister could visit Belem, the Alfama and the riverside."),
]


def _store(mem: ltm.MemoryStore) -> list[ltm.Memory]:
    return mem.add_conversation([{"role": r, "content": c} for r, c in CHAT], user="u",
                                session="s1")


@pytest.mark.parametrize("session", [None, "s1"], ids=["scope", "filtered"])
def test_the_users_own_turn_ranks_above_the_assistants_reply(
        copen: Callable[..., ltm.MemoryStore], session: str | None) -> None:
    mem = copen()
    turns = _store(mem)
    for query, want in (("which database does my budget tracker use", 0),
                        ("who is visiting Lisbon", 2)):
        hits = mem.search(query, user="u", k=4, session=session)
        assert hits[0].memory.id == turns[want].id, (query, [h.memory.text for h in hits])
        reply = next(h for h in hits if h.memory.id == turns[want + 1].id)
        assert reply.signals["assistant"] == pytest.approx(shipped().assistant_weight)
        assert "assistant" not in hits[0].signals
        assert shipped().assistant_weight < 0


def test_a_long_query_still_tells_the_assistants_turns(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    turns = _store(mem)
    filler = " ".join(f"word{i}" for i in range(80))  # past the 32 / 64 words a backend reads
    hits = mem.search(f"which database does my budget tracker use {filler}", user="u", k=4)
    reply = next(h for h in hits if h.memory.id == turns[1].id)
    assert reply.signals["assistant"] == pytest.approx(shipped().assistant_weight)


@pytest.mark.parametrize("query", [
    "what did the assistant suggest for the budget tracker database",
    "which database did you recommend for my budget tracker",
    "your advice on the budget tracker database",
    "what database did we decide on for the budget tracker"])
def test_a_query_about_the_assistants_words_is_asking_for_them(
        copen: Callable[..., ltm.MemoryStore], query: str) -> None:
    mem = copen()
    turns = _store(mem)
    hits = mem.search(query, user="u", k=4)
    assert hits[0].memory.id == turns[1].id
    assert not any("assistant" in h.signals for h in hits)


def test_a_request_to_the_assistant_is_not_a_question_about_its_words(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    turns = _store(mem)
    hits = mem.search("can you tell me which database my budget tracker uses", user="u", k=4)
    assert hits[0].memory.id == turns[0].id
    assert "assistant" in next(h for h in hits if h.memory.id == turns[1].id).signals


def test_weights_stored_before_the_column_give_it_no_weight() -> None:
    d = shipped().to_dict()
    at = d["full"]["features"].index("assistant")
    del d["full"]["features"][at], d["full"]["weights"][at]
    old = Ranker.from_dict(json.loads(json.dumps(d)))
    assert old.assistant_weight == 0.0
    assert "assistant" in FULL and Ranker.from_dict(shipped().to_dict()).assistant_weight < 0
