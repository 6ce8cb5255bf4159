"""QA 20 on PostgreSQL: a store written by a newer ltm is refused as on SQLite (StoreError,
exit 4), and changes nothing."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

import ltm
from ltm.backends.postgres import PostgresBackend

pytestmark = pytest.mark.postgres


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTM_")}
    env["LTM_EMBEDDER"] = "hash"
    return subprocess.run([sys.executable, "-m", "ltm", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_a_store_of_a_newer_version_is_refused(pg_store_url: str) -> None:
    with ltm.open(pg_store_url, embedder="hash") as store:
        store.add("I moved to Lisbon", user="u")
        backend = store.backend
        assert isinstance(backend, PostgresBackend)
        dsn, migrations = backend.dsn, f"{backend._s}.migrations"
    with psycopg.connect(dsn, autocommit=True) as conn:
        # a newer ltm applied one more migration, and this one has not applied its last yet
        conn.execute(f"INSERT INTO {migrations} VALUES ('9999_from_the_future', 0)")
        conn.execute(f"DELETE FROM {migrations} WHERE name = '0008_fold_diacritics'")
        before = conn.execute(f"SELECT name, applied_at FROM {migrations} ORDER BY name"
                              ).fetchall()
    with pytest.raises(ltm.errors.StoreError) as caught:
        ltm.open(pg_store_url, embedder="hash")
    message = str(caught.value)
    assert "written by a newer version of ltm" in message
    assert "(unknown migrations: 9999_from_the_future); upgrade ltm to open it" in message
    r = _cli("stats", "--store", pg_store_url)
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert r.stderr.startswith("ltm: ") and "newer version of ltm" in r.stderr
    assert "Traceback" not in r.stderr
    with psycopg.connect(dsn, autocommit=True) as conn:  # no migration applied meanwhile
        after = conn.execute(f"SELECT name, applied_at FROM {migrations} ORDER BY name"
                             ).fetchall()
    assert after == before


# -- BM25's document length is the same on both backends -----------------------------------

def _corpus() -> list[dict[str, object]]:
    """Memories whose token counts and distinct non-stop words differ from row to row (stop
    words, repeated words, labels), about a few words that both stemmers leave alike."""
    fillers = ["and then we went to the", "it was the best of all the", "we we we saw",
               "on a very very long and winding road to the", "", "I said that it is"]
    topics = ["harbour", "bicycle", "violin", "garden", "kitchen"]
    out: list[dict[str, object]] = []
    for i in range(80):
        words = [fillers[i % 6], topics[i % 5], fillers[(i * 7) % 6],
                 " ".join([topics[(i + 1) % 5]] * (1 + i % 3)), "x" * (i % 2)]
        item: dict[str, object] = {"text": " ".join(w for w in words if w) + f" n{i}",
                                   "user": "u", "session": f"s{i % 3}"}
        if i % 4 == 0:
            item["metadata"] = {"speaker": "Ann Lee", "title": f"the {topics[i % 5]} notes"}
        out.append(item)
    return out


QUERIES = ["harbour", "violin garden", "bicycle kitchen harbour", "the long road",
           "Ann garden", "notes"]


def test_full_text_lengths_and_rankings_agree_with_sqlite(tmp_path: Path,
                                                          pg_store_url: str) -> None:
    with ltm.open(tmp_path / "lite", embedder="hash") as lite, \
            ltm.open(pg_store_url, embedder="hash") as pg:
        lite.add_many(_corpus())
        dump = io.StringIO()
        lite.export(dump)
        dump.seek(0)
        pg.import_(dump)
        worst = 0.0
        for q in QUERIES:
            for kw in [{}, {"session": "s1"}, {"kinds": ["episode"]}]:
                a = lite.search(q, user="u", k=20, now="2027-01-01", **kw)
                b = pg.search(q, user="u", k=20, now="2027-01-01", **kw)
                assert [h.memory.id for h in a] == [h.memory.id for h in b], (q, kw)
                for x, y in zip(a, b):
                    worst = max(worst, abs(x.relevance - y.relevance),
                                abs(x.signals["text"] - y.signals["text"]))
        assert worst <= 1e-6, worst


def test_a_store_written_before_token_lengths_gets_them_on_open(tmp_path: Path,
                                                                pg_store_url: str) -> None:
    with ltm.open(tmp_path / "lite", embedder="hash") as lite:
        lite.add_many(_corpus())
        dump = io.StringIO()
        lite.export(dump)
        want = {q: [(h.memory.id, h.relevance) for h in lite.search(q, user="u", k=20,
                                                                     now="2027-01-01")]
                for q in QUERIES}
    with ltm.open(pg_store_url, embedder="hash") as pg:
        dump.seek(0)
        pg.import_(dump)
        backend = pg.backend
        assert isinstance(backend, PostgresBackend)
        dsn, s = backend.dsn, backend._s
    with psycopg.connect(dsn, autocommit=True) as conn:
        # the store as 0008 left it: no token counts, lengths in distinct lexemes
        conn.execute(f"ALTER TABLE {s}.memories DROP COLUMN tokens")
        conn.execute(f"DELETE FROM {s}.migrations WHERE name = '0009_token_lengths'")
        conn.execute(f"UPDATE {s}.user_stats st SET lexemes = (SELECT sum(length(m.tsv)) "
                     f"FROM {s}.memories m WHERE m.user_id = st.user_id)")
        old = conn.execute(f"SELECT lexemes, version FROM {s}.user_stats").fetchone()
    with ltm.open(pg_store_url, embedder="hash") as pg:
        for q in QUERIES:
            got = [(h.memory.id, h.relevance) for h in pg.search(q, user="u", k=20,
                                                                 now="2027-01-01")]
            assert [i for i, _ in got] == [i for i, _ in want[q]], q
            assert max(abs(a[1] - b[1]) for a, b in zip(got, want[q])) <= 1e-6, q
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute(f"SELECT count(*) FROM {s}.memories WHERE tokens IS NULL"
                            ).fetchone() == (0,)
        new = conn.execute(f"SELECT lexemes, version FROM {s}.user_stats").fetchone()
        total = conn.execute(f"SELECT sum(tokens) FROM {s}.memories").fetchone()
    assert old is not None and new is not None and total is not None
    assert new[0] == total[0] > old[0] and new[1] > old[1]
