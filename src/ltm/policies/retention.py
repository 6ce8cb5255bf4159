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

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import EmbedderError, InvalidInput
from ..retention_rules import (  # the rules, re-exported for callers
    ARCHIVED,
    DEFAULT_POLICIES,
    US_PER_DAY,
    KindPolicy,
    describe,
    last_use,
    policies,
    policy_for,
    strength,
    utility,
)
from ..timeutil import iso, now_us, to_us

if TYPE_CHECKING:
    from .base import Engine

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_POLICIES", "US_PER_DAY", "GcReport", "KindPolicy", "describe", "gc",
           "last_use", "policies", "policy_for", "strength", "utility"]


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
    # user -> why the consolidation of its sessions waits for the next gc (the embedder failed)
    deferred: dict[str, str] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return (len(self.expired) + len(self.decayed) + len(self.evicted)
                + sum(len(v) for v in self.merged.values()) + len(self.removed)
                + len(self.cascaded))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["count"] = self.count
        return out


def gc(engine: Engine, now: Any = None, *, dry_run: bool = False,
       user: str | None = None) -> GcReport:
    """Apply the retention policies to every user (or one) at time ``now`` (default the
    present): expire, evict decayed memories, merge near-duplicates, consolidate old sessions,
    then enforce capacities. Pinned memories are never touched."""
    from . import consolidate as _consolidate
    from . import dedup as _dedup

    if not isinstance(dry_run, bool):  # dry_run=0 or "" would erase for real
        raise InvalidInput("dry_run must be true or false", field="dry_run")
    now_ = now_us() if now is None else to_us(now, field="now")
    engine.flush_access()  # access counts feed decay and utility
    pols = policies(engine.settings.retention)
    report = GcReport(now=iso(now_), dry_run=dry_run)
    users = [user] if user is not None else engine.users()
    for u in users:
        before = report.count
        mems = [m for m, _ in engine.backend.iter_export(u, with_vectors=False)]
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
        _delete(engine, u, doomed, report, dry_run)
        # 3. near-duplicates left over (imports, add_vectors, threshold changes)
        for kind, pol in pols.items():
            if pol.dedup_threshold is None:
                continue
            merged = _dedup.merge_duplicates(engine, u, kind, pol.dedup_threshold,
                                             exclude=doomed, dry_run=dry_run)
            for keep, gone in merged.items():
                report.merged[keep] = gone
                doomed.update(gone)
        # 4. consolidation of old sessions
        for kind, pol in pols.items():
            if kind != "episode" or pol.consolidate_after_days is None:
                continue
            removed = len(report.removed)
            try:
                _consolidate.consolidate_old(engine, u, now_, pol, report, exclude=doomed,
                                             dry_run=dry_run)
            except EmbedderError as exc:
                # the summaries wait for the embedder (a remote one down); the erasures of
                # this user's capacity and of the users after it do not
                log.warning("gc: consolidation of user %r deferred: %s", u, exc)
                report.deferred[u] = str(exc)
            # originals a dry run would remove count no more toward capacity than the real
            # run's removed ones (else it foretells evictions the real run does not make)
            doomed.update(report.removed[removed:])
        # 5. capacity
        mems = [m for m, _ in engine.backend.iter_export(u, with_vectors=False)
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
            # what a newer memory replaced goes before anything current, however used: else
            # a much-read old fact outlived its successor and the store kept what is no
            # longer true; then originals a summary stands for (archived)
            ranked = sorted((m.superseded_by is None, not m.metadata.get(ARCHIVED), s,
                             m.id) for s, m in zip(scores, free))
            evict.update(r[-1] for r in ranked[:excess])
        report.evicted.extend(sorted(evict))
        # (no cascade: making room keeps what was derived from the evicted memories, as
        # consolidation's originals "remove" does; a summary is how a full scope keeps them)
        _delete(engine, u, evict, report, dry_run, cascade=False)
        report.by_user[u] = {"changed": report.count - before}
    # (the caller, MemoryStore.gc, compacts what was erased, marked pending first, so that a
    # compaction that cannot finish is retried by the next forget, gc or close)
    log.info("gc at %s%s: %d expired, %d decayed, %d evicted, %d merged, %d sessions "
             "consolidated", report.now, " (dry run)" if dry_run else "", len(report.expired),
             len(report.decayed), len(report.evicted),
             sum(len(v) for v in report.merged.values()), len(report.consolidated))
    return report


def _delete(engine: Engine, user: str, ids: Iterable[str], report: GcReport,
            dry_run: bool, *, cascade: bool = True) -> None:
    ids = sorted(set(ids))
    if not ids or dry_run:
        return
    from ..retrieval.feedback import forget_feedback
    # one transaction: a kill between the steps would leave the rows gone but what quotes
    # them (a summary to rebuild, their judgments) in place, with nothing left to retry
    with engine.backend.atomic():
        receipt = engine.backend.forget(user, ids=ids, session=None, before=None,
                                        compact=False)
        cascaded = engine.cascade(user, receipt) if cascade else receipt
        forget_feedback(engine.backend, user, cascaded.ids)  # their queries may quote them
    first = set(receipt.ids)
    report.cascaded.extend(i for i in cascaded.ids if i not in first)
