"""Long memories (issue 15): is a pasted document found by the paragraph it holds? One meeting
note of ~7.5 KB (eight paragraphs on unrelated business, one on "the Kubernetes migration") in
a store of short memories, some of which mention Kubernetes or a migration once. Prints, for
questions about that paragraph (and one about another), the note's rank and relevance with its signals; then the
dense z-score (cosine against the embedder's background) of the whole note, of the mean of
its chunks' unit vectors, and of its best chunk (~300 characters), for those questions and
for unrelated ones: what a vector per chunk would give, and how much the best of many chunks
lifts an unrelated question.

    nice -n 10 .venv/bin/python benchmarks/long_memories.py [--short N] [--chunk-min-chars 1000]

Everything here was written for this project."""

from __future__ import annotations

import argparse
import random
import re
import tempfile

import numpy as np

import ltm
from ltm.retrieval.calibrate import dense_background

TOPICS = ("the quarterly budget review and the travel expenses policy",
          "hiring plans for the design team next quarter",
          "the office move to the fourth floor and desk booking",
          "customer feedback on the mobile app onboarding flow",
          "the marketing campaign for the spring launch",
          "security training reminders and password rotation",
          "the holiday party venue and catering options",
          "vendor contracts for the cleaning service")
KEY = ("The Kubernetes migration is the main infrastructure item: we move the payment services "
       "from the old VM fleet to the new cluster, the migration starts with the staging "
       "namespace in week two, Priya owns the Helm charts, and the cutover of production is "
       "planned for the last weekend of the month.")
ASKED = ("what's the plan for the Kubernetes migration?", "Kubernetes migration",
         "who owns the Helm charts?", "when is the production cutover?",
         "what did we say about the holiday party?")
UNRELATED = ("how tall is Mount Everest?", "recommend a good sci-fi novel",
             "how do I bake sourdough bread?")
SHORT = ("Kubernetes meetup in town was fun", "Read a blog post about Kubernetes operators",
         "My cousin asked whether Kubernetes is worth learning",
         "Migration of birds season starts soon", "Bought a new keyboard for the home office",
         "Lunch with Sam at the ramen place", "Need to renew the car insurance",
         "Watched a documentary about container ships", "Booked a dentist appointment")
WORDS = ("coffee lunch meeting train rain garden book movie call email gym walk dinner code "
         "review deploy test bug design budget").split()


def note() -> str:
    def para(topic: str) -> str:
        return " ".join(f"We discussed {topic} at length; point {i} was raised by someone and "
                        "noted for follow-up with owners and dates." for i in range(6))
    return "\n".join(["Meeting notes, all-hands."] + [para(t) for t in TOPICS[:4]] + [KEY]
                     + [para(t) for t in TOPICS[4:]])


def chunks(text: str, size: int = 300) -> list[str]:
    out, cur = [], ""
    for piece in (p for p in re.split(r"(?<=[.;:])\s+|\n", text) if p.strip()):
        if cur and len(cur) + len(piece) > size:
            out.append(cur)
            cur = piece
        else:
            cur = f"{cur} {piece}".strip()
    return out + [cur]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", type=int, default=0, help="extra short filler memories")
    ap.add_argument("--chunk-min-chars", type=int, default=0,
                    help="the store's chunk_min_chars (passage vectors of long memories; 0: off)")
    args = ap.parse_args()
    rng = random.Random(2)
    doc = note()
    with tempfile.TemporaryDirectory(prefix="ltm-long-") as folder:
        mem = ltm.open(folder, chunk_min_chars=args.chunk_min_chars)
        long_id = mem.add(doc, user="u", time="2026-11-02T10:00").id
        items = [{"text": t, "user": "u"} for t in SHORT]
        for i in range(args.short):
            words = " ".join(rng.sample(WORDS, 5))
            items.append({"text": f"Note {i}: {'Kubernetes ' if i % 13 == 0 else ''}{words}",
                          "user": "u"})
        mem.add_many(items)
        print(f"note of {len(doc)} characters among {len(items)} short memories")
        for q in ASKED:
            hits = mem.search(q, user="u", k=20)
            ids = [h.memory.id for h in hits]
            if long_id in ids:
                h = hits[ids.index(long_id)]
                print(f"  {q!r}: rank {ids.index(long_id) + 1}, relevance {h.relevance:.4f}, "
                      f"text_rel {h.signals['text_rel']:.2f}, dense_z {h.signals['dense_z']:.2f}"
                      f"; top: {hits[0].memory.text[:40]!r} {hits[0].relevance:.4f}")
            else:
                print(f"  {q!r}: not in the top 20; top: {hits[0].memory.text[:40]!r}")
        mean, sd = dense_background(mem.backend, mem.embedder)
        parts = chunks(doc)
        vecs = np.asarray(mem.embedder.embed(parts))
        whole = np.asarray(mem.embedder.embed([doc]))[0]
        pooled = vecs.sum(axis=0)
        pooled /= np.linalg.norm(pooled)
        print(f"dense z of the note ({len(parts)} chunks): whole / mean of chunks / best chunk")
        for q in ASKED + UNRELATED:
            qv = np.asarray(mem.embedder.embed([q]))[0]
            z = [(float(v @ qv) - mean) / sd for v in (whole, pooled)]
            best = (float((vecs @ qv).max()) - mean) / sd
            print(f"  {q[:44]:46} {z[0]:6.2f} {z[1]:6.2f} {best:6.2f}"
                  f"{'  (unrelated)' if q in UNRELATED else ''}")
        mem.close()


if __name__ == "__main__":
    main()
