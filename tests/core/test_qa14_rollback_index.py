"""A transaction that rolls back leaves the vector index and the read caches as the database is
(SQLite): reads inside ``engine.atomic()`` catch the index up with the transaction's own,
uncommitted writes; when it rolls back, those must not stay in the index (a row erased by the
rolled-back forget missing from dense search, later rows skipped because their log positions
were taken by the rolled-back ones), not even in the generation saved on close."""

from __future__ import annotations

from pathlib import Path

import pytest

import ltm
from ltm.backends.base import Filters


class Rollback(Exception):
    pass


def _dense_ids(mem: ltm.MemoryStore, text: str, user: str = "u", k: int = 3) -> list[str]:
    """The ids dense search ranks first for ``text``; the first holds ``text``'s own vector
    (cosine 1) when the text is stored."""
    vec = mem.embedder.embed([text])[0]
    hits = mem.backend.dense_search(vec, Filters(user=user, now=0), k)
    return [i for i, score in hits if score > 0.999] + ["-"] + [i for i, _ in hits]


@pytest.mark.parametrize("warm", [True, False], ids=["index-loaded", "index-cold"])
def test_forget_rolled_back_keeps_the_row_searchable_and_later_rows_too(
        tmp_path: Path, warm: bool) -> None:
    texts = [f"memory number {i} about topic{i}" for i in range(20)]
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        rows = mem.add_many([{"text": t, "user": "u"} for t in texts])
        assert _dense_ids(mem, texts[3])[0] == rows[3].id
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        if warm:  # the index loaded before the transaction, else first loaded inside it
            assert _dense_ids(mem, texts[3])[0] == rows[3].id
        with pytest.raises(Rollback):
            with mem.engine.atomic():
                mem.backend.forget("u", ids=[rows[3].id], session=None, before=None,
                                   compact=False)
                raise Rollback
        assert mem.get(rows[3].id, user="u").text == texts[3]
        assert _dense_ids(mem, texts[3])[0] == rows[3].id
        fresh = mem.add("fresh memory about a zebra", user="u")
        assert _dense_ids(mem, "fresh memory about a zebra")[0] == fresh.id
    with ltm.open(tmp_path / "s", embedder="hash") as mem:  # the saved generation too
        assert _dense_ids(mem, texts[3])[0] == rows[3].id
        assert _dense_ids(mem, "fresh memory about a zebra")[0] == fresh.id


@pytest.mark.parametrize("warm", [True, False], ids=["index-loaded", "index-cold"])
def test_add_and_search_rolled_back_leave_no_phantom(tmp_path: Path, warm: bool) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        mem.add_many([{"text": f"plain note {i}", "user": "u"} for i in range(80)])
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        if warm:
            mem.search("plain note", user="u")
        with pytest.raises(Rollback):
            with mem.engine.atomic():
                ghost = mem.add("phantom penguin parade", user="u")
                mem.search("penguin parade", user="u", k=1)  # reads inside the transaction
                raise Rollback
        assert "phantom" not in " ".join(h.memory.text for h in
                                         mem.search("phantom penguin parade", user="u"))
        assert ghost.id not in _dense_ids(mem, "phantom penguin parade", k=5)
        assert mem.user_stats("u").memories == 80
        later = mem.add("a later walrus", user="u")
        assert _dense_ids(mem, "a later walrus")[0] == later.id
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        assert ghost.id not in _dense_ids(mem, "phantom penguin parade", k=5)
        assert _dense_ids(mem, "a later walrus")[0] == later.id
