"""QA of issue 4: supersession chains under random sequences of supersede, forget, gc (merges
with duplicates written through ``supersedes``), export -> import and reopen (hypothesis,
real SQLite files). After every step: no ``superseded_by`` names a memory that is gone, no
memory has two predecessors, links point forward in valid time, and ``as_of`` at any moment
returns at most one fact of a chain."""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ltm
from ltm.errors import InvalidInput, NotFound

BASE = datetime(2020, 1, 1, tzinfo=timezone.utc)
WORDS = ["Acme", "Initech", "Globex", "Umbrella", "Hooli"]  # a few texts: duplicates happen

step = st.one_of(
    st.tuples(st.just("supersede"), st.integers(0, 30), st.integers(0, 4), st.integers(0, 400)),
    st.tuples(st.just("forget"), st.integers(0, 30), st.just(0), st.just(0)),
    st.tuples(st.just("gc"), st.just(0), st.just(0), st.just(0)),
    st.tuples(st.just("roundtrip"), st.just(0), st.just(0), st.just(0)),
)


@contextmanager
def _folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ltm-qa4-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _check(store: ltm.MemoryStore) -> None:
    facts = {m.id: m for m in store.list("u", kinds=["fact"], limit=1000).memories}
    successors = [m.superseded_by for m in facts.values() if m.superseded_by is not None]
    assert all(s in facts for s in successors), "a link names a memory that is gone"
    assert len(successors) == len(set(successors)), "a memory with two predecessors"
    for m in facts.values():
        if m.superseded_by is not None:
            nxt = facts[m.superseded_by]
            assert m.valid_to is not None and nxt.valid_from is not None
            assert m.valid_to <= nxt.valid_from
    for days in (0, 100, 250, 399, 1000):
        at = BASE + timedelta(days=days)
        valid = [m for m in facts.values() if m.valid_from is not None and m.valid_from <= at
                 and (m.valid_to is None or m.valid_to > at)]
        hits = store.search("where does Ana work", user="u", as_of=at, kinds=["fact"], k=50)
        assert sorted(h.memory.id for h in hits) == sorted(m.id for m in valid)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=12))
def test_random_chains_stay_consistent(steps: list[tuple[str, int, int, int]]) -> None:
    with _folder() as root:
        path = root / "s"
        store = ltm.open(path, embedder="hash")
        try:
            store.add("Ana works at Acme", user="u", kind="fact", valid_from=BASE)
            n_copy = 0
            for op, pick, word, days in steps:
                facts = store.list("u", kinds=["fact"], limit=1000).memories
                target = facts[pick % len(facts)] if facts else None
                if op == "supersede" and target is not None:
                    start = (target.valid_from or BASE) + timedelta(days=days)
                    try:
                        store.add(f"Ana works at {WORDS[word]}", user="u", kind="fact",
                                  valid_from=start, supersedes=target.id)
                    except InvalidInput:
                        assert target.superseded_by is not None or \
                            start > datetime(9999, 1, 1, tzinfo=timezone.utc)
                elif op == "forget" and target is not None:
                    try:
                        store.forget(target.id, user="u")
                    except NotFound:
                        raise AssertionError("a listed fact could not be forgotten") from None
                elif op == "gc":
                    store.gc()
                elif op == "roundtrip":
                    buf = io.StringIO()
                    store.export(buf, user="u")
                    store.close()
                    n_copy += 1
                    path = root / f"copy{n_copy}"
                    store = ltm.open(path, embedder="hash")
                    store.import_(io.StringIO(buf.getvalue()))
                _check(store)
        finally:
            store.close()
