"""The user-scope fast path is a protocol (``ScopeReader``) the pipeline checks once per
backend class: SQLite offers it; a backend without ``scope_view`` takes the general path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
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


class _Whole(_NoScope):
    """... nor the head's kind probe (``KindReader``): reads the ranking's head whole."""

    def __getattr__(self, name: str) -> Any:
        if name == "kinds":
            raise AttributeError(name)
        return super().__getattr__(name)


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


def test_kinds_reads_kind_and_whether_a_metadata_key_may_be_set(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as store:
        ep = store.add("we met at the station", user="alice", metadata={"topic": "travel"})
        fact = store.add("alice lives in Lisbon", user="alice", kind="fact",
                         metadata={"other": 1})
        bare = store.add("no metadata here", user="alice")
        bob = store.add("bob's own memory", user="bob", metadata={"topic": "x"})
        got = store.backend.kinds([ep.id, fact.id, bare.id, bob.id, "missing"], "alice",
                                  "topic")  # type: ignore[attr-defined]
        assert got == {ep.id: ("episode", True), fact.id: ("fact", False),
                       bare.id: ("episode", False)}


@pytest.mark.parametrize("k", [2, 10])
def test_timed_search_reads_whole_only_what_it_adjusts_and_ranks_as_the_general_path(
        tmp_path: Path, k: int) -> None:
    """Under a time phrase the fast path reads whole only the head's memories a time fit
    (facts), decay or the archived penalty applies to; a backend without the kind probe (and
    the fast path) reads every one of them. Same ranking, same signals."""
    turns = [("ana", "We finally booked the trip to Kyoto for April"),
             ("bo", "Nice, how long will you stay in Kyoto?"),
             ("ana", "Two weeks, and we will visit the temples in Kyoto"),
             ("bo", "My cat knocked over a plant today")]
    with ltm.open(tmp_path / "s", embedder="hash",
                  retention='{"episode": {"originals": "archive"}}') as store:
        store.add_conversation([{"speaker": s, "content": t} for s, t in turns], user="ana",
                               session="s1", time="2024-06-25T10:00")
        store.add_conversation([{"speaker": s, "content": t} for s, t in turns], user="ana",
                               session="s2", time="2024-03-02T10:00")
        assert store.consolidate("s1", user="ana") is not None
        store.add("Ana plans a Kyoto trip for April", user="ana", kind="fact",
                  time="2024-03-01", valid_from="2024-06-24")
        query, now = "what did Ana say about Kyoto last week", "2024-07-01T12:00:00Z"
        fast = store.search(query, user="ana", k=k, now=now)
        real = store.backend
        store.backend = _Whole(real)  # type: ignore[assignment]
        try:
            general = store.search(query, user="ana", k=k, now=now)
        finally:
            store.backend = real
    assert [h.memory.id for h in fast] == [h.memory.id for h in general]
    for a, b in zip(fast, general):
        assert a.signals.keys() == b.signals.keys()
        assert [a.signals[s] for s in a.signals] == pytest.approx(
            [b.signals[s] for s in a.signals])
    if k == 10:
        assert any(h.signals.get("archived", 0) < 0 for h in fast)
        fact = [h for h in fast if h.memory.kind == "fact"]
        assert fact and fact[0].signals["time_window"] == 1.0  # its validity meets last week


@pytest.mark.parametrize("users", [2, 3])
def test_full_text_over_a_row_id_range_keeps_to_the_user(tmp_path: Path, users: int) -> None:
    """Users whose memories alternate. Two: each one's rows fill half of their row-id range,
    so the full-text reads go by range and meet the other user's rows inside it; three: by
    the scope token. Labels, postings and scores stay the user's own (as text_search, which
    reads by scope token, computes them)."""
    from ltm.backends.base import Filters

    with ltm.open(tmp_path / "s", embedder="hash") as store:
        for n in range(12):
            for user in ("alice", "bob", "cy")[:users]:
                store.add(f"{user} went hiking in the Alps, trip {n}" if n % 3 else
                          f"{user} bakes bread on day {n}", user=user,
                          metadata={"speaker": "Carol" if n % 2 else "Dan"})
        backend = store.backend
        view = backend.scope_view("alice")  # type: ignore[attr-defined]
        assert view is not None
        assert (view.rowids[-1] - view.rowids[0] < 2 * len(view)) == (users == 2)
        mine = {int(r) for r in view.rowids}
        labels = dict(backend.label_rows("carol hiking", "alice"))
        carol = {int(r) for r in labels["carol"]}
        assert carol and carol <= mine and len(carol) == 6  # alice's odd turns only
        live = np.ones(len(view), dtype=bool)
        (pos, scores), = backend.scope_text(  # type: ignore[attr-defined]
            "hiking bread alps", view, [(live, 50)])
        by_id = backend.text_search("hiking bread alps", Filters(user="alice"), 50)
        assert [view.ids[p] for p in pos] == [i for i, _ in by_id]
        assert list(scores) == pytest.approx([s for _, s in by_id])
        assert backend.text_ceiling("hiking bread alps", "alice") == pytest.approx(
            backend.text_ceiling("hiking bread alps", "bob"))  # the same counts per user


def test_both_backends_keep_the_fast_path() -> None:
    """The head's kind probe is a protocol of its own: a backend without it (PostgreSQL)
    still takes the user-scope fast path and reads the head whole."""
    from ltm.backends.base import KindReader
    from ltm.backends.postgres.backend import PostgresBackend
    from ltm.backends.sqlite.backend import SqliteBackend

    assert issubclass(SqliteBackend, ScopeReader) and issubclass(SqliteBackend, KindReader)
    assert issubclass(PostgresBackend, ScopeReader)
