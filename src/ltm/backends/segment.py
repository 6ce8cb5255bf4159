"""Words for full-text search in scripts written without spaces (Chinese, Japanese).

Both backends' tokenizers (SQLite FTS5's unicode61, PostgreSQL's default parser) split text at
spaces and punctuation, so a run of Chinese or Japanese characters is one "word": a memory
"上个月我们去了北京旅游" matched no query but itself, and such stores were searched by the dense
signal alone. Here each run of those characters is indexed as its characters and its pairs of
adjacent characters (overlapping bigrams, the usual unit of CJK full-text retrieval), both
for the stored text and for the query, so "北京" finds the memory and a longer question
matches it on the pairs it shares. Text without such characters is left as it is (``None``).

Korean (Hangul) is written with spaces between words and is left to the tokenizers.
"""

from __future__ import annotations

import re

__all__ = ["CJK_CLASS", "cjk_words"]

# Han ideographs (with extension A, compatibility and the supplementary planes), hiragana,
# katakana (with the phonetic extensions and the half-width forms) and the iteration mark:
# one character of them, as a regular expression (Python's and PostgreSQL's)
CJK_CLASS = ("[\u3005\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
             "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]")
_RUN = re.compile(CJK_CLASS + "+")


def _words(run: str) -> str:
    if len(run) == 1:
        return run
    pairs = [run[i:i + 2] for i in range(len(run) - 1)]
    # the pairs first: a query's words are capped (32 on SQLite, 64 on PostgreSQL), and the
    # pairs carry most of the match; single characters then fill what room is left
    return " ".join([*pairs, *run])


def cjk_words(text: str) -> str | None:
    """``text`` with every run of Chinese or Japanese characters replaced by its characters
    and overlapping pairs, separated by spaces; ``None`` when it holds no such character."""
    if _RUN.search(text) is None:
        return None
    return _RUN.sub(lambda m: f" {_words(m.group())} ", text)
