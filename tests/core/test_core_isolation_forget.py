"""Users are isolated on every operation; forget erases for real; export/import round-trips."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ltm
from ltm.errors import InvalidInput, NotFound
from ltm.validate import has_content


@pytest.fixture
def two_users(store: ltm.MemoryStore) -> tuple[ltm.MemoryStore, ltm.Memory, ltm.Memory]:
    a = store.add("Alice's bank PIN hint is the cat's birthday", user="alice", session="s")
    b = store.add("Bob's bank PIN hint is his first car", user="bob", session="s")
    return store, a, b


def test_search_never_crosses_users(two_users) -> None:  # type: ignore[no-untyped-def]
    store, a, b = two_users
    for q in ("bank PIN hint", "car", "cat birthday"):
        assert {h.memory.user for h in store.search(q, user="alice", k=50)} == {"alice"}
        assert {h.memory.user for h in store.search(q, user="bob", k=50)} <= {"bob"}
    assert store.search("bank", user="carol") == []
    assert "his first car" not in store.context("bank", user="alice", budget_tokens=500)


def test_get_update_history_forget_never_cross_users(two_users) -> None:  # type: ignore[no-untyped-def]
    store, a, b = two_users
    with pytest.raises(NotFound):
        store.get(b.id, user="alice")
    with pytest.raises(NotFound):
        store.update(b.id, user="alice", text="hacked")
    with pytest.raises(NotFound):
        store.history(b.id, user="alice")
    with pytest.raises(NotFound):
        store.forget(b.id, user="alice")
    receipt = store.forget(user="alice", session="s")
    assert receipt.ids == [a.id]
    assert store.get(b.id, user="bob").text == b.text


def test_export_of_one_user_holds_only_that_user(two_users) -> None:  # type: ignore[no-untyped-def]
    store, a, b = two_users
    buf = io.StringIO()
    assert store.export(buf, user="alice") == 1
    assert "Bob" not in buf.getvalue() and a.text in buf.getvalue()


def test_forget_receipt_and_audit(store: ltm.MemoryStore) -> None:
    e = store.add("ep", user="u", session="s1")
    f = store.add("fact from ep", user="u", kind="fact", sources=[e.id])
    keep = store.add("other", user="u", session="s2")
    receipt = store.forget(user="u", session="s1")
    # the fact whose only source is gone is forgotten too
    assert receipt.count == 2
    assert receipt.ids_by_kind == {"episode": [e.id], "fact": [f.id]}
    assert [ev.event for ev in store.history(e.id, user="u")] == ["deleted"]
    assert store.history(e.id, user="u")[0].data is None
    assert store.get(keep.id, user="u")
    assert store.stats()["deleted_total"] == 2
    everything = store.forget(user="u")
    assert everything.ids == [keep.id]
    assert store.stats()["memories"] == 0


def test_forget_before(store: ltm.MemoryStore) -> None:
    old = store.add("old", user="u", time="2020-01-01")
    new = store.add("new", user="u", time="2026-01-01")
    assert store.forget(user="u", before="2025-01-01").ids == [old.id]
    assert store.get(new.id, user="u")


SECRET = "Zanzibar-octopus-7731 is my recovery phrase"


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_forgotten_text_is_in_no_file(store_path: Path) -> None:
    with ltm.open(store_path) as m:
        filler = [{"text": f"ordinary note number {i} about gardening", "user": "u"}
                  for i in range(500)]
        m.add_many(filler[:250])
        secret = m.add(SECRET, user="u", session="sx", metadata={"speaker": "Zanzibar-octopus"})
        m.add_many(filler[250:])
        m.update(secret.id, user="u", importance=0.9)
        assert m.search("recovery phrase", user="u", k=1)[0].memory.id == secret.id
        assert b"Zanzibar" in _all_bytes(store_path) or True  # may still be only in the WAL
        m.forget(secret.id, user="u")
        assert m.search("Zanzibar octopus recovery phrase", user="u", k=5)[0].memory.id \
            != secret.id
    raw = _all_bytes(store_path)
    for needle in (b"Zanzibar", b"zanzibar", b"octopus", b"7731", b"recovery phrase"):
        assert needle not in raw, needle


def test_forgotten_text_is_in_no_file_while_open(store_path: Path) -> None:
    with ltm.open(store_path) as m:
        s = m.add(SECRET, user="u")
        m.add("unrelated", user="u")
        m.forget(s.id, user="u")
        raw = _all_bytes(store_path)
        assert b"Zanzibar" not in raw and b"octopus" not in raw


def test_pages_freed_before_the_forget_are_zeroed_by_it(store_path: Path) -> None:
    """Ordinary writes do not zero the pages they free (secure_delete FAST): merging full-text
    segments frees pages that still hold the terms of live memories. Forgetting one of them
    later must leave its words in no file, even where nothing reuses those pages."""
    with ltm.open(store_path) as m:
        s = m.add(SECRET + " " + " ".join(f"octopus{i}" for i in range(300)), user="u",
                  session="sx")
        for b in range(24):
            m.add_many([{"text": f"ordinary note {b}-{i} about gardening", "user": "u",
                         "session": "bulk"} for i in range(40)])
        conn = m.backend.conn
        with m.backend.atomic():  # what an automatic merge does, all at once
            conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
        assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 2  # FAST
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] > 0
        # most of the index goes, so the merge of what is left reuses few free pages
        m.backend.forget("u", ids=None, session="bulk", before=None, compact=False)
        m.forget(s.id, user="u")
    raw = _all_bytes(store_path)
    for needle in (b"zanzibar", b"octopus", b"7731", b"recovery"):
        assert needle not in raw, needle


def test_export_import_roundtrip_exact(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "a") as m:
        m.add_conversation([{"role": "user", "content": "hi there"},
                            {"role": "bot", "content": "hello, how can I help?"}],
                           user="u1", session="s", time="2026-01-02T03:04:05.678901Z")
        src = m.add("base", user="u1")
        m.add("a fact", user="u1", kind="fact", sources=[src.id], importance=0.25,
              metadata={"nested": {"x": [1, 2.5, None]}}, pinned=True,
              expires_at="2030-01-01")
        m.add("other user", user="u2", agent="bot-7")
        buf = io.StringIO()
        n = m.export(buf)
        originals = {mem.id: mem for mem, _ in m.backend.iter_export(None)}
    assert n == 5
    buf.seek(0)
    with ltm.open(tmp_path / "b") as m2:
        report = m2.import_(buf)
        assert (report.imported, report.skipped, report.reembedded) == (5, 0, 0)
        copies = {mem.id: mem for mem, _ in m2.backend.iter_export(None)}
        assert copies == originals
        buf.seek(0)
        assert m2.import_(buf).skipped == 5  # importing twice adds nothing
        out = io.StringIO()
        m2.export(out)
    assert out.getvalue() == buf.getvalue()


def test_import_without_embeddings_reembeds(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "a") as m:
        m.add("the red bicycle is in the garage", user="u")
        buf = io.StringIO()
        m.export(buf, embeddings=False)
    buf.seek(0)
    with ltm.open(tmp_path / "b") as m2:
        assert m2.import_(buf).reembedded == 1
        assert m2.search("bike", user="u")[0].signals["dense"] > 0.3


def test_import_rejects_garbage(store: ltm.MemoryStore) -> None:
    with pytest.raises(InvalidInput):
        store.import_(io.StringIO("hello\n"))
    header = json.dumps({"ltm_export": 1, "embedder": "x", "dim": 3})
    with pytest.raises(InvalidInput, match="line 2"):
        store.import_(io.StringIO(header + "\n{\"id\": \"nope\"}\n"))
    assert store.stats()["memories"] == 0


_texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                 min_size=1, max_size=40).filter(has_content)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(st.tuples(_texts, st.sampled_from(["u1", "u2"]),
                                st.one_of(st.none(), st.floats(0, 1)),
                                st.integers(0, 2_000_000_000),
                                st.dictionaries(st.text(min_size=1, max_size=5),
                                                st.integers() | st.text(max_size=5), max_size=2)),
                      min_size=1, max_size=8))
def test_export_import_roundtrip_property(tmp_path_factory: pytest.TempPathFactory,
                                          items: list) -> None:  # type: ignore[type-arg]
    base = tmp_path_factory.mktemp("rt")
    with ltm.open(base / "a", embedder="hash") as m:
        m.add_many([{"text": t, "user": u, "importance": imp, "time": ts, "metadata": md}
                    for t, u, imp, ts, md in items])
        buf = io.StringIO()
        m.export(buf)
        originals = sorted(mem for mem, _ in m.backend.iter_export(None)) \
            if False else [mem for mem, _ in m.backend.iter_export(None)]
    buf.seek(0)
    with ltm.open(base / "b", embedder="hash") as m2:
        m2.import_(buf)
        assert [mem for mem, _ in m2.backend.iter_export(None)] == originals
