"""Near-duplicate reinforcement: a write that nearly repeats an existing memory of the same
user and kind strengthens that memory instead of adding a copy.

On write (``MemoryStore.add`` / ``add_many``) a new memory whose cosine similarity to a current
memory (not superseded, not expired) reaches the kind's ``dedup_threshold`` is not stored: the
existing one gets the new sources, the higher importance, the earlier ``valid_from`` (the
same fact, said to hold since before: it holds since then, and a successor dated after that
start may supersede it; never before the facts it superseded stopped holding), the later
expiry (none if a write had none), one more access and a
``ltm_reinforced`` count in its metadata, and a ``reinforced`` history event. Duplicates within
one batch fold into the first. ``gc`` merges duplicates that got in by other paths (import,
``add_vectors``, a lowered threshold).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backends.base import Filters, NewRow
from ..errors import NotFound
from ..model import Memory
from ..timeutil import from_us, now_us, to_us

if TYPE_CHECKING:
    from .base import Engine

log = logging.getLogger(__name__)
MAX_MERGE_SCOPE = 5000  # gc compares at most this many recent memories of one kind pairwise
# float32 rounding of a cosine: the same text can score 0.9999999 against itself, and a
# dedup_threshold of 1.0 ("exact duplicates only") folded none of them
ROUNDING = 1e-5


def _current(mem: Memory | None, now: int) -> bool:
    if mem is None or mem.superseded_by is not None or mem.valid_to is not None:
        return False
    return not mem.expired(from_us(now))


def plan(engine: Engine, rows: Sequence[NewRow], vectors: np.ndarray,
         thresholds: dict[str, float]) -> dict[int, Memory | int]:
    """For each row that duplicates something: the existing memory it reinforces, or the
    index of an earlier row of the same batch. Rows not in the result are stored."""
    out: dict[int, Memory | int] = {}
    now = now_us()
    kept: dict[tuple[str, str], list[int]] = {}
    for i, row in enumerate(rows):
        thr = thresholds.get(row.kind)
        if thr is None:
            continue
        key = (row.user, row.kind)
        earlier = kept.setdefault(key, [])
        if earlier:
            sims = vectors[earlier] @ vectors[i]
            j = int(np.argmax(sims))
            if float(sims[j]) >= thr - ROUNDING:
                out[i] = earlier[j]
                continue
        hits = engine.backend.dense_search(vectors[i], Filters(user=row.user, kinds=(row.kind,),
                                                              now=now), 5)
        dup = None
        if hits and hits[0][1] >= thr - ROUNDING:
            found = engine.backend.get_many([h for h, s in hits if s >= thr - ROUNDING],
                                            row.user)
            for mid, _ in hits:
                if _current(found.get(mid), now):
                    dup = found[mid]
                    break
        if dup is not None:
            out[i] = dup
        else:
            earlier.append(i)
    return out


def reinforce(engine: Engine, mem: Memory, rows: Sequence[NewRow]) -> Memory:
    """Strengthen ``mem`` with the duplicates ``rows``; returns the updated memory."""
    meta = dict(mem.metadata)
    meta["ltm_reinforced"] = int(meta.get("ltm_reinforced", 0)) + len(rows)
    changes: dict[str, Any] = {"metadata": meta}
    sources = list(mem.sources)
    for r in rows:
        sources += [s for s in r.sources if s not in sources and s != mem.id]
    if sources != list(mem.sources):
        changes["sources"] = sources
    imps = [r.importance for r in rows if r.importance is not None]
    if imps and max(imps) > (mem.importance if mem.importance is not None else -1.0):
        changes["importance"] = max(imps)
    starts = [r.valid_from for r in rows if r.valid_from is not None]
    if starts and mem.valid_from is not None and min(starts) < to_us(mem.valid_from):
        # never before the facts it superseded stopped holding: a successor valid from
        # before its predecessor is a link add(supersedes=...) refuses
        floor = engine.backend.superseded_until([mem.id], mem.user).get(mem.id)
        start = min(starts) if floor is None else max(min(starts), floor)
        if start < to_us(mem.valid_from):
            changes["valid_from"] = start
    if mem.expires_at is not None and not mem.pinned:
        # the content now lives as long as the longest-lived write of it (None: for good);
        # a write without expiry folded into a memory that expires would vanish with it
        ends = [r.expires_at for r in rows]
        if any(e is None for e in ends):
            changes["expires_at"] = None
        elif max(e for e in ends if e is not None) > to_us(mem.expires_at):
            changes["expires_at"] = max(e for e in ends if e is not None)
    if not mem.pinned and any(r.pinned for r in rows):
        # the caller pinned this content: the memory that now stands for it keeps the pin,
        # or retention could evict what was asked to be kept
        changes["pinned"] = True
    updated = engine.backend.update(mem.id, mem.user, changes, None, event="reinforced")
    engine.backend.touch([mem.id] * len(rows), now_us(), mem.user)
    got = engine.backend.get(mem.id, mem.user)
    return got if got is not None else updated


def merge_duplicates(engine: Engine, user: str, kind: str, threshold: float, *,
                     exclude: set[str], dry_run: bool) -> dict[str, list[str]]:
    """Fold near-duplicate memories of one user and kind into the oldest (pinned ones are
    always kept). Derived memories that cited a merged one cite the survivor instead, and a
    fact a merged one superseded is superseded by the survivor: one valid from no earlier
    than that fact (the link ``add(supersedes=...)`` accepts; see ``_survivors``)."""
    items = []
    after: dict[str, int] = {}  # a successor -> the latest start of the facts it superseded
    for m, v in engine.backend.iter_export(user, with_vectors=True):
        if m.superseded_by is not None:
            after[m.superseded_by] = max(after.get(m.superseded_by, _start(m)), _start(m))
        if m.kind == kind and v is not None and m.id not in exclude and _current(m, now_us()):
            items.append((m, v))
    if len(items) < 2:
        return {}
    if len(items) > MAX_MERGE_SCOPE:
        log.info("gc merges only the %d newest %s memories of one user", MAX_MERGE_SCOPE, kind)
        items = items[-MAX_MERGE_SCOPE:]
    items.sort(key=lambda mv: (not mv[0].pinned, mv[0].id))  # pinned first, then oldest
    mat = np.stack([v for _, v in items])  # (n, dim)
    keepers: list[int] = []
    groups: dict[int, list[int]] = {}
    for i in range(len(items)):
        if keepers and not items[i][0].pinned:
            sims = mat[keepers] @ mat[i]  # (len(keepers),)
            j = int(np.argmax(sims))
            if float(sims[j]) >= threshold - ROUNDING:
                groups.setdefault(keepers[j], []).append(i)
                continue
        keepers.append(i)
    groups = _survivors(groups, [m for m, _ in items], after)
    out = {items[k][0].id: [items[i][0].id for i in members] for k, members in groups.items()}
    if dry_run or not out:
        return out
    with engine.backend.atomic():
        # another gc (a second process) may have merged these since they were read: merge
        # only what is still there, read again under the lock, or each run reinforces twice
        # and reports the same merge
        engine.backend.lock_meta(f"merge:{user}:{kind}")
        alive = engine.backend.get_many([items[i][0].id for k, members in groups.items()
                                         for i in (k, *members)], user)
        groups = {k: [i for i in members if items[i][0].id in alive]
                  for k, members in groups.items() if items[k][0].id in alive}
        groups = {k: members for k, members in groups.items() if members}
        out = {items[k][0].id: [items[i][0].id for i in members]
               for k, members in groups.items()}
        if not out:
            return out
        rewrite: dict[str, str] = {g: k for k, gs in out.items() for g in gs}
        for k, members in groups.items():
            keeper = alive[items[k][0].id]
            gone = [items[i][0] for i in members]
            rows = [NewRow(id=g.id, user=user, agent=g.agent, session=g.session, kind=kind,
                           text=g.text, metadata={}, importance=g.importance, time=0,
                           recorded_at=0, valid_from=None, valid_to=None, superseded_by=None,
                           sources=list(g.sources), pinned=False,
                           expires_at=None if g.expires_at is None else to_us(g.expires_at))
                    for g in gone]
            reinforce(engine, keeper, rows)
        for m, _ in engine.backend.iter_export(user, with_vectors=False):
            changes: dict[str, Any] = {}
            if any(s in rewrite for s in m.sources):
                changes["sources"] = list(dict.fromkeys(
                    rewrite.get(s, s) for s in m.sources if rewrite.get(s, s) != m.id))
            if m.superseded_by in rewrite:
                # a fact superseded by a merged one is superseded by what stands for it now
                changes["superseded_by"] = rewrite[m.superseded_by]
            if changes:
                engine.backend.update(m.id, user, changes, None, event="updated")
        engine.backend.forget(user, ids=list(rewrite), session=None,
                             before=None, compact=False)
        # their judgments go too (a judgment's query may quote what it names)
        from ..retrieval.feedback import forget_feedback
        forget_feedback(engine.backend, user, list(rewrite))
    return out


def _start(m: Memory) -> int:
    """When ``m`` began to hold (``valid_from``, else its time), in microseconds."""
    return to_us(m.valid_from if m.valid_from is not None else m.time)


def _survivors(groups: dict[int, list[int]], mems: list[Memory],
               after: dict[str, int]) -> dict[int, list[int]]:
    """``groups`` (keeper -> merged, indexes into ``mems``) with each survivor one that every
    fact a group member superseded may point at: valid from no earlier than the latest of
    them. A current duplicate older than a fact chain would otherwise become the successor of
    a fact that started after it. The keeper stays where it can; else the oldest member that
    can (the chain's head, say) survives in its place; else (a pinned keeper, which is never
    merged away) the members whose chains it cannot take are left unmerged."""
    out: dict[int, list[int]] = {}
    for k, members in groups.items():
        group = [k, *members]
        floor = max((after[mems[i].id] for i in group if mems[i].id in after), default=None)
        if floor is None or _start(mems[k]) >= floor:
            out[k] = members
            continue
        able = [i for i in members if _start(mems[i]) >= floor]
        if able and not mems[k].pinned:
            out[able[0]] = [i for i in group if i != able[0]]
            continue
        start = _start(mems[k])
        kept = [i for i in members if after.get(mems[i].id, start) <= start]
        if kept:
            out[k] = kept
    return out


_ATTEMPTS = 3  # write_deduplicated's plans, when what one would reinforce is forgotten


def _write_planned(engine: Engine, rows: list[NewRow], vectors: np.ndarray,
                   thresholds: dict[str, float]
                   ) -> tuple[dict[int, Memory | int], dict[str, Memory], dict[str, Memory]]:
    """One attempt of ``write_deduplicated``: the plan, the rows stored and the memories
    reinforced (``NotFound`` when one of those was forgotten since the plan read it)."""
    dups = plan(engine, rows, vectors, thresholds)
    keep = [i for i in range(len(rows)) if i not in dups]
    if keep:
        engine.backend.insert([rows[i] for i in keep], vectors[keep])
    by_user: dict[str, list[str]] = {}
    for i in keep:
        by_user.setdefault(rows[i].user, []).append(rows[i].id)
    stored: dict[str, Memory] = {}
    for user, ids in by_user.items():
        stored.update(engine.backend.get_many(ids, user))
    # group the duplicates by the memory they reinforce
    groups: dict[str, tuple[Memory, list[NewRow]]] = {}
    for i, target in dups.items():
        mem = stored[rows[target].id] if isinstance(target, int) else target
        groups.setdefault(mem.id, (mem, []))[1].append(rows[i])
    reinforced = {mid: reinforce(engine, mem, dup_rows)
                  for mid, (mem, dup_rows) in groups.items()}
    return dups, stored, reinforced


def write_deduplicated(engine: Engine, rows: list[NewRow], vectors: np.ndarray,
                       thresholds: dict[str, float]) -> list[Memory]:
    """Store ``rows`` except near-duplicates, which reinforce what they repeat; returns one
    memory per row, in order (the reinforced one for a duplicate)."""
    with engine.backend.atomic():
        for attempt in range(_ATTEMPTS):
            try:
                with engine.backend.atomic():  # a savepoint: an attempt is undone whole
                    dups, stored, reinforced = _write_planned(engine, rows, vectors,
                                                              thresholds)
                break
            except NotFound:
                # PostgreSQL (read committed): another process's forget of a memory plan()
                # chose to reinforce committed before the reinforcement; planned again, the
                # row is stored anew (SQLite's write lock rules this order out)
                if attempt == _ATTEMPTS - 1:
                    raise
    out = []
    for i, row in enumerate(rows):
        if i in dups:
            target = dups[i]
            mid = rows[target].id if isinstance(target, int) else target.id
            out.append(reinforced[mid])
        else:
            out.append(reinforced.get(row.id, stored[row.id]))
    if dups:
        log.debug("%d near-duplicate writes reinforced existing memories", len(dups))
    return out
