"""Batches with an item the library cannot take, on every backend (session 12 sweep): each
is ``InvalidInput`` naming the item, and the store is as it was. Before, ``add_vectors`` with an
item without ``user`` raised TypeError (Engine.row's missing argument), an item with unknown
keys of two types raised TypeError from sorting them, and vectors past float32's range raised
numpy's RuntimeWarning (an error under warnings-as-errors) before the InvalidInput."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import ltm
from ltm import ids
from ltm.errors import InvalidInput


def _export(store: ltm.MemoryStore) -> str:
    buf = io.StringIO()
    store.export(buf)
    return buf.getvalue()


def _rejected(store: ltm.MemoryStore, call: Callable[[], object]) -> InvalidInput:
    before = _export(store)
    with pytest.raises(InvalidInput) as caught:
        call()
    assert _export(store) == before
    return caught.value


def _unit(n: int, dim: int) -> np.ndarray:
    vecs = np.zeros((n, dim), dtype=np.float32)
    vecs[:, 0] = 1.0
    return vecs


@pytest.mark.parametrize("item", [{"text": "no user"}, {"user": "alice"}, {}],
                         ids=["no-user", "no-text", "empty"])
def test_add_vectors_item_without_text_or_user(copen: Callable[..., ltm.MemoryStore],
                                               item: dict[str, Any]) -> None:
    store = copen(embedder="hash")
    store.add("kept", user="alice")
    err = _rejected(store, lambda: store.add_vectors(
        [{"text": "fine", "user": "alice"}, item], _unit(2, store.embedder.dim)))
    assert err.item == 1 and "'text' and 'user'" in str(err)


def test_unknown_keys_of_mixed_types(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    store.add("kept", user="alice")
    odd = {"text": "x", "user": "alice", 1: 2, "colour": 3, None: 4}
    err = _rejected(store, lambda: store.add_many([odd]))
    assert "unknown fields" in str(err) and "'colour'" in str(err)
    err = _rejected(store, lambda: store.add_vectors([odd], _unit(1, store.embedder.dim)))
    assert "unknown fields" in str(err) and "'colour'" in str(err)


def test_vectors_past_float32_range(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    store.add("kept", user="alice")
    huge = np.full((1, store.embedder.dim), 1e39)  # float64: inf once float32
    err = _rejected(store, lambda: store.add_vectors([{"text": "x", "user": "alice"}], huge))
    assert err.field == "embedding"


def test_a_metadata_filter_of_hundreds_of_keys(copen: Callable[..., ltm.MemoryStore]) -> None:
    """Each key is a condition of the query: SQLite refused ~400 of them with a raw
    OperationalError ('Expression tree is too large'). At most 100 keys (REST takes 16)."""
    store = copen(embedder="hash")
    store.add("I moved to Lisbon", user="alice", metadata={"k0": 0, "k1": 1})
    many = {f"k{i}": i for i in range(500)}
    for call in (lambda: store.search("Lisbon", user="alice", metadata=many),
                 lambda: store.list("alice", metadata=many)):
        with pytest.raises(InvalidInput, match="at most 100 keys"):
            call()
    assert len(store.list("alice", metadata={f"k{i}": i for i in range(2)}).memories) == 1
    assert store.list("alice", metadata={f"k{i}": i for i in range(100)}).memories == []


def test_missing_sources_named_briefly(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    kept = store.add("I moved to Lisbon", user="alice")
    wanted = [ids.new_id() for _ in range(2_000)] + [kept.id]
    err = _rejected(store, lambda: store.add("derived", user="alice", kind="fact",
                                             sources=wanted))
    assert "and 1995 more" in str(err) and len(str(err)) < 500
