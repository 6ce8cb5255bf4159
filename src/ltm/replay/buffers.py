"""Replay buffers over one slot storage: uniform, FIFO, reservoir and prioritized.

Each buffer is a write policy (which slot a new item takes) plus a sampling
policy (which slots a batch reads):

=============== ============================== ==================================
buffer          write                          sample
=============== ============================== ==================================
UniformBuffer   ring (overwrites the oldest)   uniform with replacement
FIFOBuffer      ring                           the oldest items, in order
ReservoirBuffer reservoir (Algorithm R)        uniform with replacement
PrioritizedBuffer ring                         proportional to priority**alpha
=============== ============================== ==================================

A reservoir buffer keeps a uniform random subset of everything ever offered:
after ``t`` items each one is present with probability ``capacity / t``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import pickle
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

from ltm.replay.errors import (
    CorruptBufferError,
    EmptyBufferError,
    InvalidArgument,
    ReplayError,
    SchemaError,
)
from ltm.replay.nstep import nstep_returns
from ltm.replay.segment_tree import SumMinTree
from ltm.replay.storage import Field, SchemaLike, Storage, infer_schema, parse_schema

log = logging.getLogger(__name__)

ITEM = "item"  # the single field of a buffer of arbitrary objects


@dataclass
class Batch:
    """A sampled batch.

    ``data`` maps field name to an array with the batch axis first (``[n, ...]``,
    or ``[n, length, ...]`` for sequences). ``indices`` are the slots sampled (the
    first slot of each sequence) and ``stamps`` their insertion numbers: pass both
    back to :meth:`PrioritizedBuffer.update_priorities`. ``weights`` are the
    importance-sampling weights (all ones except for prioritized sampling).
    """

    data: dict[str, NDArray[Any]]
    indices: NDArray[np.int64]
    stamps: NDArray[np.int64]
    weights: NDArray[np.float64]
    probabilities: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    @property
    def items(self) -> list[Any]:
        """The sampled objects, for a buffer of arbitrary objects."""
        return list(self.data[ITEM])


def _as_generator(rng: np.random.Generator | int | None, default: np.random.Generator) -> np.random.Generator:
    if rng is None:
        return default
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _count(value: Any, name: str) -> int:
    """``value`` as an integer >= 1 (an integral float such as ``1e6`` is accepted)."""
    ok = isinstance(value, (int, np.integer, float, np.floating)) and not isinstance(value, (bool, np.bool_))
    if ok and isinstance(value, (float, np.floating)):
        ok = math.isfinite(value) and float(value).is_integer()
    if not ok or int(value) < 1:
        raise InvalidArgument(f"{name} must be an integer >= 1, got {value!r}", name)
    return int(value)


def _nonnegative(value: Any, name: str) -> float:
    """``value`` as a finite float >= 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name} must be a number >= 0, got {value!r}", name) from None
    if not math.isfinite(v) or v < 0:
        raise InvalidArgument(f"{name} must be a finite number >= 0, got {value!r}", name)
    return v


def _narrow(name: str, a: NDArray[Any], dt: np.dtype[Any]) -> NDArray[Any]:
    """``a`` cast to the field's dtype; values the dtype cannot hold (an integer out of its
    range, a finite float beyond its largest) are a SchemaError, not wrapped or made inf."""
    if a.size and a.dtype.kind in "iu" and dt.kind in "iu":
        info = np.iinfo(dt)
        lo, hi = int(a.min()), int(a.max())
        if lo < info.min or hi > info.max:
            raise SchemaError(f"field {name!r}: {lo if lo < info.min else hi} does not fit in {dt} "
                              f"[{info.min}, {info.max}]", name)
    if a.size and a.dtype.kind in "US" and dt.kind == a.dtype.kind and a.dtype.itemsize > dt.itemsize:
        width = dt.itemsize // (4 if dt.kind == "U" else 1)  # characters (U) or bytes (S)
        longest = int(np.char.str_len(a).max())
        if longest > width:
            raise SchemaError(f"field {name!r}: a value of {longest} characters does not fit in {dt}", name)
    with np.errstate(over="ignore", invalid="ignore"):
        out = a.astype(dt)
    if a.size and a.dtype.kind == "f" and dt.kind == "f":
        over = np.isinf(out) & np.isfinite(a)
        if over.any():
            raise SchemaError(f"field {name!r}: {a[over].flat[0]!r} overflows {dt}", name)
    return out


def _contiguous(slots: NDArray[np.int64]) -> slice | NDArray[np.int64]:
    """``slots`` as a slice when it is an ascending run (ring writes), else unchanged."""
    if slots.size > 1 and slots[-1] - slots[0] == slots.size - 1 and np.all(np.diff(slots) == 1):
        return slice(int(slots[0]), int(slots[-1]) + 1)
    return slots


class ReplayBuffer:
    """Base class: fixed capacity, structured items, batched writes, persistence.

    Args:
        capacity: number of slots.
        schema: ``{"obs": ((4,), "float32"), "action": ((), "int64"), "info": object}``;
            ``None`` infers it from the first ``extend`` (a dict of arrays gives
            array fields, anything else a single object field named ``item``).
        path: folder to keep the buffer in (memory maps + manifest); ``None`` keeps
            it in memory.
        seed: seed of the buffer's own generator (used when ``sample`` gets no rng,
            and by the reservoir's write decisions); saved with every checkpoint.
        max_times_sampled: remove an item once it has been sampled this many times.
    """

    kind: ClassVar[str] = "base"
    supports_sequences: ClassVar[bool] = True
    _unique_placement: ClassVar[bool] = True  # _place never repeats a slot in one batch

    def __init__(
        self,
        capacity: int,
        schema: SchemaLike | None = None,
        *,
        path: str | Path | None = None,
        seed: int | None = None,
        max_times_sampled: int | None = None,
    ) -> None:
        capacity = _count(capacity, "capacity")
        if max_times_sampled is not None:
            max_times_sampled = _count(max_times_sampled, "max_times_sampled")
        self.capacity = capacity
        self._closed = False
        self.path = Path(path) if path is not None else None
        self.max_times_sampled = max_times_sampled
        self.rng = np.random.default_rng(seed)
        self._cursor = 0  # next ring slot
        self._hw = 0  # slots [0, hw) have been written at least once
        self._added = 0  # items ever offered (stamps are 0, 1, 2, ...)
        self._size = 0  # occupied slots
        self._valid_cache: NDArray[np.int64] | None = None
        self._storage: Storage | None = None
        self._schema_objects = False
        if schema is not None:
            self._init_storage(parse_schema(schema))

    # -- setup ---------------------------------------------------------------
    def _init_storage(self, fields: dict[str, Field]) -> None:
        if self.path is None:
            self._storage = Storage(self.capacity, fields)
        else:
            self._storage = Storage.create(self.path, self.capacity, fields)
        self._schema_objects = list(fields) == [ITEM] and fields[ITEM].is_object
        self._on_storage_ready()
        if self.path is not None:
            self.checkpoint()

    def _on_storage_ready(self) -> None:
        """Hook for subclasses that keep derived state (e.g. the sum-tree)."""

    @property
    def fields(self) -> dict[str, Field]:
        return dict(self._storage.fields) if self._storage is not None else {}

    def __len__(self) -> int:
        return self._size

    @property
    def added(self) -> int:
        """Number of items ever offered to the buffer (kept or not)."""
        return self._added

    def _check_open(self) -> None:
        if self._closed:
            raise ReplayError(f"this {self.kind} buffer is closed; open_buffer(path) reopens a folder")

    # -- writing -------------------------------------------------------------
    def _normalize(self, items: Any) -> tuple[dict[str, NDArray[Any]], int]:
        """Turn ``items`` into ``{field: array [B, ...]}``."""
        self._check_open()
        try:
            return self._normalize_checked(items)
        except (ValueError, TypeError) as e:
            if isinstance(e, SchemaError):
                raise
            raise SchemaError(f"not a batch this buffer can store: {e}") from e

    def _normalize_checked(self, items: Any) -> tuple[dict[str, NDArray[Any]], int]:
        if isinstance(items, Mapping):
            batch = {k: np.asarray(v) for k, v in items.items()}
        elif isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
            raise SchemaError(f"extend takes a dict of arrays or a list of items, got {type(items).__name__}")
        elif self._storage is not None and self._schema_objects:
            seq = list(items)
            arr = np.empty(len(seq), dtype=object)
            arr[:] = seq
            batch = {ITEM: arr}
        else:
            seq = list(items)
            if seq and all(isinstance(x, Mapping) for x in seq):
                keys = set(seq[0])
                for i, x in enumerate(seq):
                    if set(x) != keys:
                        raise SchemaError(f"item {i} has fields {sorted(x)}, item 0 has {sorted(keys)}")
                batch = {k: np.stack([np.asarray(x[k]) for x in seq]) for k in seq[0]}
            else:
                arr = np.empty(len(seq), dtype=object)
                arr[:] = seq
                batch = {ITEM: arr}
        if self._storage is None:
            fields = infer_schema(batch) if ITEM not in batch else {ITEM: Field(ITEM, (), np.dtype(object))}
            self._init_storage(fields)
        assert self._storage is not None
        fields = self._storage.fields
        if set(batch) != set(fields):
            raise SchemaError(f"batch has fields {sorted(batch)}, buffer has {sorted(fields)}")
        n = -1
        for name, f in fields.items():
            a = batch[name]
            if a.ndim == 0:
                raise SchemaError(f"field {name!r}: a batch needs a leading batch axis (add() stores one item)",
                                  name)
            if f.is_object:
                if a.dtype != object:
                    b = np.empty(len(a), dtype=object)
                    b[:] = list(a)
                    batch[name] = a = b
            elif a.shape[1:] != f.shape:
                raise SchemaError(f"field {name!r}: expected item shape {f.shape}, got {a.shape[1:]}", name)
            elif a.dtype != f.dtype:
                if not np.can_cast(a.dtype, f.dtype, casting="same_kind"):
                    raise SchemaError(f"field {name!r}: cannot store {a.dtype} as {f.dtype}", name)
                batch[name] = a = _narrow(name, a, f.dtype)
            if n >= 0 and a.shape[0] != n:
                raise SchemaError("all fields of a batch need the same length", name)
            n = a.shape[0]
        return batch, n

    def add(self, item: Any) -> int:
        """Store one item; returns its slot (-1 if a reservoir dropped it)."""
        if isinstance(item, Mapping):
            return int(self.extend({k: np.asarray(v)[None] for k, v in item.items()})[0])
        return int(self.extend([item])[0])

    def extend(self, items: Mapping[str, Any] | Iterable[Any]) -> NDArray[np.int64]:
        """Store a batch: a dict of arrays with a leading batch axis, a list of item
        dicts, or a list of objects. Returns the slot of each item (-1 = dropped)."""
        batch, n = self._normalize(items)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        stamps = self._added + np.arange(n, dtype=np.int64)
        slots = self._place(n)  # slot of each item, -1 = not stored
        kept = np.flatnonzero(slots >= 0)
        if kept.size == n and self._unique_placement:  # ring: n <= capacity distinct slots
            self._write(slots, batch, stamps)
        elif kept.size:
            # a slot written twice in one batch keeps its last item
            ks = slots[kept][::-1]
            _, first = np.unique(ks, return_index=True)
            kept = kept[::-1][first]
            self._write(slots[kept], {k: v[kept] for k, v in batch.items()}, stamps[kept])
        self._added += n
        return slots

    def _place(self, n: int) -> NDArray[np.int64]:
        """Ring placement (overridden by the reservoir)."""
        slots = (self._cursor + np.arange(n, dtype=np.int64)) % self.capacity
        if n > self.capacity:  # earlier items of the batch are overwritten by later ones
            slots[: n - self.capacity] = -1
        self._cursor = int((self._cursor + n) % self.capacity)
        return slots

    def _write(self, slots: NDArray[np.int64], batch: dict[str, NDArray[Any]], stamps: NDArray[np.int64]) -> None:
        st = self._storage
        assert st is not None
        st.touch(slots)
        arrays = st.arrays
        where = _contiguous(slots)
        was_empty = int(np.count_nonzero(arrays["_stamp"][where] < 0))
        for name, values in batch.items():
            arrays[name][where] = values
        arrays["_stamp"][where] = stamps
        arrays["_times"][where] = 0
        self._size += was_empty
        self._hw = max(self._hw, int(slots.max()) + 1)
        self._valid_cache = None
        self._after_write(slots)

    def _after_write(self, slots: NDArray[np.int64]) -> None:
        """Hook: prioritized buffers give new items the maximum priority."""

    # -- removal -------------------------------------------------------------
    def _remove(self, slots: NDArray[np.int64]) -> None:
        st = self._storage
        assert st is not None
        slots = np.unique(slots)
        st.touch(slots)
        st.arrays["_stamp"][slots] = -1
        st.arrays["_times"][slots] = 0
        self._size -= int(slots.size)
        self._valid_cache = None
        self._after_remove(slots)

    def _after_remove(self, slots: NDArray[np.int64]) -> None:
        """Hook: prioritized buffers zero the removed leaves."""

    def _count_samples(self, slots: NDArray[np.int64]) -> None:
        if self.max_times_sampled is None or slots.size == 0:
            return
        st = self._storage
        assert st is not None
        uniq, counts = np.unique(slots, return_counts=True)
        st.touch(uniq)
        times = st.arrays["_times"]
        times[uniq] += counts.astype(np.int32)
        done = uniq[times[uniq] >= self.max_times_sampled]
        if done.size:
            self._remove(done)

    # -- sampling ------------------------------------------------------------
    def _valid_slots(self) -> NDArray[np.int64]:
        """Occupied slots, ascending."""
        if self._size == self._hw:
            return np.arange(self._hw, dtype=np.int64)
        if self._valid_cache is None:
            assert self._storage is not None
            self._valid_cache = np.flatnonzero(self._storage.arrays["_stamp"][: self._hw] >= 0)
        return self._valid_cache

    def _uniform_slots(self, n: int, rng: np.random.Generator) -> NDArray[np.int64]:
        if self._size == self._hw:  # no holes: slots [0, size) are all occupied
            return rng.integers(0, self._size, size=n, dtype=np.int64)
        valid = self._valid_slots()
        return valid[rng.integers(0, valid.size, size=n)]

    def _draw(self, n: int, rng: np.random.Generator) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """Slots, importance weights, sampling probabilities (default: uniform)."""
        slots = self._uniform_slots(n, rng)
        p = np.full(n, 1.0 / self._size)
        return slots, np.ones(n), p

    def _draw_independent(self, n: int, rng: np.random.Generator
                          ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """Like :meth:`_draw`, with the ``n`` draws independent of each other (and of order)."""
        return self._draw(n, rng)

    def _gather(self, slots: NDArray[np.int64]) -> dict[str, NDArray[Any]]:
        assert self._storage is not None
        return {name: self._storage.arrays[name][slots] for name in self._storage.fields}

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> Batch:
        """Draw ``n`` items (with replacement; FIFO returns up to ``n`` oldest)."""
        self._check_open()
        n = _count(n, "n")
        if self._size == 0:
            raise EmptyBufferError(f"cannot sample from an empty {self.kind} buffer")
        g = _as_generator(rng, self.rng)
        slots, weights, probs = self._draw(n, g)
        assert self._storage is not None
        batch = Batch(self._gather(slots), slots, self._storage.arrays["_stamp"][slots].copy(), weights, probs)
        self._count_samples(slots)
        return batch

    def _window_ok(self, starts: NDArray[np.int64], length: int) -> NDArray[np.bool_]:
        """True where slots start..start+length-1 (ring order) hold consecutive stamps."""
        assert self._storage is not None
        stamp = self._storage.arrays["_stamp"]
        offs = np.arange(length, dtype=np.int64)
        win = (starts[:, None] + offs[None, :]) % self.capacity  # [n, length]
        s = stamp[win]
        return (s[:, 0] >= 0) & np.all(s == s[:, :1] + offs[None, :], axis=1)

    def _draw_starts(self, n: int, length: int, rng: np.random.Generator) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Start slots of ``n`` valid windows, by rejection from the buffer's own law."""
        got: list[NDArray[np.int64]] = []
        wts: list[NDArray[np.float64]] = []
        need = n
        for _ in range(64):
            # independent draws: a stratified batch comes in mass order, and keeping its first
            # valid draws would only ever start runs in the low part of the mass
            slots, w, _ = self._draw_independent(2 * need + 8, rng)
            ok = self._window_ok(slots, length)
            got.append(slots[ok][:need])
            wts.append(w[ok][:need])
            need -= int(got[-1].size)
            if need == 0:
                w_all = np.concatenate(wts)
                return np.concatenate(got), w_all / w_all.max()
        raise EmptyBufferError(f"found no run of {length} consecutive items to sample")

    def sample_sequences(self, n: int, length: int, rng: np.random.Generator | int | None = None) -> Batch:
        """Draw ``n`` runs of ``length`` consecutively inserted items.

        ``data[name]`` has shape ``[n, length, *field shape]``; a run never crosses
        the write position or a removed item. For prioritized buffers the start is
        drawn by priority (conditioned on a full run following it).
        """
        self._check_open()
        if not self.supports_sequences:
            raise ReplayError(f"a {self.kind} buffer does not keep consecutive items together")
        n, length = _count(n, "n"), _count(length, "length")
        if self._size == 0:
            raise EmptyBufferError(f"cannot sample from an empty {self.kind} buffer")
        g = _as_generator(rng, self.rng)
        starts, weights = self._draw_starts(n, length, g)
        win = (starts[:, None] + np.arange(length)[None, :]) % self.capacity  # [n, length]
        flat = win.reshape(-1)  # [n * length]
        data = {k: v.reshape((starts.size, length, *v.shape[1:])) for k, v in self._gather(flat).items()}
        assert self._storage is not None
        batch = Batch(data, starts, self._storage.arrays["_stamp"][starts].copy(), weights)
        self._count_samples(starts)
        return batch

    def sample_nstep(
        self,
        n: int,
        steps: int,
        gamma: float,
        rng: np.random.Generator | int | None = None,
        *,
        reward: str = "reward",
        done: str = "done",
    ) -> Batch:
        """n-step transitions: the first step's fields, ``n_return`` (discounted reward
        sum, cut at the first ``done``), ``n_discount`` (gamma**k, 0 after a terminal)
        and ``last_<field>`` from the step the return ends on (for bootstrapping)."""
        self._check_open()
        for name in (reward, done):
            if name not in self.fields:
                raise SchemaError(f"n-step sampling needs a field {name!r}; the buffer has {sorted(self.fields)}",
                                  name)
        b = self.sample_sequences(n, _count(steps, "steps"), rng)
        ret, disc, last = nstep_returns(b.data[reward], b.data[done], gamma)
        rows = np.arange(len(b))
        out = {k: v[:, 0] for k, v in b.data.items()}
        out.update({f"last_{k}": v[rows, last] for k, v in b.data.items()})
        out["n_return"] = ret
        out["n_discount"] = disc
        return Batch(out, b.indices, b.stamps, b.weights, b.probabilities)

    # -- persistence ---------------------------------------------------------
    def digest(self) -> str:
        """SHA-256 of everything a reopen must restore: occupied slots' contents,
        stamps, sample counts and priorities, the counters and the RNG state."""
        self._check_open()
        st = self._storage
        h = hashlib.sha256()
        h.update(json.dumps(self._state(), sort_keys=True).encode())
        if st is None:
            return h.hexdigest()
        occ = np.flatnonzero(st.arrays["_stamp"][: self._hw] >= 0)
        h.update(occ.tobytes())
        for name in [*st.fields, "_stamp", "_times", "_priority"]:
            vals = st.arrays[name][occ]
            h.update(pickle.dumps(list(vals)) if vals.dtype == object else np.ascontiguousarray(vals).tobytes())
        return h.hexdigest()

    def _state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "cursor": self._cursor,
            "high_water": self._hw,
            "added": self._added,
            "size": self._size,
            "max_times_sampled": self.max_times_sampled,
            "rng": self.rng.bit_generator.state,
            "extra": self._extra_state(),
        }

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        """Hook for subclass state saved by :meth:`_extra_state`."""

    def checkpoint(self) -> None:
        """Persist the buffer exactly as it is now (no-op in memory)."""
        self._check_open()
        if self._storage is None or self.path is None:
            return
        self._storage.checkpoint(self._hw, self._state())

    def close(self) -> None:
        """Checkpoint and release the files; the buffer cannot be used afterwards."""
        if self._closed:
            return
        if self._storage is not None:
            self.checkpoint()
            self._storage.close()
            self._storage = None
        self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def _from_storage(cls, path: Path, storage: Storage, state: Mapping[str, Any]) -> ReplayBuffer:
        buf = cls.__new__(cls)
        buf.capacity = storage.capacity
        buf._closed = False
        buf.path = path
        buf.max_times_sampled = state["max_times_sampled"]
        bg = np.random.PCG64()
        bg.state = state["rng"]
        buf.rng = np.random.Generator(bg)
        buf._cursor = int(state["cursor"])
        buf._hw = int(state["high_water"])
        buf._added = int(state["added"])
        buf._size = int(state["size"])
        buf._valid_cache = None
        buf._storage = storage
        fields = storage.fields
        buf._schema_objects = list(fields) == [ITEM] and fields[ITEM].is_object
        buf._init_extra_defaults()
        buf._load_extra_state(state.get("extra", {}))
        buf._on_storage_ready()
        return buf

    def _init_extra_defaults(self) -> None:
        """Hook: set subclass attributes before ``_load_extra_state`` on reopen."""


class UniformBuffer(ReplayBuffer):
    """Ring buffer (the oldest item is overwritten) with uniform sampling."""

    kind = "uniform"


class FIFOBuffer(ReplayBuffer):
    """Ring buffer whose ``sample(n)`` returns the ``n`` oldest items in insertion order.

    With ``max_times_sampled=1`` it is a bounded queue: each item is read once.
    """

    kind = "fifo"

    def _oldest_first(self, n: int) -> NDArray[np.int64]:
        assert self._storage is not None
        stamp = self._storage.arrays["_stamp"]
        start = self._cursor if self._hw == self.capacity else 0
        out: list[NDArray[np.int64]] = []
        need = n
        chunk = max(4 * n, 4096)
        pos = 0
        while need > 0 and pos < self._hw:
            # ring order from the oldest slot; before the first wrap start is 0
            idx = (start + np.arange(pos, min(pos + chunk, self._hw), dtype=np.int64)) % self.capacity
            hit = idx[stamp[idx] >= 0][:need]
            out.append(hit)
            need -= hit.size
            pos += chunk
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def _draw(self, n: int, rng: np.random.Generator) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        slots = self._oldest_first(n)
        return slots, np.ones(slots.size), np.ones(slots.size)

    def _draw_starts(self, n: int, length: int, rng: np.random.Generator) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        order = self._oldest_first(self._size)
        starts = order[::length]
        starts = starts[self._window_ok(starts, length)][:n]
        if starts.size == 0:
            raise EmptyBufferError(f"found no run of {length} consecutive items to sample")
        return starts, np.ones(starts.size)


class ReservoirBuffer(ReplayBuffer):
    """Keeps a uniform random sample of an unbounded stream (Vitter's Algorithm R).

    The first ``capacity`` items fill the slots; item number ``t`` (0-based) after
    that replaces a uniformly chosen slot with probability ``capacity / (t + 1)``
    and is dropped otherwise. Removed items' slots are refilled first.
    """

    kind = "reservoir"
    supports_sequences = False
    _unique_placement = False

    def _place(self, n: int) -> NDArray[np.int64]:
        t = self._added + np.arange(n, dtype=np.int64)
        slots = np.full(n, -1, dtype=np.int64)
        fill = t < self.capacity
        slots[fill] = t[fill]
        rest = np.flatnonzero(~fill)
        if rest.size and self._size < self._hw and self._hw == self.capacity:
            assert self._storage is not None
            holes = np.flatnonzero(self._storage.arrays["_stamp"] < 0)[: rest.size]
            slots[rest[: holes.size]] = holes
            rest = rest[holes.size :]
        if rest.size:
            j = self.rng.integers(0, t[rest] + 1)  # uniform in [0, t]
            slots[rest] = np.where(j < self.capacity, j, -1)
        return slots


class PrioritizedBuffer(ReplayBuffer):
    """Proportional prioritized replay (Schaul et al., 2015).

    Item ``i`` is drawn with probability ``P(i) = p_i**alpha / sum_k p_k**alpha``
    (stratified: one draw per equal slice of the total mass) and carries the
    importance weight ``w_i = (N * P(i))**-beta / max_j w_j``, normalized by the
    largest possible weight (from the min-tree). New items get the largest
    priority seen so far, so each is replayed at least once soon.

    Args (beyond :class:`ReplayBuffer`):
        alpha: how much prioritization (0 = uniform).
        beta: importance-weight exponent (1 = full correction); may be changed
            over training through the attribute.
        eps: added to priorities passed to :meth:`update_priorities`.
    """

    kind = "prioritized"

    def __init__(
        self,
        capacity: int,
        schema: SchemaLike | None = None,
        *,
        alpha: float = 0.6,
        beta: float = 0.4,
        eps: float = 1e-6,
        path: str | Path | None = None,
        seed: int | None = None,
        max_times_sampled: int | None = None,
    ) -> None:
        capacity = _count(capacity, "capacity")
        self.alpha = _nonnegative(alpha, "alpha")
        self.beta = _nonnegative(beta, "beta")
        self.eps = _nonnegative(eps, "eps")
        self.max_priority = 1.0
        self.tree = SumMinTree(capacity)
        super().__init__(capacity, schema, path=path, seed=seed, max_times_sampled=max_times_sampled)

    def _init_extra_defaults(self) -> None:
        self.alpha, self.beta, self.eps, self.max_priority = 0.6, 0.4, 1e-6, 1.0
        self.tree = SumMinTree(self.capacity)

    def _extra_state(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "beta": self.beta, "eps": self.eps, "max_priority": self.max_priority}

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        self.alpha = float(extra["alpha"])
        self.beta = float(extra["beta"])
        self.eps = float(extra["eps"])
        self.max_priority = float(extra["max_priority"])

    def _on_storage_ready(self) -> None:
        assert self._storage is not None
        a = self._storage.arrays
        live = a["_stamp"] >= 0
        pri = np.where(live, np.asarray(a["_priority"], dtype=np.float64), 0.0)
        # empty slots get no mass (0 ** alpha is 1 when alpha is 0)
        self.tree.set_all(np.where(live, pri**self.alpha, 0.0))

    def _after_write(self, slots: NDArray[np.int64]) -> None:
        assert self._storage is not None
        self._storage.arrays["_priority"][slots] = self.max_priority
        self.tree.update(slots, np.full(slots.size, self.max_priority**self.alpha))

    def _after_remove(self, slots: NDArray[np.int64]) -> None:
        assert self._storage is not None
        self._storage.arrays["_priority"][slots] = 0.0
        self.tree.update(slots, np.zeros(slots.size))

    def _draw(self, n: int, rng: np.random.Generator, *, stratified: bool = True
              ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        total = self.tree.total
        if not total > 0:  # eps = 0 and every stored priority 0
            raise EmptyBufferError("every stored item has priority 0 (eps is 0): nothing to sample")
        if stratified:
            mass = (np.arange(n) + rng.random(n)) * (total / n)  # one draw per slice
        else:
            mass = rng.random(n) * total
        slots = self.tree.find(mass)
        p = self.tree.leaves(slots) / total
        p_min = self.tree.min_value / total
        weights = (p / p_min) ** (-self.beta)  # = (N p)^-beta / (N p_min)^-beta
        return slots, weights, p

    def _draw_independent(self, n: int, rng: np.random.Generator
                          ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        return self._draw(n, rng, stratified=False)

    def probabilities(self) -> NDArray[np.float64]:
        """P(i) for every slot (0 for empty slots)."""
        self._check_open()
        leaves = self.tree.sum[self.tree.size : self.tree.size + self.capacity]
        total = self.tree.total
        return leaves / total if total > 0 else np.zeros(self.capacity)

    def update_priorities(
        self,
        indices: Sequence[int] | NDArray[np.int64],
        priorities: Sequence[float] | NDArray[np.float64],
        stamps: NDArray[np.int64] | None = None,
    ) -> None:
        """Set the priorities (e.g. ``|TD error|``; ``eps`` is added) of sampled slots.

        Pass ``stamps`` from the batch to skip slots whose item was replaced or
        removed since it was sampled.
        """
        self._check_open()
        raw_idx = np.asarray(indices)
        try:
            raw_pri = np.asarray(priorities, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidArgument("priorities must be numbers", "priorities") from None
        if raw_idx.ndim == 0 and raw_pri.ndim == 0:  # one slot
            raw_idx, raw_pri = raw_idx.reshape(1), raw_pri.reshape(1)
        if raw_idx.ndim != 1 or raw_pri.shape != raw_idx.shape:
            raise InvalidArgument(f"indices and priorities must be one-dimensional and of one length, got "
                                  f"shapes {raw_idx.shape} and {raw_pri.shape}", "priorities")
        if raw_idx.size and raw_idx.dtype.kind not in "iu":
            raise InvalidArgument(f"indices must be integers, got {raw_idx.dtype}", "indices")
        idx = raw_idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.capacity):
            raise InvalidArgument(f"indices must be slots in [0, {self.capacity}), got "
                                  f"{int(idx.min() if idx.min() < 0 else idx.max())}", "indices")
        if not np.all(np.isfinite(raw_pri)):
            raise InvalidArgument("priorities must be finite", "priorities")
        st_arr = None if stamps is None else np.asarray(stamps)
        if st_arr is not None and st_arr.reshape(-1).shape != idx.shape:
            raise InvalidArgument(f"stamps has shape {st_arr.shape}, indices {idx.shape}", "stamps")
        pri = np.abs(raw_pri) + self.eps
        if idx.size == 0 or self._storage is None:
            return
        st = self._storage
        cur = st.arrays["_stamp"][idx]
        keep = cur >= 0 if st_arr is None else cur == st_arr.reshape(-1)
        idx, pri = idx[keep], pri[keep]
        if idx.size == 0:
            return
        st.touch(idx)
        st.arrays["_priority"][idx] = pri
        self.tree.update(idx, pri**self.alpha)
        self.max_priority = max(self.max_priority, float(pri.max()))


KINDS: dict[str, type[ReplayBuffer]] = {
    c.kind: c for c in (UniformBuffer, FIFOBuffer, ReservoirBuffer, PrioritizedBuffer)
}


def open_buffer(path: str | Path) -> ReplayBuffer:
    """Reopen a buffer folder exactly as its last checkpoint left it."""
    p = Path(path)
    storage, state = Storage.open(p)
    kind = state.get("kind")
    if kind not in KINDS:
        storage.close()
        raise CorruptBufferError(f"unknown buffer kind {kind!r} in {p}", str(p))
    try:
        return KINDS[kind]._from_storage(p, storage, state)
    except (KeyError, TypeError, ValueError) as e:  # a manifest missing or mangling a counter
        storage.close()
        raise CorruptBufferError(f"damaged replay buffer state in {p}: {type(e).__name__}: {e}",
                                 str(p)) from e
