"""A large scope's HNSW graph is memory-mapped once saved: rows added or removed afterwards
are served beside it (exact scan, filtered results) and folded into the next saved graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltm.index.hnsw import HnswScope


def _unit(rng: np.random.Generator, n: int, dim: int = 16) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _exact(keys: np.ndarray, vecs: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    return [int(keys[i]) for i in np.argsort(-(vecs @ q), kind="stable")[:k]]


def test_mapped_graph_serves_pending_rows_and_saves_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    keys, vecs = np.arange(1, 801, dtype=np.int64), _unit(rng, 800)
    scope = HnswScope(16, ef_search=200)
    scope.add(keys, vecs)
    path = tmp_path / "hnsw-x.usearch"
    scope.epoch = 7
    scope.save(path, "fp")
    assert scope.mapped and len(scope) == 800  # save maps the graph it wrote

    loaded = HnswScope.load(path, 16, "fp", ef_search=200)
    assert loaded is not None and loaded.mapped and loaded.epoch == 7
    assert HnswScope.load(path, 16, "other store") is None

    new_keys, new_vecs = np.arange(801, 851, dtype=np.int64), _unit(rng, 50)
    loaded.add(new_keys, new_vecs)
    gone = np.array([5, 17, 400, 845], dtype=np.int64)  # three graph rows, one pending row
    loaded.remove(gone)
    assert len(loaded) == 800 + 50 - 4
    all_keys = np.concatenate([keys, new_keys])
    all_vecs = np.concatenate([vecs, new_vecs])
    alive = ~np.isin(all_keys, gone)
    agree = 0
    for j in range(40):
        q = new_vecs[j] if j < 20 else vecs[j * 7]  # pending rows must be found exactly
        got, scores = loaded.search(q, 10)
        assert not set(got.tolist()) & set(gone.tolist())
        assert np.all(np.diff(scores) <= 1e-6)  # best first
        if j < 20:
            assert int(got[0]) == int(new_keys[j])
        agree += len(set(got.tolist()) & set(_exact(all_keys[alive], all_vecs[alive], q, 10)))
    assert agree >= 0.95 * 400

    loaded.epoch = 9
    loaded.save(path, "fp")  # folds the pending rows into a new graph and maps it
    assert loaded.mapped and len(loaded) == 846
    again = HnswScope.load(path, 16, "fp", ef_search=200)
    assert again is not None and len(again) == 846 and again.epoch == 9
    got, _ = again.search(new_vecs[3], 5)
    assert int(got[0]) == int(new_keys[3])
    assert 17 not in again.search(vecs[16], 10)[0].tolist()
