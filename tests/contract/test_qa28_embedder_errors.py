"""A custom embedder that fails (session 13, helper 64), on every backend: its own exception
(a RuntimeError of a user's ``embed()``) and an answer that is not one vector a text (None,
strings, ragged lists, another number of rows, a flat array) escaped raw from add, add_many,
add_conversation, update, search and context (a 500 over REST, a traceback in the CLI). Now
they are ``EmbedderError`` naming the embedder, and nothing is written: also when the failure
comes in the second block of a large batch embedded while the first is written."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
import pytest

import ltm
from ltm.errors import EmbedderError, LtmError


class _Flaky:
    """One vector a text, unless a text holds "boom": then what ``mode`` says."""

    name = "flaky"
    dim = 8
    in_process = True  # (large batches are embedded block by block on the worker thread)

    def __init__(self) -> None:
        self.mode = "raise"
        self.down = False  # every call fails

    def embed(self, texts: Sequence[str]) -> object:
        if self.down or any("boom" in t for t in texts):
            n = len(texts)
            return {"raise": lambda: (_ for _ in ()).throw(RuntimeError("model crashed")),
                    "none": lambda: None,
                    "strings": lambda: [["x"] * 8 for _ in texts],
                    "ragged": lambda: [[0.5] * 8] * max(n - 1, 1) + [[0.5] * 3],
                    "rows": lambda: np.ones((n + 1, 8), np.float32),
                    "flat": lambda: np.ones(8 * n, np.float32)}[self.mode]()
        out = np.zeros((len(texts), 8), np.float32)
        for i, text in enumerate(texts):
            out[i, sum(map(ord, text)) % 8] = 1.0
        return out


def _export(store: ltm.MemoryStore) -> str:
    buf = io.StringIO()
    store.export(buf)
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["raise", "none", "strings", "ragged", "rows", "flat"])
def test_a_failing_embedder_is_embedder_error(copen: Callable[..., ltm.MemoryStore],
                                              mode: str) -> None:
    emb = _Flaky()
    store = copen(embedder=emb)
    kept = store.add("I moved to Lisbon", user="alice")
    dump = _export(store)
    emb.mode = mode
    big = [{"text": f"note {i}", "user": "alice"} for i in range(300)]
    big[200]["text"] = "boom"  # in the second block: the first is written meanwhile
    calls: list[Callable[[], object]] = [
        lambda: store.add("boom", user="alice"),
        lambda: store.add_many([{"text": "fine", "user": "alice"},
                                {"text": "boom", "user": "alice"}]),
        lambda: store.add_many(big),
        lambda: store.add_conversation([{"role": "user", "content": "hi"},
                                        {"role": "assistant", "content": "boom"}],
                                       user="alice", session="s1"),
        lambda: store.update(kept.id, user="alice", text="boom now"),
        lambda: store.search("boom", user="alice"),
        lambda: store.search("boom", user="alice", kinds=["episode"]),
        lambda: store.context("boom", user="alice"),
    ]
    for call in calls:
        with pytest.raises(EmbedderError, match="'flaky'") as got:
            call()
        assert got.value.embedder == "flaky" and isinstance(got.value, LtmError)
    assert _export(store) == dump  # nothing written, nothing half
    assert store.user_stats("alice").memories == 1
    assert [h.memory.id for h in store.search("I moved to Lisbon", user="alice")] == [kept.id]


def test_the_cause_is_kept(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder=_Flaky())
    with pytest.raises(EmbedderError, match="RuntimeError: model crashed") as got:
        store.add("boom", user="alice")
    assert isinstance(got.value.__cause__, RuntimeError)


def test_a_forget_does_not_wait_on_the_embedder(copen: Callable[..., ltm.MemoryStore]) -> None:
    """Forgetting an episode a summary was made from rebuilds the summary from the rest
    (derived_on_source_loss 'rederive'), which embedded its new text inside the forget: with
    the embedder down (a remote one), the forget failed and nothing was erased. Now the
    summary takes the mean of its sources' vectors (its metadata says so) and the erasure
    goes through; the rebuilt text no longer holds what was forgotten."""
    emb = _Flaky()
    store = copen(embedder=emb)
    eps = [store.add(f"day {i}: the hotel in Lisbon had a view of the river", user="alice",
                     session="s1") for i in range(4)]
    secret = store.add("my passport number is X1234567", user="alice", session="s1")
    summary = store.consolidate("s1", user="alice")
    assert summary is not None and secret.id in summary.sources
    emb.down = True
    assert store.forget(secret.id, user="alice").count == 1
    emb.down = False
    rebuilt = store.get(summary.id, user="alice")
    assert secret.id not in rebuilt.sources and len(rebuilt.sources) == len(eps)
    assert "passport" not in rebuilt.text and "X1234567" not in _export(store)
    assert rebuilt.metadata["ltm_summary"]["vector"] == "sources_mean"
    with pytest.raises(ltm.NotFound):
        store.get(secret.id, user="alice")
    assert store.search("hotel view of the river", user="alice", k=10)
    assert store.reindex(embeddings=True)


def test_gc_erases_while_the_embedder_is_down(copen: Callable[..., ltm.MemoryStore]) -> None:
    """gc consolidates old sessions (embedding each summary) between the expiry of one user
    and that of the next: with the embedder down, the first user's consolidation raised and
    the users after it kept what had expired. Now the consolidation waits for the next gc
    (``report.deferred`` says why) and every user's expiry and capacity go through."""
    emb = _Flaky()
    spec = ('{"episode": {"consolidate_after_days": 30, "consolidate_min_turns": 3}, '
            '"fact": {"ttl_days": 1}}')
    store = copen(embedder=emb, retention=spec)
    for user in ("ana", "bob"):
        for i in range(4):
            store.add(f"{user}'s day {i} in Kyoto", user=user, session="s1",
                      time=f"2024-01-0{i + 1}")
        store.add(f"{user} is vegetarian", user=user, kind="fact")
    emb.down = True
    report = store.gc(now="2099-01-01")
    assert sorted(report.deferred) == ["ana", "bob"] and report.consolidated == {}
    assert "'flaky' failed" in report.deferred["bob"]
    assert len(report.expired) == 2
    assert {u: store.user_stats(u).memories for u in ("ana", "bob")} == {"ana": 4, "bob": 4}
    emb.down = False
    again = store.gc(now="2099-01-01")
    assert len(again.consolidated) == 2 and again.deferred == {}
