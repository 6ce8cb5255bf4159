"""Isolation, forgetting and export/import on every backend, and moving a store between
backends (SQLite -> PostgreSQL -> SQLite) without loss."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ltm
from ltm.errors import InvalidInput, NotFound
from ltm.validate import has_content

SECRET = "My recovery phrase is octopus Zanzibar 7731"


@pytest.fixture
def two_users(copen: Callable[..., ltm.MemoryStore]
              ) -> tuple[ltm.MemoryStore, ltm.Memory, ltm.Memory]:
    store = copen()
    a = store.add("Alice's bank PIN hint is the cat's birthday", user="alice", session="s")
    b = store.add("Bob's bank PIN hint is his first car", user="bob", session="s")
    return store, a, b


def test_search_never_crosses_users(two_users: tuple[ltm.MemoryStore, ltm.Memory, ltm.Memory]
                                    ) -> None:
    store, a, b = two_users
    for q in ("bank PIN hint", "car", "cat birthday", "first car bob"):
        assert {h.memory.id for h in store.search(q, user="alice", k=50)} == {a.id}
        assert {h.memory.id for h in store.search(q, user="bob", k=50)} == {b.id}
    assert store.search("bank", user="carol") == []
    assert "first car" not in store.context("bank car", user="alice", budget_tokens=500)


def test_get_update_history_forget_export_never_cross_users(
        two_users: tuple[ltm.MemoryStore, ltm.Memory, ltm.Memory]) -> None:
    store, a, b = two_users
    with pytest.raises(NotFound):
        store.get(b.id, user="alice")
    with pytest.raises(NotFound):
        store.update(b.id, user="alice", text="hacked")
    with pytest.raises(NotFound):
        store.history(b.id, user="alice")
    with pytest.raises(NotFound):
        store.forget(b.id, user="alice")
    assert store.forget(user="alice", session="s").ids == [a.id]
    assert store.get(b.id, user="bob").text == b.text
    buf = io.StringIO()
    assert store.export(buf, user="bob") == 1
    lines = [json.loads(x) for x in buf.getvalue().splitlines()[1:]]
    assert [x["user"] for x in lines] == ["bob"]


def _raw_export(store: ltm.MemoryStore, user: str | None = None) -> str:
    buf = io.StringIO()
    store.export(buf, user=user)
    return buf.getvalue()


def test_forget_by_id_session_before_and_user(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    s = store.add(SECRET, user="u", session="s1", time="2026-01-01")
    turns = store.add_conversation([{"content": "first turn"}, {"content": "second turn"}],
                                   user="u", session="s2", time="2026-02-01")
    late = store.add("a late note", user="u", time="2026-05-01")
    other = store.add(SECRET, user="v")

    receipt = store.forget(s.id, user="u")
    assert receipt.count == 1 and receipt.ids_by_kind == {"episode": [s.id]}
    with pytest.raises(NotFound):
        store.get(s.id, user="u")
    assert all(h.memory.id != s.id for h in store.search("recovery phrase octopus", user="u"))
    assert "Zanzibar" not in _raw_export(store, "u")
    events = store.history(s.id, user="u")
    assert [e.event for e in events] == ["deleted"] and events[0].data is None
    assert store.get(other.id, user="v").text == SECRET  # the other user's copy stays

    assert store.forget(user="u", session="s2").ids == [t.id for t in turns]
    assert store.forget(user="u", before="2026-06-01").ids == [late.id]
    assert store.forget(user="u").count == 0
    assert store.stats()["deleted_total"] == 4
    assert store.forget(user="v").ids == [other.id]
    assert store.stats()["memories"] == 0
    assert _raw_export(store).count("\n") == 1  # the header only


def test_forget_cascades_to_derived_memories(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    e1 = store.add("went hiking on Sunday", user="u")
    e2 = store.add("hiked again on Monday", user="u")
    keep = store.add("cooked pasta", user="u")
    summary = store.add("u hikes a lot", user="u", kind="summary", sources=[e1.id, e2.id])
    mixed = store.add("u hikes and cooks", user="u", kind="summary", sources=[e1.id, keep.id])
    receipt = store.forget(e1.id, user="u")
    assert receipt.ids_by_kind == {"episode": [e1.id]}
    receipt = store.forget(e2.id, user="u")
    assert receipt.ids_by_kind == {"episode": [e2.id], "summary": [summary.id]}
    # a derived memory with a surviving source stays, without the erased source
    left = store.get(mixed.id, user="u")
    assert keep.id in left.sources and e1.id not in left.sources


def test_export_import_roundtrip_same_backend(copen: Callable[..., ltm.MemoryStore],
                                              new_location: Callable[[str], str | Path],
                                              backend_kind: str) -> None:
    src = copen()
    src.add_conversation([{"role": "user", "content": "hi there"},
                          {"role": "bot", "content": "hello, how can I help?"}],
                         user="u1", session="s", time="2026-01-02T03:04:05.678901Z")
    base = src.add("base", user="u1")
    src.add("a fact", user="u1", kind="fact", sources=[base.id], importance=0.25,
            metadata={"nested": {"x": [1, 2.5, None]}, "big": 1.5e300, "z": "ü"},
            pinned=True, expires_at="2030-01-01")
    src.add("other user", user="u2", agent="bot-7")
    src.search("hello", user="u1")  # access counts travel too
    src.close()
    src = copen()
    text = _raw_export(src)
    with ltm.open(new_location(backend_kind)) as dst:
        report = dst.import_(io.StringIO(text))
        assert (report.imported, report.skipped, report.reembedded) == (5, 0, 0)
        assert _raw_export(dst) == text
        assert dst.import_(io.StringIO(text)).skipped == 5
        hits = dst.search("how can I help", user="u1", k=1)
        assert hits[0].memory.text == "hello, how can I help?"


@pytest.mark.postgres
def test_sqlite_to_postgres_to_sqlite_is_lossless(new_location: Callable[[str], str | Path]
                                                  ) -> None:
    with ltm.open(new_location("sqlite")) as lite:
        lite.add_conversation([{"role": "user", "content": "I adopted a cat named Miso"},
                               {"role": "assistant", "content": "What colour is Miso?"}],
                              user="alice", session="c1", time="2026-01-05T08:00")
        src = lite.add("Miso is orange", user="alice", kind="fact", importance=0.7,
                       metadata={"k": [1, {"deep": None}], "f": 0.1}, valid_from="2026-01-05")
        lite.add("Miso's vet is Dr Lee", user="alice", kind="summary", sources=[src.id])
        lite.add("bob's note", user="bob", expires_at="2031-01-01", pinned=True)
        lite.forget(user="bob")
        lite.add("bob's second note", user="bob", agent="helper")
        original = _raw_export(lite)
    with ltm.open(new_location("postgres")) as pg:
        assert pg.import_(io.StringIO(original)).imported == 5
        via_pg = _raw_export(pg)
        assert via_pg == original
        assert pg.search("what colour is the cat", user="alice", k=1)[0].memory.text in {
            "What colour is Miso?", "Miso is orange", "I adopted a cat named Miso"}
    with ltm.open(new_location("sqlite")) as back:
        back.import_(io.StringIO(via_pg))
        assert _raw_export(back) == original


def test_import_rejects_garbage(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    for bad in ("", "not json\n", '{"ltm_export": 99}\n',
                '{"ltm_export": 1}\n{"id": "nope", "user": "u", "text": "x"}\n'):
        with pytest.raises(InvalidInput):
            store.import_(io.StringIO(bad))
    assert store.stats()["memories"] == 0


_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                min_size=1, max_size=40).filter(has_content)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=False, allow_infinity=False), _text)
_meta = st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda s: "\x00" not in s),
                        st.one_of(_scalar, st.lists(_scalar, max_size=3)), max_size=4)
_item = st.fixed_dictionaries({
    "text": _text, "metadata": _meta,
    "importance": st.one_of(st.none(), st.floats(0, 1)),
    "time": st.integers(0, 4_000_000_000_000_000).map(lambda us: us / 1_000_000),
    "kind": st.sampled_from(["episode", "fact", "summary"]),
    "session": st.one_of(st.none(), st.sampled_from(["s1", "s2"])),
    "pinned": st.booleans()})


@pytest.mark.postgres
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(_item, min_size=1, max_size=6))
def test_cross_backend_roundtrip_property(new_location: Callable[[str], str | Path],
                                          items: list[dict[str, object]]) -> None:
    with ltm.open(new_location("sqlite"), embedder="hash") as lite, \
            ltm.open(new_location("postgres"), embedder="hash") as pg:
        lite.add_many([{**it, "user": "p"} for it in items])
        original = _raw_export(lite)
        pg.import_(io.StringIO(original))
        assert _raw_export(pg) == original
        # and the other way: written on Postgres, moved to SQLite
        pg.add_many([{**it, "user": "q"} for it in items])
        from_pg = _raw_export(pg, "q")
        lite.import_(io.StringIO(from_pg))
        assert _raw_export(lite, "q") == from_pg
