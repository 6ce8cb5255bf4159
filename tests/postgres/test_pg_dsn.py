"""Parsing a PostgreSQL store's place (no server needed): ``ltm.backends.postgres.dsn``."""

from __future__ import annotations

import pytest

from ltm.backends.postgres import PgTarget, is_postgres_url, parse_dsn
from ltm.errors import InvalidInput


def test_parse_dsn_takes_the_schema_out_and_checks_it() -> None:
    assert parse_dsn("postgresql://u:pw@h:5/db?sslmode=require&schema=abc") == PgTarget(
        "postgresql://u:pw@h:5/db?sslmode=require", "abc")
    # an explicit schema wins over the URL's; without either, the default
    assert parse_dsn("postgres://h/db?schema=abc", "other").schema == "other"
    assert parse_dsn("postgresql://h/db") == ("postgresql://h/db", "ltm")
    assert parse_dsn("host=/tmp dbname=x", "s1") == ("host=/tmp dbname=x", "s1")
    with pytest.raises(InvalidInput):
        parse_dsn("postgresql://h/db?schema=Bad-Name")


def test_is_postgres_url() -> None:
    assert is_postgres_url("postgresql://h/db") and is_postgres_url("postgres://h/db")
    assert not is_postgres_url("./memories") and not is_postgres_url(None)
    assert not is_postgres_url("host=/tmp dbname=x")  # a key=value string is no URL
