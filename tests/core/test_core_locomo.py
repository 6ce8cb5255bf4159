"""The LoCoMo runner on a tiny conversation file in LoCoMo's format, made here."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from ltm.bench.locomo import load, markdown, parse_evidence, parse_session_date, run, score_question


def test_lenient_evidence_parsing() -> None:
    assert parse_evidence(["D1:3"]) == ["D1:3"]
    assert parse_evidence(["D8:6; D9:17"]) == ["D8:6", "D9:17"]
    assert parse_evidence(["D9:1 D4:4 D4:6"]) == ["D9:1", "D4:4", "D4:6"]
    assert parse_evidence(["D:11:26", "D30:05", "D"]) == ["D11:26", "D30:5"]


def test_session_dates() -> None:
    assert parse_session_date("1:56 pm on 8 May, 2023") == datetime(2023, 5, 8, 13, 56)
    assert parse_session_date("10:37 am on 27 June,  2023") == datetime(2023, 6, 27, 10, 37)
    with pytest.raises(ValueError):
        parse_session_date("yesterday")


def test_recall_arithmetic() -> None:
    got = score_question(["D1:1", "D2:5", "D1:2", "D3:1"], ["D1:2", "D4:4"])
    assert got["turn"][5] == 0.5 and got["turn"][10] == 0.5
    assert got["session"][5] == 0.5  # session 1 found, session 4 not
    assert score_question([], ["D1:1"])["turn"][20] == 0.0


SAMPLE = [{
    "sample_id": "conv-x",
    "conversation": {
        "speaker_a": "Mia", "speaker_b": "Leo",
        "session_1_date_time": "9:00 am on 3 March, 2024",
        "session_1": [
            {"speaker": "Mia", "dia_id": "D1:1", "text": "I started pottery classes last week!"},
            {"speaker": "Leo", "dia_id": "D1:2", "text": "Nice, where are they?"},
            {"speaker": "Mia", "dia_id": "D1:3", "text": "At the studio near the river.",
             "blip_caption": "a photo of a clay bowl on a wheel"},
        ],
        "session_2_date_time": "7:15 pm on 20 April, 2024",
        "session_2": [
            {"speaker": "Leo", "dia_id": "D2:1", "text": "My brother adopted a greyhound."},
            {"speaker": "Mia", "dia_id": "D2:2", "text": "What is the dog called?"},
            {"speaker": "Leo", "dia_id": "D2:3", "text": "Comet, because he is so fast."},
        ],
        "session_3_date_time": "8:00 pm on 1 May, 2024",
        "session_3": [],
    },
    "qa": [
        {"question": "Where does Mia take pottery classes?", "answer": "near the river",
         "evidence": ["D1:1; D1:3"], "category": 4},
        {"question": "What is the name of the greyhound?", "answer": "Comet",
         "evidence": ["D2:3"], "category": 4},
        {"question": "What did Mia photograph?", "evidence": ["D1:3"], "category": 3},
        {"question": "Unanswerable?", "evidence": ["D9:9"], "category": 5},
        {"question": "No evidence", "evidence": [], "category": 3},
    ],
}]


def test_tiny_end_to_end(tmp_path: Path) -> None:
    data = tmp_path / "tiny.json"
    data.write_text(json.dumps(SAMPLE))
    convs = load(data)
    assert len(convs) == 1 and len(convs[0].turns) == 6
    assert convs[0].turns[2]["metadata"]["caption"].startswith("a photo of a clay bowl")
    assert [q["evidence"] for q in convs[0].questions] == [["D1:1", "D1:3"], ["D2:3"], ["D1:3"]]
    result = run(data, progress=False)
    assert set(result["systems"]) == {"ltm", "bm25", "dense"}
    for name, s in result["systems"].items():
        assert set(s["turn_recall"]) == {"5", "10", "20"}
        if name != "bm25":  # vectors rank all 6 turns; BM25 only those sharing a word
            assert s["turn_recall"]["10"] == 1.0
        assert 0 <= s["turn_recall"]["5"] <= 1 and s["search_ms_p95"] >= s["search_ms_p50"] > 0
        assert s["per_category"]["single-hop"]["questions"] == 2
    ltm_ = result["systems"]["ltm"]
    assert ltm_["turn_recall"]["5"] >= result["systems"]["dense"]["turn_recall"]["5"]
    table = markdown(result)
    assert "| ltm |" in table and "| bm25 |" in table and "| dense |" in table
