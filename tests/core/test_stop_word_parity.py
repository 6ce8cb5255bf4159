"""The same stop words on both backends (``segment.STOP_WORDS``): PostgreSQL's english
configuration drops "s" and "t" (the pieces of "Alice's", "it's") from the text and the query,
where SQLite searched by them: "Alice's cat" matched every memory with an 's' ("Tom's dog") on
SQLite, and "it's" found memories on SQLite and none on PostgreSQL. The shared list holds every
word PostgreSQL drops but "don" (of "don't"), which SQLite keeps searchable as a name."""

from __future__ import annotations

import re
import string
from collections.abc import Callable

import pytest
from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm
from ltm.backends.segment import PG_ONLY_STOP_WORDS, STOP_WORDS

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

MEMORIES = {
    "plants": "Don't forget to water the plants on Friday",
    "alice": "Alice's cat is called Miso and sleeps all day",
    "rain": "It's raining in Lisbon again, the third day in a row",
    "tom": "Tom's dog barks at night when the bins are collected",
    "keys": "I can't find my keys, they weren't in the car",
    "forgot": "We forgot the tent at the campsite last summer",
}
ASKED = ["Alice's cat", "it's", "Tom's dog", "can't find", "weren't",
         "it's raining", "cat's name"]


def _fill(mem: ltm.MemoryStore) -> dict[str, str]:
    return {mem.add(text, user="u").id: key for key, text in MEMORIES.items()}


def _text_matches(mem: ltm.MemoryStore, ids: dict[str, str], query: str) -> set[str]:
    return {ids[h.memory.id] for h in mem.search(query, user="u", k=len(MEMORIES))
            if h.signals["text"] > 0}


def test_the_pieces_of_contractions_are_not_searched(copen: Callable[..., ltm.MemoryStore]
                                                     ) -> None:
    mem = copen()
    ids = _fill(mem)
    assert _text_matches(mem, ids, "Alice's cat") == {"alice"}  # not "Tom's dog" by its 's'
    assert _text_matches(mem, ids, "don't forget") == {"plants"}  # "forgot": another word
    assert "t" in STOP_WORDS and "don" not in STOP_WORDS  # (a name: see the last test)
    assert _text_matches(mem, ids, "it's") == set()
    assert mem.context("it's", user="u") == ""  # a query of stop words asks nothing
    assert _text_matches(mem, ids, "Tom's dog") == {"tom"}


@pytest.mark.postgres
def test_the_same_relevance_on_both_backends(new_location: Callable[[str], str]) -> None:
    got = {}
    for kind in ("sqlite", "postgres"):
        with ltm.open(new_location(kind)) as mem:
            ids = _fill(mem)
            got[kind] = {q: [(ids[h.memory.id], round(h.relevance, 6),
                              round(h.signals["text"], 6)) for h in mem.search(q, user="u", k=3)]
                         for q in ASKED}
    assert got["postgres"] == got["sqlite"]


@pytest.mark.postgres
def test_every_word_postgres_drops_is_a_stop_word(postgres_url: str) -> None:
    import psycopg

    from ltm.backends.postgres.schema import TEXT_CONFIG

    words = sorted(STOP_WORDS | set(string.ascii_lowercase)
                   | {w for t in MEMORIES.values() for w in re.findall("[a-z]+", t.lower())}
                   | {"doesn", "isn", "aren", "wasn", "weren", "didn", "won", "ll", "ve", "re",
                      "d", "m", "o", "y", "ain", "couldn", "shouldn", "wouldn", "hadn", "hasn",
                      "haven", "mightn", "mustn", "needn", "shan"})
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        dropped = {w for (w,) in conn.execute(
            "SELECT w FROM unnest(%s::text[]) AS w WHERE numnode(plainto_tsquery(%s::regconfig, "
            "w)) = 0", [words, TEXT_CONFIG])}
    assert {"s", "t", "don", "the"} <= dropped  # (the configuration has its stop words)
    assert dropped - STOP_WORDS == PG_ONLY_STOP_WORDS


def test_a_friend_called_don_is_found_by_his_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # SQLite keeps "don" searchable: PostgreSQL's configuration drops it (PG_ONLY_STOP_WORDS)
    with ltm.open(tmp_path / "s") as mem:
        want = mem.add("Don Draper is my manager at the agency", user="u").id
        mem.add("The trip to Rome was amazing, the food was great", user="u")
        mem.add("I can't find my keys, they weren't in the car", user="u")
        hits = mem.search("Don", user="u", k=3)
        assert hits[0].memory.id == want and hits[0].signals["text"] > 0
