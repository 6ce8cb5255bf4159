"""QA of issue 6: bad connection strings and a database without pgvector are typed errors with
a clear message that never shows the password; the CLI maps them to its documented exit codes
(2 invalid input, 4 store unusable)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from click.testing import CliRunner

import ltm
from ltm.backends.postgres import redact
from ltm.cli import main
from ltm.errors import InvalidInput, StoreError


@pytest.mark.parametrize("dsn", [
    "postgresql://u:s3cret@h/db",
    "postgresql://u@h/db?password=s3cret&sslmode=require",
    "postgresql://u@h/db?sslmode=require&password=s3cret",
    "postgresql://u:s3c@ret@h/db",
    "postgres://u:s3cret@[::1:5432/db",
    "host=h password=s3cret dbname=d",
    "host=h password='s3cret h1dden' dbname=d",
    "host=h password = 's3cret\\' h1dden' dbname=d",
    "host=h sslpassword=s3cret dbname=d",
])
def test_redact_hides_every_form_of_password(dsn: str) -> None:
    out = redact(dsn)
    assert "s3c" not in out and "h1dden" not in out
    assert "***" in out


@pytest.mark.parametrize("url", [
    "postgres://u:s3cret@[::1:5432/db",             # urllib: Invalid IPv6 URL
    "postgresql://u:s3cret@h/db?bogus=1",            # libpq: invalid URI query parameter
    "postgresql://u:s3cret@h/%zz",                   # libpq: invalid percent-encoded token
])
def test_malformed_urls_are_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInput) as err:
        ltm.open(url, embedder="hash")
    assert "s3cret" not in str(err.value)
    result = CliRunner().invoke(main, ["--store", url, "search", "--user", "a", "hi"])
    assert result.exit_code == 2, result.output
    assert "s3cret" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("dsn", [
    "host=h bogus=1 password=s3cret",
    "host=h password='s3cret",
])
def test_malformed_key_value_strings_are_invalid_input(dsn: str) -> None:
    with pytest.raises(InvalidInput) as err:
        ltm.open(backend="postgres", dsn=dsn, embedder="hash")
    assert "s3cret" not in str(err.value)


def test_a_password_in_the_query_is_not_shown(tmp_path: object) -> None:
    with pytest.raises(StoreError) as err:
        ltm.open("postgresql://u@127.0.0.1:1/db?password=s3cret&connect_timeout=2",
                 embedder="hash")
    assert "s3cret" not in str(err.value) and "password=***" in str(err.value)


@pytest.fixture
def role_without_pgvector(postgres_url: str) -> Iterator[str]:
    """A URL of a new database without the vector extension, as a role that may not create
    it (pgvector is not a trusted extension)."""
    name = "qa6_" + secrets.token_hex(4)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN")
        conn.execute(f"CREATE DATABASE {name} OWNER {name}")
    head, _, query = postgres_url.partition("?")
    base = head.rsplit("/", 1)[0].split("//", 1)[1].split("@", 1)[-1]
    yield f"postgresql://{name}@{base}/{name}" + ("?" + query if query else "")
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"DROP ROLE IF EXISTS {name}")


def test_missing_pgvector_is_a_store_error_that_says_so(role_without_pgvector: str) -> None:
    with pytest.raises(StoreError, match="pgvector extension is missing"):
        ltm.open(role_without_pgvector, embedder="hash")
    result = CliRunner().invoke(main, ["--store", role_without_pgvector, "search", "--user",
                                       "a", "hi"])
    assert result.exit_code == 4, result.output
    assert "pgvector" in result.output and "Traceback" not in result.output
