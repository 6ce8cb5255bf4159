"""Long memories: passages cut from a long text, their vectors, and the dense score they give.

With ``Settings.chunk_min_chars`` N > 0 (off by default), a memory of N characters or more is
cut into passages of at most ``PASSAGE`` characters at sentence ends and line breaks, each
embedded; the backend stores them beside the memory and erases them with it
(``ltm.backends.chunks``). Its dense score for a query is then the larger of its whole
vector's cosine and its best passage's cosine less ``bg + STANDS_OUT * bg_sd`` (``lifted``),
where ``bg`` and ``bg_sd`` are the mean and standard deviation, over the shipped unrelated
questions (``retrieval/background.json``), of what its best passage gains on its whole
vector. The best of many passages beats the whole vector by chance alone, and on every
question: only a gain that stands out from the memory's own (two of its standard deviations
beyond its mean) counts, and only by what it stands out. A text about one thing (a long
chat reply) gains little that stands out and keeps about its whole vector's score; a
document of many topics (a 7.5 KB meeting note, benchmarks/long_memories.py) is found by
the paragraph asked about: its dense z for the paragraph's question goes from 1.5-2.0 to
4.0-4.1, while its z for unrelated questions stays its whole vector's.

Why N = 1,000 where it is on: a text of up to three passages says one or two things, which
its mean vector keeps (a LoCoMo turn, a note); past that the mean of many topics matches
none of them, and the cost (an embedding and a vector per passage) is paid only by texts
long enough to need it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

import numpy as np

from ..embed import Embedder, embedded
from .calibrate import background_pairs

PASSAGE = 300  # characters a passage holds at most (a word longer than that: cut)
MIN_CHARS = 1000  # the length measured (Settings.chunk_min_chars; 0 there: off)
# a passage counts where it gains on its memory's whole vector this many standard deviations
# more than passages do on unrelated questions
STANDS_OUT = 2.0

_BREAKS = re.compile(r"(?<=[.!?;:])\s+|\n+")


def passages(text: str, size: int = PASSAGE) -> list[str]:
    """``text`` as consecutive passages of at most ``size`` characters, cut after a sentence
    or at a line break where one is near, else between words (every word kept, in order)."""
    out: list[str] = []
    cur = ""
    for piece in _BREAKS.split(text):
        piece = piece.strip()
        if not piece:
            continue
        while len(piece) > size:  # a sentence longer than a passage: cut between words
            cut = piece.rfind(" ", 0, size)
            cut = cut if cut > size // 3 else size
            if cur:
                out.append(cur)
                cur = ""
            out.append(piece[:cut].strip())
            piece = piece[cut:].strip()
        if cur and len(cur) + 1 + len(piece) > size:
            out.append(cur)
            cur = piece
        else:
            cur = f"{cur} {piece}" if cur else piece
    if cur:
        out.append(cur)
    return [p for p in out if p]


class Chunker:
    """What ``ltm.backends.chunks.Chunker`` names: for each text, None where it is shorter
    than ``min_chars``, else its passages' vectors and their ``bg`` and ``bg_sd``."""

    def __init__(self, embedder: Embedder, min_chars: int = MIN_CHARS) -> None:
        self.embedder = embedder
        self.min_chars = min_chars
        self._questions: np.ndarray | None = None
        self._lock = threading.Lock()

    def _background(self) -> np.ndarray:
        """The shipped unrelated questions' vectors (embedded once)."""
        with self._lock:
            if self._questions is None:
                questions, _, _ = background_pairs()
                self._questions = np.asarray(embedded(self.embedder, questions),
                                             dtype=np.float32)
            return self._questions

    def __call__(self, texts: Sequence[str]) -> list[tuple[np.ndarray, float, float] | None]:
        long = [j for j, t in enumerate(texts) if len(t) >= self.min_chars]
        out: list[tuple[np.ndarray, float, float] | None] = [None] * len(texts)
        if not long:
            return out
        cut = [passages(texts[j]) for j in long]
        flat = [p for ps in cut for p in ps]
        # the passages, then each whole text (the reference a passage's gain is measured from)
        vecs = np.asarray(embedded(self.embedder, flat + [texts[j] for j in long]),
                          dtype=np.float32)
        sims = self._background() @ vecs.T  # (questions, passages and wholes)
        at = 0
        for n, (j, ps) in enumerate(zip(long, cut)):
            gain = sims[:, at:at + len(ps)].max(axis=1) - sims[:, len(flat) + n]
            out[j] = (vecs[at:at + len(ps)], float(gain.mean()), float(gain.std()))
            at += len(ps)
        return out


def lifted(best: np.ndarray, bg: np.ndarray, bg_sd: np.ndarray) -> np.ndarray:
    """The cosine a long memory's best passage stands for: the best passage's cosine less
    what it gains on the whole vector's for unrelated questions, by ``STANDS_OUT`` of its
    standard deviations (a memory's dense score is the larger of this and its whole
    vector's cosine)."""
    return best - bg - STANDS_OUT * bg_sd
