"""Fixtures for the policy tests: a scripted OpenAI-compatible server on loopback, and stores
with the hashing embedder (semantics do not matter for most policy tests)."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _policy_fake_llm import FakeLLM, start  # noqa: E402
from postgres_support import pg_store_url, postgres_url  # noqa: E402
from store_locations import backend_kind, copen, location, new_location  # noqa: E402

import ltm  # noqa: E402

__all__ = ["backend_kind", "copen", "location", "new_location", "pg_store_url",
           "postgres_url"]


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    server = start(fake)
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def hstore(tmp_path: Path) -> Iterator[Callable[..., ltm.MemoryStore]]:
    """Open hashing-embedder stores in tmp_path (closed at teardown)."""
    opened: list[ltm.MemoryStore] = []

    def _open(name: str = "s", **settings: Any) -> ltm.MemoryStore:
        settings.setdefault("embedder", "hash")
        store = ltm.open(tmp_path / name, **settings)
        opened.append(store)
        return store

    yield _open
    for s in opened:
        s.close()


@pytest.fixture
def xstore(copen: Callable[..., ltm.MemoryStore]) -> Callable[..., ltm.MemoryStore]:
    """Like ``hstore``, once per backend (a folder, or a fresh PostgreSQL schema); calling it
    again reopens the same store."""
    return lambda **settings: copen(**{"embedder": "hash", **settings})
