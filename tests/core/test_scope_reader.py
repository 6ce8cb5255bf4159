"""The user-scope fast path is a protocol (``ScopeReader``) the pipeline checks once per
backend class: SQLite offers it; a backend without ``scope_view`` takes the general path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ltm
from ltm.backends.base import ScopeReader
from ltm.retrieval.pipeline import scope_reader


class _NoScope:
    """A backend that forwards everything but the fast path."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name.startswith("scope_") and name != "scope_count":
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_sqlite_is_a_scope_reader_and_a_wrapper_without_it_is_not(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as store:
        store.add("I moved to Lisbon in March", user="alice")
        real = store.backend
        assert isinstance(real, ScopeReader)
        assert scope_reader(real) is real
        fast = store.search("Lisbon", user="alice", k=3)
        store.backend = _NoScope(real)  # type: ignore[assignment]
        try:
            assert scope_reader(store.backend) is None
            general = store.search("Lisbon", user="alice", k=3)
        finally:
            store.backend = real
        assert [h.memory.id for h in fast] == [h.memory.id for h in general] != []
        assert [h.relevance for h in fast] == pytest.approx([h.relevance for h in general])
