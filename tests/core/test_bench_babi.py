"""``ltm bench babi``: bAbI stories as a held-out retrieval benchmark (the project writes its
own small file in bAbI's format here; the real data set is only read by the benchmark)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ltm.bench.babi import load_task, run, score
from ltm.bench.evaluate import replay
from ltm.cli import main

STORY = """1 Mary moved to the bathroom.
2 John went to the hallway.
3 Where is John? \thallway\t2
4 Daniel journeyed to the garden.
5 Where is Daniel? \tgarden\t4
6 John travelled to the kitchen.
7 Where is John? \tkitchen\t6
1 Sandra went to the office.
2 Sandra picked up the apple.
3 Where is the apple? \toffice\t1 2
"""


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "babi"
    folder.mkdir(exist_ok=True)
    (folder / "qa1_single-supporting-fact_test.txt").write_text(STORY)
    return folder


def test_stories_become_users_facts_memories_and_questions_asked_part_way(
        tmp_path: Path) -> None:
    convs = load_task(_folder(tmp_path) / "qa1_single-supporting-fact_test.txt", 1)
    assert [c.name for c in convs] == ["babi1-1", "babi1-2"]
    first, second = convs
    assert [it["text"] for it in first.items] == [
        "Mary moved to the bathroom.", "John went to the hallway.",
        "Daniel journeyed to the garden.", "John travelled to the kitchen."]
    assert [sorted(q.evidence) for q in first.questions] == [
        ["babi1-1:2"], ["babi1-1:4"], ["babi1-1:6"]]
    assert sorted(second.questions[0].evidence) == ["babi1-2:1", "babi1-2:2"]
    times = [it["time"] for it in first.items]
    assert times == sorted(times)
    # the first question is asked after line 2, before line 4 was said
    q = first.questions[0]
    assert str(times[1].isoformat()) < q.extra["until"] < q.now < str(times[2].isoformat())
    assert len(load_task(_folder(tmp_path) / "qa1_single-supporting-fact_test.txt", 1,
                         limit=2)[0].questions) == 2


def test_a_question_sees_only_the_facts_before_it(tmp_path: Path) -> None:
    convs = load_task(_folder(tmp_path) / "qa1_single-supporting-fact_test.txt", 1)
    rep = replay(convs, embedder="hash", k=20)
    for system, answers in rep["answers"].items():
        for a in answers:
            line = int(a.question.qid.split(":")[1])
            assert all(int(mid.split(":")[1]) < line for mid in a.ranked), (system, a.ranked)
        first_john = answers[0]
        assert "babi1-1:6" not in first_john.ranked  # John's later move is not seen yet
    bm25 = score(rep["answers"]["bm25"])
    assert bm25["questions"] == 4 and bm25["p_at_1"] >= 0.5  # the names pick the facts


def test_run_and_command(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    result = run(folder, tasks=[1], embedder="hash")
    assert set(result["systems"]) == {"ltm", "bm25", "dense"}
    assert result["questions"] == 4 and result["facts"] == 6
    for s in result["systems"].values():
        assert 0.0 <= s["mean"]["p_at_1"] <= s["mean"]["recall_at_5"] + 1e-9 <= 1.0 + 1e-9
    out = tmp_path / "b.json"
    done = CliRunner().invoke(main, ["bench", "babi", "--data", str(folder), "--tasks", "1",
                                     "--embedder", "hash", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert out.exists() and "| qa1 |" in done.output
    bad = CliRunner().invoke(main, ["bench", "babi", "--data", str(folder), "--tasks", "0-3"])
    assert bad.exit_code == 2 and "--tasks" in bad.output
    missing = CliRunner().invoke(main, ["bench", "babi", "--data", str(folder), "--tasks", "2",
                                        "--out", str(out)])
    assert missing.exit_code == 2 and "qa2_" in missing.output
