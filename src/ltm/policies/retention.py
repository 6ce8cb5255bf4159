"""Retention: declarative policies per kind, and ``gc`` that applies them.

A policy says, for one kind of memory (episode, fact, summary, ...):

- ``ttl_days``: memories stored longer ago than this are expired;
- ``decay_half_life_days``: the retrieval weight of a memory halves with every half-life of
  disuse (time since it was stored or last retrieved); each retrieval stretches the half-life
  (x ``1 + ln(1 + access_count)``), so memories in use fade slower. ``min_strength`` makes gc
  evict memories whose weight fell below it;
- ``capacity``: at most this many memories of the kind per user; gc evicts those with the
  lowest utility (recency, access frequency, importance);
- ``dedup_threshold``: a new memory whose cosine similarity to an existing one of the same
  user and kind reaches it reinforces that one instead of being stored (gc merges leftovers);
- ``consolidate_after_days`` / ``consolidate_min_turns`` / ``originals``: sessions whose newest
  episode is older than this are folded into a summary (see ``consolidate.py``).

Pinned memories are exempt from all of it. Explicit ``expires_at`` on a memory always applies
(except to pinned ones). Policies come from ``Settings.retention`` (JSON or a TOML table, per
store in the store folder's ``ltm.toml``) over ``DEFAULT_POLICIES``.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from ..model import Memory
from ..timeutil import iso, now_us, to_us

if TYPE_CHECKING:
    from ..store import MemoryStore

log = logging.getLogger(__name__)

US_PER_DAY = 86_400 * 1_000_000
_ORIGINALS = ("keep", "archive", "remove")


@dataclass(frozen=True)
class KindPolicy:
    ttl_days: float | None = None  # None = keep forever
    decay_half_life_days: float | None = None  # None = no decay
    min_strength: float | None = None  # gc evicts below this decayed weight (needs decay)
    capacity: int | None = None  # per user; None = unlimited
    dedup_threshold: float | None = None  # cosine; None = every write is stored
    consolidate_after_days: float | None = None  # None = never consolidate
    consolidate_min_turns: int = 6  # sessions shorter than this are left alone
    summary_turns: int = 6  # extractive summaries keep this many central turns
    originals: str = "keep"  # after consolidation: keep | archive | remove

    def __post_init__(self) -> None:
        for name in ("ttl_days", "decay_half_life_days", "consolidate_after_days"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)
                                  or not math.isfinite(v) or v < 0):
                raise InvalidInput(f"retention {name} must be a number >= 0", field=name)
        for name in ("min_strength", "dedup_threshold"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                  or not 0 <= v <= 1):
                raise InvalidInput(f"retention {name} must be in [0, 1]", field=name)
        if self.capacity is not None and (isinstance(self.capacity, bool)
                                          or not isinstance(self.capacity, int)
                                          or self.capacity < 0):
            raise InvalidInput("retention capacity must be an integer >= 0", field="capacity")
        if self.originals not in _ORIGINALS:
            raise InvalidInput(f"retention originals must be one of {_ORIGINALS}",
                               field="originals")
        if self.consolidate_min_turns < 1 or self.summary_turns < 1:
            raise InvalidInput("consolidate_min_turns and summary_turns must be >= 1")


DEFAULT_POLICIES: dict[str, KindPolicy] = {
    "episode": KindPolicy(),
    "fact": KindPolicy(dedup_threshold=0.95),
    "summary": KindPolicy(),
}
_KEYS = {f.name for f in fields(KindPolicy)}


@functools.lru_cache(maxsize=32)
def _parse(spec: str) -> dict[str, KindPolicy]:
    out = dict(DEFAULT_POLICIES)
    if not spec.strip():
        return out
    try:
        data = json.loads(spec)
    except ValueError as exc:
        raise InvalidInput(f"setting retention is not valid JSON: {exc}",
                           field="retention") from None
    if not isinstance(data, dict):
        raise InvalidInput("setting retention must map kinds to policies", field="retention")
    for kind, raw in data.items():
        if not isinstance(raw, dict):
            raise InvalidInput(f"retention policy for {kind!r} must be an object",
                               field="retention")
        unknown = set(raw) - _KEYS
        if unknown:
            raise InvalidInput(f"retention policy for {kind!r} has unknown keys "
                               f"{sorted(unknown)}; known: {sorted(_KEYS)}", field="retention")
        out[kind] = replace(out.get(kind, KindPolicy()), **raw)
    return out


def policies(spec: str | Mapping[str, Any] | None) -> dict[str, KindPolicy]:
    """The policy of every kind: ``DEFAULT_POLICIES`` updated by ``spec`` (JSON text or a
    dict ``{kind: {key: value}}``). Kinds without a policy get ``KindPolicy()``."""
    if spec is None:
        return dict(DEFAULT_POLICIES)
    if not isinstance(spec, str):
        spec = json.dumps(spec, sort_keys=True)
    return _parse(spec)


def policy_for(spec: str | Mapping[str, Any] | None, kind: str) -> KindPolicy:
    return policies(spec).get(kind, KindPolicy())


def describe(spec: str | Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {k: asdict(p) for k, p in policies(spec).items()}


# -- scores -------------------------------------------------------------------------------
def last_use(mem: Memory) -> int:
    """When the memory was last stored or retrieved (microseconds)."""
    t = to_us(mem.recorded_at)
    if mem.last_accessed is not None:
        t = max(t, to_us(mem.last_accessed))
    return t


def strength(mem: Memory, now: int, half_life_days: float) -> float:
    """Decayed retrieval weight in (0, 1]: 0.5 ** (idle / half-life), where each retrieval
    stretches the half-life by ln(1 + access_count)."""
    if half_life_days <= 0:
        return 1.0
    idle = max(0, now - last_use(mem))
    hl = half_life_days * US_PER_DAY * (1.0 + math.log1p(mem.access_count))
    return float(0.5 ** (idle / hl))


def utility(mems: list[Memory], now: int, half_life_days: float = 30.0) -> list[float]:
    """Eviction utility in [0, 1] for memories of one scope: 0.4 recency + 0.3 frequency
    (log access count, relative to the scope's most used) + 0.3 importance (default 0.5)."""
    top = max((m.access_count for m in mems), default=0)
    out = []
    for m in mems:
        idle = max(0, now - last_use(m))
        rec = 0.5 ** (idle / (half_life_days * US_PER_DAY))
        freq = math.log1p(m.access_count) / math.log1p(top) if top > 0 else 0.0
        imp = m.importance if m.importance is not None else 0.5
        out.append(0.4 * rec + 0.3 * freq + 0.3 * imp)
    return out


# -- gc -----------------------------------------------------------------------------------
@dataclass
class GcReport:
    """What ``gc`` did (or, with ``dry_run``, would do). Lists hold memory ids."""

    now: str
    dry_run: bool
    expired: list[str] = field(default_factory=list)
    decayed: list[str] = field(default_factory=list)
    evicted: list[str] = field(default_factory=list)
    merged: dict[str, list[str]] = field(default_factory=dict)  # kept id -> merged ids
    consolidated: dict[str, str] = field(default_factory=dict)  # summary id -> session
    archived: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # originals removed after consolidation
    cascaded: list[str] = field(default_factory=list)  # derived memories forgotten with them
    by_user: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return (len(self.expired) + len(self.decayed) + len(self.evicted)
                + sum(len(v) for v in self.merged.values()) + len(self.removed)
                + len(self.cascaded))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["count"] = self.count
        return out


def gc(store: MemoryStore, now: Any = None, *, dry_run: bool = False,
       user: str | None = None) -> GcReport:
    """Apply the retention policies to every user (or one) at time ``now`` (default the
    present): expire, evict decayed memories, merge near-duplicates, consolidate old sessions,
    then enforce capacities. Pinned memories are never touched."""
    from . import consolidate as _consolidate
    from . import dedup as _dedup

    now_ = now_us() if now is None else to_us(now, field="now")
    store._flush_access()  # access counts feed decay and utility
    pols = policies(store.settings.retention)
    report = GcReport(now=iso(now_), dry_run=dry_run)
    users = [user] if user is not None else store.users()
    for u in users:
        before = report.count
        mems = [m for m, _ in store.backend.iter_export(u, with_vectors=False)]
        doomed: set[str] = set()
        # 1. expiry: explicit expires_at, then ttl per kind
        for m in mems:
            if m.pinned:
                continue
            pol = pols.get(m.kind, KindPolicy())
            if m.expires_at is not None and to_us(m.expires_at) <= now_:
                report.expired.append(m.id)
                doomed.add(m.id)
            elif pol.ttl_days is not None and \
                    to_us(m.recorded_at) + pol.ttl_days * US_PER_DAY <= now_:
                report.expired.append(m.id)
                doomed.add(m.id)
        # 2. decay below min_strength
        for m in mems:
            pol = pols.get(m.kind, KindPolicy())
            if m.pinned or m.id in doomed or pol.min_strength is None \
                    or pol.decay_half_life_days is None:
                continue
            if strength(m, now_, pol.decay_half_life_days) < pol.min_strength:
                report.decayed.append(m.id)
                doomed.add(m.id)
        _delete(store, u, doomed, report, dry_run)
        # 3. near-duplicates left over (imports, add_vectors, threshold changes)
        for kind, pol in pols.items():
            if pol.dedup_threshold is None:
                continue
            merged = _dedup.merge_duplicates(store, u, kind, pol.dedup_threshold,
                                             exclude=doomed, dry_run=dry_run)
            for keep, gone in merged.items():
                report.merged[keep] = gone
                doomed.update(gone)
        # 4. consolidation of old sessions
        for kind, pol in pols.items():
            if kind != "episode" or pol.consolidate_after_days is None:
                continue
            _consolidate.consolidate_old(store, u, now_, pol, report, exclude=doomed,
                                         dry_run=dry_run)
        # 5. capacity
        mems = [m for m, _ in store.backend.iter_export(u, with_vectors=False)
                if m.id not in doomed]
        evict: set[str] = set()
        for kind, pol in pols.items():
            if pol.capacity is None:
                continue
            of_kind = [m for m in mems if m.kind == kind]
            excess = len(of_kind) - pol.capacity
            if excess <= 0:
                continue
            free = [m for m in of_kind if not m.pinned]
            scores = utility(free, now_, pol.decay_half_life_days or 30.0)
            ranked = sorted(zip(scores, [m.id for m in free]))
            evict.update(i for _, i in ranked[:excess])
        report.evicted.extend(sorted(evict))
        _delete(store, u, evict, report, dry_run)
        report.by_user[u] = {"changed": report.count - before}
    if not dry_run and report.count and store.settings.erase == "full":
        store.backend.compact()
    log.info("gc at %s%s: %d expired, %d decayed, %d evicted, %d merged, %d sessions "
             "consolidated", report.now, " (dry run)" if dry_run else "", len(report.expired),
             len(report.decayed), len(report.evicted),
             sum(len(v) for v in report.merged.values()), len(report.consolidated))
    return report


def _delete(store: MemoryStore, user: str, ids: Iterable[str], report: GcReport,
            dry_run: bool) -> None:
    ids = sorted(set(ids))
    if not ids or dry_run:
        return
    receipt = store.backend.forget(user, ids=ids, session=None, before=None, compact=False)
    cascaded = store._cascade(user, receipt)
    first = set(receipt.ids)
    report.cascaded.extend(i for i in cascaded.ids if i not in first)
