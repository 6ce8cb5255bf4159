"""Replay labelled conversations through a store: one ingest, then every question searched by
each system (``ltm``, BM25 alone, dense alone; see ``locomo.systems_for``).

What comes back per system and question is the ranking as data-set ids (``metadata["mid"]``,
derived memories standing for their sources), the top hit's relevance (``Hit.relevance`` where
the engine has it, else ``Hit.score``), the latency, and on request the hits themselves (their
per-signal numbers are what a ranker is fitted on).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .labelled import MID, LabelledConversation, LabelledQuestion

SYSTEMS = ("ltm", "bm25", "dense")


@dataclass
class Answer:
    """One question as one system answered it."""

    conversation: str
    question: LabelledQuestion
    ranked: list[str]  # data-set ids, best first, each once
    top: float | None  # the top hit's relevance (or score); None when nothing was returned
    ms: float  # search latency in milliseconds, query embedding included
    hits: list[Any] = field(default_factory=list)  # the Hit objects, when kept


def relevance_of(hit: Any) -> tuple[float, str]:
    """The number that says how relevant a hit is, and which attribute gave it."""
    rel = getattr(hit, "relevance", None)
    if isinstance(rel, (int, float)):
        return float(rel), "relevance"
    return float(hit.score), "score"


def ingest(mem: Any, convs: Sequence[LabelledConversation]) -> dict[str, str]:
    """Store every conversation's items under its name; returns memory id -> data-set id."""
    mid_of: dict[str, str] = {}
    for c in convs:
        items = [{**item, "user": c.name} for item in c.items]
        for m in mem.add_many(items):
            mid_of[m.id] = str(m.metadata[MID])
    return mid_of


def ranked_mids(hits: Iterable[Any], mid_of: dict[str, str]) -> list[str]:
    """The hits as data-set ids, each once; a derived memory stands for its sources."""
    out: list[str] = []
    for h in hits:
        m = h.memory
        if m.id in mid_of:
            out.append(mid_of[m.id])
        elif MID in m.metadata:
            out.append(str(m.metadata[MID]))
        else:
            out.extend(mid_of[s] for s in m.sources if s in mid_of)
    return list(dict.fromkeys(out))


def answer_all(mem: Any, convs: Sequence[LabelledConversation], mid_of: dict[str, str], *,
               k: int = 20, systems: Sequence[str] = SYSTEMS, keep_hits: bool = False,
               progress: bool = False) -> tuple[dict[str, list[Answer]], str]:
    """Search every question with every system on the already ingested store ``mem``.

    Returns {system: answers in question order} and which hit attribute gave ``top``
    ("relevance" or "score")."""
    from tqdm import tqdm

    from ..store import MemoryStore
    from .locomo import systems_for

    configs = systems_for(mem.settings)
    unknown = set(systems) - set(configs)
    if unknown:
        raise ValueError(f"unknown systems {sorted(unknown)}; known: {sorted(configs)}")
    kinds: set[str] = set()
    out: dict[str, list[Answer]] = {}
    n_q = sum(len(c.questions) for c in convs)
    for name in systems:
        view = MemoryStore(mem.backend, configs[name], mem.embedder)
        answers: list[Answer] = []
        with tqdm(total=n_q, unit="q", desc=name, disable=not progress, file=sys.stderr) as bar:
            for c in convs:
                for q in c.questions:
                    t0 = time.perf_counter()
                    # (extra["until"]: a question asked part-way, over what came before it)
                    hits = view.search(q.text, user=c.name, k=k, now=q.now,
                                       until=q.extra.get("until"))
                    ms = (time.perf_counter() - t0) * 1000
                    top = None
                    if hits:
                        top, kind = relevance_of(hits[0])
                        kinds.add(kind)
                    answers.append(Answer(c.name, q, ranked_mids(hits, mid_of), top, ms,
                                          list(hits) if keep_hits else []))
                    bar.update(1)
        out[name] = answers
    return out, ("relevance" if kinds == {"relevance"} else "score" if kinds else "none")


def replay(convs: Sequence[LabelledConversation], *, embedder: str | None = None,
           settings_overrides: dict[str, Any] | None = None, k: int = 20,
           systems: Sequence[str] = SYSTEMS, keep_hits: bool = False, progress: bool = False,
           store_dir: str | Path | None = None) -> dict[str, Any]:
    """Ingest ``convs`` into a fresh store (a temporary folder unless ``store_dir``) and answer
    every question with every system. Returns ``answers``, ``signal`` (see ``answer_all``),
    ``embedder``, ``items``, ``ingest_s`` and ``settings``."""
    import ltm

    tmp = tempfile.TemporaryDirectory(prefix="ltm-labelled-") if store_dir is None else None
    folder = Path(store_dir or tmp.name) / "store"  # type: ignore[union-attr]
    mem = ltm.open(folder, embedder=embedder, **dict(settings_overrides or {}))
    try:
        t0 = time.perf_counter()
        mid_of = ingest(mem, convs)
        ingest_s = time.perf_counter() - t0
        answers, signal = answer_all(mem, convs, mid_of, k=k, systems=systems,
                                     keep_hits=keep_hits, progress=progress)
        return {"answers": answers, "signal": signal, "embedder": mem.embedder.name,
                "items": len(mid_of), "ingest_s": ingest_s,
                "settings": dict(vars(mem.settings))}
    finally:
        mem.close()
        if tmp is not None:
            tmp.cleanup()
