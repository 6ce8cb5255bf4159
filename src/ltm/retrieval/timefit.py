"""The fit of a memory to the time window a query names, and the retention adjustments of the
head of a ranking: a fact's or summary's validity interval, a date named in a memory's own
text, decay with disuse and archived originals."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence

import numpy as np

from ..backends.base import Backend, Filters, KindReader
from ..backends.segment import STOP_WORDS
from ..config import Settings
from ..model import Memory
from ..retention_rules import ARCHIVED, US_PER_DAY, policies, strength
from ..timeparse import TimeWindow, parse_time_window
from ..timeutil import to_us
from .ranker import FULL, OWN, Ranker
from .supersede import drop_superseded_penalty

_OPEN_MIN = 7 * US_PER_DAY  # an open window's time fit halves no faster than weekly
_FIT = FULL.index("time_fit")
_SUP = FULL.index("superseded")


def window_candidates(backend: Backend, settings: Settings, query: str, qv: np.ndarray | None,
                       flt: Filters, window: TimeWindow, n_cand: int,
                       text_hits: list[tuple[str, float]], dense_hits: list[tuple[str, float]]
                       ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Add the best candidates from inside the query's time window, which a narrow window's
    memories may need to enter the pool at all."""
    since = window.start if flt.since is None else max(flt.since, window.start)
    until = window.end - 1 if flt.until is None else min(flt.until, window.end - 1)
    if since > until:
        return text_hits, dense_hits
    wflt = dataclasses.replace(flt, since=since, until=until)
    limit = max(20, n_cand // 4)
    if settings.text_weight > 0:
        seen = {i for i, _ in text_hits}
        text_hits = text_hits + [h for h in backend.text_search(query, wflt, limit)
                                 if h[0] not in seen]
    if qv is not None:
        seen = {i for i, _ in dense_hits}
        dense_hits = dense_hits + [h for h in backend.dense_search(qv, wflt, limit)
                                   if h[0] not in seen]
    return text_hits, dense_hits


# the time fit of a fact that held during the window but began before it: true then, but not
# something that happened then ("what did I do last week?" asks for the hike, not the job held
# since 2019). 0.8: an event of the window with the same match ranks first (0.2 of the time
# fit's weight, ~0.6 of a logit), while a fact asked about as a state ("where did Ana work in
# 2020?", its only answer) keeps most of its relevance (with the hashing embedder 0.034 at 1.0,
# 0.019 at 0.8, 0.008 at 0.5: under the context floor)
_HELD_FIT = 0.8


def _closeness(window: TimeWindow, mem: Memory) -> tuple[float, bool]:
    """(the time fit of a fact or summary, whether its validity interval meets the window).
    It is valid from its ``valid_from`` (else its time) until its ``valid_to``, else until its
    time (a fact recorded years after it began spans those years). 1 when the interval meets
    the window and began in it (or is a summary's span); a fact that began before the window
    and held in it fits it by the closeness of its start, at least ``_HELD_FIT``. Outside:
    halving with every window width (at least a day) from the nearer end."""
    t = to_us(mem.time)
    start = to_us(mem.valid_from) if mem.valid_from is not None else t
    end = to_us(mem.valid_to) if mem.valid_to is not None else max(start, t) + 1
    if start < window.end and end > window.start:
        if start >= window.start or mem.kind == "summary":
            return 1.0, True
        return max(_HELD_FIT, float(0.5 ** (window.distance(start) / halving(window)))), True
    dist = min(window.distance(start), window.distance(end - 1))
    return float(0.5 ** (dist / halving(window))), False


def _names_time_in(window: TimeWindow, mem: Memory) -> bool:
    """Whether the memory's own text names a date (read as of the memory's time) that meets
    ``window``: it is evidence about that time, whenever it was recorded. Only for a phrase
    with a number ("2023-05-08", "May 2019"), and read only where the text holds each of
    its numbers and one of its naming words (``_phrase_marks``): parsing every candidate's
    text would cost more than the rest of a search."""
    numbers, words = _phrase_marks(window.phrase)
    if not numbers:
        return False
    low = mem.text[:_NAMED_SCAN].lower()
    if not all(n.search(low) for n in numbers) or (words and not any(w in low for w in words)):
        return False
    # read around the first few places its first number is named (a long text costs no more)
    for n, m in enumerate(numbers[0].finditer(low)):
        if n == _NAMED_READS:
            break
        named = _named_span(low[max(0, m.start() - 60):m.end() + 60], to_us(mem.time))
        if named is not None and named[0] < window.end and named[1] > window.start:
            return True
    return False


@functools.lru_cache(maxsize=4_096)
def _named_span(snippet: str, at: int) -> tuple[int, int] | None:
    """The span a snippet of a memory's text names, read as of ``at`` (the memory's time):
    kept, since a user's searches meet the same memories and a reading costs ~0.3 ms."""
    named = parse_time_window(snippet, at)
    return None if named is None else (named.start, named.end)


_NAMED_READS = 3  # places in a memory's text read for a date (``_names_time_in``)
_NAMED_MAX = 12  # memories of a search whose text may be read for a date
# the time fit of a memory recorded outside the window whose text names a date inside it:
# about that time, but weaker evidence of it than being recorded then (at 1.0, BEAM's
# abstention questions, which name the date of an event whose detail was never given, rose
# with their topic's messages: AUROC 0.657 -> 0.631; at 0.5 the bench gave 0.654)
_NAMED_FIT = 0.5
_NAMED_SCAN = 4_000  # characters of a memory's text searched for the phrase's numbers


_MARK = re.compile(r"\d+|[^\W\d_]{3,}")
_NOT_MARKS = frozenset(("the", "and", "last", "this", "next", "past", "previous", "before",
                        "after", "since", "until", "till", "from", "between", "during", "ago",
                        "early", "late", "end", "start", "beginning", "first", "second",
                        "third", "fourth", "fifth", "couple", "few", "several", "one", "two",
                        "three", "four", "five", "six", "seven", "eight", "nine", "ten"))


@functools.lru_cache(maxsize=256)
def _phrase_marks(phrase: str) -> tuple[tuple[re.Pattern[str], ...], tuple[str, ...]]:
    """The numbers (each as a pattern for the whole number) and the naming words (not "last",
    "before", ...) of a time phrase: a text naming the same date holds every number and one
    of the words."""
    found = _MARK.findall(phrase.lower())
    return (tuple(re.compile(rf"(?<!\d)0*{int(m)}(?!\d)")
                  for m in dict.fromkeys(found) if m.isdigit()),
            tuple(m for m in dict.fromkeys(found) if not m.isdigit() and m not in _NOT_MARKS))


# words that ask what happened or was said without naming anything ("what did I do", "what
# happened", "what did I get up to", "where did I go", "what did we talk about", "remind me",
# "summarize", "show me everything"), besides the stop words and the words of the time
# phrase (``asks_for_window``)
_ASKING = frozenset(("happen", "happened", "happening", "happens", "do", "did", "does", "done",
                     "doing", "get", "got", "getting", "go", "went", "going", "gone", "anything",
                     "something", "everything", "interesting", "talk", "talked", "talking",
                     "discuss", "discussed", "say", "said", "tell", "told", "mention",
                     "mentioned", "remind", "recap", "summarize", "summarise", "show", "list"))
_WORDS = re.compile(r"\w+")


def asks_for_window(query: str, window: TimeWindow | None) -> bool:
    """Whether ``query`` asks for its time window alone ("what did I do yesterday?", "what
    happened last week?", "last weekend"): it holds no word but stop words, the words of its
    time phrase and ``_ASKING``. A name ("what did Ana do last week?") or a thing ("what did I
    eat yesterday?") is asked for besides the window."""
    if window is None:
        return False
    phrase = set(_WORDS.findall(window.phrase.lower()))
    return not any(w not in STOP_WORDS and w not in phrase and w not in _ASKING
                   for w in _WORDS.findall(query.lower()))


def window_gain(query: str, window: TimeWindow | None, ranker: Ranker) -> float:
    """The logit a query that asks for its window alone (``asks_for_window``) adds per unit of
    time fit, 0 for any other query. Such a query has no word to match, so every memory's
    match (full text and dense) is near nothing, and its time fit, which the ranker weighs as
    a tie-break among matches (LoCoMo and BEAM hold no such question), was all there was:
    "what did I do yesterday?" gave yesterday's two memories relevance 0.006 and 0.004, under
    the context floor. The window is what it asks for: a memory inside it matches it as fully
    as one holding every word of a query would, so it gets the part of the logit that a full
    word match (``text_top`` and ``text_set`` 1) gives a memory through its own match and its
    session's best (2.8 x (0.39 + 0.26) = 1.84 with the shipped weights). A memory outside
    gets none (its closeness was enough to lift the evening before "this morning" over the
    context floor), nor a fact that held in the window but began before it."""
    if not asks_for_window(query, window):
        return 0.0
    top = ranker.own_w[OWN.index("text_top")] + ranker.own_w[OWN.index("text_set")]
    return ranker.scale * float(top * (ranker.full_w[FULL.index("own")]
                                       + ranker.full_w[FULL.index("session")]))


def halving(window: TimeWindow) -> int:
    """How far outside ``window`` (microseconds) the time fit halves: the window's width, at
    least a day. An open window ("before 2020", "since last week") halves by the span its
    phrase names (not the centuries back to year 1, which made every memory fit), at least a
    week: "the week before August 3" is told on August 3, just outside its window."""
    if window.scale:
        return max(window.scale, _OPEN_MIN)
    return max(window.end - window.start, US_PER_DAY)


def decay_policies(settings: Settings) -> dict[str, float]:
    """Half-life in days of each kind that decays (see ``ltm.policies.retention``)."""
    if not settings.decay_weight or not settings.retention:
        return {}
    return {k: p.decay_half_life_days for k, p in policies(settings.retention).items()
            if p.decay_half_life_days}


def time_head(want: int) -> int:
    """How many of the best candidates ``time_and_retention`` adjusts."""
    return max(3 * want, 50)


def time_and_retention(backend: Backend, user: str, ids: Sequence[str], logit: np.ndarray,
                        x: np.ndarray, order: np.ndarray, want: int, now: int,
                        window: TimeWindow | None, settings: Settings, ranker: Ranker,
                        tie: np.ndarray, text: np.ndarray, asked: float = 0.0
                        ) -> tuple[np.ndarray, dict[int, dict[str, float]], dict[str, Memory]]:
    """Adjust ``logit`` (in place) over the head of the ranking (3x ``want``, at least 50):
    a fact's or summary's time fit follows its validity interval (and a superseded fact
    valid in the window loses its penalty); a memory outside the window whose words match
    the query's (``text`` > 0) and whose own text names a time inside it ("the 2023-05-08
    report", "last week" told the week after) fits it; decay with disuse and archived
    originals are penalties. ``asked``: the logit ``window_gain`` adds to a memory inside the
    window (already in ``logit`` where ``x``'s fit is 1). Returns the new order, extra signals
    and the head's memories."""
    extra: dict[int, dict[str, float]] = {}
    decay = decay_policies(settings)
    head = order[:time_head(want)]
    head_ids = [ids[j] for j in head]
    timed = window is not None and bool(settings.time_weight)
    told: set[str] = set()
    if timed and window is not None and _phrase_marks(window.phrase)[0]:
        # fitting the window less than a named date would, sharing words with the query, and
        # able to reach the best ``want`` if its text named the asked time (the _NAMED_MAX
        # that could rise highest: the same ones whatever ``k``, as far as a smaller k reaches)
        bar = logit[head[min(want, len(head)) - 1]] if len(head) else 0.0
        gain = ranker.time_fit_weight * (_NAMED_FIT - x[head, _FIT]) \
            - asked * (x[head, _FIT] >= 1.0)
        could = logit[head] + gain
        able = np.flatnonzero((gain > 0) & (text[head] > 0) & (could >= bar))
        able = able[np.argsort(-could[able], kind="stable")][:_NAMED_MAX]
        told = {ids[j] for j in head[able]}
    # (asked per call, not per class: a wrapper may forward it for one backend, not another)
    kinds = backend if isinstance(backend, KindReader) else None
    if kinds is not None:
        # read whole only what an adjustment below can apply to (the rest keep their logit)
        head_ids = [i for i, (kind, archived) in
                    kinds.kinds(head_ids, user, ARCHIVED).items()
                    if (timed and (kind != "episode" or i in told)) or decay.get(kind)
                    or (archived and settings.archived_penalty)]
    mems = backend.get_many(head_ids, user) if head_ids else {}
    w_fit = ranker.time_fit_weight
    for j in head:
        mem = mems.get(ids[j])
        if mem is None:
            continue
        sig: dict[str, float] = {}
        if window is not None and timed and (mem.kind != "episode" or mem.id in told):
            fit, held = _closeness(window, mem) if mem.kind != "episode" \
                else (float(x[j, _FIT]), False)
            if fit < _NAMED_FIT and mem.id in told and _names_time_in(window, mem):
                fit = _NAMED_FIT
            logit[j] += w_fit * (fit - x[j, _FIT]) \
                + asked * (float(fit >= 1.0) - float(x[j, _FIT] >= 1.0))
            x[j, _FIT] = fit
            sig["time_window"] = fit
            if mem.superseded_by is not None and held and x[j, _SUP]:
                # it was still true in the window the query asks about: no penalty
                drop_superseded_penalty(logit, x, int(j), ranker)
        if decay.get(mem.kind) and settings.decay_weight:
            d = -settings.decay_weight * (1.0 - strength(mem, now, decay[mem.kind]))
            sig["decay"] = d
            logit[j] += d
        if settings.archived_penalty and mem.metadata.get(ARCHIVED):
            sig["archived"] = -settings.archived_penalty
            logit[j] -= settings.archived_penalty
        if sig:
            extra[int(j)] = sig
    return np.lexsort((tie, -logit)), extra, mems
