"""The labelled data ``ltm train ranker --data`` fits the relevance model on, and the run
itself.

Each ``NAME:PATH`` source (``locomo:locomo10.json``, ``beam:DIR``, ``small[:SEEDS]``,
``small-lone[:SEEDS]``) is
loaded with the benchmarks' loaders; each conversation is stored as one user in a temporary
store, and every question's candidate pool is collected with its calibrated signals (the same
code the search runs) and its evidence labels. ``ltm.retrieval.train`` then reports quality on
held-out conversations only and fits the final weights on everything; they are returned with
their provenance (data, date, command, the held-out metrics).
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..retrieval.ranker import PRIOR_ONLY, PRIORS, UNFITTED, UNFITTED_OWN, Ranker
from ..retrieval.train import Sample, choose_l2, cross_validate, fit_samples
from .labelled import MID, LabelledConversation, LabelledQuestion


class UnknownData(ValueError):
    """A ``NAME:PATH`` data source that is not ``locomo``, ``beam``, ``small`` or ``small-lone``
    (or their seed 0, the benchmark's own)."""


# -- data ------------------------------------------------------------------------------------
def load_data(spec: str) -> list[LabelledConversation]:
    """The conversations of one ``NAME:PATH`` source; UnknownData for any other name. A bare
    path stands for its kind: a file, or a folder holding locomo10.json, for ``locomo:``,
    another folder for ``beam:DIR``."""
    from ..errors import InvalidInput

    name, _, path = spec.partition(":")
    if name not in ("locomo", "beam", "small", "small-lone") and Path(spec).exists():
        bare = Path(spec)
        name = "locomo" if bare.is_file() or (bare / "locomo10.json").is_file() else "beam"
        path = spec
    if name in ("locomo", "beam") and not path:
        raise UnknownData(f"{spec!r}: name the data, locomo:PATH/locomo10.json or beam:DIR")
    try:
        if name == "locomo":
            from .locomo import load_labelled
            return load_labelled(path)
        if name == "beam":
            from .beam import load_beam
            return load_beam(path)
    except InvalidInput as exc:  # a file or folder that holds no such data
        raise UnknownData(str(exc)) from None
    if name in ("small", "small-lone"):
        # the project's generated small stores (small-lone: their notes lone memories, see
        # ``make_small``); seed 0 is the benchmark's: never trained on
        from .small import make_small
        got = re.fullmatch(r"([0-9]{1,6})(?:-([0-9]{1,6}))?", path or "1-3")
        if got is None or int(got[2] or got[1]) < int(got[1]):
            raise UnknownData(f"{spec!r}: {name} takes a seed or a range of seeds, e.g. "
                              f"{name}:1-3 or {name}:2")
        seeds = range(int(got[1]), int(got[2] or got[1]) + 1)
        if 0 in seeds:
            raise UnknownData(f"{name} seed 0 is the benchmark's; train on seeds >= 1")
        return [c for seed in seeds for c in make_small(seed, lone=name == "small-lone")]
    raise UnknownData(f"{spec!r}: expected locomo:PATH, beam:DIR, small[:SEEDS] or "
                     "small-lone[:SEEDS] (e.g. small:1-3)")


def collect(convs: Iterable[LabelledConversation], *, embedder: str | None = None,
            progress: bool = True) -> list[Sample]:
    """Store each conversation (one user each) and collect every question's candidate pool
    with its calibrated signals and evidence labels."""
    import ltm

    from ..retrieval.pipeline import pool_for

    convs = list(convs)
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="ltm-train-") as tmp:
        mem = ltm.open(Path(tmp) / "store", embedder=embedder)
        try:
            for n, c in enumerate(convs):
                stored = mem.add_many([dict(it, user=c.name) for it in c.items])
                mid_of = {m.id: str(m.metadata.get(MID)) for m in stored}
                for q in c.questions:
                    pool = _pool(mem, q, c.name, pool_for)
                    ev = set(q.evidence)
                    if pool is None:
                        label = np.zeros(0)
                        raw = None
                        found: set[str] = set()
                    else:
                        mids = [mid_of.get(i, "") for i in pool.ids]
                        label = np.array([m in ev for m in mids], dtype=np.float64)
                        raw = pool.raw
                        found = {m for m in mids if m in ev}
                    if raw is None:
                        continue
                    update = None
                    upd = set(q.extra.get("updated_info") or [])
                    orig = set(q.extra.get("original_info") or []) - upd
                    if upd and orig:
                        update = (np.array([j for j, m in enumerate(mids) if m in orig]),
                                  np.array([j for j, m in enumerate(mids) if m in upd]))
                    samples.append(Sample(c.name, c.source, q.qtype,
                                          q.answerable and bool(ev), raw, label,
                                          len(ev - found), update))
                if progress:
                    sys.stderr.write(f"\r{n + 1}/{len(convs)} conversations, "
                                     f"{len(samples)} questions")
                    sys.stderr.flush()
        finally:
            mem.close()
    if progress:
        sys.stderr.write("\n")
    return samples


def _pool(mem: Any, q: LabelledQuestion, user: str, pool_for: Any) -> Any:
    from ..timeutil import now_us, to_us

    now = now_us() if q.now is None else to_us(q.now)
    flt = mem._filters(user, None, None, None, None, None, None, None, now)
    window = None
    if mem.settings.time_phrases != "off":
        from ..timeparse import parse_time_window
        window = parse_time_window(q.text, now)
    return pool_for(mem.backend, mem.embedder, mem.settings, q.text, flt, 20, now=now,
                    window=window)


# -- the run ---------------------------------------------------------------------------------
def fit_on_data(data: Iterable[str], *, folds: int = 5, l2: float | None = None,
                context_window: int = 2, embedder: str | None = None, command: str = "",
                note: Any = None) -> tuple[Ranker, dict[str, Any]]:
    """``ltm train ranker --data ...``: collect every ``NAME:PATH`` source's questions, report
    held-out quality by conversation, fit the final weights on everything; returns the model
    (with its provenance) and the cross-validation report. ``note`` (a callable) hears
    progress lines. Raises UnknownData for a source it does not know."""
    data = list(data)
    t0 = time.time()
    convs: list[LabelledConversation] = []
    for spec in data:
        convs += load_data(spec)
    samples = collect(convs, embedder=embedder)
    if note is not None:
        note(f"collected {len(samples)} questions in {time.time() - t0:.0f} s")
    cv = cross_validate(samples, folds=folds, window=context_window, l2=l2)
    lam = l2 if l2 is not None else choose_l2(samples, context_window)
    model = fit_samples(samples, lam, context_window)
    model.provenance = {
        "data": data, "embedder": embedder or "wordllama",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command, "l2": lam, "questions": len(samples),
        "conversations": len({s.group for s in samples}),
        "unfitted": [*UNFITTED_OWN, *UNFITTED],
        "prior_only": {f: PRIORS[f] for f in PRIOR_ONLY},
        "cross_validation": cv}
    return model, cv
