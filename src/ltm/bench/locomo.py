"""``ltm bench locomo``: evidence recall of the retrieval on LoCoMo, against BM25 and dense alone.

Every dialog turn becomes an episode (speaker, text, the session's date as its time; a shared
photo's caption goes into ``metadata.caption``, which the full-text index searches), one user
per conversation. For each question with evidence we search that user's
memories and score turn-level recall@k (share of evidence turns in the top k) and session-level
recall@k, for k = 5, 10, 20, per category and overall. The three systems share one ingest:
``ltm`` (the default settings), ``bm25`` (full-text only) and ``dense`` (vectors only), so the
comparison is made in one run on identical data.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .labelled import MID, LabelledConversation, LabelledQuestion

KS = (5, 10, 20)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop",
              5: "adversarial"}
_EVIDENCE = re.compile(r"D\s*:?\s*(\d+)\s*:\s*(\d+)")
_DATE_FORMATS = ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y")


def parse_session_date(text: str) -> datetime:
    cleaned = " ".join(text.split())
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
    raise ValueError(f"unrecognised LoCoMo date {text!r}")


def parse_evidence(items: list[Any]) -> list[str]:
    """Lenient: 'D8:6; D9:17', 'D:11:26', 'D30:05' all parse; junk yields nothing."""
    out: list[str] = []
    for item in items:
        for s, t in _EVIDENCE.findall(str(item)):
            ref = f"D{int(s)}:{int(t)}"
            if ref not in out:
                out.append(ref)
    return out


@dataclass
class Conversation:
    user: str
    turns: list[dict[str, Any]]  # add_many items with metadata.dia_id
    questions: list[dict[str, Any]] = field(default_factory=list)


def locomo_file(path: str | Path) -> Path:
    """``path``, or the ``locomo10.json`` in it when it is the data set's folder."""
    p = Path(path)
    return p / "locomo10.json" if p.is_dir() and (p / "locomo10.json").is_file() else p


def load(path: str | Path) -> list[Conversation]:
    """LoCoMo's conversations (``path`` is locomo10.json or the folder that holds it);
    InvalidInput (field "data") for a file that holds no LoCoMo data (another folder, not
    JSON, another shape), FileNotFoundError for a missing one."""
    from ..errors import InvalidInput
    try:
        return _conversations(json.loads(locomo_file(path).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"{str(path) or '.'} holds no LoCoMo data (locomo10.json): "
                           f"{type(exc).__name__}: {exc}", field="data") from None


def _conversations(data: Any) -> list[Conversation]:
    convs = []
    for sample in data:
        conv = sample["conversation"]
        user = sample["sample_id"]
        turns = []
        n = 1
        while f"session_{n}" in conv or f"session_{n}_date_time" in conv:
            session_turns = conv.get(f"session_{n}") or []
            if session_turns:
                when = parse_session_date(conv[f"session_{n}_date_time"])
                for turn in session_turns:
                    text = turn.get("text", "")
                    meta = {"speaker": turn["speaker"], "dia_id": turn["dia_id"]}
                    if turn.get("blip_caption"):
                        # the photo's caption is full text of the turn (metadata.caption is
                        # indexed for search) but not part of what was said
                        meta["caption"] = turn["blip_caption"]
                        if not text.strip():
                            text = f"[shares a photo: {turn['blip_caption']}]"
                    if not text.strip():
                        continue
                    turns.append({"text": text, "user": user, "session": f"session_{n}",
                                  "time": when, "metadata": meta})
            n += 1
        known = {t["metadata"]["dia_id"] for t in turns}
        c = Conversation(user, turns)
        for qa in sample["qa"]:
            evidence = [e for e in parse_evidence(qa.get("evidence", [])) if e in known]
            if evidence:
                c.questions.append({"question": qa["question"], "category": qa["category"],
                                    "evidence": evidence})
        convs.append(c)
    return convs


def load_labelled(path: str | Path) -> list[LabelledConversation]:
    """LoCoMo in the shared labelled shape (``ltm.bench.labelled``): the turns of ``load``
    with their dialog id as ``metadata["mid"]``, the questions with evidence (dialog ids), the
    category's name as the question type."""
    out = []
    for c in load(path):
        items = [{**t, "metadata": {**t["metadata"], MID: t["metadata"]["dia_id"]}}
                 for t in c.turns]
        questions = [LabelledQuestion(qid=f"{c.user}:{i}", text=q["question"],
                                      qtype=CATEGORIES.get(q["category"], str(q["category"])),
                                      evidence=frozenset(q["evidence"]))
                     for i, q in enumerate(c.questions)]
        out.append(LabelledConversation(c.user, items, questions, source="locomo"))
    return out


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def score_question(ranked_dia: list[str], evidence: list[str]) -> dict[str, dict[int, float]]:
    ev_sessions = {e.split(":")[0] for e in evidence}
    turn, sess = {}, {}
    for k in KS:
        top = ranked_dia[:k]
        turn[k] = len(set(top) & set(evidence)) / len(evidence)
        top_sessions = {d.split(":")[0] for d in top}
        sess[k] = len(top_sessions & ev_sessions) / len(ev_sessions)
    return {"turn": turn, "session": sess}


def _aggregate(rows: list[tuple[int, dict[str, dict[int, float]]]]) -> dict[str, Any]:
    def mean(vals: list[float]) -> float:
        return round(sum(vals) / len(vals), 4) if vals else float("nan")

    out: dict[str, Any] = {
        "turn_recall": {str(k): mean([r["turn"][k] for _, r in rows]) for k in KS},
        "session_recall": {str(k): mean([r["session"][k] for _, r in rows]) for k in KS},
        "per_category": {},
    }
    for cat, name in CATEGORIES.items():
        sub = [r for c, r in rows if c == cat]
        if sub:
            out["per_category"][name] = {
                "questions": len(sub),
                "turn_recall": {str(k): mean([r["turn"][k] for r in sub]) for k in KS},
                "session_recall": {str(k): mean([r["session"][k] for r in sub]) for k in KS},
            }
    return out


def systems_for(settings: Any) -> dict[str, Any]:
    """The default engine, and the two single-signal baselines with nothing else switched on."""
    plain = dict(context_weight=0.0, session_weight=0.0, recency_weight=0.0,
                 importance_weight=0.0, mmr_lambda=0.0)
    return {
        "ltm": settings,
        "bm25": settings.replace(dense_weight=0.0, text_weight=1.0, **plain),
        "dense": settings.replace(text_weight=0.0, dense_weight=1.0, **plain),
    }


def run(data: str | Path, *, embedder: str | None = None, store_dir: str | None = None,
        limit: int | None = None, systems: tuple[str, ...] = ("ltm", "bm25", "dense"),
        progress: bool | None = None, settings_overrides: dict[str, Any] | None = None,
        prepare: Callable[[Any, list[Conversation]], None] | None = None,
        facts: bool = False, now_end: bool = False) -> dict[str, Any]:
    from tqdm import tqdm

    from ..progress import on_terminal
    if progress is None:  # bars on a terminal, not into pipes and logs
        progress = on_terminal()

    import ltm
    from ltm.store import MemoryStore

    data = locomo_file(data)
    convs = load(data)
    if limit:
        convs = convs[:limit]
    tmp = tempfile.TemporaryDirectory(prefix="ltm-locomo-") if store_dir is None else None
    folder = Path(store_dir or tmp.name) / "store"  # type: ignore[union-attr]
    overrides = dict(settings_overrides or {})
    mem = ltm.open(folder, embedder=embedder, **overrides)
    try:
        n_turns = sum(len(c.turns) for c in convs)
        t0 = time.perf_counter()
        dia_of: dict[str, str] = {}
        with tqdm(total=n_turns, unit="turn", desc="ingest", disable=not progress,
                  file=sys.stderr) as bar:
            for c in convs:
                for m in mem.add_many(c.turns):
                    dia_of[m.id] = m.metadata["dia_id"]
                bar.update(len(c.turns))
        ingest_s = time.perf_counter() - t0
        n_facts = ingest_facts(mem, data, convs, dia_of) if facts else 0
        if prepare is not None:
            prepare(mem, convs)
        result: dict[str, Any] = {
            "data": str(data), "embedder": mem.embedder.name, "conversations": len(convs),
            "turns": n_turns, "questions": sum(len(c.questions) for c in convs),
            "settings": {k: v for k, v in vars(mem.settings).items()}, "systems": {},
            "facts": n_facts, "now": "conversation end" if now_end else "present",
            "cpu_count": os.cpu_count(), "load_average_at_start": list(os.getloadavg()),
        }
        from ltm.timeparse import parse_time_window
        ends = {c.user: max(t["time"] for t in c.turns) for c in convs if c.turns}
        for name, cfg in systems_for(mem.settings).items():
            if name not in systems:
                continue
            view = MemoryStore(mem.backend, cfg, mem.embedder)
            rows: list[tuple[int, dict[str, dict[int, float]]]] = []
            timed: list[tuple[int, dict[str, dict[int, float]]]] = []  # questions naming a time
            lat: list[float] = []
            total_q = result["questions"]
            with tqdm(total=total_q, unit="q", desc=name, disable=not progress,
                      file=sys.stderr) as bar:
                for c in convs:
                    for q in c.questions:
                        t = time.perf_counter()
                        now = ends.get(c.user) if now_end else None
                        hits = view.search(q["question"], user=c.user, k=max(KS), now=now)
                        lat.append((time.perf_counter() - t) * 1000)
                        ranked = []
                        for h in hits:
                            ranked.extend(_dia_ids(h.memory, dia_of))
                        ranked = list(dict.fromkeys(ranked))  # a fact and its turn: one hit
                        rows.append((q["category"], score_question(ranked, q["evidence"])))
                        if parse_time_window(q["question"], now or ends.get(c.user)):
                            timed.append(rows[-1])
                        bar.update(1)
            agg = _aggregate(rows)
            sub = _aggregate(timed)
            agg["time_phrase_questions"] = {"questions": len(timed),
                                            "turn_recall": sub["turn_recall"],
                                            "per_category": sub["per_category"]}
            agg.update(ingest_per_s=round(n_turns / ingest_s, 1),
                       search_ms_p50=round(_percentile(lat, 50), 3),
                       search_ms_p95=round(_percentile(lat, 95), 3))
            result["systems"][name] = agg
        result["load_average_at_end"] = list(os.getloadavg())
        return result
    finally:
        mem.close()
        if tmp is not None:
            tmp.cleanup()


def ingest_facts(mem: Any, data: str | Path, convs: list[Conversation],
                 dia_of: dict[str, str]) -> int:
    """LoCoMo's ``observation`` field: facts already extracted per session, each with the
    dialog ids it came from. They are stored as kind "fact" with ``sources`` = those turns
    (time and valid_from = the session's date), beside the turns."""
    raw = {s["sample_id"]: s for s in json.loads(Path(data).read_text())}
    n = 0
    for c in convs:
        # dialog ids repeat across conversations: map this user's own turns
        turn_of = {m.metadata["dia_id"]: m.id for m, _ in mem.backend.iter_export(
            c.user, with_vectors=False) if m.id in dia_of}
        sample = raw[c.user]
        conv = sample["conversation"]
        items = []
        for key, per_speaker in sample.get("observation", {}).items():
            session = key.removesuffix("_observation")
            when = parse_session_date(conv[f"{session}_date_time"])
            for speaker, facts in per_speaker.items():
                for text, refs in facts:
                    refs = refs if isinstance(refs, list) else [refs]
                    sources = [turn_of[r] for r in parse_evidence(refs) if r in turn_of
                               and r.startswith("D")]
                    if not sources or not str(text).strip():
                        continue
                    items.append({"text": str(text), "user": c.user, "kind": "fact",
                                  "session": session, "time": when, "valid_from": when,
                                  "sources": sources, "metadata": {"speaker": speaker}})
        n += len(mem.add_many(items))
    return n


def _dia_ids(memory: Any, dia_of: dict[str, str]) -> list[str]:
    """The dialog ids a hit stands for: its own, or for derived memories (facts, summaries)
    the dialog ids of its sources."""
    if memory.id in dia_of:
        return [dia_of[memory.id]]
    own = memory.metadata.get("dia_id")
    if isinstance(own, str):
        return [own]
    return [dia_of[s] for s in memory.sources if s in dia_of]


def _machine(result: dict[str, Any]) -> str:
    start, end = result.get("load_average_at_start"), result.get("load_average_at_end")
    if not start or not end:
        return "the machine's load was not recorded for this run."
    return (f"measured on a {result.get('cpu_count') or '?'}-core machine, 1-minute load "
            f"average {start[0]:.1f} at the start and {end[0]:.1f} at the end of the run.")


def markdown(result: dict[str, Any]) -> str:
    sys_ = result["systems"]
    lines = [f"## Retrieval quality: LoCoMo evidence recall ({result['embedder']})", "",
             "`ltm bench locomo --data PATH/locomo10.json` — every dialog turn an episode, one "
             "user per conversation, the three systems scored on one ingest in one run. "
             f"{result['conversations']} conversations, {result['turns']} turns, "
             f"{result['questions']} questions with evidence. Turn-level recall@k "
             "(share of evidence turns in the top k); session-level in the second table. "
             "Latencies include query embedding; " + _machine(result), ""]
    if {"ltm", "bm25", "dense"} <= set(sys_):
        r = {k: sys_[k]["turn_recall"]["10"] for k in ("ltm", "bm25", "dense")}
        lines += [f"Turn recall@10: ltm {r['ltm']:.3f}, BM25 alone {r['bm25']:.3f} "
                  f"(ltm +{100 * (r['ltm'] - r['bm25']):.1f} points), dense alone "
                  f"{r['dense']:.3f} (ltm +{100 * (r['ltm'] - r['dense']):.1f} points). "
                  "Target: +12 points over BM25 alone.", ""]
    lines += ["| system | R@5 | R@10 | R@20 | multi-hop R@10 | temporal R@10 | open-domain R@10 |"
              " single-hop R@10 | adversarial R@10 | search p50 ms | p95 ms | ingest turns/s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in result["systems"].items():
        cats = [s["per_category"].get(c, {}).get("turn_recall", {}).get("10", float("nan"))
                for c in ("multi-hop", "temporal", "open-domain", "single-hop", "adversarial")]
        lines.append(f"| {name} | " + " | ".join(f"{s['turn_recall'][k]:.3f}" for k in
                                                 ("5", "10", "20")) + " | " +
                     " | ".join(f"{c:.3f}" for c in cats) +
                     f" | {s['search_ms_p50']:.2f} | {s['search_ms_p95']:.2f} | "
                     f"{s['ingest_per_s']:.0f} |")
    lines += ["", "| system | session R@5 | session R@10 | session R@20 |", "|---|---|---|---|"]
    for name, s in result["systems"].items():
        lines.append(f"| {name} | " + " | ".join(f"{s['session_recall'][k]:.3f}"
                                                 for k in ("5", "10", "20")) + " |")
    return "\n".join(lines) + "\n"
