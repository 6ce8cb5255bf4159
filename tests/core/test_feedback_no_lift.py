"""A store's own weights (``ltm train ranker --store``) keep relevance's level. The ranking fit
is blind to a query's level, so 60 "not useful" judgments of an important reminder note took
the importance weight 1.0 -> -1.2 (what demotes the note: it matches the questions best), and
with it every fact of importance 0.2 rose 0.67 in logit: an unrelated question's best hit went
over the context floor and ``context()`` filled with it. The bias now comes down by the most
the priors' change can lift a memory (``train._no_lift``); the order the judgments asked for
stays, and the guaranteed signs (supersession, time fit) are kept."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from test_qa24_feedback_not_useful import FACTS, HELD_OUT, JUDGED, REMINDER

import ltm
from ltm.cli import main
from ltm.retrieval.ranker import FULL, shipped
from ltm.retrieval.train import fit_store

# nothing in the store answers them (the store's best for each is under the context floor)
UNRELATED = ["which evening is the quiz night", "what is the best time to visit Japan",
             "who fixed the old clock", "where are the spare keys",
             "what colour is the new sofa", "how often should I water the plants"]


def test_not_useful_judgments_lift_no_unrelated_question_over_the_floor(
        tmp_path: Path) -> None:
    path = tmp_path / "store"
    with ltm.open(path) as mem:
        floor = mem.settings.context_min_relevance
        for f in FACTS:
            mem.add(f, user="p", kind="fact", importance=0.2)
        note = mem.add(REMINDER, user="p", importance=1.0)
        before = {q: mem.search(q, user="p", k=1)[0].relevance for q in UNRELATED}
        assert all(r < floor for r in before.values()), before
        ranks = {q: [h.memory.id for h in mem.search(q, user="p", k=9)].index(note.id)
                 for q in HELD_OUT}
        for q in JUDGED:
            for _ in range(10):
                mem.feedback(q, note.id, False, user="p")
    got = CliRunner().invoke(main, ["train", "ranker", "--store", str(path)])
    assert "fitted this store's weights from 60 judgments" in got.output, got.output
    with ltm.open(path) as mem:
        assert mem.ranker.full_w[FULL.index("importance")] < 0  # what demotes the note
        after = {q: mem.search(q, user="p", k=1)[0].relevance for q in UNRELATED}
        # no memory rises (before: 0.0106 -> 0.0205, 0.0116 -> 0.0224, 0.0140 -> 0.0271)
        assert all(after[q] <= before[q] + 1e-9 for q in UNRELATED), (before, after)
        assert all(mem.context(q, user="p") == "" for q in UNRELATED)
        # and the preference holds: the note is no longer first where it was
        now = {q: [h.memory.id for h in mem.search(q, user="p", k=9)].index(note.id)
               for q in HELD_OUT}
        assert all(now[q] > 0 for q in HELD_OUT if ranks[q] == 0), (ranks, now)


def test_a_store_fit_keeps_the_guaranteed_signs(store: ltm.MemoryStore) -> None:
    """Judgments that prefer outdated facts to their successors do not turn the superseded
    penalty into a bonus (before: -2.0 -> +0.68 on these 60 judgments): it stays on the
    guarantee's side of 0, and the bias comes down by what its change lifts."""
    for who, was, now in [("Mara", "Globex", "Initech"), ("Tom", "Acme", "Umbrella"),
                          ("Ines", "Hooli", "Vandelay")]:
        old = store.add(f"{who} works at {was}", user="m", kind="fact", time="2023-01-01")
        new = store.add(f"{who} works at {now} now", user="m", kind="fact",
                        time="2024-01-01", supersedes=old.id)
        for _ in range(10):
            store.feedback(f"where does {who} work", old.id, True, user="m")
            store.feedback(f"where does {who} work", new.id, False, user="m")
    model, judged = fit_store(store)
    assert model is not None and judged == 60
    sup = FULL.index("superseded")
    assert model.full_w[sup] == 0.0  # the fit wanted it above 0: held at 0
    assert model.full_b == shipped().full_b - (0.0 - shipped().full_w[sup])
