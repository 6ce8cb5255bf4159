"""A deterministic hashing embedder: no model, no dependency. Words and character trigrams are
hashed into signed buckets. Useful for tests and as a tiny fallback; weak semantically."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

from . import normalize_rows

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    in_process = True  # cheap to call block by block from the store's worker thread

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"hash:{dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                feats = [word] + [word[i:i + 3] for i in range(max(1, len(word) - 2))]
                for j, feat in enumerate(feats):
                    h = zlib.crc32(feat.encode())
                    out[row, h % self.dim] += (1.0 if h & 0x80000000 else -1.0) * (
                        1.0 if j == 0 else 0.3)
        return normalize_rows(out)
