"""The default embedder: WordLlama's token-embedding matrix, loaded from its wheel (offline).

WordLlama's vector for a text is the mean of its tokens' rows, L2-normalised. We compute the
same thing with one batched tokenizer call (without offsets) and a sum of token rows grouped by
text length (no padding, one normalisation), which is several times faster than
``WordLlama.embed`` and returns the same vectors (tests/scale/test_scale_embed.py checks it),
except for a text written in capitals alone (``_uncapped``).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingDependency
from . import normalize_rows

log = logging.getLogger(__name__)
_GATHER_ROWS = 16_384  # token rows gathered at once (16 MiB at dim 256)
_LONG = 4_096  # texts with more tokens are summed slice by slice
_lock = threading.Lock()
_cache: dict[str, tuple[np.ndarray, object]] = {}
_pieces: dict[str, _Pieces | None] = {}


def _load(config: str) -> tuple[np.ndarray, object]:
    with _lock:
        if config not in _cache:
            root_logger = logging.getLogger()
            had_handlers = list(root_logger.handlers)
            level = root_logger.level
            try:
                import wordllama
                from wordllama import WordLlama
            except ImportError:
                raise MissingDependency("wordllama", "default") from None
            finally:
                # wordllama calls logging.basicConfig() on import; a library must not.
                for h in list(root_logger.handlers):
                    if h not in had_handlers:
                        root_logger.removeHandler(h)
                root_logger.setLevel(level)
            folder = Path(wordllama.__file__).parent
            model = WordLlama.load(config=config, cache_dir=folder, disable_download=True)
            tokenizer = model.tokenizer
            tokenizer.no_padding()
            tokenizer.no_truncation()
            _cache[config] = (np.ascontiguousarray(model.embedding, dtype=np.float32), tokenizer)
        return _cache[config]


def _pieces_of(config: str, tokenizer: object) -> _Pieces | None:
    """The ``_Pieces`` of a loaded configuration, made at its first batch (a query, one text,
    goes to the tokenizer: opening a store does not wait for it)."""
    if config not in _pieces:
        with _lock:
            if config not in _pieces:
                _pieces[config] = _Pieces.of(tokenizer)
    return _pieces[config]


# A piece of a text as the tokenizer sees it: a run of '▁' (its spaces) and what follows up to
# the next one
_PIECE = re.compile("\u2581+[^\u2581]*")
_PIECES_MAX = 200_000  # pieces remembered (some tens of MB); past that the memory starts over
# a longer piece (a run of Chinese or Japanese, a URL, a blob) is tokenized each time, not
# remembered: it rarely comes again, and 200,000 of them would hold their texts and ids
_PIECE_CHARS = 32


class _Pieces:
    """The tokenizer's ids of a batch of texts, put together piece by piece from a memory of
    the ids of each piece.

    WordLlama's tokenizer (Llama 2's BPE) has no pre-tokenizer: it writes each space as '▁',
    puts one in front, and merges over the whole text as one word (in Rust, ~30 us a text,
    most of an ingest's embedding). No token of its vocabulary holds a '▁' after another
    character, so no merge joins a piece to the next: the text's ids are its pieces' ids one
    after another, and a piece's ids do not depend on what stands around it. Looked up, a
    text costs ~5 us; BPE runs once per piece not seen before. ``of`` gives None for a
    tokenizer where this does not hold (another normaliser, a pre-tokenizer, dropout, such a
    token); an empty text and one holding an added token's content ('<s>') go to the
    tokenizer itself (tests/scale/test_scale_embed.py compares the ids)."""

    _NORMALIZER = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}

    def __init__(self, tokenizer: Any, specials: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        self.model = tokenizer.model
        self.specials = re.compile("|".join(map(re.escape, specials))) if specials else None
        self.memo: dict[str, tuple[int, ...]] = {}

    @classmethod
    def of(cls, tokenizer: Any) -> _Pieces | None:
        try:
            spec = json.loads(tokenizer.to_str())
        except (AttributeError, TypeError, ValueError):
            return None
        model = spec.get("model") or {}
        added = spec.get("added_tokens") or []
        if (spec.get("normalizer") != cls._NORMALIZER or spec.get("pre_tokenizer") is not None
                or model.get("type") != "BPE" or model.get("dropout") is not None
                or model.get("continuing_subword_prefix") or model.get("end_of_word_suffix")
                or model.get("ignore_merges") or not isinstance(model.get("vocab"), dict)
                or any(t.get("normalized") for t in added)):
            return None
        inner = re.compile("[^\u2581]\u2581")
        if any(inner.search(token) for token in model["vocab"]):
            return None
        return cls(tokenizer, [t["content"] for t in added if t.get("content")])

    def ids(self, texts: Sequence[str]) -> list[Sequence[int]]:
        memo = self.memo
        out: list[Sequence[int]] = []
        whole: list[int] = []  # texts left to the tokenizer
        for n, text in enumerate(texts):
            if not text or (self.specials is not None and self.specials.search(text)):
                whole.append(n)
                out.append(())
                continue
            got: list[int] = []
            for piece in _PIECE.findall("\u2581" + text.replace(" ", "\u2581")):
                ids = memo.get(piece)
                if ids is None:
                    ids = tuple(t.id for t in self.model.tokenize(piece))
                    if len(piece) <= _PIECE_CHARS:
                        if len(memo) >= _PIECES_MAX:
                            memo.clear()
                        memo[piece] = ids
                got += ids
            out.append(got)
        if whole:
            encoded = self.tokenizer.encode_batch([texts[n] for n in whole],
                                                  add_special_tokens=False)
            for n, e in zip(whole, encoded):
                out[n] = e.ids
        return out


def _uncapped(text: str) -> str:
    """The text embedded for ``text``: itself, followed by its lower-case form when it has
    no lower-case letter. WordLlama's tokenizer is cased, and a text in capitals breaks into
    rare pieces whose rows carry little of its meaning: "PENICILLIN ALLERGY" had cosine 0.41
    with "I'm allergic to penicillin" (0.87 in lower case), "LISBON" 0.16 with "I moved to
    Lisbon" (0.61). Both forms together keep what the capitals carry (acronyms, ids: "IPO"
    0.62 alone, 0.20 in lower case, 0.53 both) and bring back most of the rest (0.76, 0.47)."""
    return f"{text} {text.lower()}" if text.isupper() else text


class WordLlamaEmbedder:
    in_process = True  # cheap to call block by block from the store's worker thread

    def __init__(self, config: str = "l2_supercat") -> None:
        self.config = config
        self.matrix, self.tokenizer = _load(config)
        self.dim = int(self.matrix.shape[1])
        self.name = f"wordllama:{config}:{self.dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = [_uncapped(t) for t in texts]
        tok: Any = self.tokenizer
        if len(texts) == 1:  # a query: the same sum without the batch's bookkeeping
            one = tok.encode(texts[0], add_special_tokens=False).ids
            if 0 < len(one) <= _LONG and max(one) < self.matrix.shape[0]:
                # (tokens, dim) -> (1, dim), rows added in order as the batch's gather does
                return normalize_rows(self.matrix[one].sum(axis=0, keepdims=True))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        pieces = _pieces_of(self.config, tok)
        if pieces is not None:
            token_lists = pieces.ids(texts)
        else:
            # encode_batch_fast skips the character offsets we never use (tokenizers >= 0.20)
            encode = getattr(tok, "encode_batch_fast", None) or tok.encode_batch
            token_lists = [e.ids for e in encode(texts, add_special_tokens=False)]
        lens = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(texts))
        total = int(lens.sum())
        if total == 0:
            return out
        ids = np.fromiter(itertools.chain.from_iterable(token_lists), dtype=np.int64,
                          count=total)
        np.clip(ids, 0, self.matrix.shape[0] - 1, out=ids)
        starts = np.zeros(len(texts), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        _sum_by_length(self.matrix, ids, starts, lens, out)
        return normalize_rows(out)


def _sum_by_length(matrix: np.ndarray, ids: np.ndarray, starts: np.ndarray, lens: np.ndarray,
                   out: np.ndarray) -> None:
    """out[i] = sum of matrix rows ids[starts[i]:starts[i] + lens[i]].

    Texts of equal token count are summed together as one (texts, tokens, dim) gather, which
    numpy reduces in a single pass; a segmented ``reduceat`` over all token rows is several
    times slower because its rows fall out of cache. Long texts go in slices.
    """
    for length in np.unique(lens):
        n_tok = int(length)
        if n_tok == 0:
            continue
        sel = np.flatnonzero(lens == length)
        if n_tok > _LONG:
            for i in sel:
                a = int(starts[i])
                acc = np.zeros(matrix.shape[1], dtype=np.float32)
                for s in range(a, a + n_tok, _LONG):
                    acc += matrix[ids[s:min(s + _LONG, a + n_tok)]].sum(axis=0)
                out[i] = acc
            continue
        step = max(1, _GATHER_ROWS // n_tok)
        for c in range(0, len(sel), step):
            part = sel[c:c + step]
            pos = starts[part][:, None] + np.arange(n_tok)[None, :]  # (texts, tokens)
            out[part] = matrix[ids[pos]].sum(axis=1)  # (texts, tokens, dim) -> (texts, dim)
