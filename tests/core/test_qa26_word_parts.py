"""Full text of words joined where their case or script changes, and of grouped numbers.

Both tokenizers keep "12km", "256GB", "ABC123" and "retryWithBackoff" as one word, and split
"$2,499" into 2 and 499, so a user who wrote or asked it the other way had no full-text match:
"12 km" ranked "My commute is 12km by bike" 4th of a 10,000-memory scope (relevance 0.022),
"retry with backoff" found "PaymentGatewayClient.retryWithBackoff" by the dense signal alone
(0.032), "2499" the laptop that cost $2,499 (0.018). ``segment.fts_words`` writes such a
word's parts after it, and a grouped number whole, for the stored text and the query."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from postgres_support import postgres_url, written_before
from store_locations import backend_kind, copen, location, new_location

import ltm
from ltm.backends.segment import fts_words

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

MEMORIES = {
    "commute": "My commute is 12km by bike, about 35 min each way",
    "code": "The bug is in PaymentGatewayClient.retryWithBackoff, it never resets the counter",
    "laptop": "The new laptop cost $2,499 and the warranty was 199 euros",
    "ticket": "Ticket ABC123 is the login timeout regression, assigned to Omar",
    "server": "The server has 256 GB of RAM and 64 cores",
    "proxy": "Our HTTPServer subclass logs every request twice",
    "plain": "I moved to Lisbon in March and the weather has been lovely",
    "bike": "I bought a new bike helmet last week",
}
ASKED = {"12 km": "commute", "retry with backoff": "code", "payment gateway": "code",
         "2499": "laptop", "$2,499": "laptop", "abc 123": "ticket", "256GB": "server",
         "http server": "proxy", "retryWithBackoff": "code", "12km": "commute"}


def test_words_are_followed_by_their_parts() -> None:
    assert fts_words("plain English, café, user_signup_date, COVID-19") is None
    assert fts_words("12km").split() == ["12km", "12", "km"]
    assert fts_words("HTTPServer").split() == ["HTTPServer", "HTTP", "Server"]
    assert fts_words("retryWithBackoff()").split() == ["retryWithBackoff", "retry", "With",
                                                       "Backoff()"]
    assert fts_words("it cost $1,000,000") == "it cost $1,000,000 1000000"
    assert fts_words("12,500.50 and 2,5 kg") is None  # a decimal; not thousands
    assert fts_words("长城12km").split() == ["长城", "长", "城", "12km", "12", "km"]
    # hashes, keys and blobs change between digits and letters again and again: left whole
    assert fts_words("sha 3f9a2b7c1d, key x7Kp2Qz9, A1B2C3") is None
    assert fts_words("attachment: " + "aB1" * 30) is None


def test_joined_words_match_their_parts(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    ids = {mem.add(text, user="u").id: key for key, text in MEMORIES.items()}
    for query, want in ASKED.items():
        top = mem.search(query, user="u", k=1)[0]
        assert ids[top.memory.id] == want, query
        assert top.signals["text"] > 0, query
    assert "12km" in mem.context("how far is 12 km", user="u")


def test_an_updated_text_is_indexed_again(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    m = mem.add("The router runs firmware 7.1", user="u")
    mem.add("The printer is out of toner", user="u")
    mem.update(m.id, text="The router runs OpenWrt now", user="u")
    top = mem.search("open wrt", user="u", k=1)[0]
    assert top.memory.id == m.id and top.signals["text"] > 0


@pytest.mark.postgres
def test_the_same_relevance_on_both_backends(new_location: Callable[[str], str]) -> None:
    got = {}
    for kind in ("sqlite", "postgres"):
        with ltm.open(new_location(kind)) as mem:
            ids = {mem.add(text, user="u").id: key for key, text in MEMORIES.items()}
            got[kind] = {q: [(ids[h.memory.id], round(h.relevance, 6))
                             for h in mem.search(q, user="u", k=3)] for q in ASKED}
    assert got["postgres"] == got["sqlite"]


def test_a_sqlite_store_written_before_is_indexed_on_open(tmp_path: Path) -> None:
    from ltm.backends.sqlite import schema

    folder = tmp_path / "store"
    with ltm.open(folder, embedder="hash") as mem:
        ids = {mem.add(text, user="u").id: key for key, text in MEMORIES.items()}
        mem.add("an English memory", user="v")
    # what a store written before migration 0014 holds: fts_text for Chinese and Japanese only
    conn = sqlite3.connect(folder / schema.DB_NAME, isolation_level=None)
    conn.execute("UPDATE memories SET fts_text = NULL")
    conn.execute("DELETE FROM migrations WHERE name = '0014_word_parts'")
    assert conn.execute("SELECT count(*) FROM memories_fts WHERE memories_fts MATCH 'km'"
                        ).fetchone()[0] == 0
    conn.close()
    with ltm.open(folder, embedder="hash") as mem:
        top = mem.search("12 km", user="u", k=1)[0]
        assert ids[top.memory.id] == "commute" and top.signals["text"] > 0
        assert mem.search("English", user="v", k=1)[0].signals["text"] > 0


@pytest.mark.postgres
def test_a_postgres_store_written_before_is_indexed_on_open(
        new_location: Callable[[str], str]) -> None:
    url = new_location("postgres")
    with ltm.open(url) as mem:
        ids = {mem.add(text, user="u").id: key for key, text in MEMORIES.items()}
    applied_again = written_before(mem, "0012_word_parts",
                                   lambda m: [f"UPDATE {m} SET fts_text = NULL"])
    with ltm.open(url) as mem:
        top = mem.search("12 km", user="u", k=1)[0]
        assert ids[top.memory.id] == "commute" and top.signals["text"] > 0
    applied_again()
