"""``ltm bench peers``: ltm beside the stores a user might pick instead, same data, same run.

One synthetic corpus (``ltm.bench.corpus``) is embedded once with the default embedder; the
same vectors, ids and user labels go into ltm and into each peer, in batches of ``--batch``:

- ltm: ``MemoryStore.add_vectors`` (SQLite + FTS5 + history + derived vector index);
  queries: the vector search of one user's scope (``backend.dense_search``).
- Chroma (embedded ``PersistentClient``, HNSW, cosine): ``where={"user": ...}``.
- LanceDB (embedded, exact scan, no ANN index at this size): ``.where(user = ...)`` prefilter.
- sqlite-vec (``vec0`` with ``user`` as partition key, via apsw): ``WHERE user = ? AND
  embedding MATCH ? AND k = 10``.
- hnswlib (in memory, HNSW ip): filtered ``knn_query(filter=...)``.
- FAISS (in memory, ``IndexFlatIP``): ``IDSelectorBatch`` over the user's ids.

Every query is top-10 inside one user's memories (what a memory store serves). Times are
reported as ratios peer / ltm (above 1: ltm is faster) and recall@10 is measured against an
exact numpy scan of the same user's vectors. Peers are benchmark extras (``ltm[bench]``), never
runtime dependencies; a peer that is not installed is reported as skipped.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .corpus import Corpus
from .stats import latency_summary, mean_recall, rate, ratio

RESULTS = Path("benchmarks/results")


class Peer:
    """One system: ``load`` ingests every batch, ``query`` answers one scoped top-k."""

    name = "peer"

    def __init__(self, folder: Path, dim: int) -> None:
        self.folder = folder
        self.dim = dim

    def load(self, batches: list[tuple[Any, Any, list[str]]]) -> None:
        raise NotImplementedError

    def query(self, user: str, qv: Any, k: int) -> list[int]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class LtmPeer(Peer):
    name = "ltm"
    texts: list[str] = []  # set by the runner before load(): ltm stores the text too

    def load(self, batches: list[tuple[Any, Any, list[str]]]) -> None:
        import ltm
        from ltm.backends.base import Filters

        self._filters = Filters
        self.store = ltm.open(self.folder / "ltm")
        self.id_of: dict[str, int] = {}
        for keys, vecs, users in batches:
            mems = self.store.add_vectors(
                [{"text": self.texts[int(i)], "user": u} for i, u in zip(keys, users)], vecs)
            for i, m in zip(keys, mems):
                self.id_of[m.id] = int(i)

    def query(self, user: str, qv: Any, k: int) -> list[int]:
        hits = self.store.backend.dense_search(qv, self._filters(user=user), k)
        return [self.id_of[i] for i, _ in hits]

    def close(self) -> None:
        self.store.close()


class ChromaPeer(Peer):
    name = "chroma"

    def load(self, batches: list[tuple[Any, Any, list[str]]]) -> None:
        import chromadb
        from chromadb.config import Settings

        client = chromadb.PersistentClient(path=str(self.folder / "chroma"),
                                           settings=Settings(anonymized_telemetry=False))
        self.col = client.create_collection("mem", metadata={"hnsw:space": "cosine"})
        for keys, vecs, users in batches:
            self.col.add(ids=[str(int(i)) for i in keys], embeddings=vecs,
                         metadatas=[{"user": u} for u in users])

    def query(self, user: str, qv: Any, k: int) -> list[int]:
        res = self.col.query(query_embeddings=[qv], n_results=k, where={"user": user},
                             include=[])
        return [int(i) for i in res["ids"][0]]


class LancePeer(Peer):
    name = "lancedb"

    def load(self, batches: list[tuple[Any, Any, list[str]]]) -> None:
        import lancedb
        import pyarrow as pa

        db = lancedb.connect(str(self.folder / "lance"))
        self.table = None
        for keys, vecs, users in batches:
            data = pa.table({"key": pa.array(keys, pa.int64()), "user": pa.array(users),
                             "vector": pa.FixedSizeListArray.from_arrays(
                                 pa.array(vecs.reshape(-1)), self.dim)})
            if self.table is None:
                self.table = db.create_table("mem", data)
            else:
                self.table.add(data)

    def query(self, user: str, qv: Any, k: int) -> list[int]:
        assert self.table is not None
        search: Any = self.table.search(qv)
        res = (search.metric("dot").where(f"user = '{user}'", prefilter=True)
               .select(["key", "_distance"]).limit(k).to_arrow())
        return [int(x) for x in res["key"].to_pylist()]


class SqliteVecPeer(Peer):
    name = "sqlite-vec"

    def load(self, batches: list[tuple[Any, Any, list[str]]]) -> None:
        import apsw
        import sqlite_vec

        self.conn = apsw.Connection(str(self.folder / "vec.db"))
        self.conn.enable_load_extension(True)
        self.conn.load_extension(sqlite_vec.loadable_path())
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"CREATE VIRTUAL TABLE v USING vec0(key integer primary key, user "
                          f"text partition key, embedding float[{self.dim}] "
                          f"distance_metric=cosine)")
        for keys, vecs, users in batches:
            with self.conn:
                self.conn.executemany("INSERT INTO v(key, user, embedding) VALUES (?, ?, ?)",
                                      [(int(i), u, v.tobytes())
                                       for i, u, v in zip(keys, users, vecs)])

    def query(self, user: str, qv: Any, k: int) -> list[int]:
        rows: list[Any] = self.conn.execute("SELECT key FROM v WHERE user = ? AND embedding MATCH ? AND "
                                 "k = ? ORDER BY distance", (user, qv.tobytes(), k)).fetchall()
        return [int(r[0]) for r in rows]

    def close(self) -> None:
        self.conn.close()


class HnswlibPeer(Peer):
    name = "hnswlib"

    def load(self, batches: list[tuple[Any, Any, list[str]]]) -> None:
        import hnswlib

        total = sum(len(b[0]) for b in batches)
        self.index = hnswlib.Index(space="ip", dim=self.dim)
        self.index.init_index(max_elements=total, ef_construction=128, M=16)
        self.index.set_ef(128)
        self.user_of: dict[int, str] = {}
        for keys, vecs, users in batches:
            self.index.add_items(vecs, keys)
            self.user_of.update(zip((int(i) for i in keys), users))

    def query(self, user: str, qv: Any, k: int) -> list[int]:
        user_of = self.user_of
        labels, _ = self.index.knn_query(qv, k=k, filter=lambda i: user_of[i] == user)
        return [int(x) for x in labels[0]]


class FaissPeer(Peer):
    name = "faiss"

    def load(self, batches: list[tuple[Any, Any, list[str]]]) -> None:
        import faiss
        import numpy as np

        self.faiss: Any = faiss
        self.index = faiss.IndexIDMap(faiss.IndexFlatIP(self.dim))
        by_user: dict[str, list[int]] = {}
        for keys, vecs, users in batches:
            self.index.add_with_ids(vecs, np.asarray(keys, dtype=np.int64))
            for i, u in zip(keys, users):
                by_user.setdefault(u, []).append(int(i))
        self.ids = {u: np.asarray(v, dtype=np.int64) for u, v in by_user.items()}

    def query(self, user: str, qv: Any, k: int) -> list[int]:
        sel = self.faiss.IDSelectorBatch(self.ids[user])
        params = self.faiss.SearchParameters(sel=sel)
        _, labels = self.index.search(qv[None, :], k, params=params)
        return [int(x) for x in labels[0] if x >= 0]


PEERS: dict[str, type[Peer]] = {p.name: p for p in (LtmPeer, ChromaPeer, LancePeer,
                                                    SqliteVecPeer, HnswlibPeer, FaissPeer)}


def run_peers(n: int, users: int, *, workdir: Path, queries: int = 1000, batch: int = 1000,
              seed: int = 0, k: int = 10, only: list[str] | None = None,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    import numpy as np

    import ltm.embed.wordllama as wl

    corpus = Corpus(n, users, seed)
    items = list(corpus.items())
    texts = [it.text for it in items]
    emb = wl.WordLlamaEmbedder()
    t0 = time.perf_counter()
    vecs = emb.embed(texts)  # (n, dim) float32, unit rows
    embed_s = time.perf_counter() - t0
    keys = np.arange(n, dtype=np.int64)
    user_arr = [it.user for it in items]
    batches = [(keys[s:s + batch], vecs[s:s + batch], user_arr[s:s + batch])
               for s in range(0, n, batch)]
    qs = corpus.queries(queries, seed=seed + 1)
    qvecs = emb.embed([q for _, q in qs])
    # exact truth: top-k by dot product inside the user's vectors
    rows_of: dict[str, Any] = {}
    for i, u in enumerate(user_arr):
        rows_of.setdefault(u, []).append(i)
    rows_of = {u: np.asarray(v) for u, v in rows_of.items()}
    truth = []
    for (u, _), qv in zip(qs, qvecs):
        rows = rows_of[u]
        scores = np.einsum("ij,j->i", vecs[rows], qv)
        truth.append([int(rows[j]) for j in np.argsort(-scores, kind="stable")[:k]])
    out: dict[str, Any] = {"benchmark": "peers", "n": n, "users": users, "batch": batch, "k": k,
                           "queries": queries, "dim": int(vecs.shape[1]),
                           "embed_per_s": round(rate(n, embed_s), 1), "systems": {},
                           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    names = only or list(PEERS)
    if "ltm" not in names:
        names = ["ltm", *names]
    for name in names:
        folder = workdir / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        peer = PEERS[name](folder, int(vecs.shape[1]))
        if isinstance(peer, LtmPeer):
            peer.texts = texts
        if progress:
            progress(f"{name}: ingest")
        try:
            t0 = time.perf_counter()
            peer.load(batches)
            load_s = time.perf_counter() - t0
        except ImportError as exc:
            out["systems"][name] = {"skipped": f"not installed ({exc.name})"}
            continue
        if progress:
            progress(f"{name}: {len(qs)} queries")
        lat, found = [], []
        peer.query(qs[0][0], qvecs[0], k)  # warm-up
        for (u, _), qv in zip(qs, qvecs):
            t1 = time.perf_counter()
            found.append(peer.query(u, qv, k))
            lat.append(time.perf_counter() - t1)
        peer.close()
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        res = {"ingest_s": round(load_s, 3), "ingest_per_s": round(rate(n, load_s), 1),
               **latency_summary(lat, "query"), "recall_at_10": round(mean_recall(found, truth, k), 4),
               "bytes_on_disk": size}
        out["systems"][name] = res
        shutil.rmtree(folder, ignore_errors=True)
    base = out["systems"]["ltm"]
    for name, res in out["systems"].items():
        if "skipped" in res:
            continue
        res["ingest_ratio"] = round(ratio(res["ingest_s"], base["ingest_s"]), 3)
        res["query_p50_ratio"] = round(ratio(res["query_ms_p50"], base["query_ms_p50"]), 3)
        res["query_p95_ratio"] = round(ratio(res["query_ms_p95"], base["query_ms_p95"]), 3)
    return out


def plot_peers(result: dict[str, Any], path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = [(k, v) for k, v in result["systems"].items() if "skipped" not in v]
    names = [k for k, _ in systems]
    colors = ["tab:red" if k == "ltm" else "tab:blue" for k in names]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.bar(names, [v["ingest_per_s"] for _, v in systems], color=colors)
    ax1.set_ylabel("vectors / s (same vectors, batches of %d)" % result["batch"])
    ax1.set_title(f"ingest, N = {result['n']:,}")
    ax1.set_yscale("log")
    ax2.bar(names, [v["query_ms_p50"] for _, v in systems], color=colors, label="p50")
    ax2.scatter(names, [v["query_ms_p95"] for _, v in systems], color="black", marker="_",
                s=300, label="p95", zorder=3)
    ax2.set_ylabel("ms per top-10 query inside one user")
    ax2.set_yscale("log")
    ax2.set_title(f"scoped top-10 query, {result['users']:,} users")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def measure_peers(n: int, users: int, out: Path, *, queries: int = 1000, batch: int = 1000,
                  seed: int = 0, only: list[str] | None = None,
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``ltm bench peers``'s run: every system in a temporary folder, the result written to
    ``out`` and returned."""
    work = Path(tempfile.mkdtemp(prefix="ltm-peers-"))
    try:
        result = run_peers(n, users, workdir=work, queries=queries, batch=batch, seed=seed,
                           only=only, progress=progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result
