"""``ltm bench beam``: evidence recall on BEAM (100K tier), against BM25 and dense alone.

Each conversation is one user and each message one episode (its BEAM id in
``metadata["mid"]``, its role as ``metadata["speaker"]``, its batch as the session). A message
takes its time from its ``time_anchor`` (e.g. "March-15-2024"); later messages carry the last
anchor forward, a minute apart, and messages before any anchor get a synthetic time that keeps
the order. Evidence is ``source_chat_ids`` flattened; the dict parts (knowledge_update's
``original_info`` / ``updated_info``, ...) are kept in ``LabelledQuestion.extra``. Abstention
questions have no evidence by design (``answerable=False``).

Reported per system (one ingest, one run): evidence recall@5/10/20 per question type and over
all questions with evidence; ``knowledge_update_order`` (share of knowledge_update questions
whose best updated message ranks above every original one); ``abstention_auroc`` (the top
hit's relevance separating answerable questions from the abstention ones); search latency.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .evaluate import Answer, replay
from .labelled import MID, LabelledConversation, LabelledQuestion
from .metrics import auroc, evidence_recall, mean, update_first
from .stats import percentile

KS = (5, 10, 20)
_STEP = timedelta(minutes=1)
_NO_ANCHOR_START = datetime(2024, 1, 1)


def parse_anchor(text: str) -> datetime:
    """BEAM's ``time_anchor``: "March-15-2024" (also "Mar-15-2024")."""
    for fmt in ("%B-%d-%Y", "%b-%d-%Y"):
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    raise ValueError(f"unrecognised BEAM time anchor {text!r}")


def flatten_ids(value: Any) -> list[str]:
    """Message ids of ``source_chat_ids``: ints, nested lists, dicts of lists; in order."""
    if value is None:
        return []
    if isinstance(value, dict):
        return list(dict.fromkeys(i for v in value.values() for i in flatten_ids(v)))
    if isinstance(value, list):
        return list(dict.fromkeys(i for v in value for i in flatten_ids(v)))
    return [str(value)]


def _times(messages: list[tuple[dict[str, Any], str | None]]) -> list[datetime]:
    """One time per message: its anchor, else the last anchor plus a minute per message since;
    before the first anchor, minutes counted back from it (or from a fixed start without any
    anchor). Never decreasing."""
    first = next((parse_anchor(a) for _, a in messages if a), None)
    n_before = next((i for i, (_, a) in enumerate(messages) if a), len(messages))
    base = (first - _STEP * n_before) if first is not None else _NO_ANCHOR_START
    out: list[datetime] = []
    current, offset = base, 0
    for m, batch_anchor in messages:
        anchor = m.get("time_anchor") or batch_anchor
        if anchor:
            current, offset = parse_anchor(anchor), 0
        t = current + _STEP * offset
        if out and t <= out[-1]:
            t = out[-1] + _STEP
        out.append(t)
        offset += 1
    return out


def load_conversation(folder: str | Path, name: str | None = None) -> LabelledConversation:
    folder = Path(folder)
    user = name or f"beam-{folder.name}"
    chat = json.loads((folder / "chat.json").read_text())
    messages: list[tuple[dict[str, Any], str | None]] = []
    sessions: list[str] = []
    for batch in chat:
        # the batch's own anchor applies to its first message only (carried forward after)
        batch_anchor = batch.get("time_anchor")
        for turn in batch.get("turns", []):
            for m in turn:
                messages.append((m, batch_anchor))
                batch_anchor = None
                sessions.append(f"batch_{batch.get('batch_number', len(sessions))}")
    from ..store import MAX_TEXT_CHARS

    items: list[dict[str, Any]] = []
    for (m, _), when, session in zip(messages, _times(messages), sessions):
        # one message (beam-4, id 97) is padded with 300k spaces: cut to the store's limit
        text = str(m.get("content") or "").rstrip()[:MAX_TEXT_CHARS]
        if not text.strip():
            continue
        items.append({"text": text, "user": user, "session": session, "time": when,
                      "metadata": {MID: str(m["id"]), "speaker": m.get("role", "")}})
    known = {it["metadata"][MID] for it in items}
    questions = []
    probing = json.loads((folder / "probing_questions.json").read_text())
    for qtype, qs in probing.items():
        for i, q in enumerate(qs):
            src = q.get("source_chat_ids")
            extra: dict[str, Any] = {}
            if isinstance(src, dict):
                extra = {key: [e for e in flatten_ids(v) if e in known]
                         for key, v in src.items()}
            questions.append(LabelledQuestion(
                qid=f"{user}:{qtype}:{i}", text=str(q["question"]), qtype=qtype,
                evidence=frozenset(e for e in flatten_ids(src) if e in known),
                answerable=qtype != "abstention", extra=extra))
    return LabelledConversation(user, items, questions, source="beam")


def _conversation_folders(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if (p / "chat.json").is_file()
            and (p / "probing_questions.json").is_file()]


def load_beam(folder: str | Path) -> list[LabelledConversation]:
    """Every conversation under ``folder`` (``<n>/chat.json`` + ``<n>/probing_questions.json``),
    in numeric order. ``folder`` is a tier (``.../beam/100K``) or the data set's folder, which
    stands for its 100K tier (the benchmark's), or for its only tier."""
    root = Path(folder)
    subs = _conversation_folders(root)
    if not subs:
        hint = ""
        if (root / "chat.json").is_file():  # one conversation's folder
            hint = f": {root} is one conversation, give the folder above it"
        else:  # the data set's folder: its tiers (100K, ...) hold the conversations
            try:
                tiers = sorted(p.name for p in root.iterdir() if p.is_dir()
                               and any((c / "chat.json").is_file() for c in p.iterdir()
                                       if c.is_dir()))
            except OSError:
                tiers = []
            tier = "100K" if "100K" in tiers else tiers[0] if len(tiers) == 1 else None
            if tier is not None:
                subs = _conversation_folders(root / tier)
            if tiers:
                hint = f": give one of its tiers, e.g. {root / tiers[0]}"
    if not subs:
        raise FileNotFoundError(f"no BEAM conversations (<n>/chat.json) under {root}{hint}")
    subs.sort(key=lambda p: (0, int(p.name), "") if p.name.isdigit() else (1, 0, p.name))
    out = []
    for p in subs:
        try:
            out.append(load_conversation(p))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            from ..errors import InvalidInput
            raise InvalidInput(f"{p} holds no BEAM conversation (chat.json, "
                               f"probing_questions.json): {type(exc).__name__}: {exc}",
                               field="data") from None
    return out


def score(answers: list[Answer]) -> dict[str, Any]:
    """The metrics of one system's answers (see the module docstring)."""
    with_ev = [a for a in answers if a.question.answerable and a.question.evidence]
    types = sorted({a.question.qtype for a in with_ev})
    recall: dict[str, Any] = {}
    for qtype in [*types, "all"]:
        sub = [a for a in with_ev if qtype in ("all", a.question.qtype)]
        recall[qtype] = {str(k): round(mean([evidence_recall(a.ranked, a.question.evidence, k)
                                             for a in sub]), 4) for k in KS}
        recall[qtype]["questions"] = len(sub)
    orders = [update_first(a.ranked, a.question.extra.get("original_info", []),
                           a.question.extra.get("updated_info", []))
              for a in answers if a.question.qtype == "knowledge_update"]
    defined = [o for o in orders if o is not None]
    floor = float("-inf")
    pos = [a.top if a.top is not None else floor for a in with_ev]
    neg = [a.top if a.top is not None else floor for a in answers if not a.question.answerable]
    lat = [a.ms for a in answers]
    return {
        "recall": recall,
        "knowledge_update_order": round(mean([1.0 if o else 0.0 for o in defined]), 4),
        "knowledge_update_questions": len(defined),
        "abstention_auroc": round(auroc(pos, neg), 4) if pos and neg else float("nan"),
        "abstention_questions": len(neg),
        "search_ms_p50": round(percentile(lat, 50), 3) if lat else float("nan"),
        "search_ms_p95": round(percentile(lat, 95), 3) if lat else float("nan"),
    }


def ask_at_end(convs: list[LabelledConversation]) -> None:
    """Ask every question as of its conversation's last message (the reference time for
    recency and time phrases) instead of the present."""
    for c in convs:
        if c.items:
            end = max(it["time"] for it in c.items).isoformat()
            for q in c.questions:
                q.now = end


def run(data: str | Path, *, embedder: str | None = None, limit: int | None = None,
        settings_overrides: dict[str, Any] | None = None, progress: bool = True,
        now_end: bool = False) -> dict[str, Any]:
    convs = load_beam(data)
    if limit:
        convs = convs[:limit]
    if now_end:
        ask_at_end(convs)
    load_start = list(os.getloadavg())
    rep = replay(convs, embedder=embedder, settings_overrides=settings_overrides,
                 k=max(KS), progress=progress)
    return {
        "data": str(data), "embedder": rep["embedder"], "conversations": len(convs),
        "messages": rep["items"], "questions": sum(len(c.questions) for c in convs),
        "abstention_signal": rep["signal"], "now": "conversation end" if now_end else "present",
        "ingest_per_s": round(rep["items"] / rep["ingest_s"], 1),
        "settings": rep["settings"],
        "systems": {name: score(ans) for name, ans in rep["answers"].items()},
        "cpu_count": os.cpu_count(), "load_average_at_start": load_start,
        "load_average_at_end": list(os.getloadavg()),
    }


def git_commit() -> str | None:
    """The checked-out commit (with "+dirty" when the tree has changes), when git knows it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def plot(result: dict[str, Any], path: str | Path) -> None:
    """Grouped bars: evidence recall@10 per question type for each system."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(result["systems"])
    types = [t for t in result["systems"][systems[0]]["recall"] if t != "all"] + ["all"]
    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(11, 4.2))
    for i, name in enumerate(systems):
        vals = [result["systems"][name]["recall"][t]["10"] for t in types]
        ax.bar([x + i * width for x in range(len(types))], vals, width, label=name)
    ax.set_xticks([x + width * (len(systems) - 1) / 2 for x in range(len(types))])
    ax.set_xticklabels([t.replace("_", "\n") for t in types], fontsize=8)
    ax.set_ylabel("evidence recall@10")
    ax.set_ylim(0, 1)
    ax.set_title(f"BEAM 100K: evidence recall@10 by question type ({result['embedder']})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(result: dict[str, Any], plot_path: str | None = None) -> str:
    s = result["systems"]
    names = list(s)
    types = [t for t in s[names[0]]["recall"] if t != "all"]
    head = (f"## Retrieval quality: BEAM 100K evidence recall ({result['embedder']})\n\n"
            "`ltm bench beam --data PATH/beam/100K` — each conversation one user, each message "
            "an episode (time from its time anchor), the three systems scored on one ingest in "
            f"one run{' at ' + result['commit'] if result.get('commit') else ''}. "
            f"{result['conversations']} conversations, {result['messages']} messages, "
            f"{result['questions']} questions. Evidence recall@k = share of the "
            "`source_chat_ids` messages in the top k. `knowledge_update_order`: share of "
            "knowledge_update questions whose best updated message ranks above every original "
            "one. `abstention_auroc`: the top hit's "
            f"{result.get('abstention_signal', 'score')} separating answerable questions from "
            f"the {s[names[0]]['abstention_questions']} abstention questions. Latencies include query embedding; measured on a "
            f"{result.get('cpu_count', '?')}-core machine, 1-minute load "
            f"{result['load_average_at_start'][0]:.1f} at the start and "
            f"{result['load_average_at_end'][0]:.1f} at the end.\n\n")
    lines = ["| system | R@5 | R@10 | R@20 | knowledge_update_order | abstention_auroc | "
             "search p50 ms | p95 ms |", "|---|---|---|---|---|---|---|---|"]
    for name in names:
        r = s[name]["recall"]["all"]
        lines.append(f"| {name} | {r['5']:.3f} | {r['10']:.3f} | {r['20']:.3f} | "
                     f"{s[name]['knowledge_update_order']:.3f} | "
                     f"{s[name]['abstention_auroc']:.3f} | {s[name]['search_ms_p50']:.2f} | "
                     f"{s[name]['search_ms_p95']:.2f} |")
    lines += ["", "Recall@10 per question type (questions with evidence):", "",
              "| type | questions | " + " | ".join(names) + " |",
              "|---|---|" + "---|" * len(names)]
    for t in types:
        lines.append(f"| {t} | {s[names[0]]['recall'][t]['questions']} | " +
                     " | ".join(f"{s[n]['recall'][t]['10']:.3f}" for n in names) + " |")
    if plot_path:
        lines += ["", f"![BEAM recall@10 by type]({plot_path})"]
    return head + "\n".join(lines) + "\n"
