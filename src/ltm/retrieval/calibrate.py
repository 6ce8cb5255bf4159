"""Signals against fixed references, never against the candidate pool.

- Full text: BM25 divided by the query's own ceiling, the BM25 an average-length memory
  holding every query term once would get (the sum of the terms' IDFs as the backend weighs
  them; ``backend.text_ceiling``). 1 means "every query word, once"; a memory that matches
  only the query's common words stays near 0 however few candidates there are.
- Dense: the cosine as a z-score against the embedder's background, the cosine of unrelated
  (question, statement) pairs shipped with the package (``background.json``). Measured once
  per embedder and kept in the store's meta under the embedder's name.

A z-score over three candidates turns noise into a verdict; these do not depend on which or
how many other memories are candidates.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import threading
from importlib import resources
from typing import Any

import numpy as np

from ..embed import Embedder

log = logging.getLogger(__name__)

_META_KEY = "dense_background:"
_lock = threading.Lock()
_cache: dict[tuple[str, int], tuple[float, float]] = {}


def background_pairs() -> tuple[list[str], list[str], int]:
    """(questions, statements, version) of the shipped unrelated topics."""
    questions, statements, version = _shipped_pairs()
    return list(questions), list(statements), version


@functools.cache
def _shipped_pairs() -> tuple[tuple[str, ...], tuple[str, ...], int]:
    """``background.json``, read once per process (every search asks for its version)."""
    data = json.loads(resources.files("ltm.retrieval").joinpath("background.json").read_text())
    topics = data["topics"]
    return tuple(t[0] for t in topics), tuple(t[1] for t in topics), int(data["version"])


def measure_background(embedder: Embedder) -> tuple[float, float]:
    """Mean and standard deviation of the cosine between each topic's question and every
    other topic's statement."""
    questions, statements, _ = background_pairs()
    q = np.asarray(embedder.embed(questions), dtype=np.float64)
    s = np.asarray(embedder.embed(statements), dtype=np.float64)
    q /= np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    s /= np.maximum(np.linalg.norm(s, axis=1, keepdims=True), 1e-12)
    sim = q @ s.T
    off = sim[~np.eye(len(q), dtype=bool)]
    return float(off.mean()), max(float(off.std()), 1e-3)


def dense_background(backend: Any, embedder: Embedder) -> tuple[float, float]:
    """(mean, sd) of unrelated pairs for ``embedder``: from this process's cache, else the
    store's meta, else measured now and recorded there."""
    version = _shipped_pairs()[2]
    key = (embedder.name, version)
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    meta_key = _META_KEY + embedder.name
    value: tuple[float, float] | None = None
    try:
        raw = backend.get_meta(meta_key)
        if raw:
            d = json.loads(raw)
            if d.get("version") == version and math.isfinite(d["mean"]) \
                    and math.isfinite(d["sd"]) and d["sd"] > 0:
                value = (float(d["mean"]), float(d["sd"]))
    except Exception:  # an unreadable record is measured again  # noqa: BLE001
        value = None
    if value is None:
        value = measure_background(embedder)
        try:
            backend.set_meta(meta_key, json.dumps({"mean": value[0], "sd": value[1],
                                                   "version": version}))
        except Exception as exc:  # a read-only store still searches  # noqa: BLE001
            log.debug("could not record the dense background: %s", exc)
    with _lock:
        _cache[key] = value
    return value


def text_ratio(bm25: np.ndarray, ceiling: float) -> np.ndarray:
    """BM25 over the query's ceiling (0 where the query has no searchable word)."""
    if ceiling <= 1e-9:
        return np.zeros_like(bm25)
    return bm25 / ceiling


def dense_z(cosine: np.ndarray, background: tuple[float, float]) -> np.ndarray:
    """Cosine as standard deviations above the background of unrelated pairs (a row without
    a vector counts as background: 0)."""
    mean, sd = background
    z = (cosine - mean) / sd
    return z if bool(np.isfinite(z).all()) else np.nan_to_num(z)
