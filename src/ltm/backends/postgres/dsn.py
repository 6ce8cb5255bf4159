"""Where a PostgreSQL store lives: ``postgresql://`` / ``postgres://`` URLs (with the ltm-only
``?schema=`` parameter) or libpq key=value strings, and their redaction for messages."""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ...errors import InvalidInput
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
    try:
        parts = urlsplit(dsn)
    except ValueError as exc:  # "Invalid IPv6 URL"
        raise InvalidInput(f"not a valid PostgreSQL URL ({exc}): {redact(dsn)}",
                           field="dsn") from None
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


# a password in a key=value string: a quoted value (spaces, escaped quotes) or a word
_KV_PASSWORD = re.compile(r"\b(ssl)?password\s*=\s*('(?:\\.|[^'\\])*'?|\S+)")
# a URL's password: in the user info, or as a query parameter
_URL_PASSWORD = re.compile(r"(//[^/?#@:]*):[^/?#]*@")
_QUERY_PASSWORD = re.compile(r"([?&](?:ssl)?password=)[^&#]*")


def redact(dsn: str) -> str:
    """The DSN without its password (in the URL's user info, a ``password=`` parameter or a
    key=value pair), for messages."""
    if is_postgres_url(dsn):
        return _QUERY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1:***@", dsn, count=1))
    return _KV_PASSWORD.sub(lambda m: (m.group(1) or "") + "password=***", dsn)
