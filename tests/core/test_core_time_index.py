"""Time-range reads of a large scope use an index of that scope's own (made on first use);
no index over every user's times is kept, so ingest does not pay for one."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import ltm
from ltm.backends.base import Filters
from ltm.embed.hashing import HashingEmbedder

BIG = "big 'o'; DROP TABLE memories; -- ünïcode"
DAY = 86_400 * 1_000_000
T0 = 1_700_000_000 * 1_000_000


def _indexes(m: ltm.MemoryStore) -> set[str]:
    return {r[0] for r in m.backend.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index'")}


def _fill(m: ltm.MemoryStore, rng: np.random.Generator) -> np.ndarray:
    vecs = rng.normal(size=(900, 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    m.add_vectors([{"text": f"item {i}", "user": BIG, "time": (T0 + i * DAY) / 1e6}
                   for i in range(600)], vecs[:600])
    m.add_vectors([{"text": f"other {i}", "user": "small", "time": (T0 + i * DAY) / 1e6}
                   for i in range(300)], vecs[600:])
    return vecs


def test_large_scope_time_filter_uses_its_own_index(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    with ltm.open(tmp_path / "s", embedder=HashingEmbedder(32), hnsw_min_scope=400) as m:
        assert "memories_user_time" not in _indexes(m)  # migration 0007
        vecs = _fill(m, rng)
        before = _indexes(m)
        q = vecs[250]
        since, until = T0 + 200 * DAY, T0 + 299 * DAY
        got = m.backend.dense_search(q, Filters(user=BIG, since=since, until=until), 10)
        made = _indexes(m) - before
        assert len(made) == 1 and next(iter(made)).startswith("memories_time_")
        name = next(iter(made))
        # every hit is inside the window, and the best is the query's own row
        texts = [m.get(i, user=BIG).text for i, _ in got]
        assert texts[0] == "item 250"
        assert all(200 <= int(t.split()[1]) <= 299 for t in texts)
        # exactly the rows a brute-force scan of the window ranks first
        window = vecs[200:300]
        want = [f"item {200 + j}" for j in np.argsort(-(window @ q))[:10]]
        assert texts == want
        # the read goes through that index, and other users' reads do not
        where, params = m.backend._where(Filters(user=BIG, since=since), user_literal=True)
        plan = m.backend.conn.execute(
            f"EXPLAIN QUERY PLAN SELECT m.n FROM memories m INDEXED BY {name} WHERE {where}",
            params).fetchall()
        assert name in str(plan)
        small = m.backend.dense_search(q, Filters(user="small", since=since, until=until), 5)
        assert small and all(m.get(i, user="small") for i, _ in small)
        assert _indexes(m) - before == {name}  # a small scope gets none
        # through the public API, with a window that holds only one row
        hits = m.search("item", user=BIG, k=5, since=(T0 + 42 * DAY) / 1e6,
                        until=(T0 + 42 * DAY) / 1e6)
        assert [h.memory.text for h in hits] == ["item 42"]
    # made once: a reopened store finds it
    with ltm.open(tmp_path / "s", embedder=HashingEmbedder(32), hnsw_min_scope=400) as m:
        got2 = m.backend.dense_search(q, Filters(user=BIG, since=since, until=until), 10)
        assert [i for i, _ in got2] == [i for i, _ in got]
        assert _indexes(m) - before == {name}


def test_no_time_index_inside_a_transaction(tmp_path: Path) -> None:
    """A read inside a caller's transaction does not change the schema: it walks the rows."""
    rng = np.random.default_rng(4)
    with ltm.open(tmp_path / "s", embedder=HashingEmbedder(32), hnsw_min_scope=400) as m:
        vecs = _fill(m, rng)
        before = _indexes(m)
        flt = Filters(user=BIG, since=T0 + 10 * DAY, until=T0 + 19 * DAY)
        with m.backend.atomic():
            inside = m.backend.dense_search(vecs[15], flt, 3)
        assert _indexes(m) == before
        assert m.get(inside[0][0], user=BIG).text == "item 15"
        assert m.backend.dense_search(vecs[15], flt, 3) == inside
        assert len(_indexes(m) - before) == 1
