"""PostgreSQL keeps samples of column values as planner statistics (pg_statistic, shown by
pg_stats): after an ANALYZE (autovacuum runs one as a table changes) they hold memory texts
and user names. forget() with erase="full" compacts (VACUUM, REINDEX) but the statistics kept
erased texts and the forgotten user's name until the next ANALYZE; compact() now analyses
the tables it vacuums."""

from __future__ import annotations

import psycopg
import pytest

import ltm

pytestmark = pytest.mark.postgres


def _stats_holding(url: str, schema: str, needle: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT tablename, attname, coalesce(most_common_vals::text, '') || "
            "coalesce(histogram_bounds::text, '') FROM pg_stats WHERE schemaname = %s",
            [schema]).fetchall()
    return [f"{t}.{a}" for t, a, values in rows if needle in values]


def test_forget_leaves_no_erased_text_in_the_planner_statistics(postgres_url: str,
                                                                  pg_store_url: str) -> None:
    schema = pg_store_url.rsplit("schema=", 1)[1]
    with ltm.open(pg_store_url, embedder="hash") as mem:
        made = mem.add_many([{"text": f"zqxcanary{i} secret line", "user": "victim@example.com"}
                             for i in range(300)])
        mem.update(made[0].id, user="victim@example.com", text="zqxrewritten text")
        mem.add_many([{"text": f"other {i}", "user": "keeper"} for i in range(50)])
        with psycopg.connect(postgres_url, autocommit=True) as conn:  # as autovacuum does
            conn.execute(f'ANALYZE "{schema}".memories, "{schema}".history')
        assert _stats_holding(postgres_url, schema, "zqxcanary")  # what the test looks for
        mem.forget(user="victim@example.com")
        assert _stats_holding(postgres_url, schema, "zqxcanary") == []
        assert _stats_holding(postgres_url, schema, "victim@example.com") == []
