"""QA 20 on PostgreSQL: a store written by a newer ltm is refused as on SQLite (StoreError,
exit 4), and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys

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
