"""Store locations of either backend for tests that run once per backend (the contract tests,
fact extraction): a SQLite folder, or a fresh PostgreSQL schema dropped afterwards. PostgreSQL
runs carry the ``postgres`` marker and start the shared server lazily, so a ``-m "not
postgres"`` run never starts one. Import the fixtures into a conftest to use them."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from postgres_support import drop_schema, with_schema

import ltm

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

Location = str | Path


@pytest.fixture
def new_location(tmp_path: Path, request: pytest.FixtureRequest
                 ) -> Iterator[Callable[[str], Location]]:
    """Make a fresh, empty store location of the given backend ("sqlite" or "postgres")."""
    schemas: list[str] = []
    url_holder: list[str] = []

    def make(kind: str) -> Location:
        if kind == "sqlite":
            return tmp_path / f"store-{secrets.token_hex(4)}"
        if not url_holder:
            url_holder.append(request.getfixturevalue("postgres_url"))
        schema = "t_" + secrets.token_hex(6)
        schemas.append(schema)
        return with_schema(url_holder[0], schema)

    yield make
    for schema in schemas:
        drop_schema(url_holder[0], schema)


@pytest.fixture(params=BACKENDS)
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def location(backend_kind: str, new_location: Callable[[str], Location]) -> Location:
    return new_location(backend_kind)


@contextmanager
def opener(location: Location) -> Iterator[Callable[..., ltm.MemoryStore]]:
    """A function that opens a store at ``location`` (calling it again reopens the same store,
    as another process would); every store it opened is closed on leaving."""
    opened: list[ltm.MemoryStore] = []

    def _open(**settings: Any) -> ltm.MemoryStore:
        store = ltm.open(location, **settings)
        opened.append(store)
        return store

    try:
        yield _open
    finally:
        for store in opened:
            store.close()


@pytest.fixture
def copen(location: Location) -> Iterator[Callable[..., ltm.MemoryStore]]:
    """Open (and at teardown close) stores at this test's location."""
    with opener(location) as open_:
        yield open_
