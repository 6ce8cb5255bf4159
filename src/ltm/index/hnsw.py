"""HNSW (usearch) for one large scope, keyed by database row id, persisted next to the database."""

from __future__ import annotations

import json
import logging
import mmap
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from . import checksum

log = logging.getLogger(__name__)

_MAX_PENDING = 20_000  # rows added to or removed from a mapped graph before it is loaded


class HnswScope:
    def __init__(self, dim: int, *, ef_search: int = 512, metric: str = "ip") -> None:
        # half-precision vectors in the graph: half the memory of f32 at 1M vectors. Measured on
        # 200k vectors of one scope of the scale corpus (recall@10 against the exact float32
        # scan, ties counted as hits): f16 recalls as well as f32 (0.95 vs 0.94 at ef 256), and
        # connectivity 32 (expansion_add 200) lifts recall at ef 128/256 from 0.93/0.95 to
        # 0.95/0.96 for the same build time and ~0.1 ms more per query; it costs 128 more
        # bytes of graph per vector.
        # At 1M vectors in one scope ef 256 gave recall 0.946 (p95 1.5 ms), ef 512 0.960
        # (p95 2.7 ms): the default is 512 (settings: hnsw_ef_search).
        self.dim, self.ef_search = dim, ef_search
        self.metric = metric  # "ip" (scores: dot products) or "l2sq" (scores: -squared distance)
        self.index = self._new_index()
        self.epoch = 0
        # A graph read from its file is memory-mapped (``Index.view``): only the pages a
        # search visits become resident. A mapped graph is read-only, so rows added since
        # are kept beside it and scanned exactly, rows removed from it are filtered out of
        # its results; ``save`` writes a new graph with both applied and maps that.
        self._mapped = False
        self._extra_keys = np.zeros(0, np.int64)
        self._extra_vecs = np.zeros((0, dim), np.float32)
        self._removed: set[int] = set()
        self._path = ""
        self._sums: list[int] = []  # block checksums of the mapped file
        self._block = checksum.BLOCK_BYTES  # the size of those blocks
        # the stored (half precision) bytes of vectors removed since the last save, and how
        # many removed nodes hold each: usearch keeps a removed node's vector in the file it
        # saves, so ``save`` zeroes them there (see _scrub_removed)
        self._erased: Counter[bytes] = Counter()

    def _new_index(self) -> Any:
        from usearch.index import Index

        return Index(ndim=self.dim, metric=self.metric, dtype="f16", connectivity=32,
                     expansion_add=200, expansion_search=self.ef_search)

    def __len__(self) -> int:
        return len(self.index) - len(self._removed) + len(self._extra_keys)

    @property
    def mapped(self) -> bool:
        return self._mapped

    def add(self, rowids: np.ndarray, vecs: np.ndarray) -> None:
        if not len(rowids):
            return
        if self._mapped:
            self._extra_keys = np.concatenate([self._extra_keys, np.asarray(rowids, np.int64)])
            self._extra_vecs = np.concatenate([self._extra_vecs,
                                               np.asarray(vecs, np.float32)])
            if len(self._extra_keys) > _MAX_PENDING:
                self._materialize()
            return
        self.index.add(np.asarray(rowids, dtype=np.uint64),
                       np.ascontiguousarray(vecs, dtype=np.float32))

    def remove(self, rowids: np.ndarray) -> None:
        keys = np.asarray(rowids, dtype=np.int64)
        if self._mapped:
            if len(self._extra_keys):
                keep = ~np.isin(self._extra_keys, keys)
                self._extra_keys, self._extra_vecs = \
                    self._extra_keys[keep], self._extra_vecs[keep]
            self._removed.update(int(r) for r in keys if int(r) in self.index)
            if len(self._removed) > _MAX_PENDING:
                self._materialize()
            return
        present = np.asarray([int(r) for r in keys if int(r) in self.index], dtype=np.uint64)
        if len(present):
            stored = np.asarray(self.index.get(present)).reshape(len(present), -1)
            self._erased.update(row.tobytes() for row in stored)
            self.index.remove(present)

    def _materialize(self) -> None:
        """Load the mapped graph into memory and apply the pending rows to it."""
        full = self._new_index()
        # from the mapped bytes, not the path: another process's save may have removed the
        # file (its generation is gone) while this mapping still reads it
        full.load(memoryview(self.index._ltm_buffer))
        self.index, self._mapped = full, False
        extra_keys, extra_vecs, removed = self._extra_keys, self._extra_vecs, self._removed
        self._extra_keys = np.zeros(0, np.int64)
        self._extra_vecs = np.zeros((0, self.dim), np.float32)
        self._removed = set()
        self.remove(np.fromiter(removed, np.int64, count=len(removed)))
        self.add(extra_keys, extra_vecs)

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(q, dtype=np.float32)
        keys = np.zeros(0, np.int64)
        scores = np.zeros(0, np.float32)
        if len(self.index):
            matches = self.index.search(q, k + len(self._removed))
            keys = np.asarray(matches.keys, dtype=np.int64)
            dist = np.asarray(matches.distances, dtype=np.float32)
            scores = 1.0 - dist if self.metric == "ip" else -dist  # ip: 1 - dot
            if self._removed:
                keep = ~np.isin(keys, np.fromiter(self._removed, np.int64,
                                                  count=len(self._removed)))
                keys, scores = keys[keep], scores[keep]
        if len(self._extra_keys):
            keys = np.concatenate([keys, self._extra_keys])
            extra = (self._extra_vecs @ q if self.metric == "ip"
                     else -((self._extra_vecs - q) ** 2).sum(axis=1))
            scores = np.concatenate([scores, extra])
            order = np.argsort(-scores, kind="stable")
            keys, scores = keys[order], scores[order]
        return keys[:k], scores[:k]

    def save(self, path: Path, fingerprint: str) -> None:
        """Write the graph (with pending rows applied) and map it: from then on only the
        pages searches visit are resident. The graph, then its description (``.json``: epoch,
        count, size, block checksums) each replace their file in one rename; ``load`` takes
        the pair only when they match."""
        if self._mapped and (len(self._extra_keys) or self._removed):
            self._materialize()
        if not self._mapped:
            tmp = path.with_name(path.name + ".tmp")
            try:
                self.index.save(str(tmp))
            except RuntimeError as exc:  # usearch's own error (a full disk, a missing folder)
                raise OSError(f"cannot write {tmp}: {exc}") from exc
            if self._erased:
                self._erased = _scrub_removed(tmp, self._erased, self.dim)
            with open(tmp, "rb") as fp:
                os.fsync(fp.fileno())
            sums, self._block = checksum.file_sums(tmp), checksum.BLOCK_BYTES
            os.replace(tmp, path)
        elif str(path) != self._path:
            # the same graph under a new generation's folder: a second link to the file, or
            # a copy of the mapped bytes where it cannot be linked (or is gone)
            sums = self._sums
            tmp = path.with_name(path.name + ".tmp")
            tmp.unlink(missing_ok=True)
            try:
                os.link(self._path, tmp)
                if os.path.getsize(tmp) != len(self.index._ltm_buffer):
                    raise OSError("not the mapped graph")  # the path holds another file now
            except OSError:
                tmp.unlink(missing_ok=True)
                with open(tmp, "wb") as fp:
                    fp.write(self.index._ltm_buffer)
                    fp.flush()
                    os.fsync(fp.fileno())
            os.replace(tmp, path)
        else:
            sums = self._sums
        meta = {"epoch": self.epoch, "count": len(self.index), "fingerprint": fingerprint,
                "size": os.path.getsize(path), "block": self._block, "block_sums": sums}
        tmp = path.with_suffix(".json.tmp")
        with open(tmp, "w") as fp:
            fp.write(json.dumps(meta))
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(tmp, path.with_suffix(".json"))
        self._sums = sums
        if not self._mapped:
            self._map(path)
        else:
            self._path = str(path)

    def _map(self, path: Path) -> None:
        mapped = self._new_index()
        with open(path, "rb") as fp:
            buffer = mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ)
        mapped.view(memoryview(buffer))
        mapped._ltm_buffer = buffer  # the graph points into it: it lives as long as the index
        self.index, self._mapped, self._path = mapped, True, str(path)
        self.release()

    def release(self) -> None:
        """Drop the mapped graph's pages from this process's resident set (they stay in the
        page cache and come back as searches visit them). Mapping walks the whole file."""
        buffer = getattr(self.index, "_ltm_buffer", None)
        if buffer is not None and hasattr(buffer, "madvise"):
            buffer.madvise(mmap.MADV_DONTNEED)

    @classmethod
    def load(cls, path: Path, dim: int, fingerprint: str, *,
             ef_search: int = 512) -> HnswScope | None:
        try:
            meta = json.loads(path.with_suffix(".json").read_text())
            if meta.get("fingerprint") != fingerprint:
                return None
            sums = [int(x) for x in meta["block_sums"]]
            with open(path, "rb") as fp:
                size = os.fstat(fp.fileno()).st_size
                reason = "file of the wrong size" if size != meta["size"] else \
                    checksum.verify(fp.fileno(), 0, size, int(meta["block"]), sums)
            if reason is not None:
                log.warning("HNSW index %s unusable (%s); it will be rebuilt", path, reason)
                return None
            scope = cls(dim, ef_search=ef_search)
            scope._map(path)
            scope._sums, scope._block = sums, int(meta["block"])
            if len(scope.index) != meta["count"] or scope.index.ndim != dim:
                return None
            scope.epoch = int(meta["epoch"])
            return scope
        except Exception as exc:  # noqa: BLE001 - any unreadable file means "rebuild"
            log.info("HNSW index %s unusable (%s); it will be rebuilt", path, exc)
            return None


def _scrub_removed(path: Path, erased: Counter[bytes], dim: int) -> Counter[bytes]:
    """Zero, in the graph file usearch just saved, the vectors of removed nodes (their stored
    bytes ``erased``, with how many removed nodes hold each). usearch writes an 8-byte header
    (slots, bytes per vector), then one row per slot, removed ones included, then the graph.
    Removed nodes are only ever skipped by a search, so their vectors are not needed (a
    zeroed one is a node far from every query). A vector that more rows hold than removed
    nodes do is also a vector of a node still there (the same text twice): left as it is, and
    returned (with the others, when the file is not laid out as expected) to try again."""
    size = os.path.getsize(path)
    with open(path, "rb") as fp:
        head = fp.read(8)
    slots, width = (int(x) for x in np.frombuffer(head, dtype="<u4")) if len(head) == 8 \
        else (0, 0)
    if width != 2 * dim or slots < 1 or 8 + slots * width > size:
        log.warning("HNSW file %s is not laid out as expected; removed vectors not zeroed", path)
        return erased
    rows = np.memmap(path, dtype=np.uint8, mode="r+", offset=8, shape=(slots, width))
    try:
        heads = np.ascontiguousarray(rows[:, :8]).view("<u8").ravel()  # (slots,)
        wanted = np.frombuffer(b"".join(v[:8] for v in erased), dtype="<u8")
        held: dict[bytes, list[int]] = {}
        for i in np.nonzero(np.isin(heads, wanted))[0]:
            row = rows[i].tobytes()
            if row in erased:
                held.setdefault(row, []).append(int(i))
        left: Counter[bytes] = Counter()
        for vec, removed in erased.items():
            at = held.get(vec, [])
            if len(at) > removed:
                left[vec] = removed  # a node still there holds it too
                continue
            for slot in at:
                rows[slot] = 0
        rows.flush()
    finally:
        del rows
    return left
