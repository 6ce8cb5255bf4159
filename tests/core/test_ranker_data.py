"""``ltm train ranker --data``'s data (``ltm.bench.ranker_data``): sources it refuses, and the
candidate pools it collects from labelled conversations stored in a real temporary store, with
their evidence labels, fitted and scored by ``ltm.retrieval.train``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ltm.bench.labelled import MID, LabelledConversation, LabelledQuestion
from ltm.bench.ranker_data import UnknownData, collect, load_data
from ltm.cli.train import ranker as ranker_command
from ltm.retrieval.ranker import Ranker
from ltm.retrieval.train import evaluate, fit_samples


@pytest.mark.parametrize(("data", "says"), [("nope:x", "expected locomo:PATH"),
                                            ("small:0", "seed 0"), ("small:0-2", "seed 0")])
def test_unknown_sources_are_usage_errors(tmp_path: Path, data: str, says: str) -> None:
    out = tmp_path / "r.json"
    got = CliRunner().invoke(ranker_command, ["--data", data, "--out", str(out)])
    assert got.exit_code == 2 and "--data" in got.output and says in got.output, got.output
    assert not out.exists()
    with pytest.raises(UnknownData):
        load_data(data)


def test_data_and_out_go_together(tmp_path: Path) -> None:
    for args in ([], ["--data", "small:1"], ["--out", str(tmp_path / "r.json")]):
        got = CliRunner().invoke(ranker_command, args)
        assert got.exit_code == 2 and "give --data" in got.output, got.output


def _conversation(name: str, pet: str, city: str) -> LabelledConversation:
    said = [f"my pet {pet} loves long walks", f"I moved to {city} last spring",
            "the weather was grey all week", f"actually I moved again, away from {city}",
            "lunch was a cheese sandwich"]
    items = [{"text": t, "time": f"2024-0{n + 1}-01T10:00:00Z", "metadata": {MID: f"m{n}"}}
             for n, t in enumerate(said)]
    questions = [
        LabelledQuestion(f"{name}:0", f"what is my pet {pet} like", "single", frozenset({"m0"})),
        LabelledQuestion(f"{name}:1", f"where did I move, {city}?", "update",
                         frozenset({"m1", "m3"}),
                         extra={"original_info": ["m1"], "updated_info": ["m3"]}),
        LabelledQuestion(f"{name}:2", "which bicycle do I ride", "absent", frozenset(),
                         answerable=False),
    ]
    return LabelledConversation(name, items, questions, source=f"src-{name}")


def test_collect_labels_the_evidence_of_each_pool() -> None:
    convs = [_conversation("ana", "Rex", "Porto"), _conversation("ben", "Tom", "Lisbon"),
             _conversation("cy", "Kit", "Braga")]
    samples = collect(convs, embedder="hash", progress=False)
    assert [(s.group, s.qtype) for s in samples] == [
        (c, t) for c in ("ana", "ben", "cy") for t in ("single", "update", "absent")]
    for s in samples:
        n = len(s.pool.text)
        assert s.label.shape == (n,) and set(np.unique(s.label)) <= {0.0, 1.0}
        assert s.source == f"src-{s.group}"
    single, update, absent = samples[:3]
    assert single.answerable and single.label.sum() + single.missing == 1
    assert single.label.sum() == 1  # the only memory naming the pet is in its pool
    assert update.label.sum() + update.missing == 2
    assert update.update is not None
    orig, upd = update.update
    assert len(orig) == 1 and len(upd) == 1 and update.label[orig[0]] == update.label[upd[0]] == 1
    assert not absent.answerable and absent.label.sum() == 0 and absent.missing == 0

    model = fit_samples(samples, 1.0, 2)
    again = Ranker.from_dict(model.to_dict())
    report = evaluate(again, samples)
    assert report["questions"] == len(samples)
    assert report["recall"]["20"] == pytest.approx(
        np.mean([s.label.sum() / (s.label.sum() + s.missing) for s in samples
                 if s.answerable]))
