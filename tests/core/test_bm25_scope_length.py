"""BM25 on SQLite takes the average memory length within the user's scope (as the PostgreSQL
backend does from user_stats), not over the whole table as FTS5's bm25() does: another user's
memories, however long, change neither a user's full-text scores nor the order they give."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import ltm
from ltm.backends.sqlite import DB_NAME

NOW = "2024-07-01T12:00:00Z"
TEXTS = ["I walk the dog every morning before work",
         "the dog chewed my new running shoes again and I had to buy another pair at the mall",
         "my sister adopted a dog from the shelter in June",
         "we took the dog to the beach and he would not come out of the water all afternoon",
         "bought a new lead for the dog",
         "the cat sleeps on the radiator",
         "running club meets on Thursdays at the park near the river"]
QUERIES = ["dog", "dog shoes", "running", "dog beach water", "sister shelter"]


def _results(mem: ltm.MemoryStore) -> list[list[tuple[str, float, float]]]:
    return [[(h.memory.text, h.signals["text"], h.relevance)
             for h in mem.search(q, user="ana", k=7, now=NOW)] for q in QUERIES]


def test_another_users_long_memories_change_nothing(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s") as mem:
        mem.add_many([{"text": t, "user": "ana"} for t in TEXTS])
        before = _results(mem)
        # another user's memories: very long ones, which would double the store's average
        # length (and shorten or lengthen every score's length normalisation)
        mem.add_many([{"text": f"note {n}: " + "a long entry about gardening and tomatoes " * 12,
                       "user": "bo"} for n in range(300)])
        after = _results(mem)
    assert after == before
    assert any(len(r) > 1 for r in before)  # the queries do rank several memories


def test_scores_match_a_store_holding_the_user_alone(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "alone") as mem:
        mem.add_many([{"text": t, "user": "ana"} for t in TEXTS])
        alone = _results(mem)
    with ltm.open(tmp_path / "shared") as mem:
        mem.add_many([{"text": "short", "user": f"u{n}"} for n in range(50)])
        mem.add_many([{"text": t, "user": "ana"} for t in TEXTS])
        mem.add_many([{"text": "x " * 200, "user": "zed"} for _ in range(20)])
        shared = _results(mem)
    # full-text scores and their order as if the user were alone in the store (relevance
    # too: nothing else in a search reads other users' rows)
    assert shared == alone


def _many(n: int) -> list[str]:
    return [f"{TEXTS[i % len(TEXTS)]} (note {i})" for i in range(n)]


def test_a_snapshot_holds_the_token_count_and_a_text_change_drops_it(tmp_path: Path) -> None:
    """A scope large enough for a snapshot (``scope_snap``) takes its token count from there;
    changing a memory's text makes the snapshot stale, so the scores after it are those of a
    store that held the new text from the start."""
    texts = _many(80)
    long_text = "the dog " + "and a very long story about the weekend " * 20
    with ltm.open(tmp_path / "s") as mem:
        ids = [m.id for m in mem.add_many([{"text": t, "user": "ana"} for t in texts])]
    with ltm.open(tmp_path / "s") as mem:
        tokens = mem.backend.conn.execute(
            "SELECT tokens FROM scope_snap WHERE user = 'ana'").fetchone()
        assert tokens is not None and tokens[0] > len(texts)  # the snapshot holds the count
        _results(mem)
        mem.update(ids[3], user="ana", text=long_text)
        changed = _results(mem)
        assert mem.backend.conn.execute(
            "SELECT tokens FROM scope_snap WHERE user = 'ana'").fetchone() is None
    texts[3] = long_text
    with ltm.open(tmp_path / "fresh") as mem:
        mem.add_many([{"text": t, "user": "ana"} for t in texts])
        fresh = _results(mem)
    assert [[(t, s) for t, s, _ in r] for r in changed] == \
        [[(t, s) for t, s, _ in r] for r in fresh]


def test_a_store_from_before_the_token_count(tmp_path: Path) -> None:
    """A store written before snapshots held token counts (migration 0009) opens with its
    snapshots' counts unknown: read from the index instead, the same scores; its update
    trigger then also drops a snapshot when a memory's text changes."""
    texts = _many(80)
    with ltm.open(tmp_path / "s") as mem:
        ids = [m.id for m in mem.add_many([{"text": t, "user": "ana"} for t in texts])]
    # the store as the code before 0009 left it: snapshots without a count, the old trigger
    with sqlite3.connect(tmp_path / "s" / DB_NAME) as conn:
        conn.executescript("""
            DROP TRIGGER scope_snap_ad;
            DROP TRIGGER scope_snap_au;
            CREATE TABLE snap_old (user TEXT PRIMARY KEY, data BLOB NOT NULL);
            INSERT INTO snap_old SELECT user, data FROM scope_snap;
            DROP TABLE scope_snap;
            ALTER TABLE snap_old RENAME TO scope_snap;
            CREATE TRIGGER scope_snap_ad AFTER DELETE ON memories BEGIN
                DELETE FROM scope_snap WHERE user = old.user;
            END;
            CREATE TRIGGER scope_snap_au AFTER UPDATE OF id, user, session, seq, time,
                    importance, superseded_by, expires_at ON memories BEGIN
                DELETE FROM scope_snap WHERE user = old.user;
                DELETE FROM scope_snap WHERE user = new.user;
            END;
            DELETE FROM migrations WHERE name LIKE '0009%';""")
    with ltm.open(tmp_path / "s") as mem:
        conn = mem.backend.conn  # type: ignore[attr-defined]
        assert conn.execute("SELECT data IS NOT NULL, tokens FROM scope_snap "
                            "WHERE user = 'ana'").fetchone() == (1, None)
        migrated = _results(mem)
        mem.update(ids[0], user="ana", text="a dog")
        assert conn.execute("SELECT 1 FROM scope_snap WHERE user = 'ana'").fetchone() is None
    with ltm.open(tmp_path / "fresh") as mem:
        mem.add_many([{"text": t, "user": "ana"} for t in texts])
        fresh = _results(mem)
    assert [[(t, s) for t, s, _ in r] for r in migrated] == \
        [[(t, s) for t, s, _ in r] for r in fresh]
