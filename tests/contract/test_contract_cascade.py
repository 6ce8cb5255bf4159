"""The forget cascade on every backend: it finds the derived memories through the backend's
``derived_from`` query (not a read of the whole user), so it must still reach each memory
derived from what a forget erased, transitively, and only those."""

from __future__ import annotations

from collections.abc import Callable

import ltm


def test_cascade_reaches_derived_memories_transitively(copen: Callable[..., ltm.MemoryStore]
                                                      ) -> None:
    store = copen(embedder="hash", derived_on_source_loss="flag")
    e1, e2, e3 = (store.add(f"episode {i}", user="u", session="s") for i in (1, 2, 3))
    store.add_many([{"text": f"filler {i}", "user": "u", "session": f"f{i % 7}"}
                    for i in range(150)])
    f1 = store.add("fact from e1", user="u", kind="fact", sources=[e1.id])
    f2 = store.add("fact from e1 and e2", user="u", kind="fact", sources=[e1.id, e2.id])
    s1 = store.add("summary of f1", user="u", kind="summary", sources=[f1.id])
    s2 = store.add("summary of f2 and e3", user="u", kind="summary", sources=[f2.id, e3.id])
    v_ep = store.add("episode of v", user="v")
    v_fact = store.add("fact of v", user="v", kind="fact", sources=[v_ep.id])
    n_before = store.stats()["memories"]

    # e1 takes f1 (its only source) and s1 (whose only source is f1); f2 keeps e2
    receipt = store.forget(e1.id, user="u")
    assert receipt.ids_by_kind == {"episode": [e1.id], "fact": [f1.id], "summary": [s1.id]}
    assert store.stats()["memories"] == n_before - 3
    flagged = store.get(f2.id, user="u")
    assert flagged.sources == (e2.id,)
    assert flagged.metadata["ltm_stale"] is True and flagged.metadata["ltm_sources_lost"] == 1
    untouched = store.get(s2.id, user="u")
    assert untouched.sources == (f2.id, e3.id) and "ltm_stale" not in untouched.metadata

    # e2 was f2's last source: f2 goes, and s2 (which keeps e3) is flagged
    receipt = store.forget(e2.id, user="u")
    assert receipt.ids_by_kind == {"episode": [e2.id], "fact": [f2.id]}
    left = store.get(s2.id, user="u")
    assert left.sources == (e3.id,) and left.metadata["ltm_sources_lost"] == 1

    # a session forget cascades like an id forget; the other user is never touched
    receipt = store.forget(user="u", session="s")
    assert receipt.ids_by_kind == {"episode": [e3.id], "summary": [s2.id]}
    assert store.get(v_fact.id, user="v").sources == (v_ep.id,)
    assert "ltm_stale" not in store.get(v_fact.id, user="v").metadata
    assert store.forget(user="u").count == 150
    assert store.stats()["memories"] == 2


def test_cascade_with_many_derived_memories(copen: Callable[..., ltm.MemoryStore]) -> None:
    """Every derived memory naming a forgotten source is found, however many there are, and
    those naming only other sources are left alone."""
    store = copen(embedder="hash", derived_on_source_loss="keep")
    eps = store.add_many([{"text": f"episode {i}", "user": "u"} for i in range(60)])
    target = eps[0].id
    facts = store.add_many(
        [{"text": f"fact {i}", "user": "u", "kind": "fact",
          "sources": [target] if i % 3 == 0 else [eps[1 + i % 59].id]} for i in range(45)])
    doomed = [f.id for i, f in enumerate(facts) if i % 3 == 0]
    receipt = store.forget(target, user="u")
    assert receipt.ids_by_kind == {"episode": [target], "fact": doomed}
    kept = {f.id for i, f in enumerate(facts) if i % 3}
    assert kept <= {m.id for m in store.list(user="u", limit=1000)}
