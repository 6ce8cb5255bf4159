"""``ltm bench locomo`` as issues 2 and 4 name it: ``--data FILE`` with no ``--out`` writes
``benchmarks/results/locomo-<embedder>.json``; ``--facts`` and ``--no-time-phrases``; the JSON
keys ``systems.{ltm,bm25,dense}.{turn_recall,session_recall}.{"5","10","20"}``,
``per_category``, ``ingest_per_s``, ``search_ms_p50``, ``search_ms_p95``; ``--data`` the file
or the folder that holds it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ltm.bench.ranker_data import load_data
from ltm.cli import main

SAMPLE = [{
    "sample_id": "conv-x",
    "conversation": {
        "speaker_a": "Mia", "speaker_b": "Leo",
        "session_1_date_time": "9:00 am on 3 March, 2024",
        "session_1": [
            {"speaker": "Mia", "dia_id": "D1:1", "text": "I started pottery classes last week!"},
            {"speaker": "Leo", "dia_id": "D1:2", "text": "Nice, where are they?"},
            {"speaker": "Mia", "dia_id": "D1:3", "text": "At the studio near the river."},
        ],
        "session_2_date_time": "7:15 pm on 20 April, 2024",
        "session_2": [
            {"speaker": "Leo", "dia_id": "D2:1", "text": "My brother adopted a greyhound."},
            {"speaker": "Mia", "dia_id": "D2:2", "text": "What is the dog called?"},
            {"speaker": "Leo", "dia_id": "D2:3", "text": "Comet, because he is so fast."},
        ],
    },
    "observation": {
        "session_1_observation": {"Mia": [["Mia takes pottery classes near the river",
                                           ["D1:1", "D1:3"]]]},
        "session_2_observation": {"Leo": [["Leo's brother has a greyhound named Comet",
                                           "D2:3"]]},
    },
    "qa": [
        {"question": "Where does Mia take pottery classes?", "evidence": ["D1:1; D1:3"],
         "category": 4},
        {"question": "What is the name of the greyhound?", "evidence": ["D2:3"], "category": 4},
        {"question": "What did Leo say in April 2024?", "evidence": ["D2:1"], "category": 2},
    ],
}]


def test_bench_locomo_default_file_facts_and_no_time_phrases(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ltm bench locomo --data FILE --facts --no-time-phrases`` with no ``--out`` writes
    ``benchmarks/results/locomo-<embedder>.json`` with the keys issue 2 names."""
    data = tmp_path / "locomo10.json"
    data.write_text(json.dumps(SAMPLE))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["bench", "locomo", "--data", str(data), "--facts",
                                    "--no-time-phrases"])
    assert res.exit_code == 0, res.output
    result = json.loads((tmp_path / "benchmarks/results/locomo-wordllama.json").read_text())
    assert result["facts"] == 2 and result["settings"]["time_phrases"] == "off"
    assert set(result["systems"]) == {"ltm", "bm25", "dense"}
    for s in result["systems"].values():
        for key in ("turn_recall", "session_recall"):
            assert set(s[key]) == {"5", "10", "20"}
            assert all(0.0 <= v <= 1.0 for v in s[key].values())
        assert s["session_recall"]["20"] >= s["session_recall"]["5"]
        assert set(s["per_category"]) >= {"single-hop", "temporal"}
        assert s["ingest_per_s"] > 0 and s["search_ms_p95"] >= s["search_ms_p50"] > 0
    # a fact hit counts as hitting its source turns: with facts, ltm finds every turn
    assert result["systems"]["ltm"]["turn_recall"]["5"] == 1.0


def test_bench_locomo_takes_the_folder_that_holds_locomo10(tmp_path: Path) -> None:
    """Issue 2 gives the data as ``--data PATH`` on ``../shared/data/locomo/locomo10.json``:
    the folder that holds it reads as that file; another folder is one line and exit 2."""
    folder = tmp_path / "locomo"
    folder.mkdir()
    (folder / "locomo10.json").write_text(json.dumps(SAMPLE))
    out = tmp_path / "l.json"
    res = CliRunner().invoke(main, ["bench", "locomo", "--data", str(folder), "--out",
                                    str(out)])
    assert res.exit_code == 0, res.output
    result = json.loads(out.read_text())
    assert result["data"] == str(folder / "locomo10.json") and result["questions"] == 3
    # the ranker's data too, named or bare
    assert [c.name for c in load_data(f"locomo:{folder}")] == ["conv-x"]
    assert [c.name for c in load_data(str(folder))] == ["conv-x"]
    res = CliRunner().invoke(main, ["bench", "locomo", "--data", str(tmp_path / "empty"),
                                    "--out", str(tmp_path / "e.json")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(main, ["bench", "locomo", "--data", str(tmp_path / "empty"),
                                    "--out", str(tmp_path / "e.json")])
    assert res.exit_code == 2 and "holds no LoCoMo data" in res.output, res.output
    assert not (tmp_path / "e.json").exists()
