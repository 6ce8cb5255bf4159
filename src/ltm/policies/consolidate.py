"""Consolidation: the episodes of a session folded into one ``summary`` memory.

With an LLM configured the summary is written by it (prompt ``summarize-session``); without
one, or when the LLM fails, it is extractive: the session's most central turns (closest to the
session's mean embedding), in their original order, with speakers. The summary keeps the
session, the time span of its turns, and ``sources`` = every episode it folds. Afterwards the
originals are kept, archived (metadata ``ltm_archived``; they rank ``archived_penalty`` lower)
or removed, per the episode policy's ``originals``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backends.base import Filters
from ..errors import EmbedderError
from ..model import Memory
from ..retention_rules import ARCHIVED
from ..timeutil import to_us
from ..validate import MAX_TEXT_CHARS
from ..validate import text as check_text
from .retention import US_PER_DAY, GcReport, KindPolicy, policy_for

if TYPE_CHECKING:
    from ..llm import LLMClient
    from .base import Engine

log = logging.getLogger(__name__)
SUMMARY_KEY = "ltm_summary"


def central_turns(vectors: np.ndarray, n: int) -> list[int]:
    """Indices of the ``n`` rows most similar to the normalised mean row, in row order."""
    if len(vectors) <= n:
        return list(range(len(vectors)))
    centre = vectors.mean(axis=0)  # (dim,)
    norm = float(np.linalg.norm(centre))
    if norm < 1e-9:
        return list(range(n))
    scores = vectors @ (centre / norm)  # (n_rows,)
    top = np.argsort(-scores, kind="stable")[:n]
    return sorted(int(i) for i in top)


def _line(m: Memory) -> str:
    return f"{m.speaker}: {m.text}" if m.speaker else m.text


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:max(limit - 1, 0)] + "\u2026"


def extractive_summary(episodes: Sequence[Memory], vectors: np.ndarray, n: int) -> str:
    """The header and the ``n`` most central turns, each cut to its share of the longest text
    a memory may hold (six turns of 30,000 characters made a summary the store refused)."""
    chosen = central_turns(vectors, n)
    # the span of the turns' times (turns may have been stored out of time order)
    first, last = min(m.time for m in episodes), max(m.time for m in episodes)
    span = first.strftime("%Y-%m-%d")
    if last.date() != first.date():
        span += " to " + last.strftime("%Y-%m-%d")
    sessions = {m.session for m in episodes}
    # (a summary rebuilt after a forget may stand for memories of no session, or of several)
    session = sessions.pop() if len(sessions) == 1 else None
    head = f"{'Summary' if session is None else f'Session {session}'} ({span}, " \
        f"{len(episodes)} turns):"
    share = (MAX_TEXT_CHARS - len(head)) // max(len(chosen), 1) - 1
    return head + "\n" + "\n".join(_cut(_line(episodes[i]), share) for i in chosen)


def llm_summary(llm: LLMClient, session: str, episodes: Sequence[Memory]) -> tuple[str, int]:
    from ..prompts import SUMMARIZE
    payload = {"session": session, "turns": [
        {"time": m.time.strftime("%Y-%m-%d %H:%M"), "speaker": m.speaker, "text": m.text}
        for m in episodes]}
    data, done = llm.complete_json(SUMMARIZE.messages(payload), SUMMARIZE.schema)
    text = str(data["summary"]).strip()
    if not text:
        raise ValueError("empty summary")
    # what the store can hold (a NUL or lone surrogate is InvalidInput, a ValueError: the
    # caller falls back to an extractive summary instead of failing every gc)
    return check_text(_cut(text, MAX_TEXT_CHARS)), done.tokens


def _episodes(engine: Engine, user: str, session: str) -> list[tuple[Memory, np.ndarray]]:
    out = [(m, v) for m, v in engine.backend.iter_export(user, with_vectors=True)
           if m.session == session and m.kind == "episode" and v is not None]
    out.sort(key=lambda mv: (mv[0].seq if mv[0].seq is not None else 0, mv[0].time, mv[0].id))
    return out


def _summaries(engine: Engine, user: str, session: str) -> list[Memory]:
    """The session's summaries, oldest first: read by (user, session), not by walking the
    user's memories (it runs again inside the write transaction)."""
    found = engine.scan(Filters(user=user, session=session, kinds=("summary",)),
                        order="oldest", limit=1000)
    return sorted((m for m in found if SUMMARY_KEY in m.metadata), key=lambda m: m.id)


def _state(summaries: list[Memory]) -> list[tuple[str, tuple[str, ...]]]:
    return [(m.id, m.sources) for m in summaries]


def _summarize(engine: Engine, session: str, episodes: list[Memory], vecs: np.ndarray,
               pol: KindPolicy, llm: LLMClient | None) -> tuple[str, dict[str, Any]]:
    info: dict[str, Any] = {"session": session, "turns": len(episodes)}
    if llm is not None:
        from ..llm import LLMError
        from ..prompts import SUMMARIZE
        try:
            text, tokens = llm_summary(llm, session, episodes)
            info.update(method="llm", prompt=SUMMARIZE.id, tokens=tokens)
            return text, info
        except (LLMError, ValueError) as exc:
            log.warning("LLM summary of session %s failed (%s); using an extractive one",
                        session, exc)
    info["method"] = "extractive"
    return extractive_summary(episodes, vecs, pol.summary_turns), info


def consolidate_session(engine: Engine, user: str, session: str, *,
                        policy: KindPolicy | None = None, llm: LLMClient | None = None,
                        dry_run: bool = False) -> Memory | None:
    """Fold the episodes of one session into a summary (creating or refreshing it) and apply
    the ``originals`` policy. Returns the summary (None in a dry run or when there is nothing
    new to fold)."""
    pol = policy or policy_for(engine.settings.retention, "episode")
    items = _episodes(engine, user, session)
    before = _summaries(engine, user, session)
    existing = before[0] if before else None
    if existing is not None:
        if all(m.id in existing.sources for m, _ in items):
            return None  # nothing new to fold
        alive = {m.id for m, _ in items}
        if not all(s in alive for s in existing.sources):
            # its originals were removed: fold only the new turns, into a summary of their own
            items = [(m, v) for m, v in items if m.id not in existing.sources]
            existing = None
    if not items or dry_run:
        return None
    episodes = [m for m, _ in items]
    vecs = np.stack([v for _, v in items])  # (turns, dim)
    text, info = _summarize(engine, session, episodes, vecs, pol, llm)
    sources = [m.id for m in episodes]
    if existing is not None:
        sources = list(dict.fromkeys([*existing.sources, *sources]))
        meta = dict(existing.metadata)
        meta[SUMMARY_KEY] = info
        vec = engine.embed([text])[0]
    # the summary and what happens to its originals: one transaction, so a kill leaves both
    # or neither (gc also finishes the originals of a session a summary folds already)
    with engine.backend.atomic():
        # another gc (a second process) may have folded this session since it was read (two
        # summaries of one session), or its turns been erased: read again under the lock
        engine.backend.lock_meta(f"consolidate:{user}:{session}")
        folded = [m.id for m in episodes]
        if _state(_summaries(engine, user, session)) != _state(before) \
                or len(engine.backend.get_many(folded, user)) < len(folded):
            log.info("session %s of %r changed meanwhile; left to the next gc", session, user)
            return None
        if existing is not None:
            summary = engine.backend.update(existing.id, user,
                                            {"text": text, "sources": sources, "metadata": meta,
                                             "time": to_us(max(m.time for m in episodes)),
                                             "valid_from": to_us(min(m.time for m in episodes))},
                                            vec, event="updated")
        else:
            summary = engine.add(text, user=user, session=session, kind="summary",
                                time=max(m.time for m in episodes),
                                valid_from=min(m.time for m in episodes),
                                agent=episodes[0].agent, sources=sources,
                                metadata={SUMMARY_KEY: info})
        _apply_originals(engine, user, episodes, pol.originals)
    return summary


def _apply_originals(engine: Engine, user: str, episodes: Sequence[Memory],
                     originals: str) -> list[str]:
    ids = [m.id for m in episodes if not m.pinned]
    if originals == "archive":
        for m in episodes:
            if not m.pinned and not m.metadata.get(ARCHIVED):
                engine.backend.update(m.id, user, {"metadata": {**m.metadata,
                                                               ARCHIVED: True}},
                                     None, event="archived")
    elif originals == "remove" and ids:
        # no cascade: the summary that now holds them keeps their ids as provenance; their
        # judgments go (a judgment's query may quote the turn, as when forget() erases it)
        from ..retrieval.feedback import forget_feedback
        engine.backend.forget(user, ids=ids, session=None, before=None,
                             compact=False)
        forget_feedback(engine.backend, user, ids)
    return ids if originals != "keep" else []


def consolidate_old(engine: Engine, user: str, now: int, pol: KindPolicy,
                    report: GcReport, *, exclude: set[str], dry_run: bool) -> None:
    """Consolidate every session of ``user`` whose newest episode is older than
    ``consolidate_after_days`` and that has at least ``consolidate_min_turns`` episodes."""
    assert pol.consolidate_after_days is not None
    cutoff = now - pol.consolidate_after_days * US_PER_DAY  # a float: 1e300 days is fine
    sessions: dict[str, list[Memory]] = {}
    folded: dict[str, set[str]] = {}
    for m, _ in engine.backend.iter_export(user, with_vectors=False):
        if m.session is None or m.id in exclude:
            continue
        if m.kind == "episode":
            sessions.setdefault(m.session, []).append(m)
        elif m.kind == "summary" and SUMMARY_KEY in m.metadata:
            folded.setdefault(m.session, set()).update(m.sources)
    from ..llm import LLMClient
    llm = None if dry_run else LLMClient.from_settings(engine.settings)
    try:
        for session, eps in sorted(sessions.items()):
            if len(eps) < pol.consolidate_min_turns:
                continue
            if max(to_us(m.time) for m in eps) > cutoff:
                continue
            new = [m for m in eps if m.id not in folded.get(session, set())]
            if not new:
                # folded already: by a consolidation a kill may have cut short before its
                # originals policy applied (else this finds nothing)
                _finish_originals(engine, user, [m for m in eps if m.id in folded[session]],
                                  pol.originals, report, dry_run=dry_run)
                continue
            if dry_run:
                report.consolidated[f"(would summarise {len(eps)} turns)"
                                    f" {session}"] = session
                if pol.originals == "archive":
                    report.archived.extend(m.id for m in new if not m.pinned)
                elif pol.originals == "remove":
                    report.removed.extend(m.id for m in new if not m.pinned)
                continue
            summary = consolidate_session(engine, user, session, policy=pol, llm=llm)
            if summary is None:
                continue
            report.consolidated[summary.id] = session
            if pol.originals == "archive":
                report.archived.extend(m.id for m in new if not m.pinned)
            elif pol.originals == "remove":
                report.removed.extend(m.id for m in new if not m.pinned)
    finally:
        if llm is not None:
            llm.close()


def _finish_originals(engine: Engine, user: str, folded: list[Memory], originals: str,
                      report: GcReport, *, dry_run: bool) -> None:
    """Apply ``originals`` to the turns of a session that its summary folds already and that
    still stand as they were (not archived; not removed)."""
    if originals == "archive":
        left = [m for m in folded if not m.pinned and not m.metadata.get(ARCHIVED)]
        report.archived.extend(m.id for m in left)
    elif originals == "remove":
        left = [m for m in folded if not m.pinned]
        report.removed.extend(m.id for m in left)
    else:
        return
    if left and not dry_run:
        with engine.backend.atomic():
            _apply_originals(engine, user, left, originals)


def rederive(engine: Engine, user: str, summary: Memory, survivors: list[str]) -> Memory:
    """Rebuild a summary from its surviving sources after some were forgotten, and drop the
    old wording from its history (it may quote what was forgotten)."""
    alive = engine.backend.get_many(survivors, user)
    eps = [alive[s] for s in survivors if s in alive]
    eps.sort(key=lambda m: (m.time, m.seq or 0, m.id))
    vecs_by = engine.backend.vectors([m.id for m in eps], user)
    eps = [m for m in eps if m.id in vecs_by]
    pol = policy_for(engine.settings.retention, "episode")
    meta = dict(summary.metadata)
    if eps:
        vecs = np.stack([vecs_by[m.id] for m in eps])  # (turns, dim)
        from ..llm import LLMClient
        llm = LLMClient.from_settings(engine.settings)
        try:
            text, info = _summarize(engine, summary.session or "?", eps, vecs, pol, llm)
        finally:
            if llm is not None:
                llm.close()
    else:
        text, info = summary.text, {}
    info["rederived"] = True
    try:
        vec: np.ndarray | None = engine.embed([text])[0]
    except EmbedderError as exc:
        # rebuilt inside a forget: an erasure must not wait on the embedder (a remote one
        # that is down). The new text is kept (it no longer quotes what was forgotten), with
        # the mean of its sources' vectors, which reindex(embeddings=True) replaces
        log.warning("summary %s rebuilt without the embedder (%s): its vector is the mean "
                    "of its sources'", summary.id, exc)
        vec = None
        if eps:
            mean = np.mean(np.stack([vecs_by[m.id] for m in eps]), axis=0, dtype=np.float64)
            vec = np.asarray(mean / max(float(np.linalg.norm(mean)), 1e-12), np.float32)
        info["vector"] = "sources_mean"
    meta[SUMMARY_KEY] = {**meta.get(SUMMARY_KEY, {}), **info}
    updated = engine.backend.update(summary.id, user, {"text": text, "sources": survivors,
                                                      "metadata": meta}, vec,
                                   event="rederived")
    scrub = getattr(engine.backend, "scrub_history", None)
    if scrub is not None:
        scrub(summary.id, user)
    return updated
