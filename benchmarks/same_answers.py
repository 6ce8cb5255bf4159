"""Whether a change leaves search results as they were: every LoCoMo question and every bench
small question (seed 0) asked of a fresh store with ``now`` fixed, the top 20 of each written
down to the bit (LoCoMo's dia_id and text, small's text and time; relevance and score as float
hex), then two such dumps compared.

    PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/same_answers.py dump /tmp/old.json
    .venv/bin/python benchmarks/same_answers.py dump /tmp/new.json
    .venv/bin/python benchmarks/same_answers.py compare /tmp/old.json /tmp/new.json

``--data`` is LoCoMo's file or folder (env LTM_LOCOMO, default ../shared/data/locomo). Memory
ids are not compared (they are made at ingest); with ``now`` fixed, two runs of one tree give
the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

NOW = "2026-12-01T00:00:00Z"


def dump(data: str, out: Path) -> None:
    import ltm
    from ltm.bench.evaluate import ingest
    from ltm.bench.locomo import load, locomo_file
    from ltm.bench.small import make_small

    got: dict[str, list[Any]] = {"locomo": [], "small": []}
    with tempfile.TemporaryDirectory(prefix="ltm-same-") as tmp:
        convs = load(locomo_file(data))
        with ltm.open(Path(tmp) / "locomo") as mem:
            for c in convs:
                mem.add_many(c.turns)
            for c in convs:
                for q in c.questions:
                    hits = mem.search(q["question"], user=c.user, k=20, now=NOW)
                    got["locomo"].append([(h.memory.metadata.get("dia_id"), h.memory.text,
                                           h.relevance.hex(), h.score.hex()) for h in hits])
        small = make_small(0, 40)
        with ltm.open(Path(tmp) / "small") as mem:
            ingest(mem, small)
            for s in small:
                for q in s.questions:
                    hits = mem.search(q.text, user=s.name, k=20, now=q.now or NOW,
                                      until=q.extra.get("until"))
                    got["small"].append([q.text, [(h.memory.text, h.memory.time.isoformat(),
                                                   h.relevance.hex(), h.score.hex())
                                                  for h in hits]])
    out.write_text(json.dumps(got))
    print(f"{len(got['locomo'])} LoCoMo and {len(got['small'])} small questions -> {out}")


def compare(a: Path, b: Path) -> int:
    old, new = json.loads(a.read_text()), json.loads(b.read_text())
    bad = 0
    for name in ("locomo", "small"):
        differ = [i for i, (x, y) in enumerate(zip(old[name], new[name])) if x != y]
        if len(old[name]) != len(new[name]):
            differ.append(-1)
        print(f"{name}: {len(old[name])} questions, {len(differ)} differ"
              + (f" (first: {differ[:5]})" if differ else ""))
        bad += len(differ)
    return 1 if bad else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    d.add_argument("--data", default=os.environ.get("LTM_LOCOMO", "../shared/data/locomo"))
    c = sub.add_parser("compare")
    c.add_argument("old", type=Path)
    c.add_argument("new", type=Path)
    args = ap.parse_args()
    if args.cmd == "dump":
        dump(args.data, args.out)
    else:
        sys.exit(compare(args.old, args.new))


if __name__ == "__main__":
    main()
