"""A forget erases a user's memories from this process's caches too, not only from the files:
the per-user caches (rows, postings, counts, views) keep entries across other users' writes,
so a long-running server held a forgotten memory's text until its cache filled."""

from __future__ import annotations

from pathlib import Path

import ltm

SECRET = "my secret diagnosis is zebrafish syndrome"


def _held(backend: object) -> str:
    caches = [getattr(backend, name) for name in (
        "_held_cache", "_postings_cache", "_count_cache", "_scope_df_cache", "_scope_cache",
        "_scope_avgdl_cache", "_dense_places")]
    return repr(caches)


def test_forget_drops_the_users_cached_rows_and_postings(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        mem.add(SECRET, user="alice")
        mem.add("alice likes tea", user="alice")
        mem.add("bob rides a bike", user="bob")
        assert mem.search("zebrafish diagnosis", user="alice", k=2)[0].memory.text == SECRET
        assert mem.search("bike", user="bob", k=1)
        assert "zebrafish" in _held(mem.backend)  # (the row and the term were cached)
        mem.forget(user="alice")
        assert mem.search("bike", user="bob", k=1)  # another user's search goes on
        held = _held(mem.backend)
        assert "zebrafish" not in held
        assert "alice" not in held
