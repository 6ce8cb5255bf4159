"""Words joined by hyphens, written either way ("e-mail" / "email", "Wi-Fi" / "wifi",
"follow-up" / "followup"). Both tokenizers split at the hyphen, so "wifi" had no full-text
match in "Our Wi-Fi router keeps rebooting" (relevance 0.065 from the dense signal alone),
"checkin" none in "Online check-in opens 24 hours before the flight" (0.019), and "followup
with the doctor" ranked "Schedule a follow-up with Dr. Osei" 6th of 310. ``segment.fts_words``
writes such words whole after them, for the stored text and the query."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from postgres_support import postgres_url, written_before
from store_locations import backend_kind, copen, location, new_location

import ltm
from ltm.backends.segment import fts_words
from ltm.bench.corpus import Corpus

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

MEMORIES = {"mail": "The e-mail from the co-op board arrived",
            "wifi": "Our Wi-Fi router keeps rebooting",
            "checkin": "Online check-in opens 24 hours before the flight",
            "shirts": "I ordered two T-shirts for the team",
            "doctor": "Schedule a follow-up with Dr. Osei",
            "letter": "Our weekly email newsletter goes out Monday"}
ASKED = {"wifi": "wifi", "checkin": "checkin", "tshirts": "shirts",
         "followup with the doctor": "doctor", "coop board": "mail",
         "e-mail newsletter": "letter"}


def test_hyphened_words_are_followed_by_the_whole_word() -> None:
    assert fts_words("a follow-up on the e-mail") == "a follow-up followup on the e-mail email"
    assert fts_words("state-of-the-art") == "state-of-the-art stateoftheart"
    # numbers, dates and dashes between words are left alone
    assert fts_words("COVID-19 on 2024-05-01 - then x - y") is None


def _fill(mem: ltm.MemoryStore) -> dict[str, str]:
    mem.add_many([{"text": i.text, "user": "u"} for i in Corpus(300, 1, seed=3).items()])
    return {mem.add(text, user="u").id: key for key, text in MEMORIES.items()}


def test_either_spelling_finds_the_memory(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    ids = _fill(mem)
    for query, want in ASKED.items():
        top = mem.search(query, user="u", k=1)[0]
        assert ids.get(top.memory.id) == want, query
        assert top.signals["text"] > 0 and top.relevance > 0.1, (query, top.relevance)


@pytest.mark.postgres
def test_the_same_relevance_on_both_backends(new_location: Callable[[str], str]) -> None:
    got = {}
    for kind in ("sqlite", "postgres"):
        with ltm.open(new_location(kind)) as mem:
            ids = _fill(mem)
            got[kind] = {q: [(ids.get(h.memory.id), round(h.relevance, 6))
                             for h in mem.search(q, user="u", k=3)] for q in ASKED}
    assert got["postgres"] == got["sqlite"]


def test_a_sqlite_store_written_before_is_indexed_on_open(tmp_path: Path) -> None:
    from ltm.backends.sqlite import schema

    folder = tmp_path / "store"
    with ltm.open(folder, embedder="hash") as mem:
        ids = {mem.add(text, user="u").id: key for key, text in MEMORIES.items()}
    conn = sqlite3.connect(folder / schema.DB_NAME, isolation_level=None)
    conn.execute("UPDATE memories SET fts_text = NULL")  # as 0014 left these rows
    conn.execute("DELETE FROM migrations WHERE name = '0015_hyphen_words'")
    conn.close()
    with ltm.open(folder, embedder="hash") as mem:
        top = mem.search("wifi", user="u", k=1)[0]
        assert ids[top.memory.id] == "wifi" and top.signals["text"] > 0


@pytest.mark.postgres
def test_a_postgres_store_written_before_is_indexed_on_open(
        new_location: Callable[[str], str]) -> None:
    url = new_location("postgres")
    with ltm.open(url) as mem:
        ids = {mem.add(text, user="u").id: key for key, text in MEMORIES.items()}
    applied_again = written_before(mem, "0013_hyphen_words",
                                   lambda m: [f"UPDATE {m} SET fts_text = NULL"])
    with ltm.open(url) as mem:
        top = mem.search("wifi", user="u", k=1)[0]
        assert ids[top.memory.id] == "wifi" and top.signals["text"] > 0
    applied_again()
