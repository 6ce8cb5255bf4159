"""Fact extraction: new episodes -> atomic facts, each decided against similar existing facts.

``add()`` never waits for this. ``process()`` (``MemoryStore.process``, ``ltm process``, the
background worker of ``ltm serve``) walks each user's episodes in insertion order from a stored
cursor, in batches of ``extract_batch``:

1. the LLM (prompt ``extract-facts``) turns the batch into candidate facts with ``sources``;
2. each candidate is compared with the user's most similar current facts; candidates with no
   similar fact are added, the others go to the LLM (prompt ``decide-facts``) in one call, which
   answers add / update (new wording, history kept) / supersede (the old fact gets
   ``valid_to`` and ``superseded_by``) / ignore;
3. the facts, the decisions and the advanced cursor are written in one transaction, so a crash
   loses at most the batch in flight, which is redone on the next run; a cursor moved by
   another process in the meantime makes this one drop its batch.

Tokens (``usage`` from the endpoint, or estimated) count against ``extract_token_budget`` per
user per UTC day; a user over budget waits for the next day.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..backends.base import Backend, Filters
from ..errors import InvalidInput, StoreError
from ..model import Memory
from ..timeutil import from_us, now_us, to_us
from ..validate import MAX_TEXT_CHARS
from ..validate import text as check_text
from .retention import US_PER_DAY

if TYPE_CHECKING:
    from ..llm import LLMClient
    from .base import Engine

log = logging.getLogger(__name__)
SIMILAR_MIN = 0.45  # below this cosine an existing fact is not worth asking the LLM about
SIMILAR_K = 5


@dataclass
class ProcessReport:
    """What one ``process()`` run did."""

    episodes: int = 0
    batches: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    superseded: dict[str, str] = field(default_factory=dict)  # old id -> new id
    ignored: int = 0
    tokens: int = 0
    budget_exhausted: list[str] = field(default_factory=list)
    pending: int = 0  # episodes still waiting after this run

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- state (table extraction_state: SQLite migration 0002, PostgreSQL 0003) ---------------
def _backend(engine: Engine) -> Backend:
    backend = engine.backend
    if not hasattr(backend, "episodes_after"):
        raise StoreError(f"{type(backend).__name__} keeps no extraction state; process() "
                         "needs the SQLite or PostgreSQL backend")
    return backend


def _state(engine: Engine, user: str, *, lock: bool = False) -> tuple[int, int, int]:
    return _backend(engine).extraction_state(user, lock=lock)


def pending(engine: Engine, user: str | None = None) -> dict[str, int]:
    """Episodes not yet processed, per user."""
    return _backend(engine).extraction_pending(user)


def _next_batch(engine: Engine, user: str, cursor: int, limit: int
                ) -> list[tuple[int, Memory]]:
    rows = _backend(engine).episodes_after(user, cursor, limit)
    mems = engine.backend.get_many([i for _, i in rows], user)
    return [(n, mems[i]) for n, i in rows if i in mems]


# -- the two LLM steps --------------------------------------------------------------------
def _extract(llm: LLMClient, episodes: Sequence[Memory]) -> tuple[list[dict[str, Any]], int]:
    from ..prompts import EXTRACT_FACTS
    payload = {"turns": [{"id": m.id, "time": m.time.strftime("%Y-%m-%d %H:%M"),
                          "speaker": m.speaker, "text": m.text} for m in episodes]}
    data, done = llm.complete_json(EXTRACT_FACTS.messages(payload), EXTRACT_FACTS.schema)
    return list(data["facts"]), done.tokens


def _decide(llm: LLMClient, candidates: list[dict[str, Any]]) -> tuple[dict[int, dict[str, Any]],
                                                                       int]:
    from ..prompts import DECIDE
    data, done = llm.complete_json(DECIDE.messages({"candidates": candidates}), DECIDE.schema)
    return {int(d["n"]): d for d in data["decisions"]}, done.tokens


def _similar(engine: Engine, user: str, vector: Any, now: int) -> list[tuple[Memory, float]]:
    hits = engine.backend.dense_search(vector, Filters(user=user, kinds=("fact",), now=now),
                                      SIMILAR_K * 2)
    found = engine.backend.get_many([h for h, _ in hits], user)
    out = []
    for mid, score in hits:
        m = found.get(mid)
        if m is not None and m.superseded_by is None and m.valid_to is None \
                and score >= SIMILAR_MIN:
            out.append((m, score))
    return out[:SIMILAR_K]


def _usable(raw: object) -> str:
    """A text the model wrote, as the store can hold it: NULs dropped, cut to the longest
    text, "" when nothing is left or it cannot be stored (a lone surrogate). One bad fact
    raised InvalidInput inside the batch's transaction, and every later run, asking the same,
    failed the same way."""
    if not isinstance(raw, str):
        return ""
    text = raw.replace("\x00", "").strip()[:MAX_TEXT_CHARS].strip()
    try:
        return check_text(text)
    except InvalidInput:
        log.warning("the model wrote a text the store cannot hold; left out")
        return ""


def _valid_from(raw: object, fallback: int) -> int:
    if isinstance(raw, str) and raw.strip():
        try:
            return to_us(raw.strip(), field="valid_from")
        except InvalidInput:
            pass
    return fallback


# -- the run ------------------------------------------------------------------------------
def process(engine: Engine, *, user: str | None = None, llm: LLMClient | None = None,
            max_batches: int | None = None, now: Any = None) -> ProcessReport:
    """Extract facts from every user's (or one user's) unprocessed episodes. Raises
    ``InvalidInput`` when no LLM is configured and ``LLMUnavailable`` when the endpoint is down
    (batches done before it stay done; the rest stay queued)."""
    from ..llm import LLMClient, LLMError, LLMUnavailable

    if max_batches is not None and (isinstance(max_batches, bool)
                                    or not isinstance(max_batches, int) or max_batches < 0):
        raise InvalidInput(f"max_batches must be an integer >= 0, got {max_batches!r}",
                           field="max_batches")
    own = llm is None
    if llm is None:
        llm = LLMClient.from_settings(engine.settings)
    if llm is None:
        raise InvalidInput("no LLM is configured: set llm_url (LTM_LLM_URL) to an "
                           "OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1; "
                           "without one, add facts yourself with add(kind='fact')",
                           field="llm_url")
    report = ProcessReport()
    now_ = now_us() if now is None else to_us(now, field="now")
    try:
        _backend(engine).prune_extraction_state()  # forgotten users leave no trace
        users = sorted(pending(engine, user))
        failed: dict[str, str] = {}
        for u in users:
            while max_batches is None or report.batches < max_batches:
                try:
                    if not _one_batch(engine, llm, u, now_, report):
                        break
                except LLMUnavailable:
                    raise
                except LLMError as exc:
                    # the model refused or garbled this user's batch (a 400 for a context
                    # too long, JSON off the schema twice): the batch stays queued, and the
                    # users after this one are still processed, not blocked behind it
                    failed[u] = str(exc)
                    log.warning("extraction of user %r failed (%s); the batch stays queued",
                                u, exc)
                    break
        if failed:
            first = next(iter(failed.values()))
            raise LLMError(f"extraction failed for {len(failed)} user(s) ({first}); their "
                           "batches stay queued, the other users were processed",
                           url=llm.url)
    except LLMUnavailable as exc:
        left = sum(pending(engine, user).values())
        raise LLMUnavailable(f"{exc}; {left} episodes stay queued for the next run "
                             "(they are stored and searchable)", url=exc.url) from exc
    finally:
        if own:
            llm.close()
    report.pending = sum(pending(engine, user).values())
    return report


def _one_batch(engine: Engine, llm: LLMClient, user: str, now: int,
               report: ProcessReport) -> bool:
    """Process the next batch of ``user``; False when there is nothing (or no budget) left."""
    settings = engine.settings
    cursor, tokens, day = _state(engine, user)
    today = now // US_PER_DAY
    if day != today:
        tokens = 0
    if settings.extract_token_budget and tokens >= settings.extract_token_budget:
        report.budget_exhausted.append(user)
        log.info("user %r is over today's extraction budget (%d tokens)", user, tokens)
        return False
    batch = _next_batch(engine, user, cursor, settings.extract_batch)
    if not batch:
        return False
    episodes = [m for _, m in batch]
    by_id = {m.id: m for m in episodes}
    facts, spent = _extract(llm, episodes)
    candidates: list[dict[str, Any]] = []
    for f in facts:
        text = _usable(f.get("text"))
        if not text:
            continue
        sources = [s for s in f.get("sources", []) if s in by_id] or list(by_id)
        latest = max(to_us(by_id[s].time) for s in sources)
        candidates.append({"text": text, "sources": sources,
                           "valid_from": _valid_from(f.get("valid_from"), latest)})
    vecs = engine.embed([c["text"] for c in candidates]) if candidates else None
    ask: list[dict[str, Any]] = []
    for n, cand in enumerate(candidates):
        assert vecs is not None
        cand["similar"] = _similar(engine, user, vecs[n], now)
        if cand["similar"]:
            ask.append({"n": n, "text": cand["text"], "similar": [
                {"id": m.id, "text": m.text,
                 "since": (m.valid_from or m.time).strftime("%Y-%m-%d")}
                for m, _ in cand["similar"]]})
    decisions: dict[int, dict[str, Any]] = {}
    if ask:
        decisions, more = _decide(llm, ask)
        spent += more
    report.tokens += spent
    with engine.backend.atomic():
        if _state(engine, user, lock=True)[0] != cursor:
            log.info("another worker processed this batch of %r; dropping ours", user)
            return True
        for n, cand in enumerate(candidates):
            _apply(engine, user, cand, decisions.get(n), report)
        _backend(engine).save_extraction_state(user, batch[-1][0], tokens + spent, today)
    report.batches += 1
    report.episodes += len(batch)
    return True


def _apply(engine: Engine, user: str, cand: dict[str, Any], decision: dict[str, Any] | None,
           report: ProcessReport) -> None:
    from ..prompts import DECIDE, EXTRACT_FACTS

    similar = {m.id: m for m, _ in cand["similar"]}
    action = decision["action"] if decision else "add"
    target = similar.get(decision.get("target") or "") if decision else None
    text = (_usable(decision.get("text")) if decision else None) or cand["text"]
    meta = {"prompt": EXTRACT_FACTS.id}
    if decision:
        meta["decided_by"] = DECIDE.id
    if action in ("update", "supersede", "ignore") and target is None and action != "ignore":
        action = "add"  # the model named no fact we offered it: keep the information
    if action == "ignore":
        report.ignored += 1
        return
    if action == "update":
        assert target is not None
        sources = list(dict.fromkeys([*target.sources, *cand["sources"]]))
        vec = engine.embed([text])[0] if text != target.text else None
        changes: dict[str, Any] = {"sources": sources}
        if text != target.text:
            changes["text"] = text
        engine.backend.update(target.id, user, changes, vec, event="updated")
        report.updated.append(target.id)
        return
    if action == "supersede" and target is not None:
        # an earlier decision of this batch (or another writer) may have superseded it: the
        # new fact supersedes what stands for it now (superseding it again was InvalidInput,
        # which rolled the batch back on every run)
        target = _head(engine, user, target)
        if target is None:
            action = "add"
    since = from_us(cand["valid_from"])
    if action == "supersede" and target is not None:
        # a successor starts no earlier than what it supersedes (the model may date the new
        # fact before the old one's valid_from: "since 2019")
        since = max(since, target.valid_from or target.time)
    mem = engine.add(text, user=user, kind="fact", time=since, valid_from=since,
                    sources=cand["sources"], metadata=meta,
                    supersedes=target.id if action == "supersede" and target else None)
    if action == "supersede" and target is not None:
        report.superseded[target.id] = mem.id
    else:
        report.added.append(mem.id)


def _head(engine: Engine, user: str, mem: Memory) -> Memory | None:
    """The current end of ``mem``'s supersession chain (None if ``mem`` is gone)."""
    head = engine.backend.get(mem.id, user)
    seen = {mem.id}
    while head is not None and head.superseded_by is not None \
            and head.superseded_by not in seen:
        seen.add(head.superseded_by)
        nxt = engine.backend.get(head.superseded_by, user)
        if nxt is None:
            break
        head = nxt
    return head
