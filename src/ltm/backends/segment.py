"""Words for full-text search in scripts written without spaces (Chinese, Japanese).

Both backends' tokenizers (SQLite FTS5's unicode61, PostgreSQL's default parser) split text at
spaces and punctuation, so a run of Chinese or Japanese characters is one "word": a memory
"上个月我们去了北京旅游" matched no query but itself, and such stores were searched by the dense
signal alone. Here each run of those characters is indexed as its characters and its pairs of
adjacent characters (overlapping bigrams, the usual unit of CJK full-text retrieval), both
for the stored text and for the query, so "北京" finds the memory and a longer question
matches it on the pairs it shares. Text without such characters is left as it is (``None``).

Korean (Hangul) is written with spaces between words and is left to the tokenizers.

``fts_words`` also writes the parts of a word joined where its case or its script changes
(``retryWithBackoff``, ``HTTPServer``, ``12km``, ``256GB``, ``ABC123``, ``iPhone``) after
it, and a number with thousands separators and letters joined by hyphens whole after them
(``2,499`` and ``2499``, ``e-mail`` and ``email``). Both sides get them: "retry with
backoff" finds "PaymentGatewayClient.retryWithBackoff", "12 km" finds "12km", "256GB" finds
"256 GB", "2499" finds "$2,499", "email" finds "e-mail"; a query that writes the word whole
matches the memory that does on every part.
"""

from __future__ import annotations

import re
import string

__all__ = ["CJK_CLASS", "QUERY_WORDS", "STOP_WORDS", "cjk_words", "fts_words"]

# Han ideographs (with extension A, compatibility and the supplementary planes), hiragana,
# katakana (with the phonetic extensions and the half-width forms) and the iteration mark:
# one character of them, as a regular expression (Python's and PostgreSQL's)
CJK_CLASS = ("[\u3005\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
             "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]")
_RUN = re.compile(CJK_CLASS + "+")
# The most distinct words a query is searched by, on either backend (a pasted paragraph's
# question often comes last: SQLite kept 32 and PostgreSQL 64, so a question past its 32nd
# content word was found on one and not on the other)
QUERY_WORDS = 64
# Words a query is not searched by, on either backend; QUERY_WORDS counts the others.
# PostgreSQL's english configuration drops its own list (english.stop) from the text and the
# query: these words hold all of it, so that both backends search a query by the same words.
# It drops "s" and "t", the pieces of "Alice's" and "it's" ("it's" matched every memory with
# an 's' on SQLite and none on PostgreSQL), and "don" (of "don't"): that one stays searched on
# SQLite, where a friend called Don is found by his name (PG_ONLY_STOP_WORDS). "could" and
# "would" are not on its list: PostgreSQL indexes them, and neither backend searches by them.
STOP_WORDS = frozenset("""a about above after again against all am an and any are as at be because
been before being below between both but by can could did do does doing down during each few
for from further had has have having he her here hers herself him himself his how i if in into
is it its itself just me more most my myself no nor not now of off on once only or other our
ours ourselves out over own s same she should so some such t than that the their theirs them
themselves then there these they this those through to too under until up very was we were what
when where which while who whom why will with would you your yours yourself yourselves""".split())
# dropped by PostgreSQL's english configuration alone: a name ("Don") before a contraction's piece
PG_ONLY_STOP_WORDS = frozenset({"don"})


def _words(run: str) -> str:
    if len(run) == 1:
        return run
    pairs = [run[i:i + 2] for i in range(len(run) - 1)]
    # the pairs first: a query's words are capped (QUERY_WORDS), and the
    # pairs carry most of the match; single characters then fill what room is left
    return " ".join([*pairs, *run])


def cjk_words(text: str) -> str | None:
    """``text`` with every run of Chinese or Japanese characters replaced by its characters
    and overlapping pairs, separated by spaces; ``None`` when it holds no such character."""
    if _RUN.search(text) is None:
        return None
    return _RUN.sub(lambda m: f" {_words(m.group())} ", text)


# A word with a change of case or of script inside, or a number with thousands separators,
# is the only text ``fts_words`` changes besides Chinese and Japanese. It is looked for in
# the text's ASCII letters and digits written as their classes (a, A, 0), which costs about
# what one search of a character class does: a lower-case letter and an upper-case one or a
# digit, two capitals and two lower-case letters (HTTPServer), a grouped number.
_CLASSES = str.maketrans({**dict.fromkeys(string.ascii_lowercase, "a"),
                          **dict.fromkeys(string.ascii_uppercase, "A"),
                          **dict.fromkeys(string.digits, "0")})
_JOINS = ("aA", "a0", "0a", "A0", "0A", "AAaa", "0,000")
_WORD = re.compile(r"[^\W_]+")
_GROUPED = re.compile(r"(?<![\w,])\d{1,3}(?:,\d{3})+(?![\w,]|\.\d)")
# letters joined by hyphens ("e-mail", "Wi-Fi", "follow-up"), written whole after them
_HYPHENED = re.compile(r"(?<![\w-])[^\W\d_]+(?:-[^\W\d_]+)+(?![\w-])")


def _parts(word: str) -> list[str]:
    """``word``'s parts: cut between a digit and a letter, a lower-case letter and an
    upper-case one, and before the last capital of a run of them that two lower-case letters
    follow (``HTTPServer``: HTTP, Server; ``URLs`` and ``DIYs`` stay whole)."""
    cuts = [0]
    for i in range(1, len(word)):
        a, b, after = word[i - 1], word[i], word[i + 1:i + 3]
        hump = a.isupper() and b.isupper() and len(after) == 2 and after.isalpha() \
            and after.islower()
        if a.isdigit() != b.isdigit() or (a.islower() and b.isupper()) or hump:
            cuts.append(i)
    cuts.append(len(word))
    return [word[i:j] for i, j in zip(cuts, cuts[1:])]


# In ASCII letters and digits, where ``_parts`` cuts a word: most words of a text that has a
# joined word somewhere have no cut, and skip the walk over their characters
_ASCII_CUT = re.compile(r"[a-z][A-Z]|[0-9][A-Za-z]|[A-Za-z][0-9]|[A-Z]{2}[a-z]{2}")


def _with_parts(m: re.Match[str]) -> str:
    word = m.group()
    if word.isascii() and _ASCII_CUT.search(word) is None:
        return word
    if len(word) > 64:  # a blob (base64), not a name
        return word
    parts = _parts(word)
    # a hash or a key ("3f9a2b7c", "x7Kp2Qz9") changes between digits and letters again and
    # again: its parts are noise, not words
    digits = sum(p[0].isdigit() for p in parts)
    if len(parts) < 2 or min(digits, len(parts) - digits) > 2:
        return word
    return f"{word} {' '.join(parts)}"


def fts_words(text: str) -> str | None:
    """``text`` as the full-text index and the query read it: ``cjk_words``, and each word
    joined where its case or script changes followed by its parts, each number written with
    thousands separators followed by its digits, letters joined by hyphens followed by them
    whole; ``None`` when none of these changes it."""
    words = None if text.isascii() else cjk_words(text)  # (those scripts are not ASCII)
    base = text if words is None else words
    out = base
    if "-" in base:
        out = _HYPHENED.sub(lambda m: f"{m.group()} {m.group().replace('-', '')}", out)
    classes = base.translate(_CLASSES)
    if any(j in classes for j in _JOINS):
        out = _WORD.sub(_with_parts, out)
        out = _GROUPED.sub(lambda m: f"{m.group()} {m.group().replace(',', '')}", out)
    return None if out == text else out
