"""API keys: stored hashed in the store's SQLite file, each bound to users with rights.

A key reads ``ltm_<key id>_<secret>``. Only the key id (for lookup), a per-key random salt and
``HMAC-SHA256(salt, secret)`` are stored; the secret is shown once, when the key is created.

Rights:

- ``read``  get, list, search, context, history, export and per-user stats of its users
- ``write`` add, update, and forget by id, session or time
- ``admin`` forget a whole user; with the user ``*`` also store-wide stats and export

A key bound to ``*`` covers every user. The server requires a key on every request once any
key has ever been created in the store (revoking all keys does not reopen it); before that it
runs open, which ``ltm serve`` only allows on loopback unless told otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .. import validate as check
from ..backends.base import is_encodable
from ..errors import InvalidInput, NotFound, ScopeError, StoreError
from ..validate import ALL_USERS as ALL_USERS  # every user; never a user name

RIGHTS = ("read", "write", "admin")
DB_NAME = "memories.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    salt BLOB NOT NULL,
    digest BLOB NOT NULL,
    users TEXT NOT NULL,
    rights TEXT NOT NULL,
    label TEXT,
    created_at REAL NOT NULL,
    revoked_at REAL
)
"""


@dataclass(frozen=True)
class ApiKey:
    """What a key may do (never its secret)."""

    key_id: str
    users: tuple[str, ...]
    rights: frozenset[str]
    label: str | None = None
    created_at: float = 0.0
    revoked_at: float | None = None

    def covers(self, user: str) -> bool:
        return ALL_USERS in self.users or user in self.users

    def allows(self, user: str, right: str) -> bool:
        return self.covers(user) and right in self.rights


#: The principal of an open (keyless) server: every user, every right.
OPEN_ACCESS = ApiKey("open", (ALL_USERS,), frozenset(RIGHTS), "no keys configured")


def _digest(salt: bytes, secret: str) -> bytes:
    return hmac.new(salt, secret.encode(), hashlib.sha256).digest()


def parse_rights(text: str | list[str] | tuple[str, ...]) -> frozenset[str]:
    parts = text.split(",") if isinstance(text, str) else list(text)
    rights = frozenset(p.strip() for p in parts if p.strip())
    bad = rights - set(RIGHTS)
    if not rights or bad:
        raise InvalidInput(f"rights must be a comma-separated subset of {','.join(RIGHTS)}; "
                           f"got {sorted(bad) or 'nothing'}", field="rights")
    return rights


def keys_folder(store: str) -> str:
    """Where the API keys of ``store`` live: the store folder itself for the embedded store;
    for a PostgreSQL store, the folder in ``LTM_KEYS_DIR`` (keys stay in a local SQLite file)."""
    if store.startswith(("postgresql://", "postgres://")):
        folder = os.environ.get("LTM_KEYS_DIR")
        if not folder:
            raise StoreError("a PostgreSQL store keeps its API keys in a local folder: "
                             "set LTM_KEYS_DIR")
        return folder
    return store


class KeyStore:
    """The ``api_keys`` table, through a connection of its own (thread-safe)."""

    def __init__(self, store_folder: str | Path, *, busy_timeout_ms: int = 10_000) -> None:
        folder = Path(store_folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create store folder {folder}: {exc}") from None
        path = folder / DB_NAME
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                         timeout=busy_timeout_ms / 1000)
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._conn.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the key table in {path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def create(self, users: list[str], rights: frozenset[str] | str,
               label: str | None = None) -> tuple[str, ApiKey]:
        """Create a key; returns ``(secret key text, ApiKey)``. The text is not stored."""
        rights = parse_rights(rights) if isinstance(rights, str) else parse_rights(list(rights))
        clean = [u for u in dict.fromkeys(users)]
        if not clean:
            raise InvalidInput("a key needs at least one user (or '*' for all users)",
                               field="users")
        for u in clean:  # as every face checks a user ('*' is every user here)
            try:
                check.user(u, "user", stored=True)
            except ScopeError as exc:
                raise InvalidInput(f"a key's {exc}", field="users") from None
        if label is not None and (not isinstance(label, str) or len(label) > 1000
                                  or "\x00" in label or not is_encodable(label)):
            raise InvalidInput("the label must be text of at most 1000 characters, without "
                               "NUL", field="label")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(24)
        salt = secrets.token_bytes(16)
        now = time.time()
        with self._lock:
            self._conn.execute(
                "INSERT INTO api_keys (key_id, salt, digest, users, rights, label, created_at) "
                "VALUES (?,?,?,?,?,?,?)", (key_id, salt, _digest(salt, secret), json.dumps(clean),
                                           json.dumps(sorted(rights)), label, now))
        return f"ltm_{key_id}_{secret}", ApiKey(key_id, tuple(clean), rights, label, now)

    def verify(self, text: str) -> ApiKey | None:
        """The key's grants, or None when the text is not a live key."""
        parts = text.split("_", 2) if isinstance(text, str) else []
        if len(parts) != 3 or parts[0] != "ltm" or not parts[1] or not parts[2]:
            return None
        with self._lock:
            row = self._conn.execute(
                "SELECT key_id, salt, digest, users, rights, label, created_at, revoked_at "
                "FROM api_keys WHERE key_id = ?", (parts[1],)).fetchone()
        if row is None or row[7] is not None:
            return None
        if not hmac.compare_digest(_digest(row[1], parts[2]), row[2]):
            return None
        return ApiKey(row[0], tuple(json.loads(row[3])), frozenset(json.loads(row[4])), row[5],
                      row[6], None)

    def list(self) -> list[ApiKey]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT key_id, users, rights, label, created_at, revoked_at FROM api_keys "
                "ORDER BY created_at").fetchall()
        return [ApiKey(r[0], tuple(json.loads(r[1])), frozenset(json.loads(r[2])), r[3], r[4],
                       r[5]) for r in rows]

    def revoke(self, key_id: str) -> None:
        if key_id.startswith("ltm_"):
            key_id = key_id.split("_", 2)[1]
        with self._lock:
            cur = self._conn.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND "
                                     "revoked_at IS NULL", (time.time(), key_id))
        if cur.rowcount == 0:
            err = NotFound(key_id)
            err.args = (f"no API key {key_id!r} to revoke (unknown or revoked already; see "
                        "`ltm keys list`)",)  # not NotFound's "no memory ... for user None"
            raise err

    def any_keys(self) -> bool:
        """True once a key has ever been created (revoked ones included)."""
        with self._lock:
            return self._conn.execute("SELECT EXISTS(SELECT 1 FROM api_keys)").fetchone()[0] == 1
