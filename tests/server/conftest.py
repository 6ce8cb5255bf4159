"""A real uvicorn server on loopback over a store in a temporary folder, with API keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from server_support import Served

import ltm
from ltm.server.app import create_app
from ltm.server.auth import KeyStore
from ltm.server.live import LiveServer


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server per test module: keys for alice (rw), bob (rw), alice read-only, an admin
    for alice, and an admin for every user."""
    path = tmp_path_factory.mktemp("server") / "store"
    store = ltm.open(path)
    keys = KeyStore(path)
    made = {
        "alice": keys.create(["alice"], "read,write")[0],
        "bob": keys.create(["bob"], "read,write")[0],
        "alice_ro": keys.create(["alice"], "read")[0],
        "alice_admin": keys.create(["alice"], "read,write,admin")[0],
        "root": keys.create(["*"], "read,write,admin")[0],
    }
    app = create_app(store, keys=keys)
    with LiveServer(app) as srv:
        yield Served(srv.url, store, keys, path, made)
    store.close()
    keys.close()
