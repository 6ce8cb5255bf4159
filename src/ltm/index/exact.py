"""An exact vector table with per-user rows, persisted as .npy files and memory-mapped on load.

Rows are keyed by the database's integer row id (never reused). A user's search is an exact
dot product over that user's rows only, so isolation holds by construction and small scopes
need no approximate index.

Saved rows are grouped by user (each user's rows one contiguous block, in row-id order), and
``load`` maps ``vectors.npy`` read-only instead of reading it: reopening a store costs the
small row-id and owner arrays, a user's scan reads one block (a view, no copy), and only the
blocks queried become resident. Rows added after loading live in memory ("tail") until the
next save; a removed or replaced saved row is only marked dead (the mapped file is never
written), and the next save rewrites the files without it.

The files are derived state. One save is one generation: a folder of its own (``vectors.npy``,
``rowids.npy``, ``owner.npy``, ``meta.json``) written whole and made durable before the owner
commits the record that names it (its number, epoch, sizes and checksums) in the database, so a
kill at any moment leaves either the old generation or the new one, never a mix. ``load``
checks the files against that record (the row ids, owners and users whole, the vectors by
block checksums) and returns None for anything that does not match; the owner then catches up
from the database log, or rebuilds.
"""

from __future__ import annotations

import io
import json
import logging
import mmap
import os
import shutil
import weakref
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from . import checksum
from .knn import inner_products, top_k

log = logging.getLogger(__name__)
_FORMAT = 3  # 3: one folder per generation, checked against its record
_CHUNK = 65_536  # rows per write when saving


def _npy_header(count: int, dim: int) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
              "fortran_order": False, "shape": (count, dim)})
    return buf.getvalue()


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as fp:
        fp.write(data)
        fp.flush()
        os.fsync(fp.fileno())


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _ReadFd:
    """A read-only descriptor of a file, closed when the last index holding it goes (the file
    may be unlinked meanwhile by another process's save: the descriptor still reads it)."""

    def __init__(self, path: str | Path) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)


class IndexWriter:
    """Writes one generation into its own new folder, row block by row block, users in
    ascending code order (so a full index never has to be in memory at once), summing the
    vectors as they go. ``finish`` makes the files durable and returns the generation's
    record; the folder is the index only once the caller has committed that record."""

    def __init__(self, folder: Path, dim: int, count_hint: int, gen: int = 0) -> None:
        folder.mkdir(parents=True)  # a new folder: a leftover of the same name is an error
        self.folder, self.dim, self.hint, self.gen = folder, dim, count_hint, gen
        self.fp: BinaryIO = open(folder / "vectors.npy", "wb")
        self.fp.write(_npy_header(count_hint, dim))
        self.count = 0
        self.block_rows = max(1, checksum.BLOCK_BYTES // (dim * 4))
        self.summer = checksum.BlockSummer(self.block_rows * dim * 4)
        self.rowids: list[np.ndarray] = []
        self.owner: list[np.ndarray] = []

    def write(self, rowids: np.ndarray, owner: np.ndarray, vecs: np.ndarray) -> None:
        data = np.ascontiguousarray(vecs, dtype=np.float32).tobytes()
        self.fp.write(data)
        self.summer.update(data)
        self.rowids.append(np.asarray(rowids, dtype=np.int64))
        self.owner.append(np.asarray(owner, dtype=np.int32))
        self.count += len(rowids)

    def finish(self, users: list[str], epoch: int, fingerprint: str) -> dict[str, Any]:
        head = _npy_header(self.count, self.dim)
        if self.count != self.hint:
            if len(head) != len(_npy_header(self.hint, self.dim)):
                self.abort()
                raise ValueError("index header size changed")  # the caller rebuilds in memory
            self.fp.truncate(len(head) + self.count * self.dim * 4)
        self.fp.seek(0)
        self.fp.write(head)
        self.fp.flush()
        os.fsync(self.fp.fileno())
        self.fp.close()
        rowids = np.concatenate(self.rowids) if self.rowids else np.zeros(0, np.int64)
        owner = np.concatenate(self.owner) if self.owner else np.zeros(0, np.int32)
        sums = self.summer.finish()
        _write_file(self.folder / "rowids.npy", _npy_bytes(rowids))
        _write_file(self.folder / "owner.npy", _npy_bytes(owner))
        record = {"format": _FORMAT, "gen": self.gen, "dim": self.dim, "count": self.count,
                  "epoch": epoch, "fingerprint": fingerprint, "block_rows": self.block_rows,
                  "rowids_crc": checksum.crc(rowids), "owner_crc": checksum.crc(owner),
                  "users_crc": checksum.crc(json.dumps(users).encode()),
                  "vectors_crc": checksum.digest(sums)}
        meta = {**record, "users": users, "vector_sums": sums}
        _write_file(self.folder / "meta.json", json.dumps(meta).encode())
        _fsync_dir(self.folder)
        _fsync_dir(self.folder.parent)  # the new folder's own entry
        return record

    def abort(self) -> None:
        self.fp.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class VectorIndex:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.base: np.ndarray = np.zeros((0, dim), dtype=np.float32)  # saved rows (mapped)
        self._base_fd: _ReadFd | None = None  # the same file, for scattered reads
        self.nb = 0
        self.tail = np.zeros((1024, dim), dtype=np.float32)  # rows added since (in memory)
        self.n = 0  # rows, base and tail: positions 0..nb-1 are base, nb.. tail
        self.rowids = np.zeros(1024, dtype=np.int64)
        self.owner = np.zeros(1024, dtype=np.int32)
        self.alive = np.zeros(1024, dtype=bool)
        self.user_codes: dict[str, int] = {}
        self.user_names: list[str] = []
        self._span: list[tuple[int, int]] = []  # per user: its block [start, end) in base
        self._tail_pos: list[list[int]] = []  # per user: its positions in the tail
        self._pos_cache: dict[int, np.ndarray] = {}
        # per user: (its positions array of ``_pos_cache``, their row ids), for ``scores_all``
        self._rowids_of: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._base_sorted: tuple[np.ndarray, np.ndarray] | None = None
        self._tail_sorted: tuple[np.ndarray, np.ndarray] | None = None
        self.epoch = 0  # database log position this index reflects
        self.gen: int | None = None  # the saved generation the base is mapped from

    # -- writing --------------------------------------------------------------------------
    def _grow(self, need: int) -> None:
        cap = len(self.rowids)
        if need > cap:
            new = max(need, cap + cap // 2)
            self.rowids = np.concatenate([self.rowids, np.zeros(new - cap, np.int64)])
            self.owner = np.concatenate([self.owner, np.zeros(new - cap, np.int32)])
            self.alive = np.concatenate([self.alive, np.zeros(new - cap, bool)])
        cap_t, need_t = len(self.tail), need - self.nb
        if need_t > cap_t:
            new = max(need_t, cap_t + cap_t // 2)
            tail = np.zeros((new, self.dim), np.float32)
            tail[:cap_t] = self.tail
            self.tail = tail

    def _code(self, user: str) -> int:
        code = self.user_codes.get(user)
        if code is None:
            code = len(self.user_names)
            self.user_codes[user] = code
            self.user_names.append(user)
            self._span.append((0, 0))
            self._tail_pos.append([])
        return code

    def add(self, rowids: np.ndarray, users: list[str], vecs: np.ndarray) -> None:
        m = len(rowids)
        if m == 0:
            return
        self._grow(self.n + m)
        sl = slice(self.n, self.n + m)
        self.tail[self.n - self.nb:self.n - self.nb + m] = vecs
        self.rowids[sl] = rowids
        self.alive[sl] = True
        codes = [self._code(u) for u in users]
        self.owner[sl] = codes
        for i, code in enumerate(codes):
            self._tail_pos[code].append(self.n + i)
        for code in set(codes):
            self._pos_cache.pop(code, None)
        self.n += m
        self._tail_sorted = None

    def remove(self, rowids: np.ndarray) -> None:
        pos = self.positions_of(np.asarray(rowids, dtype=np.int64))
        pos = pos[pos >= 0]
        if len(pos) == 0:
            return
        self.alive[pos] = False
        tail = pos[pos >= self.nb] - self.nb
        self.tail[tail] = 0.0  # erased vectors leave no trace in memory (saved rows: next save)
        for code in set(self.owner[pos].tolist()):
            self._tail_pos[code] = [p for p in self._tail_pos[code] if self.alive[p]]
            self._pos_cache.pop(code, None)

    def replace(self, rowid: int, vec: np.ndarray) -> None:
        pos = int(self.positions_of(np.array([rowid], dtype=np.int64))[0])
        if pos < 0:
            return
        if pos >= self.nb:
            self.tail[pos - self.nb] = vec
            return
        # the mapped file is never written: the saved row dies, a tail row replaces it
        user = self.user_names[int(self.owner[pos])]
        self.alive[pos] = False
        self._pos_cache.pop(int(self.owner[pos]), None)
        self.add(np.array([rowid], dtype=np.int64), [user], np.asarray(vec)[None, :])

    # -- reading --------------------------------------------------------------------------
    def _take(self, pos: np.ndarray) -> np.ndarray:
        """Vectors at positions (base or tail), as an array (m, dim)."""
        if len(pos) == 0:
            return np.zeros((0, self.dim), np.float32)
        in_tail = pos >= self.nb
        if not in_tail.any():
            return self._take_base(pos)
        if in_tail.all():
            return self.tail[pos - self.nb]
        out = np.empty((len(pos), self.dim), np.float32)
        out[~in_tail] = self._take_base(pos[~in_tail])
        out[in_tail] = self.tail[pos[in_tail] - self.nb]
        return out

    def _take_base(self, pos: np.ndarray) -> np.ndarray:
        """Saved rows at positions, read from the file (one ``preadv`` per run of adjacent
        rows) rather than through the mapping: touching scattered rows of a mapped file
        makes the kernel map the cached pages around each one too (fault-around), and 8,000
        rows of a 1 GB matrix put ~0.9 GB in the resident set."""
        name = getattr(self.base, "filename", None)
        if not name or not hasattr(os, "preadv") or len(pos) < 2:
            return np.asarray(self.base[pos])
        if self._base_fd is None:
            self._base_fd = _ReadFd(name)  # load opens it: another save may unlink the file
        fd, row = self._base_fd.fd, self.dim * 4
        start_at = int(getattr(self.base, "offset", 0))
        order = np.argsort(pos, kind="stable")
        ordered = pos[order]
        out = np.empty((len(pos), self.dim), np.float32)
        buf = memoryview(out.data).cast("B")  # rows in sorted order first, then put back
        cuts = np.flatnonzero(np.diff(ordered) != 1) + 1
        firsts = np.concatenate([[0], cuts]).tolist()
        lasts = np.concatenate([cuts, [len(ordered)]]).tolist()
        for a, b in zip(firsts, lasts):
            want = (b - a) * row
            if os.preadv(fd, [buf[a * row:b * row]], start_at + int(ordered[a]) * row) != want:
                return np.asarray(self.base[pos])  # a short read: the file changed under us
        back = np.empty_like(out)
        back[order] = out
        return back

    def _sorted_base(self) -> tuple[np.ndarray, np.ndarray]:
        if self._base_sorted is None:
            order = np.argsort(self.rowids[:self.nb], kind="stable")
            self._base_sorted = (self.rowids[:self.nb][order], order)
        return self._base_sorted

    def _sorted_tail(self) -> tuple[np.ndarray, np.ndarray]:
        if self._tail_sorted is None:
            r = self.rowids[self.nb:self.n]
            if len(r) < 2 or bool(np.all(r[1:] > r[:-1])):
                order = np.arange(len(r))  # appended in row-id order: the usual case
            else:
                order = np.argsort(r, kind="stable")
            self._tail_sorted = (r[order], order + self.nb)
        return self._tail_sorted

    def positions_of(self, rowids: np.ndarray) -> np.ndarray:
        """Positions of the given row ids, -1 where absent or removed."""
        rowids = np.asarray(rowids, dtype=np.int64)
        out = np.full(len(rowids), -1, dtype=np.int64)
        for keys, where in (self._sorted_base(), self._sorted_tail()):
            if len(keys) == 0:
                continue
            i = np.minimum(np.searchsorted(keys, rowids), len(keys) - 1)
            pos = where[i]
            ok = (out < 0) & (keys[i] == rowids) & self.alive[pos]
            out[ok] = pos[ok]
        return out

    def user_positions(self, user: str) -> np.ndarray:
        code = self.user_codes.get(user)
        if code is None:
            return np.zeros(0, dtype=np.int64)
        cached = self._pos_cache.get(code)
        if cached is None:
            start, end = self._span[code]
            base = np.arange(start, end, dtype=np.int64)
            base = base[self.alive[start:end]]
            cached = np.concatenate([base, np.asarray(self._tail_pos[code], dtype=np.int64)])
            self._pos_cache[code] = cached
        return cached

    def _user_matrix(self, user: str) -> tuple[np.ndarray, np.ndarray]:
        """(positions, vectors) of the user's rows; the vectors are a view of the mapped file
        when the user's rows are exactly its saved block."""
        pos = self.user_positions(user)
        code = self.user_codes.get(user)
        if code is not None and len(pos):
            start, end = self._span[code]
            if len(pos) == end - start and int(pos[-1]) == end - 1:
                return pos, self.base[start:end]
        return pos, self._take(pos)

    def count(self, user: str) -> int:
        return len(self.user_positions(user))

    def search(self, user: str, q: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (rowids, scores) by dot product within one user's rows (exact)."""
        if allowed is not None:
            apos = self.positions_of(allowed)
            apos = apos[apos >= 0]
            pos = apos[self.owner[apos] == self.user_codes.get(user, -1)]
            mat = self._take(pos)
        else:
            pos, mat = self._user_matrix(user)
        if len(pos) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        scores = inner_products(mat, q)  # (m,): the scan shared with ltm.index.knn
        top = top_k(scores, k)
        return self.rowids[pos[top]], scores[top]

    def scores_all(self, user: str, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rowids, scores) of every row of the user, unordered (exact dot products).

        The user's saved block and its rows added since are scanned where they lie (the
        block a view of the mapped file, the tail's rows a slice where they are adjacent)
        instead of being gathered into one matrix first: after a write of the user, a scope
        of 20,000 rows copied 20 MB on every search until the next save. A row's dot product
        is the same wherever it lies (einsum's loop, row by row)."""
        code = self.user_codes.get(user)
        pos = self.user_positions(user)
        if code is None or len(pos) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        q32 = q.astype(np.float32, copy=False)
        start, end = self._span[code]
        n_base = len(pos) - len(self._tail_pos[code])  # live rows of the saved block
        parts = []
        if n_base:
            block = np.einsum("ij,j->i", self.base[start:end], q32)
            parts.append(block if n_base == end - start else block[self.alive[start:end]])
        if n_base < len(pos):
            at = pos[n_base:] - self.nb  # places in the tail, ascending
            adjacent = len(at) == 1 or bool(np.all(np.diff(at) == 1))
            rows = self.tail[int(at[0]):int(at[-1]) + 1] if adjacent else self.tail[at]
            parts.append(np.einsum("ij,j->i", rows, q32))
        scores = parts[0] if len(parts) == 1 else np.concatenate(parts)
        # the same row ids (the same array) for as long as the user's positions are: a caller
        # that keeps them can tell by identity that nothing moved
        held = self._rowids_of.get(code)
        if held is None or held[0] is not pos:
            rowids = self.rowids[pos]
            rowids.flags.writeable = False
            held = self._rowids_of[code] = (pos, rowids)
        return held[1], scores

    def vectors_of(self, rowids: np.ndarray) -> np.ndarray:
        pos = self.positions_of(rowids)
        out = np.zeros((len(rowids), self.dim), dtype=np.float32)
        ok = pos >= 0
        out[ok] = self._take(pos[ok])
        return out

    def user_rows(self, user: str) -> tuple[np.ndarray, np.ndarray]:
        pos, mat = self._user_matrix(user)
        return self.rowids[pos], np.asarray(mat)

    def sample_saved(self, k: int) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Up to ``k`` live saved rows at random: (rowids, users, vectors read from the file)."""
        live = np.flatnonzero(self.alive[:self.nb])
        if len(live) > k:
            live = np.sort(np.random.default_rng().choice(live, k, replace=False))
        return (self.rowids[live].copy(), [self.user_names[c] for c in self.owner[live]],
                self._take(live))

    def release(self) -> None:
        """Drop the mapped file's pages from this process's resident set (they stay in the
        page cache and come back on the next touch)."""
        mm = getattr(self.base, "_mmap", None)
        if isinstance(mm, mmap.mmap) and hasattr(mm, "madvise"):
            mm.madvise(mmap.MADV_DONTNEED)

    # -- persistence ----------------------------------------------------------------------
    def save(self, folder: Path, fingerprint: str, gen: int = 0) -> dict[str, Any]:
        """Write the live rows grouped by user into the new generation folder ``folder``,
        then map the new files in place of the old (dead rows leave the files; the tail moves
        into the mapped base). Returns the generation's record."""
        live = np.flatnonzero(self.alive[:self.n])
        owner = self.owner[live]
        order = live[np.lexsort((self.rowids[live], owner))]
        # renumber users in order of first appearance so codes ascend with the blocks
        used = np.unique(owner)
        remap = np.full(max(len(self.user_names), 1), -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        writer = IndexWriter(folder, self.dim, len(order), gen)
        try:
            for start in range(0, len(order), _CHUNK):
                part = order[start:start + _CHUNK]
                writer.write(self.rowids[part], remap[self.owner[part]], self._take(part))
            record = writer.finish([self.user_names[c] for c in used], self.epoch, fingerprint)
        except BaseException:
            writer.abort()
            raise
        fresh = VectorIndex.load(folder, self.dim, record, verify=False)
        if fresh is None:
            raise OSError(f"the index just written to {folder} cannot be read back")
        self.__dict__.update(fresh.__dict__)
        return record

    @classmethod
    def load(cls, folder: Path, dim: int, record: dict[str, Any], *,
             verify: bool = True) -> VectorIndex | None:
        """Map the generation in ``folder`` if its files are the ones ``record`` (the
        database's) names: None when they are missing, cut short, from another generation or
        store, or do not match their checksums."""
        reason = None
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if not isinstance(meta, dict) or meta.get("format") != _FORMAT \
                    or meta.get("dim") != dim:
                reason = "another format"
            elif any(meta.get(k) != v for k, v in record.items()):
                reason = "not the generation the database names"
            users, sums = meta["users"], meta["vector_sums"]
            count = int(meta["count"])
            if reason is None and (checksum.crc(json.dumps(users).encode()) != meta["users_crc"]
                                   or checksum.digest(sums) != meta["vectors_crc"]):
                reason = "users or block sums do not match their checksums"
            if reason is None:
                rowids = np.load(folder / "rowids.npy")
                owner = np.load(folder / "owner.npy")
                if (rowids.dtype != np.int64 or owner.dtype != np.int32
                        or checksum.crc(rowids) != meta["rowids_crc"]
                        or checksum.crc(owner) != meta["owner_crc"]):
                    reason = "row ids or owners do not match their checksums"
            if reason is None:
                path = folder / "vectors.npy"
                fd = _ReadFd(path)
                vecs = np.load(path, mmap_mode="r") if count else \
                    np.zeros((0, dim), np.float32)
                start = int(getattr(vecs, "offset", 0))
                if os.fstat(fd.fd).st_size != len(_npy_header(count, dim)) + count * dim * 4:
                    reason = "vectors file of the wrong size"
                else:
                    reason = checksum.verify(fd.fd, start, count * dim * 4,
                                             int(meta["block_rows"]) * dim * 4, sums,
                                             whole=False) if verify else None
        except (OSError, ValueError, EOFError, KeyError, TypeError,
                json.JSONDecodeError) as exc:
            reason = str(exc) or type(exc).__name__
        if reason is None and not (
                vecs.shape == (count, dim) and rowids.shape == (count,)
                and owner.shape == (count,) and vecs.dtype == np.float32
                and (count == 0 or (int(owner.min()) >= 0 and int(owner.max()) < len(users)
                                    and bool(np.all(owner[1:] >= owner[:-1]))))):
            reason = "arrays of the wrong shape or order"
        if reason is not None:
            log.warning("vector index in %s unusable (%s); it will be rebuilt", folder, reason)
            return None
        idx = cls(dim)
        idx.base, idx.nb, idx.n = vecs, count, count
        idx._base_fd = fd if count else None
        idx.rowids = np.concatenate([rowids.astype(np.int64), np.zeros(1024, np.int64)])
        idx.owner = np.concatenate([owner.astype(np.int32), np.zeros(1024, np.int32)])
        idx.alive = np.concatenate([np.ones(count, bool), np.zeros(1024, bool)])
        idx.user_names = list(users)
        idx.user_codes = {u: i for i, u in enumerate(users)}
        bounds = np.searchsorted(owner, np.arange(len(users) + 1))
        idx._span = [(int(bounds[c]), int(bounds[c + 1])) for c in range(len(users))]
        idx._tail_pos = [[] for _ in users]
        idx.epoch = int(meta["epoch"])
        idx.gen = int(meta["gen"])
        return idx
