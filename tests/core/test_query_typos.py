"""A misspelt query word ("resturant", "recieve", "Lisbn") matches no memory's full text; it is
searched by the nearest word of the user's own memories instead (``ltm.backends.fuzzy``), and
the hits it finds say so (``text_fuzzy``). Both backends."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm
from ltm.backends.fuzzy import Vocabulary, distance

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

MEMORIES = [
    "We had dinner at a small restaurant near the harbour",
    "I will receive the new passport next week",
    "My sister moved to Lisbon last spring",
    "The accommodation in Porto was cheap and clean",
    "The dentist appointment is tomorrow at nine",
    "I play chess with my neighbour on Sundays",
    "The cat sleeps on the sofa all afternoon",
    "We bought a second-hand car in March",
    "My manager likes long meetings on Mondays",
    "The garden needs water every evening",
    "I am reading a novel about sailors",
    "Our team won the quiz night at the pub",
]

TYPOS = [("which resturant did we go to", 0), ("when do I recieve the passport", 1),
         ("Lisbn", 2), ("accomodation", 3), ("what is tommorow", 4)]


def _fill(mem: ltm.MemoryStore, user: str, texts: list[str]) -> None:
    for i, text in enumerate(texts):
        mem.add(text, user=user, session=f"s{i}", time=f"2024-03-{i + 1:02d}T10:00")


@pytest.fixture
def mem(copen: Callable[..., ltm.MemoryStore]) -> ltm.MemoryStore:
    store = copen(embedder="hash")
    _fill(store, "ana", MEMORIES)
    return store


@pytest.mark.parametrize("query,want", TYPOS)
def test_a_misspelt_word_finds_its_memory_first(mem: ltm.MemoryStore, query: str,
                                                want: int) -> None:
    hits = mem.search(query, user="ana", k=5)
    assert hits[0].memory.text == MEMORIES[want]
    assert hits[0].signals.get("text_fuzzy") == 1.0
    assert hits[0].signals["text"] > 0
    # only the hits the corrected word matched say so
    assert all("text_fuzzy" not in h.signals for h in hits[1:] if h.signals["text"] == 0)


def test_corrected_words_and_correct_queries(mem: ltm.MemoryStore) -> None:
    backend = mem.engine.backend
    assert backend.text_corrections("which resturant did we go to", "ana") == \
        {"resturant": "restaurant"}
    assert backend.text_corrections("RECIEVE accomodation tommorow", "ana") == \
        {"recieve": "receive", "accomodation": "accommodation", "tommorow": "tomorrow"}
    # words that match something (also through their stem), short words, numbers, ids
    for query in ["which restaurant did we go to", "restaurants and neighbours",
                  "Lisbon", "cat", "chess 12345", "x7kp2qz9"]:
        assert backend.text_corrections(query, "ana") == {}
        hits = mem.search(query, user="ana", k=5)
        assert all("text_fuzzy" not in h.signals for h in hits)


def test_a_correctly_spelt_query_ranks_as_before(mem: ltm.MemoryStore) -> None:
    """The same query, spelt right, ranks the same ids with the same relevance whether or not
    the store holds words one letter away from another of its words (no word is corrected)."""
    asked = "which restaurant near the harbour"
    before = [(h.memory.id, h.relevance) for h in mem.search(asked, user="ana", k=10)]
    # a misspelt search in between (fills the corrections cache) changes nothing after it
    mem.search("which resturant near the harbour", user="ana", k=10)
    after = [(h.memory.id, h.relevance) for h in mem.search(asked, user="ana", k=10)]
    assert after == before
    spelt = mem.search(asked, user="ana", k=1)[0]
    typo = mem.search("which resturant near the harbour", user="ana", k=1)[0]
    assert spelt.memory.id == typo.memory.id
    # the exact word wins over its correction: the misspelt word's weight stays in the
    # query's ceiling
    assert spelt.signals["text"] == typo.signals["text"]
    assert spelt.signals["text_rel"] > typo.signals["text_rel"]
    assert spelt.relevance > typo.relevance


def test_nonsense_matches_nothing(mem: ltm.MemoryStore) -> None:
    assert mem.engine.backend.text_corrections("qwxzy", "ana") == {}
    hits = mem.search("qwxzy", user="ana", k=5)
    assert all(h.signals["text"] == 0 and "text_fuzzy" not in h.signals for h in hits)


def test_another_users_words_never_correct_a_query(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    """Guarantee (c), isolation: bob's "restaurant" corrects bob's "resturant", never ana's,
    whose memories hold no word near it."""
    mem = copen(embedder="hash")
    _fill(mem, "bob", MEMORIES)
    _fill(mem, "ana", MEMORIES[5:])
    backend = mem.engine.backend
    assert backend.text_corrections("resturant", "ana") == {}
    assert backend.text_corrections("resturant", "bob") == {"resturant": "restaurant"}
    hits = mem.search("resturant", user="ana", k=5)
    assert all(h.signals["text"] == 0 and "text_fuzzy" not in h.signals for h in hits)
    assert mem.search("resturant", user="bob", k=1)[0].memory.text == MEMORIES[0]
    # a write of bob's does not make ana's vocabulary his
    mem.add("the restaurant was full", user="bob")
    assert backend.text_corrections("resturant", "ana") == {}


def test_distance_and_vocabulary() -> None:
    assert distance("recieve", "receive", 2) == 1  # a swap counts 1
    assert distance("lisbn", "lisbon", 1) == 1
    assert distance("tommorow", "tomorrow", 2) == 2
    assert distance("qwxzy", "query", 1) == 2
    vocab = Vocabulary(MEMORIES)
    assert vocab.closest("resturant") == "restaurant"
    assert vocab.closest("restaurant") is None  # a word of the vocabulary
    assert vocab.closest("qwxzy") is None
    assert vocab.closest("kestaurant") is None  # the first letter is kept
    # real words one edit from another are not misspellings of it: a consonant for another,
    # another ending, a letter too many that is not doubled
    other = Vocabulary(["the whole match was a chill and rewarding regular event", "tomorrow"])
    for word in ["whose", "march", "child", "regarding", "regularly", "events", "matches"]:
        assert other.closest(word) is None, word
    assert other.closest("tommorow") == "tomorrow"  # a doubled letter and a missing one
    assert other.closest("rewardnig") == "rewarding"


def test_one_edit_agrees_with_the_table() -> None:
    """The table-free test of one edit (``closest``'s for words under 8 letters) gives what
    ``distance`` gives, on random words of few letters (vowels and consonants)."""
    import random

    from ltm.backends.fuzzy import _one_edit

    rnd = random.Random(7)
    ones = 0
    for _ in range(50_000):
        a, b = ("".join(rnd.choice("abeir") for _ in range(rnd.randint(4, 7)))
                for _ in range(2))
        if a != b:
            one = distance(a, b, 1) == 1
            ones += one
            assert _one_edit(a, b) == one, (a, b)
    assert ones > 10
