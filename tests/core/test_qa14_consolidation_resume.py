"""Consolidation cut short (issue 14: kill -9 at any moment). Folding a session writes its
summary, then applies the episode policy's ``originals`` (archive or remove the folded turns).
A kill between the two left the summary covering every turn, so every later gc took the
session as done and the originals stayed as they were for good: turns the policy removes
(the store's retention promise) were never removed. Now the two steps are one transaction,
and gc finishes the originals of a session a summary already folds."""

from __future__ import annotations

from pathlib import Path

import pytest

import ltm


def _policy(originals: str) -> dict[str, dict[str, object]]:
    return {"episode": {"consolidate_after_days": 1, "consolidate_min_turns": 2,
                        "originals": originals}}


@pytest.mark.parametrize("originals", ["archive", "remove"])
def test_gc_finishes_the_originals_of_a_folded_session(tmp_path: Path, originals: str) -> None:
    with ltm.open(tmp_path / "s", embedder="hash", retention=_policy(originals)) as mem:
        turns = mem.add_conversation(
            [{"role": "ana", "content": f"turn {i} about the garden"} for i in range(4)],
            user="u", session="s1", time="2026-01-01T10:00")
        pinned = mem.add("a pinned turn", user="u", session="s1", time="2026-01-01T11:00",
                         pinned=True)
        # what a kill right after the summary's write leaves: the summary (as consolidation
        # writes it) folds every turn; the originals are untouched
        folded = [t.id for t in turns] + [pinned.id]
        summary = mem.add("Session s1 (2026-01-01, 5 turns):\nana: turn 0 about the garden",
                          user="u", session="s1", kind="summary", time="2026-01-01T11:00",
                          valid_from="2026-01-01T10:00", sources=folded,
                          metadata={"ltm_summary": {"session": "s1", "turns": 5,
                                                    "method": "extractive"}})
        dry = mem.gc(now="2026-02-01", dry_run=True)
        report = mem.gc(now="2026-02-01")
        expected = sorted(t.id for t in turns)
        done = report.archived if originals == "archive" else report.removed
        assert sorted(done) == expected
        assert sorted(dry.archived if originals == "archive" else dry.removed) == expected
        left = {m.id: m for m in mem.list("u", limit=100).memories}
        assert summary.id in left and pinned.id in left
        for t in turns:
            if originals == "remove":
                assert t.id not in left
            else:
                assert left[t.id].metadata.get("ltm_archived") is True
        again = mem.gc(now="2026-02-01")  # nothing left to do
        assert again.archived == [] and again.removed == [] and again.consolidated == {}
