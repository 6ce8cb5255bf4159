"""A real PostgreSQL server with pgvector for the tests.

``LTM_POSTGRES_URL`` (a ``postgresql://`` URL of a database where the ``vector`` extension is
installed or may be created) is used when set; otherwise one server is started per test
session from the ``pgserver`` package (PostgreSQL 16 + pgvector) in a temporary folder, and
stopped and deleted at the end. Every store gets its own schema, dropped after the test.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest


def _start_pgserver() -> tuple[str, object]:
    with warnings.catch_warnings():
        # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (CI containers)
        warnings.simplefilter("ignore")
        import pgserver

    # pgserver runs postgres as an unprivileged "pgserver" user when we are root; its data
    # folder must be reachable by that user, so keep it out of pytest's 0700 tmp tree
    folder = tempfile.mkdtemp(prefix="ltm-pg-")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    server = pgserver.get_server(folder, cleanup_mode="delete")
    return server.get_uri(), server


def _ensure_vector(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a running PostgreSQL with pgvector (never skipped: failing to get one is an
    error)."""
    url = os.environ.get("LTM_POSTGRES_URL")
    server = None
    if not url:
        url, server = _start_pgserver()
    _ensure_vector(url)
    yield url
    if server is not None:
        folder = str(server.pgdata)  # type: ignore[attr-defined]
        server.cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(folder, ignore_errors=True)


def with_schema(url: str, schema: str) -> str:
    return url + ("&" if "?" in url else "?") + "schema=" + schema


def written_before(mem: Any, migration: str, undo: Callable[[str], Sequence[str]]
                   ) -> Callable[[], None]:
    """Turn the PostgreSQL store ``mem`` opened (closed since) back to what a store written
    before ``migration`` holds: the statements ``undo`` gives for its memories table, then the
    migration unrecorded, so that the next open applies it again. Returns the check that it
    did: user "u"'s version moved by one (what the users' caches are keyed on)."""
    import psycopg

    from ltm.backends.postgres import PostgresBackend

    backend = mem.backend
    assert isinstance(backend, PostgresBackend)
    dsn, st = backend.dsn, backend._st
    version_of_u = f"SELECT version FROM {st} WHERE user_id = 'u'"
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in undo(backend._m):
            conn.execute(statement)
        conn.execute(f"DELETE FROM {backend._s}.migrations WHERE name = %s", [migration])
        version = conn.execute(version_of_u).fetchone()

    def applied_again() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            after = conn.execute(version_of_u).fetchone()
        assert version is not None and after is not None and after[0] == version[0] + 1

    return applied_again


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_store_url(postgres_url: str) -> Iterator[str]:
    """A store URL of its own (a fresh schema), dropped after the test."""
    schema = "t_" + secrets.token_hex(6)
    yield with_schema(postgres_url, schema)
    drop_schema(postgres_url, schema)
