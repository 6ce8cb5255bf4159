"""Learned relevance: calibrated signals -> the probability that a memory is evidence.

Two logistic stages, pure numpy at inference:

1. ``own``: a memory's own match, from its full-text ratio (BM25 over the query's ceiling) and
   its dense z-score (cosine against the embedder's background), with an interaction.
2. ``full``: the own logit, the best own logit in its session (conversation turns rarely
   stand alone), the full-text ratio of the turn before and of the turn after it over the best
   candidate's (a question's words are often in the turn that asks, its answer in the reply),
   the share of the query's words (IDF-weighted) that the turns just before and after it add
   to its own and that its session holds, or for a memory outside any conversation the share
   it holds (``coverage``; not fitted yet), recency, importance,
   supersession, the time features (whether the query names a time window, and how well the
   memory's time fits it).

Some columns stay in the format (weights stored before still load) but are left out of the
fit (``UNFITTED_OWN``, ``UNFITTED``): they carried LoCoMo's habits to data they were not
fitted on (see ``UNFITTED``).

An optional last calibration step (``context``, off by default: see ``_fit_context``) maps
the stage-2 logit, with the competition from the candidates ranked above it, to the
probability; it never changes the order.

The time features enter the final logit additively with a positive weight, so that a memory
inside the query's window outranks one outside whenever its relevance without time is at
least as high. Weights ship in ``ranker.json`` with their provenance (``ltm train ranker``);
a store may hold its own (fitted from ``feedback``), used when present.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

OWN = ("text", "text_any", "text_sqrt", "dense", "dense_pos", "text_dense", "label",
       "text_top", "dense_gap", "dense_nomatch", "text_set")
FULL = ("own", "previous", "next", "near", "session", "session_lse", "previous_text",
        "next_text", "win_cov", "sess_cov", "lone_cov", "recency", "importance", "superseded",
        "window", "time_fit", "assistant")
# the stage-2 columns that say how well a memory and its conversation match the query: "own"
# (stage 1's match) and the conversation's structure (neighbours, session), before the priors
MATCH = FULL[:FULL.index("recency")]
# features added after weights were first fitted and stored, of stage 2 and of stage 1 (see
# ``Ranker.from_dict``: weights stored without one give it 0)
ADDED = frozenset({"previous_text", "next_text", "win_cov", "sess_cov", "lone_cov",
                   "assistant"})
ADDED_OWN = frozenset({"dense_nomatch", "text_set"})
# the last calibration step (see ``context_features``)
CONTEXT = ("logit", "above")
CALIBRATE_TOP = 20  # the context step is fitted on each query's best candidates
TIME = ("window", "time_fit")
_TIME_COLUMNS = [FULL.index(f) for f in TIME]
_TEXT_TOP = OWN.index("text_top")
_TEXT_SET = OWN.index("text_set")
_COL = {f: j for j, f in enumerate(FULL)}
# the columns ``structure`` gives, in its order
_STRUCTURE = slice(_COL["previous"], _COL["next_text"] + 1)
_COVERAGE = slice(_COL["win_cov"], _COL["lone_cov"] + 1)  # the columns ``coverage`` gives
# stage-1 weights kept >= 0, so that more match never lowers the logit (see ``fit``)
MONOTONE = ("text", "text_any", "text_sqrt", "dense", "dense_pos", "text_dense", "label", "text_top",
            "dense_gap", "dense_nomatch", "text_set")
# weights used where the training data never varies a feature (e.g. no superseded facts in
# LoCoMo): a prior, not a fit
PRIORS = {"recency": 0.3, "importance": 1.0, "superseded": -2.0, "time_fit": 1.5,
          "window": 0.0, "assistant": -1.0}
# Columns kept at their prior, never fitted. ``assistant`` (1 for a memory an assistant said:
# its labels hold the word "assistant", as a chat turn's speaker role does; 0 where the query
# names the assistant itself): in the training sources it is never evidence for a reason that
# does not carry over (the small stores' assistant turns are filler, LoCoMo has none), so a
# fit drives it as low as its L2 allows. In a user's chat with an assistant the replies are
# long and on the topic of the question while the user's own turns hold what they said (in
# BEAM 100K 52% of the top 10 were assistant replies; 92% of the evidence is the user's
# turns). -1.0 was chosen on BEAM conversations 1-10 as the best of 0.25-5 by evidence R@10
# (0.546 -> 0.616; their conversations 11-20, held out: 0.503 -> 0.569).
PRIOR_ONLY = ("assistant",)
# a feature whose values within every query's pool span less than this is not varied by the
# data (LoCoMo's and the small stores' recency differs by ~1e-6 within a pool: the turns of a
# conversation years ago, or minutes apart) and keeps its prior
VARIES = 1e-3
MIN_TIME_FIT = 0.25  # the time-fit weight is kept at least this (the window guarantee)
# Why each column here is left out of the fit (or was, until it was fitted), with the
# measurements: docs/ranker-columns.md.
UNFITTED_OWN = ("text", "text_any", "text_sqrt", "dense_nomatch", "text_set")
# Why each column here is left out of the fit (or was, until it was fitted), with the
# measurements: docs/ranker-columns.md.
UNFITTED = ("previous", "next", "near", "session_lse")
META_KEY = "ranker_weights"
MAX_CONTEXT_WINDOW = 100  # neighbouring turns on each side a stored model may lend from
MAX_WEIGHT = 1e6  # the largest weight (or bias) a stored model may hold


@dataclass
class RawPool:
    """One query's candidates, each signal already calibrated (see ``calibrate``)."""

    text: np.ndarray  # BM25 / the query's ceiling
    dense: np.ndarray  # cosine z-score against the embedder's background
    session: np.ndarray  # int codes, -1 = none
    seq: np.ndarray  # turn number within the session
    has_seq: np.ndarray  # bool
    recency: np.ndarray  # 0.5 ** (age / half-life), 0..1
    importance: np.ndarray  # importance - 0.5 (unset = 0)
    superseded: np.ndarray  # bool
    time_fit: np.ndarray  # 1 inside the query's window, halving per width outside; 0 none
    label: np.ndarray  # 1 where the memory's labels (speaker, name, title, caption) hold a
    # word of the query
    window: bool = False  # the query names a time window
    assistant: np.ndarray | None = None  # 1 where an assistant said the memory (None: none)
    # the query's words each memory holds (bit b: the b-th word of ``words``; None: not
    # known, the coverage columns are 0) and each word's weight (its IDF within the scope, as
    # the full-text ceiling weighs it): ``coverage``
    words: np.ndarray | None = None  # (n,) uint64
    word_w: np.ndarray | None = None  # (words,)

    def __len__(self) -> int:
        return len(self.text)

    def take(self, idx: np.ndarray) -> RawPool:
        return RawPool(self.text[idx], self.dense[idx], self.session[idx], self.seq[idx],
                       self.has_seq[idx], self.recency[idx], self.importance[idx],
                       self.superseded[idx], self.time_fit[idx], self.label[idx],
                       self.window, None if self.assistant is None else self.assistant[idx],
                       None if self.words is None else self.words[idx], self.word_w)


def own_features(pool: RawPool, sets: bool = True) -> np.ndarray:
    """Stage-1 columns (``OWN``). ``text_top`` and ``dense_gap`` compare a memory with the best
    candidate (a ratio and a difference on the calibrated scales, not a z-score): memories
    unrelated to the query never change them, and a lone candidate gets 1 and 0.
    ``dense_nomatch``: ``dense_pos`` where no candidate holds a word of the query (every
    full-text ratio 0), else 0: a dense slope of its own for the pools where the dense match is
    all there is (``text_top`` is 0 for every candidate of such a pool; not fitted yet, see
    ``UNFITTED_OWN``). The full text's candidates are the user's memories that hold a query
    word (its best by BM25), so whether none does is a property of the query and the user's
    store: other users' memories never change it (the store-wide BM25 averages scale a score,
    they never make it 0), an added memory only by holding a word of the query.

    ``text_set``: the best ``text_top`` among the candidates that hold the same set of query
    words (``pool.words``; ``text_top`` itself where the words are not known, or ``sets`` is
    False: a model that gives it no weight skips the grouping). Among those, BM25 differs
    only by term frequency and length: "what is the name of Alba's sibling?" over Alba's facts
    matches the name alone, which all of them hold, and the shortest fact's BM25 (0.31 against
    0.25 of the best candidate's ceiling) outranked the better dense match (z 7.15 against
    6.58). Measured, not fitted yet (``UNFITTED_OWN`` says why): fitted by the
    shipped command it takes ``text_top``'s weight (which the fit, kept >= 0, then leaves at
    0), so that within such a set the length no longer counts."""
    t = np.clip(pool.text, 0.0, 3.0)
    d = np.clip(pool.dense, -5.0, 15.0)
    t_max = float(t.max()) if len(t) else 0.0
    out = np.empty((len(t), len(OWN)))  # (the columns written in place: no stacking)
    out[:, 0] = t
    out[:, 1] = t > 0
    np.sqrt(t, out=out[:, 2])
    out[:, 3] = d
    np.maximum(d, 0.0, out=out[:, 4])
    np.multiply(t, out[:, 4], out=out[:, 5])
    out[:, 6] = pool.label
    if t_max > 0:
        np.divide(t, t_max, out=out[:, 7])
    else:
        out[:, 7] = 0.0
    np.maximum(d - (float(d.max()) if len(d) else 0.0), -10.0, out=out[:, 8])
    out[:, 9] = out[:, 4] if t_max == 0 else 0.0
    out[:, 10] = out[:, 7]
    words = pool.words
    if sets and words is not None and len(words) > 1 and t_max > 0:
        # the best ``text_top`` among the candidates holding the same query words
        _, group = np.unique(words, return_inverse=True)
        best = np.zeros(int(group.max()) + 1)
        np.maximum.at(best, group, out[:, 7])
        out[:, 10] = best[group]
    return out


class Turns:
    """Where each turn of a pool sits in its conversation, for ``structure``: the pool
    positions of the turns (a session and a turn number set) ordered by session, then turn,
    then position; where each session's run starts; and for each offset the turn that many
    turns later in the same session. It depends only on the pool's ``session``, ``seq`` and
    ``has_seq``, so a pool that is a whole cached scope view shares one with every search of
    that view (see ``ltm.retrieval.pipeline``); the neighbours are computed on first use."""

    def __init__(self, idx: np.ndarray, session: np.ndarray, seq: np.ndarray) -> None:
        self.idx = idx  # pool positions of the turns, by session, then turn, then position
        self.sess = session[idx]
        self.seqs = seq[idx]
        k = len(idx)
        # the sessions' runs in ``idx``: where each starts, and each turn's run
        self.starts = np.flatnonzero(np.r_[True, self.sess[1:] != self.sess[:-1]]) if k \
            else np.zeros(0, dtype=np.intp)
        self.run = np.cumsum(np.r_[True, self.sess[1:] != self.sess[:-1]]) - 1 if k \
            else np.zeros(0, dtype=np.intp)
        self._at: dict[tuple[int, ...], np.ndarray] = {}

    @classmethod
    def of(cls, session: np.ndarray, seq: np.ndarray, has_seq: np.ndarray) -> Turns:
        idx = np.flatnonzero((session >= 0) & has_seq)
        if len(idx):
            idx = idx[np.lexsort((idx, seq[idx], session[idx]))]
        return cls(idx, session, seq)

    def within(self, p: np.ndarray, m: int, session: np.ndarray, seq: np.ndarray) -> Turns:
        """The turns of the pool made of positions ``p`` (ascending) of this one's ``m``
        rows, in the same order (``session``, ``seq``: the smaller pool's), without a sort."""
        inv = np.full(m, -1, dtype=np.int64)
        inv[p] = np.arange(len(p))
        at = inv[self.idx]
        return Turns(at[at >= 0], session, seq)

    def extended(self, tail: np.ndarray, session: np.ndarray, seq: np.ndarray) -> Turns:
        """These turns and those at positions ``tail`` of a pool whose first rows are this
        one's (``session``, ``seq``: that pool's, with these turns' codes), where ``tail``'s
        turns come after these in the order (its own ordered): no sort, nothing redone."""
        k = len(self.idx)
        s = session[tail]
        new = Turns.__new__(Turns)
        new.idx = np.concatenate([self.idx, tail])
        new.sess = np.concatenate([self.sess, s])
        new.seqs = np.concatenate([self.seqs, seq[tail]])
        cut = np.r_[not k or bool(s[0] != self.sess[-1]), s[1:] != s[:-1]] if len(s) else \
            np.zeros(0, dtype=bool)
        new.starts = np.concatenate([self.starts, k + np.flatnonzero(cut)])
        new.run = np.concatenate([self.run, (int(self.run[-1]) if k else -1) + np.cumsum(cut)])
        new._at = {}
        return new

    def at(self, *offsets: int) -> np.ndarray:
        """For each turn (in ``idx`` order, one row each), the index in ``idx`` of the turn
        ``off`` turns later in its session (earlier if negative) for each of ``offsets`` (one
        column each), or ``len(idx)`` where there is none."""
        got = self._at.get(offsets)
        if got is None:
            k = len(self.idx)
            got = np.full((k, len(offsets)), k, dtype=np.intp)
            for c, off in enumerate(offsets):
                o = abs(off)
                if not 0 < o < k:
                    continue
                ok = (self.sess[o:] == self.sess[:-o]) & ((self.seqs[o:] - self.seqs[:-o]) == o)
                if off > 0:
                    got[:-o, c] = np.where(ok, np.arange(o, k), k)
                else:
                    got[o:, c] = np.where(ok, np.arange(k - o), k)
            got.flags.writeable = False
            self._at[offsets] = got  # (two threads may both compute it: the same array)
        return got


def structure(pool: RawPool, own: np.ndarray, top: np.ndarray, window: int,
              floor: float, turns: Turns | None = None) -> np.ndarray:
    """Columns ``previous``, ``next``, ``near``, ``session``, ``session_lse``,
    ``previous_text``, ``next_text`` from a memory's conversation: the own logits of the turn
    before and after it, the best other turn within ``window`` turns (2 or more away), the best
    and the log-sum-exp of its session (``floor`` where it has none; a memory outside any
    conversation is its own session), and ``top`` (the full-text ratio relative to the best
    candidate's: ``text_top`` of ``own_features``) of the turn before and after it (0 where
    there is none). ``top`` is a ratio of two BM25 scores of one store, so the store-wide
    length average SQLite's BM25 uses (which other users' memories move) cancels out.
    ``turns``: the pool's ``Turns`` where the caller holds them (else made here)."""
    n = len(own)
    if turns is None:
        turns = Turns.of(pool.session, pool.seq, pool.has_seq)
    idx = turns.idx
    k = len(idx)
    out = np.empty((n, 7))
    if k < n:  # memories outside any conversation: a session of their own
        out[:, :3] = floor
        out[:, 3] = out[:, 4] = own
        out[:, 5:] = 0.0
    if k == 0:
        return out
    # each turn's own logit and ``top`` in conversation order, then what a turn without the
    # neighbour asked for reads (``Turns.at`` points there)
    vals = np.empty(k + 1)
    vals[:k] = own[idx]
    vals[k] = floor
    text = np.empty(k + 1)
    text[:k] = top[idx]
    text[k] = 0.0
    side = turns.at(-1, 1)  # (k, 2): the turn before, the turn after
    res = np.empty((k, 7))
    res[:, :2] = vals[side]
    res[:, 5:] = text[side]
    if window >= 2:
        vals[k] = -np.inf
        near = vals[turns.at(*[o for d in range(2, window + 1) for o in (d, -d)])].max(axis=1)
        res[:, 2] = np.where(np.isfinite(near), near, floor)
    else:
        res[:, 2] = floor
    own_sorted = vals[:k]
    run = turns.run
    best = np.maximum.reduceat(own_sorted, turns.starts)[run]  # the best of each session
    res[:, 3] = best
    # (bincount adds in order, as a loop would)
    total = np.bincount(run, weights=np.exp(np.clip(own_sorted - best, -50.0, 0.0)))
    res[:, 4] = best + np.log(total)[run]
    out[idx] = res
    return out


def coverage(pool: RawPool, turns: Turns | None = None) -> np.ndarray:
    """Columns ``win_cov``, ``sess_cov`` and ``lone_cov``, shares of the query's words, each
    weighted by its IDF (``pool.word_w``, the weights of the full-text ceiling: a rare word
    counts more than a common one, a word no memory holds counts too): ``win_cov``, the share
    a turn and the turns just before and after it hold together (a question's words are often
    spread over the turns around its answer: "what did X recommend for Y" asked of a reply
    that names neither; the turn's own words count too, so that a neighbour never covers
    more than the turn that lends it the words: with the share the neighbours add alone,
    fitted, the turn after a full match outranked it where recency favoured it, and "where
    did Ann move?" put "That sounds exciting" above "I moved to Zurich"); ``sess_cov``, the share its whole
    session holds, the memory included; ``lone_cov``, the share a lone memory (outside any
    conversation: no session or no turn number, as the single notes an application adds)
    holds itself, 0 for a turn (a lone memory's ``win_cov`` and ``sess_cov`` are 0). The lone
    memory's own words have a weight of their own: counted as its session's (3878e16), their
    weight was the one conversations' sessions fitted. An assistant's turn
    (``pool.assistant``) lends its words to no neighbour: its replies are long and repeat the
    topic of the turns around them, so in a chat with an assistant every user turn of a topic
    would gain the query's words from them.

    Fitted since the thirteenth pass (the comment above ``UNFITTED`` has the numbers). Before
    the lone memories' data, held out (LoCoMo by conversation, small stores' seeds 1-3; BEAM
    100K and the small-store benchmark's seed 0 never fitted on), without / with ``win_cov``
    (then: the neighbours' share alone) and ``sess_cov``: LoCoMo R@10 0.777 / 0.788, small
    P@1 0.534 / 0.540, seed 0 0.516 / 0.519, BEAM R@10 0.602 / 0.602; the window's words with
    the memory's own: 0.790, 0.534, 0.510, 0.600, and with the assistants' words lent, BEAM
    0.595; the session's words alone: 0.781, 0.532, 0.515, 0.605.

    All are shares of the query's own words, so they depend neither on which other memories
    are candidates nor on other users' memories. 0 where the pool does not know the words
    (``pool.words`` None) or the query has none."""
    n = len(pool)
    words, weight = pool.words, pool.word_w
    if words is None or weight is None or n == 0 or len(weight) == 0:
        return np.zeros((n, 3))
    total = float(weight.sum())
    if not total > 0:
        return np.zeros((n, 3))
    share = _shares(weight / total)
    if turns is None:
        turns = Turns.of(pool.session, pool.seq, pool.has_seq)
    idx = turns.idx
    k = len(idx)
    out = np.empty((n, 3))
    if k < n:  # memories outside any conversation: their own words alone
        out[:, :2] = 0.0
        out[:, 2] = share(words)
    if k:
        mine = np.empty(k + 1, dtype=words.dtype)  # (a turn without the neighbour reads 0)
        np.take(words, idx, out=mine[:k])
        mine[k] = 0
        lent = mine  # what a turn lends its neighbours
        if pool.assistant is not None:
            said = pool.assistant[idx] > 0
            if said.any():
                lent = mine.copy()
                lent[:k][said] = 0
        side = turns.at(-1, 1)  # (k, 2): the turn before, the turn after
        got = np.zeros((k, 3))
        got[:, 0] = share(np.bitwise_or.reduce(lent[side], axis=1) | mine[:k])
        got[:, 1] = share(np.bitwise_or.reduceat(mine[:k], turns.starts)[turns.run])
        out[idx] = got
    return out


# the bits of every number below 2**12 (row m: bit b of m in column b), for ``_shares``
_BITS = ((np.arange(1 << 12)[:, None] >> np.arange(12)) & 1).astype(np.float64)


def _shares(weight: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The summed ``weight`` of the words a mask holds (bit b: word b), for an array of masks:
    a table of every mask's sum for up to 12 words, else one table per byte of the masks."""
    t = len(weight)
    if t <= 12:
        table = _BITS[:1 << t, :t] @ weight
        return table.__getitem__
    padded = np.zeros(-(-t // 8) * 8)
    padded[:t] = weight
    tables = [_BITS[:256, :8] @ padded[8 * b:8 * b + 8] for b in range(len(padded) // 8)]

    def summed(masks: np.ndarray) -> np.ndarray:
        wide = masks.astype(np.uint64)
        return sum((tab[((wide >> np.uint64(8 * b)) & np.uint64(255)).astype(np.intp)]
                    for b, tab in enumerate(tables)), np.zeros(len(masks)))
    return summed


def context_features(logit: np.ndarray) -> np.ndarray:
    """``CONTEXT`` columns for one query's logits: the logit itself and ``above``, log(1 +
    the summed odds of the candidates ranked above it relative to its own): competition, 0
    for the best candidate, falling as a logit rises. A question has few evidence memories,
    so a candidate below several strong ones is less likely to be one of them than its own
    logit says; candidates below it (unrelated memories among them) change nothing."""
    n = len(logit)
    out = np.zeros((n, len(CONTEXT)))
    if n == 0:
        return out
    order = np.argsort(-logit, kind="stable")
    ranked = logit[order]
    odds = np.exp(np.clip(ranked - float(ranked[0]), -60.0, 0.0))
    before = np.concatenate([[0.0], np.cumsum(odds)[:-1]])  # summed odds ranked above
    out[:, 0] = logit
    out[order, 1] = np.log1p(before / odds)
    return out


@dataclass
class Ranker:
    own_w: np.ndarray
    own_b: float
    full_w: np.ndarray
    full_b: float
    context_window: int = 2
    provenance: dict[str, Any] = field(default_factory=dict)
    # a last calibration over ``context_features`` (None: none)
    context_w: np.ndarray | None = None
    context_b: float = 0.0

    # -- inference -------------------------------------------------------------------------
    def own_logit(self, pool: RawPool) -> np.ndarray:
        return own_features(pool, bool(self.own_w[_TEXT_SET])) @ self.own_w + self.own_b

    def features(self, pool: RawPool, turns: Turns | None = None) -> np.ndarray:
        """The stage-2 feature matrix (columns ``FULL``)."""
        return self.stages(pool, turns)[1]

    def stages(self, pool: RawPool, turns: Turns | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """(the stage-1 matrix ``own_features``, the stage-2 one ``features``). ``turns``: the
        pool's ``Turns`` where the caller holds them."""
        x1 = own_features(pool, bool(self.own_w[_TEXT_SET]))
        own = x1 @ self.own_w + self.own_b
        x = np.empty((len(own), len(FULL)))  # (the columns of FULL written in place)
        x[:, _COL["own"]] = own
        if turns is None:
            turns = Turns.of(pool.session, pool.seq, pool.has_seq)
        x[:, _STRUCTURE] = structure(pool, own, x1[:, _TEXT_TOP], self.context_window,
                                     self.floor, turns)
        x[:, _COVERAGE] = coverage(pool, turns)
        x[:, _COL["recency"]] = pool.recency
        x[:, _COL["importance"]] = pool.importance
        x[:, _COL["superseded"]] = pool.superseded
        x[:, _COL["window"]] = 1.0 if pool.window else 0.0
        x[:, _COL["time_fit"]] = pool.time_fit
        x[:, _COL["assistant"]] = 0.0 if pool.assistant is None else pool.assistant
        return x1, x

    def logits(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logit, its time part) for one query's ``features`` matrix. The last calibration
        step (``context_features``) keeps the order: its logit weight is positive and its
        competition weight at most 0."""
        contrib = x * self.full_w
        time_part = contrib[:, _TIME_COLUMNS].sum(axis=1)
        logit = self._calibrated(contrib.sum(axis=1) + self.full_b)
        return logit, time_part if self.context_w is None or len(logit) == 0 else \
            time_part * self.context_w[0]

    def logit(self, x: np.ndarray) -> np.ndarray:
        """The logit of ``logits`` alone (a search: its time part is not read)."""
        return self._calibrated((x * self.full_w).sum(axis=1) + self.full_b)

    def _calibrated(self, logit: np.ndarray) -> np.ndarray:
        """The stage-2 logit through the last calibration step (``context_features``)."""
        if self.context_w is None or len(logit) == 0:
            return logit
        return context_features(logit) @ self.context_w + self.context_b

    @property
    def floor(self) -> float:
        """The own logit of a memory that matches nothing (no text, background cosine, far
        below the best candidate): what a turn without neighbours borrows."""
        x = np.zeros(len(OWN))
        x[OWN.index("dense_gap")] = -10.0
        return float(x @ self.own_w + self.own_b)

    @property
    def reads_words(self) -> bool:
        """Whether the word coverage columns (``coverage``) have a weight: a search reads which
        query words its candidates hold only then."""
        return bool(self.full_w[_COVERAGE].any() or self.own_w[_TEXT_SET])

    @property
    def scale(self) -> float:
        """What one unit of the stage-2 logit is worth in the final one."""
        return 1.0 if self.context_w is None else float(self.context_w[0])

    @property
    def time_fit_weight(self) -> float:
        """The time fit's part of the final logit per unit of fit."""
        return self.scale * float(self.full_w[FULL.index("time_fit")])

    @property
    def assistant_weight(self) -> float:
        """The part of the final logit of a memory an assistant said."""
        return self.scale * float(self.full_w[FULL.index("assistant")])

    @property
    def superseded_weight(self) -> float:
        """The superseded penalty's part of the final logit."""
        return self.scale * float(self.full_w[FULL.index("superseded")])

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "version": 1, "context_window": self.context_window,
            "own": {"features": list(OWN), "weights": [float(w) for w in self.own_w],
                    "bias": float(self.own_b)},
            "full": {"features": list(FULL), "weights": [float(w) for w in self.full_w],
                     "bias": float(self.full_b)}}
        if self.context_w is not None:
            d["context"] = {"features": list(CONTEXT),
                            "weights": [float(w) for w in self.context_w],
                            "bias": float(self.context_b)}
        d["provenance"] = self.provenance
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Ranker:
        """The weights ``to_dict`` wrote; ValueError (or KeyError, TypeError) for anything
        else: another version or feature set, or numbers that are not weights."""
        if not isinstance(d, dict) or not all(isinstance(d.get(s), dict)
                                              for s in ("own", "full")):
            raise ValueError("ranker weights must be a JSON object with 'own' and 'full'")
        if d.get("version") != 1 or not _older_set(d["own"]["features"], OWN, ADDED_OWN) \
                or not _older_set(d["full"]["features"], FULL, ADDED) \
                or len(d["own"]["weights"]) != len(d["own"]["features"]) \
                or len(d["full"]["weights"]) != len(d["full"]["features"]):
            raise ValueError("ranker weights of another version or feature set")
        window = d.get("context_window", 2)
        if isinstance(window, bool) or not isinstance(window, int) \
                or not 0 <= window <= MAX_CONTEXT_WINDOW:
            raise ValueError(f"context_window must be an integer in [0, {MAX_CONTEXT_WINDOW}]")
        # weights fitted before a feature was added (a store's own, say) give it 0
        own_w = np.zeros(len(OWN))
        own_w[[OWN.index(f) for f in d["own"]["features"]]] = d["own"]["weights"]
        full_w = np.zeros(len(FULL))
        full_w[[FULL.index(f) for f in d["full"]["features"]]] = d["full"]["weights"]
        values = [*own_w, *full_w, d["own"]["bias"], d["full"]["bias"]]
        full_w[FULL.index("time_fit")] = max(full_w[FULL.index("time_fit")], MIN_TIME_FIT)
        context_w, context_b = None, 0.0
        if d.get("context") is not None:
            c = d["context"]
            if c["features"] != list(CONTEXT) or len(c["weights"]) != len(CONTEXT):
                raise ValueError("ranker weights of another version or feature set")
            context_w = np.array(c["weights"], dtype=np.float64)
            context_b = float(c["bias"])
            if context_w[0] <= 0 or context_w[1] > 0:
                raise ValueError("the context calibration must keep the order")
            values += [*context_w, context_b]
        # (finite, and small enough that a logit stays finite: 1e308 overflowed to NaN)
        if not all(math.isfinite(float(v)) and abs(float(v)) <= MAX_WEIGHT for v in values):
            raise ValueError(f"ranker weights must be finite numbers of at most {MAX_WEIGHT:g}"
                             " in size")
        return cls(own_w, float(d["own"]["bias"]), full_w, float(d["full"]["bias"]),
                   window, dict(d.get("provenance", {})), context_w, context_b)

    @classmethod
    def load(cls, path: str | Path) -> Ranker:
        return cls.from_dict(json.loads(Path(path).read_text()))


def _older_set(names: Any, columns: tuple[str, ...], added: frozenset[str]) -> bool:
    """Whether ``names`` is ``columns`` (``OWN`` or ``FULL``) or an earlier version of it
    (some of the ``added`` features absent, the rest in order, the ones every version had
    present)."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return False
    if not set(columns) - added <= set(names) <= set(columns):
        return False
    return [columns.index(n) for n in names] == sorted(columns.index(n) for n in set(names))


_shipped: Ranker | None = None
_shipped_lock = threading.Lock()


def shipped() -> Ranker:
    """The weights that ship in the package (``ranker.json``)."""
    global _shipped
    with _shipped_lock:
        if _shipped is None:
            text = resources.files("ltm.retrieval").joinpath("ranker.json").read_text()
            _shipped = Ranker.from_dict(json.loads(text))
        return _shipped


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


# -- fitting (numpy; used by ``ltm train ranker``) -------------------------------------------
def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1.0,
                 weight: np.ndarray | None = None, prior: np.ndarray | None = None,
                 prior_b: float = 0.0, offset: np.ndarray | None = None, iters: int = 60
                 ) -> tuple[np.ndarray, float]:
    """Weighted L2-regularised logistic regression by Newton's method; the penalty pulls
    toward ``prior`` (zeros by default), the bias is not penalised; ``offset`` is a fixed part
    of each logit."""
    n, f = x.shape
    off = np.zeros(n) if offset is None else offset
    w_s = np.ones(n) if weight is None else weight
    mu = np.zeros(f) if prior is None else prior
    a = np.column_stack([x, np.ones(n)])
    theta = np.append(mu, prior_b).astype(np.float64)
    reg = np.full(f + 1, l2)
    reg[-1] = 0.0
    center = np.append(mu, 0.0)
    for _ in range(iters):
        p = sigmoid(a @ theta + off)
        grad = a.T @ (w_s * (p - y)) + reg * (theta - center)
        h = (a * (w_s * p * (1 - p))[:, None]).T @ a + np.diag(reg) + 1e-9 * np.eye(f + 1)
        step = np.linalg.solve(h, grad)
        theta -= step
        if float(np.abs(step).max()) < 1e-7:
            break
    return theta[:-1], float(theta[-1])


def fit_ranking(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], *, l2: float = 1.0,
                weights: Sequence[float] | None = None, iters: int = 50,
                prior: np.ndarray | None = None,
                pairs: tuple[np.ndarray, np.ndarray] | None = None,
                fixed: Sequence[int] = ()) -> np.ndarray:
    """Conditional logit: the weights that maximise, over every query, the log-probability of
    its evidence under a softmax over its candidates (a ranking objective: constants of a
    query cancel), L2-penalised toward ``prior`` (zeros by default), by Newton's method with
    step halving. ``pairs`` (``diffs`` (p, f), ``weights`` (p,)): preferences of one
    candidate over another of the same query, each row the preferred one's features minus the
    other's, adding ``weight * log sigmoid(diff @ w)`` (a pairwise logistic term; none: the
    objective is exactly the softmax one). ``fixed``: columns kept at ``prior``'s value."""
    f = xs[0].shape[1]
    qw = [1.0] * len(xs) if weights is None else list(weights)
    data = [(x, y, w) for x, y, w in zip(xs, ys, qw) if y.sum() > 0]
    center = np.zeros(f) if prior is None else np.asarray(prior, dtype=np.float64)
    diffs, pw = pairs if pairs is not None and len(pairs[1]) else (None, None)

    def loglik(w: np.ndarray) -> float:
        total = -0.5 * l2 * float((w - center) @ (w - center))
        for x, y, q in data:
            s = x @ w
            top = float(s.max())
            total += q * float(y @ s - y.sum() * (top + np.log(np.exp(s - top).sum())))
        if diffs is not None and pw is not None:
            total -= float(pw @ np.logaddexp(0.0, -(diffs @ w)))  # sum of w * log sigmoid
        return total

    w = center.copy()
    current = loglik(w)
    for _ in range(iters):
        g = -l2 * (w - center)
        h = l2 * np.eye(f)
        for x, y, q in data:
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            mean = p @ x
            g += q * (y @ x - y.sum() * mean)
            xc = x - mean
            h += q * y.sum() * (xc * p[:, None]).T @ xc
        if diffs is not None and pw is not None:
            z = sigmoid(diffs @ w)  # (p,): how surely each preference holds now
            g += diffs.T @ (pw * (1.0 - z))
            h += (diffs * (pw * z * (1.0 - z))[:, None]).T @ diffs
        if fixed:
            free = np.setdiff1d(np.arange(f), np.asarray(fixed, dtype=np.int64))
            step: np.ndarray = np.zeros(f)
            step[free] = np.linalg.solve(h[np.ix_(free, free)] + 1e-9 * np.eye(len(free)),
                                         g[free])
        else:
            step = np.linalg.solve(h + 1e-9 * np.eye(f), g)
        t = 1.0
        while True:
            candidate = w + t * step
            value = loglik(candidate)
            if value >= current - 1e-9 or t < 1e-4:
                break
            t /= 2
        w, current = candidate, value
        if float(np.abs(t * step).max()) < 1e-6:
            break
    return w


def fit(pools: Sequence[RawPool], labels: Sequence[np.ndarray], *, context_window: int = 2,
        l2: float = 1.0, weights: Sequence[float] | None = None,
        calibrate_context: bool = False) -> Ranker:
    """Fit on labelled pools (one per query; label 1: the memory is evidence). Each stage's
    weights by the ranking objective (``fit_ranking``); then the stage-2 score is calibrated
    into a probability (Platt: a logistic regression of the labels on the score and the
    query's window flag), fitted on each query's best ``CALIBRATE_TOP`` candidates, where a
    probability is read. A level of the query (its best full-text ratio, or best dense
    z-score, constant within a query) was tried in this step: the full-text one made the
    relevance depend on other users' memories through SQLite's store-wide BM25 length average
    (0.037 in the isolation property), the dense one lowered BEAM's abstention AUROC.
    Features the data never varies within a query (no superseded fact in the data, say) keep
    their ``PRIORS`` weight; ``UNFITTED_OWN`` and ``UNFITTED`` stay 0. ``weights``: one per
    pool (to balance data sets)."""
    ys = [np.asarray(y, dtype=np.float64) for y in labels]
    x1 = [own_features(p) for p in pools]
    # a memory that matches better on every signal must never rank lower: a weight fitted
    # negative (the signals overlap, so the fit may trade one against another) is dropped
    # and the rest refitted without it, until none is
    dropped = {OWN.index(f) for f in UNFITTED_OWN}
    while True:
        keep = [j for j in range(len(OWN)) if j not in dropped]
        own_w = np.zeros(len(OWN))
        own_w[keep] = fit_ranking([x[:, keep] for x in x1], ys, l2=l2, weights=weights)
        bad = {OWN.index(f) for f in MONOTONE if own_w[OWN.index(f)] < 0}
        if own_w[OWN.index("dense")] + own_w[OWN.index("dense_pos")] < 0:
            bad.add(OWN.index("dense_pos"))  # the slope above the background stays >= 0
        if not bad:
            break
        dropped |= bad
    stage = Ranker(own_w, 0.0, np.zeros(len(FULL)), 0.0, context_window)
    x2 = [stage.features(p) for p in pools]
    varies = np.zeros(len(FULL), dtype=bool)
    for x in x2:
        if len(x) > 1:
            varies |= np.ptp(x, axis=0) > VARIES
    free = [j for j, f in enumerate(FULL)
            if f != "window" and f not in UNFITTED and f not in PRIOR_ONLY
            and (varies[j] or f not in PRIORS)]
    w_free = fit_ranking([x[:, free] for x in x2], ys, l2=l2, weights=weights)
    score = np.concatenate([x[:, free] @ w_free for x in x2])
    window = np.concatenate([x[:, FULL.index("window")] for x in x2])
    y = np.concatenate(ys)
    sw = None if weights is None else \
        np.concatenate([np.full(len(p), q) for p, q in zip(pools, weights)])
    # calibrated where it is read: each query's best CALIBRATE_TOP candidates
    head = np.concatenate([np.isin(np.arange(len(x)), np.argsort(-(x[:, free] @ w_free),
                                                                 kind="stable")[:CALIBRATE_TOP])
                           for x in x2])
    cols = [score] + ([window] if np.ptp(window[head]) > 0 else [])
    ab, bias = fit_logistic(np.column_stack(cols)[head], y[head], l2=1e-6,
                            weight=None if sw is None else sw[head])
    full_w = np.array([PRIORS.get(f, 0.0) for f in FULL])
    full_w[free] = ab[0] * w_free
    if len(cols) > 1:
        full_w[FULL.index("window")] = ab[1]
    full_w[FULL.index("time_fit")] = max(full_w[FULL.index("time_fit")], MIN_TIME_FIT)
    model = Ranker(own_w, 0.0, full_w, bias, context_window)
    if calibrate_context:
        model.context_w, model.context_b = _fit_context(model, x2, ys, weights)
    return model


def _fit_context(model: Ranker, x2: Sequence[np.ndarray], ys: Sequence[np.ndarray],
                 weights: Sequence[float] | None) -> tuple[np.ndarray | None, float]:
    """The last calibration step (``context_features``) on each query's best
    ``CALIBRATE_TOP`` candidates; None where the fit would change the order.

    Off by default (measured held out by conversation, LoCoMo + BEAM + small stores): fitted
    freely it lowers the top-10 calibration error (LoCoMo 0.025 -> 0.014, small stores 0.070
    -> 0.015, BEAM 0.034 -> 0.019) but flattens the logit (slope ~0.25: hard answerable
    questions have weak evidence), so the best hit of a question nothing answers rises from
    ~0.001 to ~0.1 and a relevance floor stops telling "nothing" from "found"; with the logit's
    slope kept at 1, LoCoMo's error rises to 0.055."""
    c_rows, y_rows, w_rows = [], [], []
    for q, x in enumerate(x2):
        f = context_features(model.logits(x)[0])
        top = np.argsort(-f[:, 0], kind="stable")[:CALIBRATE_TOP]
        c_rows.append(f[top])
        y_rows.append(ys[q][top])
        w_rows.append(np.full(len(top), 1.0 if weights is None else weights[q]))
    cw, cb = fit_logistic(np.concatenate(c_rows), np.concatenate(y_rows), l2=1e-3,
                          weight=np.concatenate(w_rows))
    return (cw, cb) if cw[0] > 0 and cw[1] <= 0 else (None, 0.0)
