"""What ``forget`` does to memories derived from what it erased.

A derived memory (a fact or summary with ``sources``) whose every source is gone, at least one
of them in this forget, is forgotten too, transitively (a summary of facts of episodes). One
with surviving sources is handled per ``Settings.derived_on_source_loss``:

- ``rederive``: a summary is rebuilt from its surviving sources (LLM if configured, else
  extractive) and its earlier wordings are dropped from history; other kinds are flagged;
- ``flag``: ``metadata.ltm_stale = true`` and ``ltm_sources_lost`` counts the lost sources;
- ``keep``: left as it is.

In both ``rederive`` and ``flag`` the lost ids leave ``sources``; history keeps only the
content-free tombstones of the erased memories. When a summary is erased, the originals it
archived that no other summary names are archived no more (they rank as before again).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..backends.base import Filters
from ..model import ForgetReceipt, Memory
from ..retention_rules import ARCHIVED
from ..timeutil import to_us

if TYPE_CHECKING:
    from .base import Engine

log = logging.getLogger(__name__)
_PAGE = 5_000


def cascade(engine: Engine, user: str, receipt: ForgetReceipt) -> ForgetReceipt:
    """Forget what ``receipt``'s erasure orphaned and flag or rebuild what it thinned. Reads
    only the derived memories that name an erased id (``Backend.derived_from``) and their
    other sources, never the whole user."""
    by_kind = {k: list(v) for k, v in receipt.ids_by_kind.items()}
    gone: set[str] = set(receipt.ids)
    frontier = set(gone)
    while frontier:
        derived = engine.backend.derived_from(sorted(frontier), user)
        named = sorted({s for m in derived for s in m.sources})
        alive = set(engine.backend.get_many(named, user)) if named else set()
        orphans = [m.id for m in derived if not any(s in alive for s in m.sources)]
        if not orphans:
            break
        more = engine.backend.forget(user, ids=orphans, session=None,
                                    before=None, compact=False)
        frontier = set(more.ids)
        gone |= frontier
        for k, v in more.ids_by_kind.items():
            by_kind.setdefault(k, []).extend(v)
    policy = engine.settings.derived_on_source_loss
    if gone and policy != "keep":
        for m in engine.backend.derived_from(sorted(gone), user):
            _partial(engine, user, m, [s for s in m.sources if s not in gone],
                     sum(1 for s in m.sources if s in gone), policy)
    if by_kind.get("summary"):
        _unarchive(engine, user)
    count = sum(len(v) for v in by_kind.values())
    return ForgetReceipt(count=count, ids_by_kind=by_kind, at=receipt.at)


def _unarchive(engine: Engine, user: str) -> None:
    """After a summary is erased: the originals it archived (``ltm_archived``, ranked
    ``archived_penalty`` lower because the summary stood for them) that no remaining summary
    names as a source are archived no more. Reads only the user's archived memories."""
    flt = Filters(user=user, metadata={ARCHIVED: True})
    archived: list[Memory] = []
    before = None
    while True:
        page = engine.scan(flt, order="oldest", limit=_PAGE, before=before)
        archived += page
        if len(page) < _PAGE:
            break
        before = (to_us(page[-1].time), page[-1].id)
    if not archived:
        return
    covered = {s for m in engine.backend.derived_from([m.id for m in archived], user)
               if m.kind == "summary" for s in m.sources}
    for m in archived:
        if m.id not in covered:
            meta = {k: v for k, v in m.metadata.items() if k != ARCHIVED}
            engine.backend.update(m.id, user, {"metadata": meta}, None, event="unarchived")


def _partial(engine: Engine, user: str, mem: Memory, survivors: list[str], lost: int,
             policy: str) -> None:
    if policy == "rederive" and mem.kind == "summary":
        from .consolidate import rederive
        rederive(engine, user, mem, survivors)
        log.info("summary %s rebuilt from %d surviving sources", mem.id, len(survivors))
        return
    meta = dict(mem.metadata)
    meta["ltm_stale"] = True
    meta["ltm_sources_lost"] = int(meta.get("ltm_sources_lost", 0)) + lost
    engine.backend.update(mem.id, user, {"metadata": meta, "sources": survivors}, None,
                         event="source_forgotten")
