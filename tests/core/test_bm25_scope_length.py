"""BM25 on SQLite takes the average memory length within the user's scope (as the PostgreSQL
backend does from user_stats), not over the whole table as FTS5's bm25() does: another user's
memories, however long, change neither a user's full-text scores nor the order they give."""

from __future__ import annotations

from pathlib import Path

import ltm

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
