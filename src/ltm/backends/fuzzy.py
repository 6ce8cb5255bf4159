"""Misspelt query words: a word of the query that matches none of the user's memories
("resturant", "recieve", "accomodation") is searched by the word of the user's own memories
closest to it in spelling instead ("restaurant", "receive", "accommodation").

Both backends index word stems (FTS5's porter tokenizer, PostgreSQL's english configuration),
and a misspelling stems to a word no memory holds: the memory it meant got no full-text match.
Only words of at least ``MIN_LETTERS`` letters (no digit: not a number or an id), not stop
words, that match nothing in the user's scope are looked at; the correction is a word of that
user's memories (their text as written, read once per user version: another user's words never
correct a query) with the same first letter, one edit away (two for words of ``LONG_WORD``
letters or more, neither of them a vowel for another). The edits are those of misspellings
rather than of another real word (``distance``): a letter left out ("resturant", "Lisbn"),
two letters swapped ("recieve"), a vowel for another ("seperate"), and in a long word a
doubled letter ("tommorow"); a word
that differs from the correction only in its last letters is another form of it, not a
misspelling ("particularly", "himalayan", "meant"). Among the candidates the nearest wins,
then the one the user's memories hold most often, then the first in order. A query whose words all match
something is searched exactly as before: the backends' ``text_corrections`` reads nothing for
it beyond one probe a word not seen yet.

On LoCoMo's 1,982 questions plain Damerau distance corrected 68, most of them real words that
the conversation happens not to hold ("whose" to "whole", "March" to "match", "child" to
"chill", "regarding" to "rewarding"); these edits correct 8, the misspellings among them
("funraiser", "torunament", "Andew", the conversation's own "Xeonoblade") and a few real words
("bought" to "brought", "state" to "statue").
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable

from .segment import STOP_WORDS

__all__ = ["LONG_WORD", "MIN_LETTERS", "Corrections", "Vocabulary", "corrected", "distance",
           "holds", "suspects"]

MIN_LETTERS = 5  # shorter words are too often another real word one letter away
LONG_WORD = 8  # words this long may be corrected by two edits
# the most words of one first letter looked at for one correction (the most frequent first)
_SCAN_MAX = 5_000
# the most memories whose words make a user's vocabulary (the most recent); past it a query
# word is corrected from those alone
VOCABULARY_ROWS = 20_000

_LETTERS = re.compile(r"[^\W\d_]+")
_VOCABULARY_WORD = re.compile(rf"[^\W\d_]{{{MIN_LETTERS - 1},}}")
_ASCII_WORD = re.compile(rf"[a-z]{{{MIN_LETTERS - 1},}}")  # the same in lower-case ASCII, 2x
# as fast


@functools.lru_cache(maxsize=1024)  # (a search and its BM25-alone baseline ask the same)
def suspects(query: str) -> tuple[str, ...]:
    """The query's words (lower case, distinct, in order) that may be misspelt: letters only,
    at least ``MIN_LETTERS`` of them, not stop words."""
    words = (w.lower() for w in _VOCABULARY_WORD.findall(query))
    return tuple(dict.fromkeys(w for w in words
                               if len(w) >= MIN_LETTERS and w not in STOP_WORDS))


_VOWELS = frozenset("aeiou")


def distance(a: str, b: str, limit: int, *, vowels: bool = True) -> int:
    """The edits of a misspelling from ``b`` to ``a`` (an optimal string alignment, each edit
    counting 1): a letter of ``b`` left out of ``a``, two adjacent letters swapped, a vowel
    written for another (not with ``vowels=False``), and where ``limit`` is 2 or more a
    letter of ``a`` that ``b`` does not have next to the same letter (a doubled letter); no
    other substitution, also not as a letter left out and another put in. ``limit + 1`` as
    soon as it is known to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    far = limit + 1
    prev2: list[int] = []
    prev = [min(j, far) for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        x = a[i - 1]
        # a letter too many in ``a``: a doubled one, in a long word
        extra = 1 if limit >= 2 and ((i > 1 and a[i - 2] == x) or a[i:i + 1] == x) else far
        cur = [min(prev[0] + extra, far)] + [0] * len(b)
        for j in range(1, len(b) + 1):
            y = b[j - 1]
            cost = 0 if x == y else 1 if vowels and x in _VOWELS and y in _VOWELS else far
            v = min(prev[j] + extra, cur[j - 1] + 1, prev[j - 1] + cost, far)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
        if min(cur) > limit:
            return far
        prev2, prev = prev, cur
    return prev[-1]


def _one_edit(a: str, b: str) -> bool:
    """``distance(a, b, 1) == 1`` without its table: ``b`` is ``a`` with a letter put in, two
    adjacent letters swapped or a vowel for another."""
    n = len(a)
    if len(b) - n not in (0, 1):
        return False
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    if len(b) == n + 1:
        return a[i:] == b[i + 1:]
    if i == n:
        return False
    if a[i + 1:] == b[i + 1:]:
        return a[i] in _VOWELS and b[i] in _VOWELS
    return i + 1 < n and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:]


def _other_form(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ only in their last letters (at most two each, the last
    ones differing): another form of one word ("regularly", "regular"; "meant", "means"),
    not a misspelling ("lisbn", "lisbon" differ inside)."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    ra, rb = a[n:], b[n:]
    return len(ra) <= 2 and len(rb) <= 2 and (not ra or not rb or ra[-1] != rb[-1])


class Vocabulary:
    """The words of a user's memories (lower case, letters only, at least ``MIN_LETTERS`` - 1
    letters), each with the times the memories hold it, grouped by first letter and length."""

    def __init__(self, texts: Iterable[str]) -> None:
        # (one pass over all the text: a BEAM conversation's 500 KB in ~25 ms, once a user
        # version where a query word matches nothing)
        text = "\n".join(texts).lower()
        counts = Counter((_ASCII_WORD if text.isascii() else _VOCABULARY_WORD).findall(text))
        self.words = frozenset(counts)
        groups: dict[tuple[str, int], list[tuple[str, int]]] = {}
        for w in self.words:
            groups.setdefault((w[0], len(w)), []).append((w, counts[w]))
        # the most frequent first (what ``_SCAN_MAX`` keeps), then in order
        self._groups = {key: sorted(ws, key=lambda e: (-e[1], e[0]))[:_SCAN_MAX]
                        for key, ws in groups.items()}

    def closest(self, word: str) -> str | None:
        """The word of the vocabulary nearest ``word`` within its allowed distance (see the
        module), None if there is none (or ``word`` itself is one)."""
        if word in self.words:
            return None
        limit = 2 if len(word) >= LONG_WORD else 1
        best: tuple[int, int, str] | None = None
        letters = set(word)
        # (one edit: the same length or a letter more; two: a letter too many, too)
        for size in range(len(word) - (limit - 1), len(word) + limit + 1):
            for w, n in self._groups.get((word[0], size), ()):
                # (each edit changes at most two letters of the set: a cheap test first)
                if len(letters.symmetric_difference(w)) > 2 * limit or w in STOP_WORDS \
                        or _other_form(word, w):
                    continue
                # (two edits: neither a vowel for another, which with a letter left out
                # turns "reaction" into "reduction", "evolution" into "evaluation")
                d = 1 if _one_edit(word, w) else 2 if limit == 1 \
                    else distance(word, w, limit, vowels=False)
                if d <= limit and (best is None or (d, -n, w) < best):
                    best = (d, -n, w)
        return None if best is None else best[2]


class Corrections:
    """One user's corrections at one version of their memories (the backends keep one a user
    until the user's next write): the words looked at so far, each with its correction or
    None, and the vocabulary, read (``texts``) the first time a word matches nothing."""

    def __init__(self, texts: Callable[[], Iterable[str]]) -> None:
        self._texts = texts
        self._vocab: Vocabulary | None = None
        self._fixes: dict[str, str | None] = {}

    def of(self, words: Iterable[str], unmatched: Callable[[list[str]], set[str]]
           ) -> dict[str, str]:
        """The corrections of ``words`` (``suspects``): ``unmatched`` tells which of the
        words not looked at yet match none of the user's memories."""
        new = [w for w in words if w not in self._fixes]
        if new:
            missing = unmatched(new)
            if len(self._fixes) > 10_000:
                self._fixes.clear()
            for w in new:
                fix = None
                if w in missing:
                    if self._vocab is None:
                        self._vocab = Vocabulary(self._texts())
                    fix = self._vocab.closest(w)
                self._fixes[w] = fix
        out = {}
        for w in words:
            fix = self._fixes.get(w)
            if fix is not None:
                out[w] = fix
        return out


def corrected(query: str, fixes: dict[str, str]) -> str:
    """``query`` with each word of ``fixes`` (any case, whole words) replaced by its
    correction."""
    if not fixes:
        return query
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in fixes) + r")\b",
                         re.IGNORECASE)
    return pattern.sub(lambda m: fixes[m.group().lower()], query)


def holds(text: str, words: Iterable[str]) -> bool:
    """Whether ``text`` holds one of ``words`` (lower case) as a word."""
    found = {w.lower() for w in _LETTERS.findall(text)}
    return any(w in found for w in words)
