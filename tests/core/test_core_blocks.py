"""Large batches are embedded block by block on the store's worker thread while the rows already
embedded are written: the result must be the batch written as one call would write it, and a
failure in any block must leave the store as it was."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import ltm
from ltm.embed.hashing import HashingEmbedder
from ltm.engine import EMBED_BLOCK as _EMBED_BLOCK
from ltm.errors import InvalidInput, StoreError

TOPICS = ["moving to Lisbon", "green tea", "a chess club", "the dentist", "a red bicycle"]


def _items(n: int, users: int = 3) -> list[dict[str, object]]:
    return [{"text": f"turn {i} was about {TOPICS[i % len(TOPICS)]}", "user": f"u{i % users}",
             "session": f"s{i % users}"} for i in range(n)]


class _Spoiled(HashingEmbedder):
    """Hashing vectors, except that call number ``bad`` returns a NaN."""

    def __init__(self, bad: int) -> None:
        super().__init__()
        self.bad = bad
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = super().embed(texts)
        if self.calls == self.bad:
            out[len(texts) // 2, 0] = np.nan
        return out


def test_a_batch_of_several_blocks_is_stored_as_one_call_would(store: ltm.MemoryStore) -> None:
    items = _items(2 * _EMBED_BLOCK + 37)
    mems = store.add_many(items)
    assert [m.text for m in mems] == [it["text"] for it in items]
    want = store.embedder.embed([str(it["text"]) for it in items])
    for u in ("u0", "u1", "u2"):
        mine = [(i, m) for i, m in enumerate(mems) if m.user == u]
        # episodes are numbered within their session across block boundaries
        assert [m.seq for _, m in mine] == list(range(len(mine)))
        got = store.backend.vectors([m.id for _, m in mine], u)
        for i, m in mine:
            np.testing.assert_allclose(got[m.id], want[i], atol=1e-6)
    assert store.stats()["memories"] == len(items)
    last = str(next(it for it in reversed(items) if it["user"] == "u0")["text"])
    hit = store.search(last, user="u0", k=1)
    assert hit and hit[0].memory.text == last
    assert [e.event for e in store.history(mems[-1].id, user=mems[-1].user)] == ["created"]


@pytest.mark.parametrize("bad", [2, 3, 4])  # call 1 is the single add
def test_a_bad_vector_in_any_block_writes_nothing(tmp_path: Path, bad: int) -> None:
    with ltm.open(tmp_path / "s", embedder=_Spoiled(bad)) as store:
        store.add("kept from before", user="u0", session="s0")
        with pytest.raises(InvalidInput, match="NaN"):
            store.add_many(_items(2 * _EMBED_BLOCK + 37))
        assert store.stats()["memories"] == 1
        # the session numbering continues from what was committed
        again = store.add_many(_items(_EMBED_BLOCK + 1, users=1))
        assert again[0].seq == 1 and again[-1].seq == _EMBED_BLOCK + 1


def test_a_bad_item_after_the_first_block_writes_nothing(store: ltm.MemoryStore) -> None:
    items = _items(_EMBED_BLOCK + 10)
    items[_EMBED_BLOCK + 5] = {"text": "", "user": "u0"}
    with pytest.raises(InvalidInput, match="text"):
        store.add_many(items)
    assert store.stats()["memories"] == 0
    assert len(store.add_many(_items(_EMBED_BLOCK + 10))) == _EMBED_BLOCK + 10


def test_blocks_that_do_not_match_the_rows_are_refused(store: ltm.MemoryStore) -> None:
    from ltm.backends.base import NewRow

    rows = [store.engine.row(f"row {i}", user="u", now=1_700_000_000_000_000) for i in range(3)]
    vecs = store.embedder.embed([r.text for r in rows])
    with pytest.raises(ValueError, match="vectors for 3 rows"):
        store.backend.insert(rows, iter([vecs[:2]]))
    with pytest.raises(ValueError, match="vectors for 3 rows"):
        store.backend.insert(rows, iter([vecs, vecs[:1]]))
    assert store.stats()["memories"] == 0
    assert isinstance(rows[0], NewRow)


def test_a_closed_store_refuses_a_large_batch(open_store) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    store.add_many(_items(_EMBED_BLOCK + 1))
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.add_many(_items(_EMBED_BLOCK + 1))


def test_large_batches_from_several_threads(store: ltm.MemoryStore) -> None:
    """The worker thread is shared: batches from several threads each get their own vectors,
    in their own transaction, and sessions stay numbered without gaps."""
    import threading

    errors: list[BaseException] = []

    def write(t: int) -> None:
        try:
            for b in range(3):
                store.add_many([{"text": f"thread {t} batch {b} turn {i} about "
                                 f"{TOPICS[i % len(TOPICS)]}", "user": f"t{t}", "session": "s"}
                                for i in range(_EMBED_BLOCK + 40)])
                store.search("green tea", user=f"t{(t + 1) % 3}", k=3)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    per = 3 * (_EMBED_BLOCK + 40)
    for t in range(3):
        mems = [m for m, _ in store.backend.iter_export(f"t{t}", with_vectors=False)]
        assert sorted(m.seq for m in mems) == list(range(per))
        got = store.backend.vectors([m.id for m in mems[:50]], f"t{t}")
        want = store.embedder.embed([m.text for m in mems[:50]])
        for m, w in zip(mems[:50], want):
            np.testing.assert_allclose(got[m.id], w, atol=1e-6)


def test_a_long_conversation_is_stored_as_one_call_would(store: ltm.MemoryStore) -> None:
    """add_conversation (and every other write of many rows) takes the same block path."""
    turns = [{"role": "ana" if i % 2 else "bob", "content": f"turn {i} about {TOPICS[i % 5]}"}
             for i in range(2 * _EMBED_BLOCK + 3)]
    mems = store.add_conversation(turns, user="u", session="long")
    assert [m.seq for m in mems] == list(range(len(turns)))
    want = store.embedder.embed([f"{t['role']}: {t['content']}" for t in turns])
    got = store.backend.vectors([m.id for m in mems], "u")
    for m, w in zip(mems, want):
        np.testing.assert_allclose(got[m.id], w, atol=1e-6)


def test_a_forked_child_embeds_large_batches(tmp_path: Path) -> None:
    """A child forked after the worker thread started gets a worker of its own (it inherits
    the executor but not its thread) instead of waiting for vectors forever."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    with ltm.open(tmp_path / "parent", embedder="hash") as store:
        store.add_many(_items(_EMBED_BLOCK + 5))  # the worker thread exists now

        def child() -> None:
            with ltm.open(tmp_path / "child", embedder="hash") as other:
                other.engine._worker, other.engine._worker_pid = store.engine._worker, store.engine._worker_pid
                n = len(other.add_many(_items(2 * _EMBED_BLOCK + 3)))
            raise SystemExit(0 if n == 2 * _EMBED_BLOCK + 3 else 1)

        proc = multiprocessing.get_context("fork").Process(target=child)
        proc.start()
        proc.join(60)
        if proc.is_alive():
            proc.kill()
            proc.join()
        assert proc.exitcode == 0
