"""Retention rules: the declarative policy of each kind of memory and the scores derived from
it (decayed strength, eviction utility). Plain data and arithmetic, below every room that needs
them: retrieval reads decay from here, ``ltm.policies`` applies the rules (``gc``).

A policy says, for one kind of memory (episode, fact, summary, ...): ``ttl_days``,
``decay_half_life_days`` and ``min_strength``, ``capacity``, ``dedup_threshold``, and when
sessions are consolidated (``consolidate_after_days``, ``consolidate_min_turns``,
``summary_turns``, ``originals``); see ``ltm.policies.retention`` for what each does.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .errors import InvalidInput
from .model import KIND_NAME, Memory
from .timeutil import to_us

US_PER_DAY = 86_400 * 1_000_000
# the metadata key of an original a summary stands for (consolidation's originals "archive"):
# ranked ``archived_penalty`` lower, evicted first, given back when the summary is forgotten
ARCHIVED = "ltm_archived"
_ORIGINALS = ("keep", "archive", "remove")
# the rules of consolidation, which folds a session's episodes: of no other kind's policy
_CONSOLIDATION = ("consolidate_after_days", "consolidate_min_turns", "summary_turns",
                  "originals")


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
                                  or not _finite(v) or v < 0):
                raise InvalidInput(f"retention {name} must be a number >= 0", field=name)
        if self.decay_half_life_days == 0:  # was read as "no decay", which None says
            raise InvalidInput("retention decay_half_life_days must be > 0 (leave it out or "
                               "null for no decay)", field="decay_half_life_days")
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
        for name in ("consolidate_min_turns", "summary_turns"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidInput(f"retention {name} must be an integer >= 1", field=name)


def _finite(v: float) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an int too large for a float
        return False


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
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"setting retention is not valid JSON: {exc}",
                           field="retention") from None
    if not isinstance(data, dict):
        raise InvalidInput("setting retention must map kinds to policies", field="retention")
    for kind, raw in data.items():
        if not isinstance(raw, dict):
            raise InvalidInput(f"retention policy for {kind!r} must be an object",
                               field="retention")
        if not KIND_NAME.fullmatch(kind):  # no memory can have it as its kind
            raise InvalidInput(f"retention policy for {kind!r}: not a kind name (a lowercase "
                               "word such as 'episode', 'fact' or 'summary')", field="retention")
        unknown = set(raw) - _KEYS
        if unknown:
            raise InvalidInput(f"retention policy for {kind!r} has unknown keys "
                               f"{sorted(unknown)}; known: {sorted(_KEYS)}", field="retention")
        out[kind] = pol = replace(out.get(kind, KindPolicy()), **raw)
        _applies(kind, pol, raw)
    return out


def _applies(kind: str, pol: KindPolicy, raw: Mapping[str, Any]) -> None:
    """Refuse a rule of ``kind``'s policy that nothing would apply (it was silently ignored)."""
    where = f"retention policy for {kind!r}"
    if pol.min_strength is not None and pol.decay_half_life_days is None:
        raise InvalidInput(f"{where}: min_strength needs decay_half_life_days (gc evicts "
                           "memories whose decayed strength falls below it)", field="retention")
    if kind != "episode":
        given = [k for k in _CONSOLIDATION if k in raw]
        if given:
            raise InvalidInput(f"{where}: {', '.join(given)} apply only to episodes "
                               "(consolidation folds a session's episodes)", field="retention")
    elif "consolidate_min_turns" in raw and pol.consolidate_after_days is None:
        raise InvalidInput(f"{where}: consolidate_min_turns needs consolidate_after_days "
                           "(only gc's consolidation of old sessions reads it)", field="retention")


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
