"""A new user's first question (issue 15): stores of one or three first-person memories, asked in
plain words that mostly share no word with the answer ("where do I live?" of "I moved to Lisbon
in March"), and unrelated questions (general ones, and ones about the user on a topic never
stored). Prints, per store size, the share of answerable questions whose top hit is the right
memory at or above ``context_min_relevance`` (what ``context()`` needs to return it), the share
of unrelated questions whose top hit reaches it, and the AUROC of the top hit's relevance; then
the same split by whether any query word matched a candidate (signal ``text`` > 0).

Then, for ``ltm bench small``'s stores (seed 0): how often no candidate matches a query word,
and in that case how often the top hit is the evidence against the relevance it is given.

    nice -n 10 .venv/bin/python benchmarks/new_user.py

Everything here was written for this project (no benchmark's wording)."""

from __future__ import annotations

import statistics
import tempfile
from typing import Any

import ltm
from ltm.bench.evaluate import replay
from ltm.bench.metrics import auroc, precision_at_1
from ltm.bench.small import make_small

FACTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("I moved to Lisbon in March", ("where do I live?", "what city am I in now?",
                                    "where is my home?")),
    ("My daughter Emma starts kindergarten in September",
     ("when does my kid start school?", "how old is Emma roughly?",
      "what's happening with my daughter this autumn?")),
    ("I'm allergic to penicillin", ("what medications should I avoid?",
                                    "do I have any allergies?", "can I take antibiotics?")),
    ("I drive a blue 2015 Honda Civic", ("what car do I have?", "what do I drive?",
                                         "what colour is my car?")),
    ("My wife's name is Sarah and we married in 2019",
     ("who is my spouse?", "when did I get married?", "what is my wife called?")),
    ("I work as a nurse at St Mary's hospital", ("what's my job?", "where do I work?",
                                                 "what do I do for a living?")),
    ("My flight to Tokyo leaves on June 3rd at 9am",
     ("when is my trip to Japan?", "what time is my flight?", "when do I travel?")),
    ("I'm training for the Berlin marathon in the autumn",
     ("what race am I preparing for?", "what sport do I do?", "what am I training for?")),
    ("My landlord raised the rent to 1400 euros a month",
     ("how much is my rent?", "what do I pay for the apartment?",
      "did my housing costs change?")),
    ("I have a golden retriever called Max", ("do I have a pet?", "what's my dog's name?",
                                              "what breed is my dog?")),
    ("I'm learning Spanish on Duolingo every morning",
     ("what language am I studying?", "what do I do in the mornings?",
      "which app do I use to learn?")),
    ("My blood pressure was 140 over 90 at the last checkup",
     ("what was my blood pressure?", "how did my doctor's visit go?", "is my health ok?")),
    ("I prefer window seats on planes", ("which seat should you book for me?",
                                         "aisle or window?", "what are my travel preferences?")),
    ("I'm vegetarian, no meat or fish", ("what do I eat?", "can I eat chicken?",
                                         "what's my diet?")),
    ("The wifi password at home is tulip-4481",
     ("what's the wifi password?", "how do I connect to the internet at home?",
      "what's the network key?")),
    ("My sister Ana lives in Toronto with her two kids",
     ("where does my sister live?", "how many nephews or nieces do I have?", "who is Ana?")),
    ("I switched from Python to Rust for the backend project",
     ("what language is the backend written in?", "what programming language do I use?",
      "did we change the tech stack?")),
    ("My dentist appointment is next Tuesday at 3pm",
     ("when do I see the dentist?", "do I have any appointments?", "what's on Tuesday?")),
    ("I bought a house in Leeds last year for 320k",
     ("how much did my house cost?", "where did I buy property?", "when did I buy my home?")),
    ("I hate cilantro, it tastes like soap to me",
     ("what food do I dislike?", "should I put coriander in the dish?",
      "any ingredients I don't like?")),
)
UNRELATED = ("how tall is Mount Everest?", "what's the capital of Australia?", "who wrote Hamlet?",
             "how do I bake sourdough bread?", "what is the speed of light?",
             "recommend a good sci-fi novel", "what's my favourite colour?",
             "what's my mother's birthday?", "what is my shoe size?",
             "which football team do I support?", "how many siblings do I have?",
             "what's my phone number?")


def _top(mem: ltm.MemoryStore, query: str, user: str) -> tuple[float, str | None, bool]:
    """(relevance, id, whether a query word matched a candidate) of the top hit."""
    hits = mem.search(query, user=user, k=20)
    if not hits:
        return 0.0, None, False
    return hits[0].relevance, hits[0].memory.id, any(h.signals.get("text", 0) > 0 for h in hits)


def stores(size: int) -> dict[str, Any]:
    """Each fact in a store of ``size`` memories (the next facts fill it), asked its three
    questions and three unrelated ones."""
    with tempfile.TemporaryDirectory(prefix="ltm-new-user-") as folder:
        mem = ltm.open(folder)
        floor = mem.settings.context_min_relevance
        pos: list[tuple[float, bool, bool]] = []  # relevance, right memory, text matched
        neg: list[tuple[float, bool]] = []
        for i, (fact, questions) in enumerate(FACTS):
            user = f"u{size}-{i}"
            ids = [mem.add(FACTS[(i + j) % len(FACTS)][0], user=user, session="s1",
                           time=f"2026-03-0{1 + j}T10:00").id for j in range(size)]
            for q in questions:
                rel, top, text = _top(mem, q, user)
                pos.append((rel, top == ids[0], text))
            for q in UNRELATED[i % 4::4]:
                rel, _, text = _top(mem, q, user)
                neg.append((rel, text))
        mem.close()
    found = [r >= floor and ok for r, ok, _ in pos]
    out: dict[str, Any] = {
        "answerable": len(pos), "unrelated": len(neg), "floor": floor,
        "answered_at_floor": round(sum(found) / len(pos), 3),
        "right_memory_first": round(sum(ok for _, ok, _ in pos) / len(pos), 3),
        "unrelated_at_floor": round(sum(r >= floor for r, _ in neg) / len(neg), 3),
        "auroc": round(auroc([r for r, _, _ in pos], [r for r, _ in neg]), 3),
    }
    for text in (True, False):
        sub = [(r, ok) for r, ok, t in pos if t == text]
        if sub:
            key = "word_matched" if text else "no_word_matched"
            out[key] = {"questions": len(sub),
                        "answered_at_floor": round(sum(r >= floor and ok for r, ok in sub)
                                                   / len(sub), 3),
                        "median_relevance": round(statistics.median(r for r, _ in sub), 4)}
    return out


def small_without_words(seed: int = 0) -> dict[str, Any]:
    """``bench small``'s questions split by whether any candidate matched a query word: how
    often the top hit is the evidence, and the mean relevance it is given."""
    answers = replay(make_small(seed, 40), systems=("ltm",), keep_hits=True, k=20)
    out: dict[str, Any] = {}
    for text in (True, False):
        sub = [a for a in answers["answers"]["ltm"] if a.hits and a.question.answerable
               and any(h.signals.get("text", 0) > 0 for h in a.hits) == text]
        out["word_matched" if text else "no_word_matched"] = {
            "questions": len(sub),
            "top_is_evidence": round(statistics.fmean(
                precision_at_1(a.ranked, a.question.evidence) for a in sub), 3),
            "mean_top_relevance": round(statistics.fmean(a.hits[0].relevance for a in sub), 4)}
    return out


def main() -> None:
    for size in (1, 3):
        print(f"stores of {size} memor{'y' if size == 1 else 'ies'}:", stores(size))
    print("bench small seed 0, answerable:", small_without_words(0))


if __name__ == "__main__":
    main()
