"""Where the issue's commands take their data (issue 15): ``ltm bench beam --data`` given the
data set's folder (``../shared/data/beam/``) reads its 100K tier, and ``ltm train ranker
--data`` takes a bare path for its kind (a LoCoMo file, a BEAM folder) as well as
``NAME:PATH``; ``--data ... --out FILE`` writes weights that load, with their provenance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ltm.bench.beam import load_beam
from ltm.bench.ranker_data import UnknownData, load_data
from ltm.cli import main
from ltm.retrieval.ranker import Ranker, shipped

LOCOMO = [{
    "sample_id": "conv-x",
    "conversation": {
        "speaker_a": "Mia", "speaker_b": "Leo",
        "session_1_date_time": "9:00 am on 3 March, 2024",
        "session_1": [
            {"speaker": "Mia", "dia_id": "D1:1", "text": "I started pottery classes."},
            {"speaker": "Leo", "dia_id": "D1:2", "text": "Where are they?"},
        ],
    },
    "qa": [{"question": "What classes did Mia start?", "evidence": ["D1:1"], "category": 4}],
}]


def _beam_conversation(folder: Path, text: str) -> None:
    folder.mkdir(parents=True)
    (folder / "chat.json").write_text(json.dumps([{"batch_number": 1, "turns": [[
        {"role": "user", "id": 0, "content": text},
        {"role": "assistant", "id": 1, "content": "Noted."}]]}]))
    (folder / "probing_questions.json").write_text(json.dumps({
        "information_extraction": [{"question": "What did I say?", "source_chat_ids": [0]}]}))


def test_beam_data_sets_folder_stands_for_its_100k_tier(tmp_path: Path) -> None:
    """The issue gives BEAM's data as ``../shared/data/beam/`` (README there) and measures its
    100K tier: that folder reads as its ``100K`` tier (or its only tier)."""
    root = tmp_path / "beam"
    _beam_conversation(root / "100K" / "1", "I keep bees on the roof.")
    _beam_conversation(root / "100K" / "2", "My sister plays the oboe.")
    _beam_conversation(root / "1M" / "1", "A conversation of another tier.")
    (root / "README.md").write_text("BEAM\n")

    def texts(convs: list) -> list[list[str]]:
        return [[it["text"] for it in c.items] for c in convs]

    tier = load_beam(root / "100K")
    assert texts(load_beam(root)) == texts(tier) == [["I keep bees on the roof.", "Noted."],
                                                     ["My sister plays the oboe.", "Noted."]]
    only = tmp_path / "one-tier"
    _beam_conversation(only / "10M" / "1", "The only tier.")
    assert texts(load_beam(only)) == [["The only tier.", "Noted."]]
    # the ranker's data takes the same folders, named or bare
    assert texts(load_data(f"beam:{root}")) == texts(load_data(str(root))) == texts(tier)


def test_ranker_data_bare_path_is_its_kind(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "locomo10.json"
    data.write_text(json.dumps(LOCOMO))
    named, bare = load_data(f"locomo:{data}"), load_data(str(data))
    assert [c.name for c in bare] == [c.name for c in named] == ["conv-x"]
    assert [q.text for q in bare[0].questions] == [q.text for q in named[0].questions]
    monkeypatch.chdir(tmp_path)
    assert [c.name for c in load_data("locomo10.json")] == ["conv-x"]  # a relative path
    with pytest.raises(UnknownData):
        load_data(str(tmp_path / "missing.json"))


def _locomo_conversations(n: int) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i, (a, b, hobby, pet, name) in enumerate([("Mia", "Leo", "pottery", "greyhound", "Comet"),
                                                  ("Ann", "Bob", "painting", "cat", "Miso"),
                                                  ("Eve", "Dan", "chess", "parrot", "Kiwi")][:n]):
        turns = [(a, f"I started {hobby} classes last week!"), (b, "Nice, where are they?"),
                 (a, "At the studio near the river."), (b, f"My brother adopted a {pet}."),
                 (a, f"What is the {pet} called?"), (b, f"{name}, because he is so fast.")]
        out.append({"sample_id": f"conv-{i}", "conversation": {
            "speaker_a": a, "speaker_b": b, "session_1_date_time": "9:00 am on 3 March, 2024",
            "session_1": [{"speaker": s, "dia_id": f"D1:{k + 1}", "text": t}
                          for k, (s, t) in enumerate(turns)]},
            "qa": [{"question": f"Where does {a} take {hobby} classes?", "evidence": ["D1:3"],
                    "category": 4},
                   {"question": f"What is the name of the {pet}?", "evidence": ["D1:6"],
                    "category": 4}]})
    return out


def test_train_ranker_data_out_writes_weights_with_provenance(tmp_path: Path) -> None:
    """``ltm train ranker --data ... --out FILE`` (issue 15): the fitted weights load as a
    ranker and say what they were fitted on; the shipped weights carry their provenance."""
    data = tmp_path / "locomo10.json"
    data.write_text(json.dumps(_locomo_conversations(3)))
    out, report = tmp_path / "ranker.json", tmp_path / "cv.json"
    got = CliRunner().invoke(main, ["train", "ranker", "--data", str(data), "--out", str(out),
                                    "--folds", "3", "--embedder", "hash",
                                    "--report", str(report)])
    assert got.exit_code == 0, got.output
    fitted = Ranker.load(out)
    assert fitted.provenance["data"] == [str(data)]
    assert fitted.provenance["conversations"] == 3 and fitted.provenance["questions"] == 6
    assert "cross_validation" in fitted.provenance and json.loads(report.read_text())
    assert {"data", "date", "command", "cross_validation"} <= set(shipped().provenance)
