"""The context block: the best hits that fit a token budget, as prompt-ready lines.

Hits are taken best first while they fit whole; what budget is then left goes to the best hit
that did not fit, cut at a word and ended with "…" (when at least ``MIN_CUT_TOKENS`` of its
text fit), so one long memory neither empties the block nor is dropped for shorter, less
relevant ones. The lines are then put in chronological order, each dated by when it happened:
an episode's time, a fact's or summary's ``valid_from`` (with "until" its ``valid_to`` when it
was superseded or ended), not when it was recorded. Tokens are estimated per
character class, so the budget holds for digits, punctuation and text outside ASCII too
(Chinese, Arabic, emoji: a character there is one or more tokens, not a third of one).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from ..model import Hit, Memory

MIN_CUT_TOKENS = 12  # the least of a memory's own text worth giving as a cut line
ELLIPSIS = " …"


_LETTERS = 3.2  # ASCII letters and spaces a token
_DENSE = re.compile(r"[0-9!-/:-@\[-`{-~]")  # ASCII digits and punctuation
_TWO = re.compile("[\u0080-\u07ff]")
_THREE = re.compile("[\u0800-\uffff]")
_FOUR = re.compile("[\U00010000-\U0010ffff]")


def _weight(c: str) -> float:
    o = ord(c)
    if o < 0x80:
        return 1.0 if _DENSE.match(c) else 1 / _LETTERS
    return 1.25 if o < 0x800 else 1.7 if o < 0x10000 else 4.5


def estimate_tokens(text: str) -> int:
    """A conservative token estimate, from what byte-level BPE tokenizers do (LLaMA-2's, the
    strictest common one, measured): 3.5 letters or spaces a token (English runs about 4), a
    token for each ASCII digit or punctuation mark (they split digits, and dates and labels
    are dense), 1.25 for each other character of two UTF-8 bytes (accented Latin, Greek,
    Cyrillic, Arabic, Hebrew: about one a letter, and the spaces between them), 1.7 for three
    bytes (Chinese, Japanese, Korean, Devanagari, Thai) and 4.5 for four (emoji, split into
    bytes). On LoCoMo's turns with their labels LLaMA-2 counts 0.85 of it (1.17
    times the old 3.5 characters a token), and more than it on 0.2% of the lines."""
    dense = len(_DENSE.findall(text))
    if text.isascii():
        rest = (len(text) - dense) / _LETTERS
    else:
        two, three, four = (len(rx.findall(text)) for rx in (_TWO, _THREE, _FOUR))
        rest = (len(text) - dense - two - three - four) / _LETTERS + 1.25 * two + 1.7 * three \
            + 4.5 * four
    return max(1, math.ceil(dense + rest - 1e-9))


def _when(m: Memory) -> datetime:
    """The time a line is dated and ordered by: an episode's time; for a fact or summary the
    start of its validity (its time is when it was recorded, often long after)."""
    return m.valid_from if m.kind != "episode" and m.valid_from is not None else m.time


def _stamp(t: datetime, offset: timedelta) -> str:
    if offset:  # the wall clock of that offset (the user's, from now's offset)
        try:
            t = t + offset
        except OverflowError:
            pass
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}"


def _label(m: Memory, offset: timedelta) -> str:
    label = _stamp(_when(m), offset)
    if m.session:
        label += f" · session {m.session}"
    if m.kind != "episode":
        label += f" · {m.kind}"
        if m.valid_to is not None:  # superseded or ended: say until when it held
            label += f" · until {_stamp(m.valid_to, offset)}"
    return f"[{label}] " + (f"{_one_line(m.speaker)}: " if m.speaker else "")


_BREAKS = re.compile("[ \t]*[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+\\s*")


def _one_line(text: str) -> str:
    """``text`` with its line breaks (and the blanks around them) as one space each: a
    multi-line note would otherwise read as several undated memories."""
    return _BREAKS.sub(" ", text).strip() if not text.isprintable() else text


def _body(m: Memory) -> str:
    caption = m.metadata.get("caption")
    if isinstance(caption, str) and caption and caption not in m.text:
        return _one_line(m.text + f" [photo: {caption}]")
    return _one_line(m.text)


def _cut(head: str, body: str, budget: int) -> str | None:
    """``head`` and the longest start of ``body`` (at a word when there is one) that fits
    ``budget`` tokens with the ellipsis; None when less than MIN_CUT_TOKENS of it would."""
    room = budget - estimate_tokens(head + ELLIPSIS)
    if room < MIN_CUT_TOKENS:
        return None
    body = body[:math.ceil(room * _LETTERS) + 1]  # no character costs less than 1/_LETTERS token
    total, n = 0.0, 0
    for c in body:
        total += _weight(c)
        if total > room:
            break
        n += 1
    text = body[:n]
    space = text.rfind(" ")
    if space > n // 2:
        text = text[:space]
    text = text.rstrip()
    if estimate_tokens(text) < MIN_CUT_TOKENS:
        return None
    line = head + text + ELLIPSIS
    while estimate_tokens(line) > budget and text:  # rounding up of the parts
        text = text[:-1]
        line = head + text + ELLIPSIS
    return line


def pack_context(hits: Sequence[Hit], budget_tokens: int,
                 offset: timedelta = timedelta(0)) -> str:
    """The best hits that fit the token budget (the best one that did not fit cut into what
    is left), in chronological order, one per line with date, session and speaker labels;
    dates are UTC's, or the wall clock of ``offset`` (the UTC offset of the search's
    ``now``)."""
    return pack(hits, budget_tokens, offset)[0]


def pack(hits: Sequence[Hit], budget_tokens: int, offset: timedelta = timedelta(0)
         ) -> tuple[str, list[Memory]]:
    """``pack_context``'s block and the memories it holds, in its order."""
    chosen: list[tuple[Memory, str]] = []
    used = 0
    skipped: Hit | None = None
    for hit in hits:
        m = hit.memory
        line = _label(m, offset) + _body(m)
        cost = estimate_tokens(line)
        if used + cost > budget_tokens:
            if skipped is None:
                skipped = hit
            continue
        used += cost
        chosen.append((m, line))
    if skipped is not None:
        m = skipped.memory
        cut = _cut(_label(m, offset), _body(m), budget_tokens - used)
        if cut is not None:
            chosen.append((m, cut))
    chosen.sort(key=lambda p: (_when(p[0]), p[0].seq or 0, p[0].id))
    return "\n".join(line for _, line in chosen), [m for m, _ in chosen]
