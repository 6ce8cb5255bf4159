"""Shared fixtures. Stores live in temporary folders; the default (real) embedder is used unless
a test asks for the hashing one."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from store_locations import opener

import ltm

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def open_store(store_path: Path) -> Iterator[Callable[..., ltm.MemoryStore]]:
    """Open (and at teardown close) stores at one location. Calling it again reopens the same
    store, as a new process would."""
    with opener(store_path) as open_:
        yield open_


@pytest.fixture
def store(open_store: Callable[..., ltm.MemoryStore]) -> ltm.MemoryStore:
    return open_store()
