"""bAbI as a retrieval benchmark held out from everything ltm was fitted on (``ltm bench
babi``): each story is one user, each fact line a memory (a minute after the one before),
each question a search as of its place in the story, over the facts before it (``until``),
and its supporting-fact lines the evidence.

Tasks 1-3 ask where someone or something is now ("Where is Mary?" after "Mary moved to the
bathroom" and, later, "Mary went to the hallway"): only the latest fact about them is
evidence, which tests "the current state" on data no ranker weight saw. Reported per task and
system (ltm, BM25 alone, dense alone): P@1 (the top hit is a supporting fact), evidence
recall@5 and whether every supporting fact is in the top 5.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .evaluate import Answer, replay
from .labelled import MID, LabelledConversation, LabelledQuestion

TASKS = tuple(range(1, 21))
_START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
_LINE = re.compile(r"^(\d+) (.*)$")


def task_file(folder: str | Path, task: int) -> Path:
    """The test file of ``task`` in a bAbI folder (``qa<task>_<name>_test.txt``)."""
    found = sorted(Path(folder).glob(f"qa{task}_*_test.txt"))
    if not found:
        raise FileNotFoundError(f"no qa{task}_*_test.txt in {folder}")
    return found[0]


def load_task(path: str | Path, task: int, limit: int | None = None
              ) -> list[LabelledConversation]:
    """The stories of one bAbI file as labelled conversations: the fact lines as memories (each
    with its story-line number as data-set id), the questions asked at their place in the story
    (``now``, and ``extra["until"]``: only facts before them count), their supporting lines the
    evidence. ``limit``: stop after that many questions."""
    convs: list[LabelledConversation] = []
    conv: LabelledConversation | None = None
    asked = 0
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        m = _LINE.match(raw.strip())
        if m is None:
            continue
        n, rest = int(m.group(1)), m.group(2)
        if n == 1 or conv is None:
            if limit is not None and asked >= limit:
                break
            conv = LabelledConversation(f"babi{task}-{len(convs) + 1}", [], [], source="babi")
            convs.append(conv)
        at = _START + timedelta(minutes=n)
        if "\t" in rest:
            if limit is not None and asked >= limit:
                continue
            text, _answer, support = (rest.split("\t") + ["", ""])[:3]
            evidence = frozenset(f"{conv.name}:{s}" for s in support.split())
            conv.questions.append(LabelledQuestion(
                f"{conv.name}:{n}", text.strip(), f"qa{task}", evidence, now=at.isoformat(),
                extra={"until": (at - timedelta(seconds=1)).isoformat()}))
            asked += 1
        else:
            conv.items.append({"text": rest.strip(), "time": at, "session": conv.name,
                               "metadata": {MID: f"{conv.name}:{n}"}})
    return [c for c in convs if c.questions]


def score(answers: Sequence[Answer]) -> dict[str, Any]:
    """P@1, evidence recall@5 and every-supporting-fact-in-the-top-5 over ``answers``."""
    p1 = r5 = all5 = 0.0
    for a in answers:
        ev = a.question.evidence
        p1 += bool(a.ranked[:1]) and a.ranked[0] in ev
        got = len(ev & set(a.ranked[:5]))
        r5 += got / max(len(ev), 1)
        all5 += got == len(ev)
    n = max(len(answers), 1)
    return {"questions": len(answers), "p_at_1": round(p1 / n, 4),
            "recall_at_5": round(r5 / n, 4), "all_at_5": round(all5 / n, 4)}


def run(data: str | Path, *, tasks: Sequence[int] = TASKS, limit: int | None = None,
        embedder: str | None = None, settings_overrides: dict[str, Any] | None = None,
        progress: bool = False) -> dict[str, Any]:
    """Every task in ``tasks`` (its test file, the first ``limit`` questions) in one store:
    per task and system, ``score``; ``mean`` over the tasks."""
    convs: list[LabelledConversation] = []
    task_of: dict[str, int] = {}
    for t in tasks:
        for c in load_task(task_file(data, t), t, limit):
            convs.append(c)
            task_of[c.name] = t
    load_start = list(os.getloadavg())
    rep = replay(convs, embedder=embedder, settings_overrides=settings_overrides, k=20,
                 progress=progress)
    systems: dict[str, Any] = {}
    for name, answers in rep["answers"].items():
        per = {f"qa{t}": score([a for a in answers if task_of[a.conversation] == t])
               for t in tasks}
        mean = {key: round(sum(s[key] for s in per.values()) / max(len(per), 1), 4)
                for key in ("p_at_1", "recall_at_5", "all_at_5")}
        ms = sorted(a.ms for a in answers)
        systems[name] = {"tasks": per, "mean": mean,
                         "search_ms_p50": round(ms[len(ms) // 2], 3) if ms else None}
    return {"data": str(data), "embedder": rep["embedder"], "tasks": list(tasks),
            "limit_per_task": limit, "stories": len(convs), "facts": rep["items"],
            "questions": sum(len(c.questions) for c in convs), "settings": rep["settings"],
            "systems": systems, "cpu_count": os.cpu_count(),
            "load_average_at_start": load_start, "load_average_at_end": list(os.getloadavg())}


def markdown(result: dict[str, Any]) -> str:
    """The section for BENCHMARKS.md: P@1 per task, the means of every measure."""
    names = list(result["systems"])
    lines = [
        "## Retrieval quality: bAbI tasks, held out (" + str(result["embedder"]) + ")", "",
        f"`ltm bench babi --data PATH/babi/en` — {result['stories']} stories "
        f"({result['facts']} facts, {result['questions']} questions; first "
        f"{result['limit_per_task'] or 'all'} questions of each task's test file), each story "
        "one user, each fact a memory a minute after the one before, each question searched "
        "as of its place in the story over the facts before it; evidence = its supporting "
        "facts. No ranker weight was fitted on bAbI. P@1: the top hit is a supporting fact; "
        "R@5: share of the supporting facts in the top 5; all@5: every one of them is.", "",
        "| system | mean P@1 | mean R@5 | mean all@5 | search p50 ms |",
        "|---|---|---|---|---|",
    ]
    for n in names:
        s = result["systems"][n]
        lines.append(f"| {n} | {s['mean']['p_at_1']:.3f} | {s['mean']['recall_at_5']:.3f} | "
                     f"{s['mean']['all_at_5']:.3f} | {s['search_ms_p50']} |")
    lines += ["", "P@1 per task:", "", "| task | " + " | ".join(names) + " |",
              "|---|" + "---|" * len(names)]
    for t in result["tasks"]:
        key = f"qa{t}"
        lines.append(f"| {key} | " + " | ".join(
            f"{result['systems'][n]['tasks'][key]['p_at_1']:.3f}" for n in names) + " |")
    return "\n".join(lines) + "\n"
