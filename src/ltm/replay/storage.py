"""Fixed-capacity slot storage shared by every replay buffer, in memory or in a folder.

Layout of a buffer folder::

    manifest.json        the last checkpoint: schema, counters, RNG state, generation
    <field>.npy          one memory-mapped array per fixed-shape field (capacity rows)
    _stamp.npy           insertion number of the item in each slot (-1 = empty)
    _times.npy           how often each slot's item was sampled
    _priority.npy        raw priority of each slot (prioritized buffers)
    objects-<gen>.pkl    object-dtype fields, pickled at each checkpoint
    journal.bin          undo journal: old rows of slots changed since the checkpoint
    lock                 held (``flock``) by the one buffer object that has the folder open

Crash safety. Arrays are written in place through the memory maps, so a
``kill -9`` can leave them ahead of ``manifest.json``. Before the first change of
a slot after a checkpoint, its old row (every array) is appended to the undo
journal with one unbuffered ``write`` -- the kernel holds it even if the
process dies the next instant. Opening a folder rolls back every journaled row
whose journal generation matches the manifest, and empties slots at or above
the checkpoint's high-water mark, which restores the checkpoint exactly.
A checkpoint flushes the maps, writes the manifest to a temporary file,
fsyncs it and renames it over ``manifest.json``; only then the journal is reset.
Protection against power loss needs the fsync that ``checkpoint()`` does.

One writer. A second buffer object on the same folder (in this process or
another) would roll back the first one's unsaved writes under it when it opens
and write into the same memory maps, so the folder is locked (``flock`` on
``lock``, released by ``close()`` or when the process dies) and a second open
raises :class:`BufferInUseError`.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import pickle
import struct
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from ltm.replay.errors import BufferInUseError, CorruptBufferError, SchemaError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory lock
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

FORMAT = "ltm-replay"
VERSION = 1
_JOURNAL_MAGIC = b"LTMJ"
_META = ("_stamp", "_times", "_priority")


@dataclass(frozen=True)
class Field:
    """One item field: every item holds an array of ``shape`` and ``dtype``.

    ``dtype=object`` holds arbitrary Python objects (kept in memory, pickled at
    checkpoints) and ignores ``shape``.
    """

    name: str
    shape: tuple[int, ...] = ()
    dtype: np.dtype[Any] = field(default_factory=lambda: np.dtype(np.float32))

    @property
    def is_object(self) -> bool:
        return self.dtype == np.dtype(object)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype.str if not self.is_object else "object"}

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> Field:
        return Field(str(d["name"]), tuple(int(x) for x in d["shape"]), np.dtype(d["dtype"]))


SchemaLike = Mapping[str, "Field | tuple[tuple[int, ...] | int, DTypeLike] | DTypeLike"]


def parse_schema(schema: SchemaLike) -> dict[str, Field]:
    """Normalize ``{"obs": ((4,), "float32"), "info": object, ...}`` into Fields."""
    out: dict[str, Field] = {}
    for name, spec in schema.items():
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise SchemaError(f"field name {name!r} must be an identifier not starting with '_'", name)
        if isinstance(spec, Field):
            f = Field(name, spec.shape, spec.dtype)
        elif isinstance(spec, tuple) and len(spec) == 2 and not isinstance(spec[0], str):
            shape = (spec[0],) if isinstance(spec[0], int) else tuple(int(x) for x in spec[0])
            f = Field(name, shape, np.dtype(spec[1]))
        else:
            dt = np.dtype(spec)
            f = Field(name, (), dt)
        out[name] = f
    if not out:
        raise SchemaError("a schema needs at least one field")
    return out


def infer_schema(batch: Mapping[str, NDArray[Any]]) -> dict[str, Field]:
    """Fields from a first batch: each array's shape after the batch axis, and its dtype."""
    return {k: Field(k, tuple(v.shape[1:]), v.dtype) for k, v in batch.items()}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_LOCKED: weakref.WeakSet[Storage] = weakref.WeakSet()  # storages holding a folder lock


def _drop_inherited_locks() -> None:
    """In a forked child: close the inherited lock descriptors. A ``flock`` belongs to the open
    file description, which a child shares, so a child that outlives the parent's ``close()``
    (a DataLoader worker) would otherwise keep the folder locked against the parent's reopen."""
    for st in list(_LOCKED):
        fd, st._lock_fd = st._lock_fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_inherited_locks)


def _lock_folder(path: Path) -> int | None:
    """Take the folder's exclusive lock (non-blocking); returns the descriptor holding it."""
    if fcntl is None:  # pragma: no cover
        return None
    fd = os.open(path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            # a file system without flock (some network mounts): go on unlocked, as before
            log.warning("replay buffer %s: cannot lock the folder (%s); one writer is assumed", path, e)
            return None
        raise BufferInUseError(
            f"the replay buffer in {path} is open in another buffer object or process; "
            "close it first (a folder has one writer at a time)", str(path)) from None
    return fd


def _load_map(file: Path) -> NDArray[Any]:
    """Memory-map an ``.npy`` file read-write; a file shorter than its header says is refused
    (``np.load(mmap_mode="r+")`` would silently pad it with zeros)."""
    with open(file, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _fortran, dt = read_header(fh)
        need = fh.tell() + int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        size = os.fstat(fh.fileno()).st_size
    if size < need:
        raise ValueError(f"{file} is cut short: {size} bytes, its header needs {need}")
    return np.load(file, mmap_mode="r+")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class Storage:
    """``capacity`` slots of fixed-shape fields plus per-slot bookkeeping arrays."""

    def __init__(self, capacity: int, fields: dict[str, Field], path: Path | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.fields = fields
        self.path = path
        self.generation = 0
        self.arrays: dict[str, NDArray[Any]] = {}
        self._ckpt_hw = 0  # slots [0, hw) may have held items at the last checkpoint
        self._journaled: NDArray[np.bool_] | None = None
        self._journal_fd: int | None = None
        self._lock_fd: int | None = None
        if path is None:
            for f in fields.values():
                if f.is_object:
                    self.arrays[f.name] = np.empty(self.capacity, dtype=object)
                else:
                    self.arrays[f.name] = np.zeros((self.capacity, *f.shape), dtype=f.dtype)
            self._init_meta_memory()

    # -- construction --------------------------------------------------------
    def _init_meta_memory(self) -> None:
        self.arrays["_stamp"] = np.full(self.capacity, -1, dtype=np.int64)
        self.arrays["_times"] = np.zeros(self.capacity, dtype=np.int32)
        self.arrays["_priority"] = np.zeros(self.capacity, dtype=np.float64)

    def _meta_dtypes(self) -> dict[str, tuple[tuple[int, ...], np.dtype[Any]]]:
        return {
            "_stamp": ((), np.dtype(np.int64)),
            "_times": ((), np.dtype(np.int32)),
            "_priority": ((), np.dtype(np.float64)),
        }

    def _persistent_names(self) -> list[str]:
        """Arrays that live in memory maps (and so in the undo journal), fixed order."""
        return [f.name for f in self.fields.values() if not f.is_object] + list(_META)

    @classmethod
    def create(cls, path: Path, capacity: int, fields: dict[str, Field]) -> Storage:
        path.mkdir(parents=True, exist_ok=True)
        lock = _lock_folder(path)
        if (path / "manifest.json").exists():
            if lock is not None:
                os.close(lock)
            raise CorruptBufferError(f"{path} already holds a buffer; open it instead", str(path))
        st = cls(capacity, fields, path)
        st._lock_fd = lock
        _LOCKED.add(st)
        for f in fields.values():
            if f.is_object:
                st.arrays[f.name] = np.empty(capacity, dtype=object)
            else:
                st.arrays[f.name] = np.lib.format.open_memmap(
                    path / f"{f.name}.npy", mode="w+", dtype=f.dtype, shape=(capacity, *f.shape)
                )
        for name, (shape, dt) in st._meta_dtypes().items():
            mm = np.lib.format.open_memmap(path / f"{name}.npy", mode="w+", dtype=dt, shape=(capacity, *shape))
            if name == "_stamp":
                mm[:] = -1
            st.arrays[name] = mm
        st._journaled = np.zeros(capacity, dtype=bool)
        return st

    @classmethod
    def open(cls, path: Path) -> tuple[Storage, dict[str, Any]]:
        """Open a folder at its last checkpoint; returns the storage and the saved state."""
        mpath = path / "manifest.json"
        if not mpath.is_file():
            raise CorruptBufferError(f"no replay buffer checkpoint in {path}", str(path))
        lock = _lock_folder(path)  # before reading: the holder may be checkpointing
        try:
            try:
                st, state = cls._open_locked(path)
            except (KeyError, TypeError, AttributeError, IndexError, ValueError, OSError, EOFError,
                    pickle.UnpicklingError) as e:
                raise CorruptBufferError(f"damaged replay buffer in {path}: {type(e).__name__}: {e}",
                                         str(path)) from e
        except BaseException:
            if lock is not None:
                os.close(lock)
            raise
        st._lock_fd = lock
        _LOCKED.add(st)
        return st, state

    @classmethod
    def _open_locked(cls, path: Path) -> tuple[Storage, dict[str, Any]]:
        mpath = path / "manifest.json"
        try:
            manifest = json.loads(mpath.read_text())
        except FileNotFoundError:
            raise CorruptBufferError(f"no replay buffer checkpoint in {path}", str(path)) from None
        except (OSError, ValueError) as e:
            raise CorruptBufferError(f"unreadable manifest in {path}: {e}", str(path)) from e
        if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT
                or manifest.get("version") != VERSION):
            raise CorruptBufferError(f"{mpath} is not an {FORMAT} v{VERSION} manifest", str(path))
        fields = {d["name"]: Field.from_json(d) for d in manifest["fields"]}
        st = cls(int(manifest["capacity"]), fields, path)
        st.generation = int(manifest["generation"])
        if not isinstance(manifest["state"], dict):
            raise TypeError("the manifest's state is not an object")
        expected = {f.name: (f.shape, f.dtype) for f in fields.values() if not f.is_object}
        expected.update(st._meta_dtypes())
        for name, (shape, dt) in expected.items():
            arr = _load_map(path / f"{name}.npy")
            if arr.shape != (st.capacity, *shape) or arr.dtype != dt:
                raise CorruptBufferError(
                    f"{path / (name + '.npy')} holds {arr.dtype}{list(arr.shape)}, the manifest says "
                    f"{dt}{[st.capacity, *shape]}", str(path))
            st.arrays[name] = arr
        hw = int(manifest["high_water"])
        if not 0 <= hw <= st.capacity:
            raise ValueError(f"high_water {hw} outside [0, {st.capacity}]")
        st._rollback(hw)
        objects_file = manifest.get("objects_file")
        obj_names = {f.name for f in fields.values() if f.is_object}
        if objects_file:
            with open(path / objects_file, "rb") as fh:
                objs: dict[str, NDArray[Any]] = pickle.load(fh)
            if (not isinstance(objs, dict) or set(objs) != obj_names
                    or any(getattr(a, "shape", None) != (st.capacity,) for a in objs.values())):
                raise CorruptBufferError(f"{path / objects_file} does not hold the object fields", str(path))
            for name, arr in objs.items():
                st.arrays[name] = arr
        else:
            for f in fields.values():
                if f.is_object:
                    st.arrays[f.name] = np.empty(st.capacity, dtype=object)
        st._ckpt_hw = hw
        st._journaled = np.zeros(st.capacity, dtype=bool)
        st._reset_journal()
        return st, manifest["state"]

    # -- undo journal --------------------------------------------------------
    def _record_layout(self) -> list[tuple[str, int]]:
        out = []
        for name in self._persistent_names():
            a = self.arrays[name]
            out.append((name, int(a.dtype.itemsize * int(np.prod(a.shape[1:], dtype=np.int64)))))
        return out

    def _rollback(self, hw: int) -> None:
        """Undo every change made after the manifest's checkpoint."""
        assert self.path is not None
        jpath = self.path / "journal.bin"
        restored = 0
        if jpath.exists():
            data = jpath.read_bytes()
            if len(data) >= 12 and data[:4] == _JOURNAL_MAGIC and struct.unpack("<q", data[4:12])[0] == self.generation:
                layout = self._record_layout()
                row = sum(w for _, w in layout)
                pos = 12
                while pos + 8 <= len(data):
                    (n,) = struct.unpack("<q", data[pos : pos + 8])
                    need = 8 + n * 8 + n * row + 8
                    if n <= 0 or pos + need > len(data):
                        break  # torn tail: its slots were never modified
                    (n_end,) = struct.unpack("<q", data[pos + need - 8 : pos + need])
                    if n_end != n:
                        break
                    p = pos + 8
                    slots = np.frombuffer(data, dtype=np.int64, count=n, offset=p)
                    p += n * 8
                    for name, w in layout:
                        a = self.arrays[name]
                        old = np.frombuffer(data, dtype=a.dtype, count=n * w // a.dtype.itemsize, offset=p)
                        a[slots] = old.reshape((n, *a.shape[1:]))  # (n, *field shape)
                        p += n * w
                    restored += n
                    pos += need
        # slots first written after the checkpoint were empty then
        self.arrays["_stamp"][hw:] = -1
        self.arrays["_times"][hw:] = 0
        self.arrays["_priority"][hw:] = 0.0
        if restored:
            log.info("replay buffer %s: rolled back %d slot(s) to checkpoint %d", self.path, restored, self.generation)
        for name in self._persistent_names():
            arr = self.arrays[name]
            if isinstance(arr, np.memmap):
                arr.flush()

    def _reset_journal(self) -> None:
        assert self.path is not None
        if self._journal_fd is not None:
            os.close(self._journal_fd)
        fd = os.open(self.path / "journal.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, _JOURNAL_MAGIC + struct.pack("<q", self.generation))
        self._journal_fd = fd

    def touch(self, slots: NDArray[np.int64]) -> None:
        """Call before changing any array at ``slots``: journals rows not yet saved."""
        if self._journal_fd is None or self._journaled is None:
            return
        slots = slots[slots < self._ckpt_hw]
        if slots.size == 0:
            return
        slots = slots[~self._journaled[slots]]
        if slots.size == 0:
            return
        slots = np.unique(slots)
        parts = [struct.pack("<q", slots.size), slots.astype(np.int64).tobytes()]
        for name in self._persistent_names():
            parts.append(np.ascontiguousarray(self.arrays[name][slots]).tobytes())
        parts.append(struct.pack("<q", slots.size))
        buf = memoryview(b"".join(parts))
        while buf:
            written = os.write(self._journal_fd, buf)
            buf = buf[written:]
        self._journaled[slots] = True

    # -- checkpoint ----------------------------------------------------------
    def checkpoint(self, high_water: int, state: dict[str, Any]) -> None:
        """Make the current contents the folder's checkpoint (fsynced, atomic)."""
        if self.path is None:
            return
        for name in self._persistent_names():
            arr = self.arrays[name]
            if isinstance(arr, np.memmap):
                arr.flush()
                fd = os.open(arr.filename, os.O_RDONLY)  # type: ignore[arg-type]
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        gen = self.generation + 1
        objects_file = None
        obj_fields = [f.name for f in self.fields.values() if f.is_object]
        if obj_fields:
            objects_file = f"objects-{gen}.pkl"
            payload = {n: self.arrays[n] for n in obj_fields}
            _atomic_write(self.path / objects_file, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "generation": gen,
            "capacity": self.capacity,
            "fields": [f.to_json() for f in self.fields.values()],
            "objects_file": objects_file,
            "high_water": int(high_water),
            "state": state,
        }
        _atomic_write(self.path / "manifest.json", json.dumps(manifest, indent=1).encode())
        self.generation = gen
        self._ckpt_hw = int(high_water)
        if self._journaled is not None:
            self._journaled[:] = False
        self._reset_journal()
        for old in self.path.glob("objects-*.pkl"):
            if old.name != objects_file:
                old.unlink(missing_ok=True)

    def __del__(self) -> None:
        # a buffer dropped without close(): give back the descriptors (and so the lock);
        # no checkpoint here, reopening rolls back to the last one
        for name in ("_journal_fd", "_lock_fd"):
            fd = getattr(self, name, None)
            if fd is not None:
                setattr(self, name, None)
                try:
                    os.close(fd)
                except OSError:
                    pass

    def close(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the folder's lock
            self._lock_fd = None
        for name in list(self.arrays):
            arr = self.arrays[name]
            if isinstance(arr, np.memmap):
                arr.flush()
                mm = getattr(arr, "_mmap", None)
                del arr
                self.arrays.pop(name)
                if mm is not None:
                    try:
                        mm.close()
                    except BufferError:  # a view is still alive somewhere; GC will close it
                        pass
