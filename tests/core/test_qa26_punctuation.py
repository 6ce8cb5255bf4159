"""Full text of words joined by punctuation: ids, versions, addresses, emails, code (issue 15:
the same store and query give the same ranking and relevance on either backend).

PostgreSQL's parser read a run of words joined by some ASCII punctuation as one lexeme (an
email, URL, host, file path, version, decimal or signed number: '1.26.4', '10.0.3.17',
'-123' of 'ABC-123') and dropped what looked like a tag; SQLite's tokenizer and the query's
words split there. So on PostgreSQL "1.26.4" had no full-text match in "We pinned numpy to
1.26.4" (relevance 0.016 against SQLite's 0.091) and "10.0.3.17" ranked its memory second.
Migration 0011 gives the parser the punctuation as spaces."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from postgres_support import postgres_url, written_before
from store_locations import backend_kind, copen, location, new_location

import ltm

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

MEMORIES = {
    "numpy": "We pinned numpy to 1.26.4 because 2.0.0 broke the build",
    "host": "The database host is 10.0.3.17 port 5432",
    "mail": "Send the contract to jane.doe@acme-corp.com before Friday",
    "ticket": "Ticket ABC-123 is the login timeout regression, assigned to Omar",
    "code": "The bug is in PaymentGatewayClient.retryWithBackoff, it never resets the counter",
    "conf": "Config lives in /etc/nginx/sites-available/blog.conf on the old server",
    "pi": "The ratio came out at 3.14 after the fix",
    "html": "The banner is a <marquee>Welcome back</marquee> element",
    "phone": "Dentist's number is +1 (415) 555-0132",
    "weather": 'tool_call: get_weather(city="Berlin") -> {"temp_c": 4}',
}
ASKED = {"1.26.4": "numpy", "10.0.3.17": "host", "jane.doe@acme-corp.com": "mail",
         "acme corp": "mail", "ABC-123": "ticket", "ticket 123": "ticket",
         "PaymentGatewayClient": "code", "retryWithBackoff": "code", "blog.conf": "conf",
         "sites available": "conf", "3.14": "pi", "marquee": "html", "0132": "phone",
         "get_weather Berlin": "weather"}


def _fill(mem: ltm.MemoryStore) -> dict[str, str]:
    return {mem.add(text, user="u").id: key for key, text in MEMORIES.items()}


def test_joined_words_match_in_full_text(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    ids = _fill(mem)
    for query, want in ASKED.items():
        top = mem.search(query, user="u", k=1)[0]
        assert ids[top.memory.id] == want, query
        assert top.signals["text"] > 0, query


@pytest.mark.postgres
def test_the_same_relevance_on_both_backends(new_location: Callable[[str], str]) -> None:
    got = {}
    for kind in ("sqlite", "postgres"):
        with ltm.open(new_location(kind)) as mem:
            ids = _fill(mem)
            got[kind] = {q: [(ids[h.memory.id], round(h.relevance, 6))
                             for h in mem.search(q, user="u", k=3)] for q in ASKED}
    assert got["postgres"] == got["sqlite"]


@pytest.mark.postgres
def test_a_postgres_store_written_before_is_indexed_again_on_open(
        new_location: Callable[[str], str]) -> None:
    import psycopg

    from ltm.backends.postgres import PostgresBackend
    from ltm.backends.postgres.schema import _tsv_sql

    url = new_location("postgres")
    with ltm.open(url) as mem:
        ids = _fill(mem)
        backend = mem.backend
        assert isinstance(backend, PostgresBackend)
    # what a store written before migration 0011 holds: the column of 0010
    applied_again = written_before(mem, "0011_split_punctuation", lambda m: [
        f"ALTER TABLE {m} DROP COLUMN tsv",
        f"ALTER TABLE {m} ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
        f"({_tsv_sql(folded=True, cjk=True)}) STORED",
        f"CREATE INDEX memories_tsv ON {m} USING gin (tsv)"])
    with psycopg.connect(backend.dsn, autocommit=True) as conn:
        old = conn.execute(f"SELECT count(*) FROM {backend._m} WHERE tsv @@ "
                           f"to_tsquery('english', '''1'' & ''26'' & ''4''')").fetchone()
    assert old == (0,)  # the version was one lexeme, '1.26.4'
    with ltm.open(url) as mem:
        top = mem.search("1.26.4", user="u", k=1)[0]
        assert ids[top.memory.id] == "numpy" and top.signals["text"] > 0
    applied_again()
