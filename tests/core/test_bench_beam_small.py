"""The labelled benchmarks: BEAM and LoCoMo loaders on small files in their formats (made
here), the retrieval metrics on hand-checkable cases, the small-store generator, and both
``ltm bench beam`` / ``ltm bench small`` end to end on tiny inputs."""

from __future__ import annotations

import itertools
import json
import random
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from ltm.bench.beam import ask_at_end, flatten_ids, load_beam, parse_anchor
from ltm.bench.labelled import MID
from ltm.bench.locomo import load_labelled
from ltm.bench.metrics import (
    auroc,
    evidence_recall,
    expected_calibration_error,
    first_rank,
    precision_at_1,
    reciprocal_rank,
    update_first,
)
from ltm.bench.small import TOPICS, make_small
from ltm.cli import main


def _msg(i: int, role: str, text: str, anchor: str | None = None) -> dict[str, object]:
    m: dict[str, object] = {"role": role, "id": i, "content": text}
    if anchor:
        m["time_anchor"] = anchor
    return m


def _beam_dir(root: Path) -> Path:
    """Two BEAM-shaped conversations: "1" with anchors on two batches, "2" with none."""
    one = root / "1"
    one.mkdir(parents=True)
    chat = [
        {"batch_number": 1, "time_anchor": None, "turns": [
            [_msg(0, "user", "I am building a budget tracker in Flask.", "March-15-2024"),
             _msg(1, "assistant", "Great, start with the data model.")],
            [_msg(2, "user", "The dashboard API answers in about 400ms."),
             _msg(3, "assistant", "Caching could help there.")]]},
        {"batch_number": 2, "time_anchor": None, "turns": [
            [_msg(4, "user", "After caching, the dashboard API now averages 250ms.",
                  "April-05-2024"),
             _msg(5, "assistant", "That is a big improvement.")],
            [_msg(6, "user", "   "),  # nothing to store
             _msg(7, "assistant", "Deploy on Fridays only if you enjoy weekends at work.")]]},
    ]
    probing = {
        "knowledge_update": [{"question": "What is the dashboard API response time?",
                              "source_chat_ids": {"original_info": [2], "updated_info": [4]}}],
        "event_ordering": [{"question": "In what order did I discuss things?",
                            "source_chat_ids": [0, [2, 4], 99]}],  # 99: no such message
        "abstention": [{"question": "What did my manager say about the launch?"}],
        "summarization": [{"question": "Summarise the project.", "source_chat_ids": []}],
    }
    (one / "chat.json").write_text(json.dumps(chat))
    (one / "probing_questions.json").write_text(json.dumps(probing))
    two = root / "2"
    two.mkdir()
    (two / "chat.json").write_text(json.dumps([{"batch_number": 1, "turns": [
        [_msg(0, "user", "Hello there."), _msg(1, "assistant", "Hi!")]]}]))
    (two / "probing_questions.json").write_text(json.dumps({
        "information_extraction": [{"question": "Who said hello?", "source_chat_ids": [0]}]}))
    (root / "notes").mkdir()  # a folder without chat.json is not a conversation
    return root


def test_beam_loader(tmp_path: Path) -> None:
    convs = load_beam(_beam_dir(tmp_path / "beam"))
    assert [c.name for c in convs] == ["beam-1", "beam-2"]
    one = convs[0]
    assert one.source == "beam"
    mids = [it["metadata"][MID] for it in one.items]
    assert mids == ["0", "1", "2", "3", "4", "5", "7"]  # the blank message is skipped
    assert [it["metadata"]["speaker"] for it in one.items][:2] == ["user", "assistant"]
    assert [it["session"] for it in one.items] == ["batch_1"] * 4 + ["batch_2"] * 3
    times = [it["time"] for it in one.items]
    assert times[0] == datetime(2024, 3, 15) and times[3] == datetime(2024, 3, 15, 0, 3)
    assert times[4] == datetime(2024, 4, 5)  # a new anchor resets the clock
    assert times[6] > times[5] > times[4]  # carried forward, monotone
    q = {x.qtype: x for x in one.questions}
    assert q["knowledge_update"].evidence == {"2", "4"}
    assert q["knowledge_update"].extra == {"original_info": ["2"], "updated_info": ["4"]}
    assert q["event_ordering"].evidence == {"0", "2", "4"}  # nested list flattened, 99 dropped
    assert not q["abstention"].answerable and not q["abstention"].evidence
    assert q["summarization"].answerable and not q["summarization"].evidence
    assert all(x.answerable for t, x in q.items() if t != "abstention")
    no_anchor = [it["time"] for it in convs[1].items]
    assert no_anchor[0] < no_anchor[1]  # synthetic times keep the order
    assert all(x.now is None for x in one.questions)  # asked in the present by default
    ask_at_end(convs)
    assert {x.now for x in one.questions} == {times[-1].isoformat()}


def test_beam_parsing_helpers() -> None:
    assert parse_anchor("March-15-2024") == datetime(2024, 3, 15)
    assert parse_anchor("Mar-05-2024") == datetime(2024, 3, 5)
    with pytest.raises(ValueError):
        parse_anchor("next Tuesday")
    assert flatten_ids([1, [2, 3], [[4]], 1]) == ["1", "2", "3", "4"]
    assert flatten_ids({"first_event": [5], "second_event": [6, 5]}) == ["5", "6"]
    assert flatten_ids(None) == []


def test_locomo_labelled(tmp_path: Path) -> None:
    sample = [{"sample_id": "conv-x", "conversation": {
        "speaker_a": "Mia", "speaker_b": "Leo",
        "session_1_date_time": "9:00 am on 3 March, 2024",
        "session_1": [
            {"speaker": "Mia", "dia_id": "D1:1", "text": "I started pottery classes."},
            {"speaker": "Leo", "dia_id": "D1:2", "text": "Where are they?"},
            {"speaker": "Mia", "dia_id": "D1:3", "text": "At the studio near the river."}]},
        "qa": [{"question": "Where does Mia do pottery?", "evidence": ["D1:1; D1:3"],
                "category": 4},
               {"question": "No evidence?", "evidence": [], "category": 3}]}]
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(sample))
    (conv,) = load_labelled(path)
    assert conv.name == "conv-x" and conv.source == "locomo"
    assert [it["metadata"][MID] for it in conv.items] == ["D1:1", "D1:2", "D1:3"]
    assert conv.items[0]["metadata"]["speaker"] == "Mia"
    (q,) = conv.questions
    assert q.qtype == "single-hop" and q.evidence == {"D1:1", "D1:3"} and q.answerable


def test_ranking_metrics_by_hand() -> None:
    ranked = ["a", "b", "c", "d", "e", "f"]
    assert evidence_recall(ranked, {"b", "f", "z"}, 5) == pytest.approx(1 / 3)
    assert evidence_recall(ranked, {"b", "f", "z"}, 10) == pytest.approx(2 / 3)
    assert first_rank(ranked, {"d", "f"}) == 4 and first_rank(ranked, {"z"}) is None
    assert precision_at_1(ranked, {"a"}) == 1.0 and precision_at_1(ranked, {"b"}) == 0.0
    assert reciprocal_rank(ranked, {"c"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, {"z"}) == 0.0
    # knowledge update: best updated above every original
    assert update_first(ranked, original={"c"}, updated={"b", "e"}) is True
    assert update_first(ranked, original={"a"}, updated={"b"}) is False
    assert update_first(ranked, original={"z"}, updated={"d"}) is True  # original unranked
    assert update_first(ranked, original={"a"}, updated={"z"}) is False  # update unranked
    assert update_first(ranked, original={"b"}, updated={"b"}) is None  # no order defined
    assert update_first(ranked, original={"a"}, updated=set()) is None
    with pytest.raises(ValueError):
        evidence_recall(ranked, set(), 5)


def test_auroc_against_closed_forms() -> None:
    # by hand: (3 + 3 + 1 + 0.5) / 9 pairs
    assert auroc([0.9, 0.8, 0.4], [0.5, 0.4, 0.1]) == pytest.approx(7.5 / 9)
    assert auroc([2.0, 3.0], [0.0, 1.0]) == 1.0 and auroc([0.0], [1.0, 2.0]) == 0.0
    assert auroc([1.0, 1.0], [1.0]) == 0.5
    # against the pairwise definition on random scores with ties
    rng = random.Random(7)
    pos = [rng.choice([0.1, 0.2, 0.3, 0.5, 0.8]) + rng.random() * 0.1 for _ in range(40)]
    neg = [rng.choice([0.1, 0.2, 0.3]) + rng.random() * 0.1 for _ in range(30)] + pos[:5]
    pairs = sum(1.0 if p > n else 0.5 if p == n else 0.0
                for p, n in itertools.product(pos, neg))
    assert auroc(pos, neg) == pytest.approx(pairs / (len(pos) * len(neg)))
    with pytest.raises(ValueError):
        auroc([], [1.0])


def test_calibration_error_by_hand() -> None:
    # bin [0.2, 0.3): predicted 0.2, observed 1/2; bin [0.9, 1.0]: predicted 0.9 / 1.0, all true
    probs, labels = [0.2, 0.2, 0.9, 1.0], [True, False, True, True]
    assert expected_calibration_error(probs, labels) == pytest.approx(
        0.5 * 0.3 + 0.5 * 0.05)


def test_make_small_is_deterministic_and_sound() -> None:
    a, b = make_small(0), make_small(0)
    assert a == b
    assert make_small(1) != a
    assert len(a) >= 30
    assert sum(len(c.questions) for c in a) >= 300
    asks = {t.key: t.asks for t in TOPICS}
    for c in a:
        assert 3 <= len(c.items) <= 50 and c.source == "small"
        mids = [it["metadata"][MID] for it in c.items]
        assert len(set(mids)) == len(mids)
        assert len({it["text"] for it in c.items}) == len(c.items)  # no duplicate texts
        facts = [q for q in c.questions if q.answerable]
        assert facts and len(facts) % 3 == 0
        for q in facts:
            (mid,) = q.evidence
            assert mid in mids and q.extra["person"] in q.text
            assert q.text == asks[q.extra["topic"]][q.extra["ask"]].format(
                name=q.extra["person"])
        unrelated = [q for q in c.questions if not q.answerable]
        assert unrelated and all(not q.evidence for q in unrelated)
        stored = {q.extra["topic"] for q in facts}
        assert all(q.extra["topic"] not in stored for q in unrelated
                   if q.qtype == "unrelated_absent")


def test_bench_beam_end_to_end(tmp_path: Path) -> None:
    data = _beam_dir(tmp_path / "beam")
    out = tmp_path / "beam.json"
    md = tmp_path / "beam.md"
    res = CliRunner().invoke(main, ["bench", "beam", "--data", str(data), "--out", str(out),
                                    "--markdown", str(md)])
    assert res.exit_code == 0, res.output
    result = json.loads(out.read_text())
    assert set(result["systems"]) == {"ltm", "bm25", "dense"}
    for s in result["systems"].values():
        assert set(s["recall"]["all"]) >= {"5", "10", "20"}
        assert {"knowledge_update", "event_ordering", "information_extraction"} <= \
            set(s["recall"])
        assert 0.0 <= s["recall"]["all"]["5"] <= s["recall"]["all"]["20"] <= 1.0
    ltm_ = result["systems"]["ltm"]
    assert ltm_["knowledge_update_questions"] == 1
    assert ltm_["knowledge_update_order"] in (0.0, 1.0)
    assert 0.0 <= ltm_["abstention_auroc"] <= 1.0 and ltm_["abstention_questions"] == 1
    assert ltm_["search_ms_p95"] >= ltm_["search_ms_p50"] > 0
    assert result["abstention_signal"] in ("relevance", "score")
    assert (tmp_path / "beam.png").stat().st_size > 0
    assert "| ltm |" in md.read_text()


def test_bench_small_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "small.json"
    res = CliRunner().invoke(main, ["bench", "small", "--stores", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    result = json.loads(out.read_text())
    assert result["seed"] == 0 and result["stores"] == 3
    for s in result["systems"].values():
        assert 0.0 <= s["p_at_1"] <= s["mrr"] <= 1.0
        assert 0.0 <= s["abstention_auroc"] <= 1.0
    assert "| dense |" in res.output


def test_make_small_updates_are_later_and_asked_as_current() -> None:
    """Some facts change: a later memory about the same person and topic with another value;
    its questions have the update as their only evidence and name the original."""
    convs = make_small(0)
    updates = [(c, q) for c in convs for q in c.questions if q.qtype == "update"]
    assert len(updates) >= 30 and len(updates) % 3 == 0
    for c, q in updates:
        at = {it["metadata"][MID]: it for it in c.items}
        (old,), (new,) = q.extra["original_info"], q.extra["updated_info"]
        assert q.evidence == {new} and old in at and new in at
        assert at[new]["time"] > at[old]["time"] and at[new]["text"] != at[old]["text"]
        assert q.extra["person"] in q.text
    # the rest of each store is what it was without updates (their own random generator)
    plain = [it for c in convs for it in c.items if ":u" not in it["metadata"][MID]]
    assert len(plain) == sum(len(c.items) for c in convs) - len(updates) // 3
