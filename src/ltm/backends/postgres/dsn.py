"""Where a PostgreSQL store lives: ``postgresql://`` / ``postgres://`` URLs (with the ltm-only
``?schema=`` parameter) or libpq key=value strings, and their redaction for messages."""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .schema import check_schema

DEFAULT_SCHEMA = "ltm"


class PgTarget(NamedTuple):
    """A store's place: the connection string libpq gets, and the store's schema."""

    dsn: str
    schema: str


def is_postgres_url(target: object) -> bool:
    """Whether ``target`` (a path, a URL, anything) names a PostgreSQL store by URL."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def split_dsn(dsn: str) -> tuple[str, str | None]:
    """Take the ltm-only ``schema`` query parameter out of a postgres URL (libpq would reject
    it); key=value connection strings pass through unchanged."""
    if not is_postgres_url(dsn):
        return dsn, None
    parts = urlsplit(dsn)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def parse_dsn(dsn: str, schema: str | None = None) -> PgTarget:
    """The libpq connection string and the checked schema of a store: ``schema`` when given,
    else the URL's ``?schema=``, else ``DEFAULT_SCHEMA``. ``InvalidInput`` for a schema name
    PostgreSQL would need quoted."""
    libpq, url_schema = split_dsn(dsn)
    return PgTarget(libpq, check_schema(schema or url_schema or DEFAULT_SCHEMA))


def redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    if is_postgres_url(dsn):
        parts = urlsplit(dsn)
        if parts.password:
            netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
            return urlunsplit(parts._replace(netloc=netloc))
        return dsn
    return re.sub(r"password\s*=\s*\S+", "password=***", dsn)
