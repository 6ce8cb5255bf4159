"""A kill in the middle of an erasure (issue 14: kill -9 at any moment; deletion really
erases). Erasing one memory is several steps: the rows, then the cascade to what was derived
from them (a summary rebuilt without the erased turn), then the relevance judgments that name
them (their queries may quote it). A kill after the first step left the memory gone but its
judgment and the summary quoting it in the store for good: a retried forget answers NotFound
and no later gc looks at them again. Done in one transaction, a kill leaves all of it or none.

The kill is real (SIGKILL of a child process), at a chosen moment: the child's embedder (an
ordinary embedder object, the store's own hashing one) kills its process when asked to embed
the rebuilt summary, which happens inside the cascade."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ltm
from ltm.retrieval.feedback import load_feedback

RETENTION = {"episode": {"ttl_days": 1}}

CHILD = r"""
import os, signal, sys
import ltm
from ltm.embed.hashing import HashingEmbedder

class KillOnSummary(HashingEmbedder):
    def embed(self, texts):
        if any(t.startswith("Session ") for t in texts):  # the summary, being rebuilt
            os.kill(os.getpid(), signal.SIGKILL)
        return super().embed(texts)

mem = ltm.open(sys.argv[1], embedder=KillOnSummary(), retention={"episode": {"ttl_days": 1}})
if sys.argv[2] == "gc":
    mem.gc(now="2031-01-01")
else:
    mem.forget(sys.argv[3], user="u")
"""


def _build(path: Path) -> str:
    with ltm.open(path, embedder="hash", retention=RETENTION) as mem:
        secret = mem.add("I hid the zqxsecret key under the mat", user="u", session="s1",
                         time="2026-01-01T10:00")
        mem.add("The weather was fine", user="u", session="s1", time="2026-01-01T11:00",
                pinned=True)
        mem.add("Lunch was pasta", user="u", session="s1", time="2026-01-01T12:00",
                pinned=True)
        summary = mem.consolidate("s1", user="u")
        assert summary is not None and "zqxsecret" in summary.text
        mem.feedback("where is the zqxjudged key", secret.id, True, user="u")
        return secret.id


def _files_holding(path: Path, word: str) -> list[str]:
    return [p.name for p in path.rglob("*") if p.is_file() and word.encode() in p.read_bytes()]


def _assert_all_or_nothing(path: Path, secret: str) -> bool:
    """The erasure happened whole or not at all; True when the memory is still there."""
    with ltm.open(path, embedder="hash", retention=RETENTION) as mem:
        present = any(m.id == secret for m in mem.list("u").memories)
        judged = [j for j in load_feedback(mem.backend, "u") if j.get("id") == secret]
        summaries = [m for m in mem.list("u", kinds=["summary"]).memories]
        quoted = [m.id for m in summaries if "zqxsecret" in m.text]
        if not present:
            assert judged == [], "the erased memory's judgment survived the kill"
            assert quoted == [], "a summary still quotes the erased memory"
        return present


def _run_child(path: Path, *args: str) -> None:
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr  # killed in the cascade


def test_kill_in_the_cascade_of_gc_leaves_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s"
    secret = _build(path)
    _run_child(path, "gc")
    _assert_all_or_nothing(path, secret)
    with ltm.open(path, embedder="hash", retention=RETENTION) as mem:  # gc again, unkilled
        mem.gc(now="2031-01-01")
    assert not _assert_all_or_nothing(path, secret)
    assert _files_holding(path, "zqxsecret") == [] and _files_holding(path, "zqxjudged") == []


def test_kill_in_the_cascade_of_forget_leaves_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s"
    secret = _build(path)
    _run_child(path, "forget", secret)
    if _assert_all_or_nothing(path, secret):
        with ltm.open(path, embedder="hash", retention=RETENTION) as mem:  # the retry
            mem.forget(secret, user="u")
    assert not _assert_all_or_nothing(path, secret)
    assert _files_holding(path, "zqxsecret") == [] and _files_holding(path, "zqxjudged") == []
