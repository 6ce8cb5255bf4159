"""An embedder of the name a store was built with but another vector length (session 12
sweep), on every backend. ``ltm.open`` compared names only: a custom embedder object 'mine' of
dimension 16 opened a store of 'mine' at 8, ``add`` then failed, but ``update(text=...)``
wrote a 16-float vector beside the 8-float ones and every later search raised
ValueError('cannot reshape array ...') on SQLite, also after reopening with the right
embedder. Now the open is EmbedderMismatch naming both dimensions, and so is setting
``store.embedder`` to one of another dimension (DimensionMismatch); nothing is written."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
import pytest

import ltm
from ltm.errors import DimensionMismatch, EmbedderMismatch


class _Mine:
    name = "mine"
    in_process = False

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for n, text in enumerate(texts):
            out[n, hash(text) % self.dim] = 1.0
        return out


def _export(store: ltm.MemoryStore) -> str:
    buf = io.StringIO()
    store.export(buf)
    return buf.getvalue()


def test_same_name_other_dimension(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder=_Mine(8))
    kept = store.add("I moved to Lisbon", user="alice")
    dump = _export(store)
    with pytest.raises(DimensionMismatch):
        store.embedder = _Mine(16)  # type: ignore[assignment]
    assert store.embedder.dim == 8
    store.close()
    with pytest.raises(EmbedderMismatch, match=r"'mine \(dimension 8\)'.*'mine \(dimension 16\)'"):
        copen(embedder=_Mine(16))
    again = copen(embedder=_Mine(8))
    assert _export(again) == dump
    assert again.search("I moved to Lisbon", user="alice")[0].memory.id == kept.id
    again.update(kept.id, user="alice", text="I moved to Porto")
    assert again.search("I moved to Porto", user="alice")[0].memory.id == kept.id


class _NaNFor(_Mine):
    """Vectors of NaN for texts holding ``word`` (a model that overflowed, a remote one that
    answered garbage)."""

    def __init__(self, dim: int, word: str) -> None:
        super().__init__(dim)
        self.word = word

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = super().embed(texts)
        for n, text in enumerate(texts):
            if self.word in text:
                out[n] = np.nan
        return out


def test_an_embedder_that_answers_nan(copen: Callable[..., ltm.MemoryStore]) -> None:
    """A new row's NaN vector was refused, but update, reindex(embeddings=True) and the
    policies wrote what the embedder returned: update(text=...) stored a NaN vector."""
    store = copen(embedder=_NaNFor(8, "broken"))
    kept = store.add("I moved to Lisbon", user="alice")
    other = store.add("cats sleep a lot", user="alice")
    dump = _export(store)
    for call in (lambda: store.add("a broken note", user="alice"),
                 lambda: store.add_many([{"text": "broken", "user": "alice"}]),
                 lambda: store.update(kept.id, user="alice", text="broken now")):
        with pytest.raises(ltm.errors.InvalidInput, match="NaN"):
            call()
    assert _export(store) == dump
    store.embedder = _NaNFor(8, "cats")  # type: ignore[assignment]
    with pytest.raises(ltm.errors.InvalidInput, match="NaN"):
        store.reindex(embeddings=True)
    assert _export(store) == dump
    store.embedder = _Mine(8)  # type: ignore[assignment]
    assert store.search("cats sleep a lot", user="alice")[0].memory.id == other.id


def test_a_query_the_embedder_answers_with_nan(copen: Callable[..., ltm.MemoryStore]) -> None:
    """The query's vector is checked as a memory's is: before, a NaN query vector matched no
    memory by its vector (dense search gave nothing, or every cosine NaN) and the search
    answered from full text alone without saying why; now it is InvalidInput, on every path
    (the scope's fast path, a filter's general path, context)."""
    store = copen(embedder=_NaNFor(8, "broken"))
    kept = store.add("I moved to Lisbon", user="alice")
    for call in (lambda: store.search("broken Lisbon", user="alice"),
                 lambda: store.search("broken Lisbon", user="alice", kinds=["episode"]),
                 lambda: store.search("broken Lisbon", user="alice", session="s1"),
                 lambda: store.context("broken Lisbon", user="alice")):
        with pytest.raises(ltm.errors.InvalidInput, match="NaN"):
            call()
    assert store.search("Lisbon", user="alice")[0].memory.id == kept.id


@pytest.mark.parametrize(("name", "dim"), [
    ("", 8), (5, 8), ("a\ud800", 8), ("a\x00b", 8), ("x" * 300, 8),
    ("mine", True), ("mine", 8.0), ("mine", None), ("mine", 0), ("mine", 10**9), ("mine", "8"),
], ids=["empty", "int-name", "surrogate", "nul", "long", "bool", "float", "none", "zero", "huge",
        "str"])
def test_an_embedder_object_the_store_cannot_record(copen: Callable[..., ltm.MemoryStore],
                                                     name: object, dim: object) -> None:
    """What a store records of an embedder object and checks on every open: before, an empty
    name was recorded as none (the next open took any embedder), a name of 5 as '5', and a
    dim of True, 8.0 or None, or a name with a lone surrogate, raised ValueError or
    UnicodeEncodeError at the open."""
    odd = _Mine(8)
    odd.name, odd.dim = name, dim  # type: ignore[assignment]
    with pytest.raises(ltm.errors.InvalidInput, match="an embedder's"):
        copen(embedder=odd)
    store = copen(embedder=_Mine(8))  # nothing was recorded: a fine one opens it
    store.add("kept", user="alice")
    numpy_dim = _Mine(8)
    numpy_dim.dim = np.int64(8)  # type: ignore[assignment]
    store.close()
    assert copen(embedder=numpy_dim).search("kept", user="alice")[0].memory.text == "kept"
