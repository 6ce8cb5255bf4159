"""The contract fixtures: every test here runs once per backend (SQLite folder, PostgreSQL
schema). Postgres runs carry the ``postgres`` marker; they start the shared server lazily, so a
``-m "not postgres"`` run never starts one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from postgres_support import pg_store_url, postgres_url
from store_locations import BACKENDS, Location, backend_kind, copen, location, new_location

import ltm

__all__ = ["BACKENDS", "Location", "backend_kind", "copen", "location", "new_location",
           "pg_store_url", "postgres_url"]


@pytest.fixture
def cstore(copen: Callable[..., ltm.MemoryStore]) -> ltm.MemoryStore:
    """A store with the default (real) embedder."""
    return copen()
