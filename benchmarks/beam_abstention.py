"""What separates BEAM's abstention questions from the answerable ones? AUROC of each signal of
the top hit, and of its mean over the top 10, for ltm's default ranking (nothing is fitted).

    nice -n 10 .venv/bin/python benchmarks/beam_abstention.py PATH/beam/100K
"""

from __future__ import annotations

import sys
from typing import Any

from ltm.bench.beam import load_beam
from ltm.bench.evaluate import replay
from ltm.bench.metrics import auroc


def _value(hit: Any, key: str) -> float:
    if key in ("relevance", "score"):
        return float(getattr(hit, key, 0.0))
    return float(hit.signals.get(key, 0.0))


def main(folder: str) -> None:
    answers = replay(load_beam(folder), systems=("ltm",), k=10, keep_hits=True)["answers"]["ltm"]
    pos = [a for a in answers if a.question.answerable and a.question.evidence and a.hits]
    neg = [a for a in answers if not a.question.answerable and a.hits]
    keys = sorted({k for a in pos + neg for k in a.hits[0].signals} | {"relevance"})
    print(f"{len(pos)} answerable, {len(neg)} abstention questions; AUROC (answerable high)")
    print(f"{'signal':<16} {'top hit':>8} {'mean top 10':>12}")
    for key in keys:
        top = auroc([_value(a.hits[0], key) for a in pos], [_value(a.hits[0], key) for a in neg])
        avg = auroc([sum(_value(h, key) for h in a.hits) / len(a.hits) for a in pos],
                    [sum(_value(h, key) for h in a.hits) / len(a.hits) for a in neg])
        print(f"{key:<16} {top:8.3f} {avg:12.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
