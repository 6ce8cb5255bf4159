"""Full text in Chinese and Japanese (text written without spaces between words).

Both backends' tokenizers split at spaces and punctuation, so a run of Chinese or Japanese was
one "word": "长城" (the Great Wall) matched nothing in "上个月我们去了北京旅游，看了长城", the
full-text signal was 0 for every such memory, and the relevance of the right answer (found by
the dense signal alone) stayed under the context floor: ``context()`` came back empty.
``ltm.backends.segment`` indexes each run as its characters and overlapping pairs, on both
backends, for the stored text and the query."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from postgres_support import postgres_url, written_before
from store_locations import backend_kind, copen, location, new_location

import ltm
from ltm.backends.segment import cjk_words

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

MEMORIES = {
    "cat": "我的猫叫小白，它喜欢在窗台上睡觉。",
    "work": "我每天早上七点去公司上班。",
    "trip": "上个月我们去了北京旅游，看了长城。",
    "tea": "私は毎朝緑茶を飲みます。",
    "jog": "週末は公園でジョギングをしています。",
    "mixed": "I bought a new laptop in 东京 last spring",
    "de": "Meine Schwester wohnt seit 2020 in München.",
}
ASKED = {"长城": "trip", "北京": "trip", "我们去哪里旅游了": "trip", "我的猫叫什么名字": "cat",
         "小白": "cat", "我几点去上班": "work", "緑茶": "tea", "ジョギング": "jog",
         "东京": "mixed", "Wo wohnt meine Schwester?": "de"}


def test_words_are_characters_and_pairs() -> None:
    assert cjk_words("plain English, café") is None
    assert cjk_words("长城") == " 长城 长 城 "
    assert cjk_words("猫") == " 猫 "
    assert cjk_words("I saw 长城 today").split() == ["I", "saw", "长城", "长", "城", "today"]
    # each run on its own: no pair across punctuation
    assert "城我" not in cjk_words("长城，我").split()


def test_a_long_question_keeps_its_pairs() -> None:
    """A query's words were capped at 32 on SQLite: with the characters first, a question of 21
    characters lost "北京" (review of 34ab21c)."""
    from ltm.backends.sqlite.fulltext import query_terms
    terms = query_terms("我上个月和朋友们一起去了北京旅游你还记得吗")
    assert "北京" in terms and "旅游" in terms


def test_chinese_and_japanese_match_in_full_text(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    ids = {mem.add(text, user="u").id: key for key, text in MEMORIES.items()}
    for query, want in ASKED.items():
        top = mem.search(query, user="u", k=1)[0]
        assert ids[top.memory.id] == want, query
        assert top.signals["text"] > 0, (query, top.signals)
    # the answer clears the context floor: the block is not empty
    block = mem.context("我们去哪里旅游了", user="u")
    assert "长城" in block
    # nothing in common: still nothing found
    assert mem.search("天气", user="u", k=3, min_relevance=0.3) == []


def test_an_updated_text_is_indexed_again(copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    m = mem.add("我喜欢喝咖啡", user="u")
    mem.add("今天下雨了", user="u")
    mem.update(m.id, text="我喜欢喝绿茶", user="u")
    top = mem.search("绿茶", user="u", k=1)[0]
    assert top.memory.id == m.id and top.signals["text"] > 0
    assert all(h.signals["text"] == 0 for h in mem.search("咖啡", user="u", k=5))


def test_a_sqlite_store_written_before_is_indexed_on_open(tmp_path: Path) -> None:
    from ltm.backends.sqlite import schema

    folder = tmp_path / "store"
    with ltm.open(folder, embedder="hash") as mem:
        trip = mem.add(MEMORIES["trip"], user="u")
        mem.add(MEMORIES["work"], user="u")
        mem.add("an English memory", user="v")
    # what a store written before migration 0012 holds: no fts_text, the view and triggers
    # of 0005, the index built from the text itself
    conn = sqlite3.connect(folder / schema.DB_NAME, isolation_level=None)
    before = conn.execute("SELECT count(*) FROM memories_fts WHERE memories_fts MATCH '长城'")
    assert before.fetchone()[0] == 1  # (this tree's index)
    undo = """DROP TRIGGER memories_ai;
DROP TRIGGER memories_ad;
DROP TRIGGER memories_au_text;
DROP VIEW memories_fts_src;
ALTER TABLE memories DROP COLUMN fts_text;
CREATE VIEW memories_fts_src AS
    SELECT n, text, 'u' || hex(user) AS scope, fts_extra AS extra FROM memories;
""" + schema._FTS_TRIGGERS + """INSERT INTO memories_fts(memories_fts) VALUES ('rebuild');
DELETE FROM migrations WHERE name = '0012_cjk_words';"""
    for statement in schema._split_sql(undo):
        conn.execute(statement)
    assert conn.execute("SELECT count(*) FROM memories_fts WHERE memories_fts MATCH '长城'"
                        ).fetchone()[0] == 0  # as before 0012: one word for the whole run
    conn.close()
    with ltm.open(folder, embedder="hash") as mem:
        top = mem.search("长城", user="u", k=1)[0]
        assert top.memory.id == trip.id and top.signals["text"] > 0
        assert mem.search("English", user="v", k=1)[0].signals["text"] > 0


@pytest.mark.postgres
def test_a_postgres_store_written_before_is_indexed_on_open(
        new_location: Callable[[str], str]) -> None:
    from ltm.backends.postgres.schema import _tsv_sql

    url = new_location("postgres")
    with ltm.open(url) as mem:
        trip = mem.add(MEMORIES["trip"], user="u")
        mem.add(MEMORIES["work"], user="u")
        mem.add("an English memory", user="v")
    # what a store written before migration 0010 holds: no fts_text, the column of 0008
    applied_again = written_before(mem, "0010_cjk_words", lambda m: [
        f"ALTER TABLE {m} DROP COLUMN tsv", f"ALTER TABLE {m} DROP COLUMN fts_text",
        f"ALTER TABLE {m} ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
        f"({_tsv_sql(folded=True)}) STORED",
        f"CREATE INDEX memories_tsv ON {m} USING gin (tsv)"])
    with ltm.open(url) as mem:
        top = mem.search("长城", user="u", k=1)[0]
        assert top.memory.id == trip.id and top.signals["text"] > 0
        assert mem.search("English", user="v", k=1)[0].signals["text"] > 0
    applied_again()
