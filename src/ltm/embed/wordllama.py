"""The default embedder: WordLlama's token-embedding matrix, loaded from its wheel (offline).

WordLlama's vector for a text is the mean of its tokens' rows, L2-normalised. We compute the
same thing with one batched tokenizer call and a segmented sum over the token rows, which is
faster than ``WordLlama.embed`` (no padding) and returns the same vectors (a test checks it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import MissingDependency
from . import normalize_rows

log = logging.getLogger(__name__)
_CHUNK = 128  # texts per segmented sum: keeps the gathered token rows in cache
_lock = threading.Lock()
_cache: dict[str, tuple[np.ndarray, object]] = {}


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


class WordLlamaEmbedder:
    def __init__(self, config: str = "l2_supercat") -> None:
        self.config = config
        self.matrix, self.tokenizer = _load(config)
        self.dim = int(self.matrix.shape[1])
        self.name = f"wordllama:{config}:{self.dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)  # type: ignore[attr-defined]
        vocab = self.matrix.shape[0]
        for start in range(0, len(texts), _CHUNK):
            part = encodings[start:start + _CHUNK]
            lens = np.fromiter((len(e.ids) for e in part), dtype=np.int64, count=len(part))
            total = int(lens.sum())
            if total == 0:
                continue
            ids = np.fromiter((i for e in part for i in e.ids), dtype=np.int64, count=total)
            np.clip(ids, 0, vocab - 1, out=ids)
            nonempty = lens > 0
            offsets = np.zeros(len(part), dtype=np.int64)
            np.cumsum(lens[:-1], out=offsets[1:])
            # (total, dim) token rows -> (nonempty texts, dim) sums
            sums = np.add.reduceat(self.matrix[ids], offsets[nonempty], axis=0)
            out[start:start + len(part)][nonempty] = sums
        return normalize_rows(out)
