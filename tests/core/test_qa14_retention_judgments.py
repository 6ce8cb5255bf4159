"""Judgments of what retention erases go with it (as forget() and TTL/capacity do since
10b31e4: a judgment's query may quote the memory): the turns consolidation removes
(``originals = "remove"``) and the near-duplicates gc merges into the memory they repeat."""

from __future__ import annotations

from pathlib import Path

import ltm
from ltm.retrieval.feedback import load_feedback


def _files_holding(path: Path, word: str) -> list[str]:
    return [p.name for p in path.rglob("*") if p.is_file() and word.encode() in p.read_bytes()]


def test_turns_removed_by_consolidation_lose_their_judgments(tmp_path: Path) -> None:
    path = tmp_path / "s"
    policy = {"episode": {"consolidate_after_days": 1, "consolidate_min_turns": 2,
                          "summary_turns": 1, "originals": "remove"}}
    with ltm.open(path, embedder="hash", retention=policy) as mem:
        turns = mem.add_conversation(
            [{"role": "ana", "content": f"turn {i} about the garden"} for i in range(4)],
            user="u", session="s1", time="2026-01-01T10:00")
        mem.feedback("what did zqxasked say", turns[2].id, True, user="u")
        report = mem.gc(now="2026-02-01")
        assert sorted(report.removed) == sorted(t.id for t in turns)
        assert load_feedback(mem.backend, "u") == []
    assert _files_holding(path, "zqxasked") == []


def test_duplicates_merged_by_gc_lose_their_judgments(tmp_path: Path) -> None:
    path = tmp_path / "s"
    no_dedup = {"fact": {"dedup_threshold": None}}
    with ltm.open(path, embedder="hash", retention=no_dedup) as mem:  # both get in
        first = mem.add("Ana likes green tea", user="u", kind="fact")
        second = mem.add("Ana likes green tea", user="u", kind="fact", metadata={"n": 2})
        mem.feedback("does ana like zqxmerged tea", second.id, True, user="u")
        mem.feedback("what does ana drink", first.id, True, user="u")
    with ltm.open(path, embedder="hash") as mem:  # facts dedup again: gc merges them
        report = mem.gc()
        assert report.merged == {first.id: [second.id]}
        assert [j["id"] for j in load_feedback(mem.backend, "u")] == [first.id]
    assert _files_holding(path, "zqxmerged") == []
