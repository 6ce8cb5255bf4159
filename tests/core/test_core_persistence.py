"""Persistence across processes, embedder identity, and the derived index's rebuild."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ltm
from ltm.embed.hashing import HashingEmbedder
from ltm.errors import EmbedderMismatch


def _run(code: str, store: Path) -> str:
    out = subprocess.run([sys.executable, "-c", code, str(store)], capture_output=True,
                         text=True, check=True, timeout=120)
    return out.stdout.strip()


def test_remembers_across_processes(store_path: Path) -> None:
    _run("import sys, ltm\n"
         "with ltm.open(sys.argv[1]) as m:\n"
         "    m.add('My sister Ana lives in Berlin', user='alice', session='s1')\n", store_path)
    found = _run("import sys, ltm\n"
                 "with ltm.open(sys.argv[1]) as m:\n"
                 "    print(m.search('where does my sister live', user='alice')[0].memory.text)\n",
                 store_path)
    assert found == "My sister Ana lives in Berlin"


def test_other_process_writes_are_seen_by_an_open_store(open_store) -> None:  # type: ignore[no-untyped-def]
    mem = open_store()
    mem.add("first note about apples", user="u")
    assert len(mem.search("apples", user="u")) == 1
    _run("import sys, ltm\n"
         "with ltm.open(sys.argv[1]) as m:\n"
         "    m.add('second note about apples', user='u')\n", mem.backend.folder)
    texts = {h.memory.text for h in mem.search("apples", user="u")}
    assert texts == {"first note about apples", "second note about apples"}


def test_embedder_mismatch_refused(store_path: Path) -> None:
    with ltm.open(store_path) as m:
        m.add("hello", user="a")
    with pytest.raises(EmbedderMismatch):
        ltm.open(store_path, embedder="hash")
    with pytest.raises(EmbedderMismatch):
        ltm.open(store_path, embedder=HashingEmbedder(64))
    with ltm.open(store_path) as m:  # the recorded embedder is used by default
        assert m.embedder.name.startswith("wordllama")
        assert m.stats()["memories"] == 1


@pytest.mark.parametrize("damage", ["delete", "truncate", "garbage"])
def test_index_rebuilt_when_missing_or_damaged(store_path: Path, damage: str) -> None:
    with ltm.open(store_path) as m:
        m.add_many([{"text": f"note {i} about topic {i % 7}", "user": "u"} for i in range(300)])
        m.add("the golden retriever is called Biscuit", user="u")
        before = [h.memory.id for h in m.search("dog name", user="u", k=5)]
    (vec,) = (store_path / "index").glob("gen-*/vectors.npy")  # the one current generation
    if damage == "delete":
        vec.unlink()
    elif damage == "truncate":
        data = vec.read_bytes()
        vec.write_bytes(data[: len(data) // 2])
    else:
        vec.write_bytes(b"not a numpy file at all")
    with ltm.open(store_path) as m:
        after = [h.memory.id for h in m.search("dog name", user="u", k=5)]
        assert after == before
    with ltm.open(store_path) as m:  # and the rebuilt index was saved again
        assert [h.memory.id for h in m.search("dog name", user="u", k=5)] == before


def test_stale_index_catches_up_after_crash(store_path: Path) -> None:
    # A process that adds and dies without close() leaves the saved index behind the database.
    with ltm.open(store_path) as m:
        m.add("old memory about cycling", user="u")
    _run("import sys, os, ltm\n"
         "m = ltm.open(sys.argv[1])\n"
         "m.add('new memory about sailing boats', user='u')\n"
         "os._exit(0)\n", store_path)
    with ltm.open(store_path) as m:
        hits = m.search("sailing", user="u", k=1)
        assert hits[0].memory.text == "new memory about sailing boats"
        assert hits[0].signals["dense"] > 0.2


def test_hnsw_serves_a_large_scope(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    emb = HashingEmbedder(32)
    with ltm.open(tmp_path / "s", embedder=emb, hnsw_min_scope=500) as m:
        vecs = rng.normal(size=(2000, 32)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        m.add_vectors([{"text": f"item {i}", "user": "big"} for i in range(2000)], vecs)
        m.add_vectors([{"text": "small", "user": "small"}], vecs[:1])
        q = vecs[123]
        got = m.backend.dense_search(q, ltm.store.Filters(user="big"), 10)
        assert got[0][1] == pytest.approx(1.0, abs=5e-3)  # the index may hold quantized copies
        assert m.stats()["hnsw_scopes"] == 1
        # filters still apply on the HNSW path
        first = got[0][0]
        assert m.get(first, user="big").text == "item 123"
    assert list((tmp_path / "s" / "index").glob("gen-*/hnsw-*.usearch"))
    with ltm.open(tmp_path / "s", embedder=emb, hnsw_min_scope=500) as m:
        got = m.backend.dense_search(q, ltm.store.Filters(user="big"), 10)
        assert m.get(got[0][0], user="big").text == "item 123"


def test_large_scope_search_keeps_conversation_structure(tmp_path: Path) -> None:
    """A scope above hnsw_min_scope takes the general path with fewer candidates: the answer
    turn, which shares no word with the question, still ranks first through its neighbour,
    and session mates that fail a filter stay out."""
    with ltm.open(tmp_path / "s", embedder="hash", hnsw_min_scope=300,
                  large_scope_candidates=40) as m:
        items = [{"text": f"filler note number {i} about groceries and errands",
                  "user": "big", "session": f"f{i // 10}"} for i in range(600)]
        m.add_many(items)
        m.add_conversation([{"role": "bob", "content": "what colour is the new kayak"},
                            {"role": "ana", "content": "bright turquoise with yellow stripes"}],
                           user="big", session="boat")
        m.add("the kayak trip is off", user="big", session="boat", kind="note")
        assert m.backend.scope_count("big") == 603
        hits = m.search("kayak colour", user="big", k=3, kinds=["episode"])
        texts = [h.memory.text for h in hits]
        assert texts[0] in {"what colour is the new kayak", "bright turquoise with yellow stripes"}
        assert "bright turquoise with yellow stripes" in texts
        assert "the kayak trip is off" not in texts  # a session mate of another kind
        assert all(h.memory.kind == "episode" for h in hits)


def test_large_scope_candidates_must_be_positive(tmp_path: Path) -> None:
    from ltm.errors import InvalidInput

    with pytest.raises(InvalidInput, match="large_scope_candidates"):
        ltm.open(tmp_path / "s", embedder="hash", large_scope_candidates=0)
