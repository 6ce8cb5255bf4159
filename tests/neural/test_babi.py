"""bAbI loader on synthetic stories written to tmp_path, and a fast MemN2N learning run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from ltm.cli.train import train
from ltm.neural.babi import (
    Vocab,
    load_task,
    parse_babi,
    resolve_data_dir,
    sentence_size,
    task_file,
    vectorize,
)
from ltm.neural.babi_train import BabiTrainConfig, train_babi

torch.set_num_threads(1)

PEOPLE = ["mary", "john", "sandra", "daniel"]
PLACES = ["kitchen", "garden", "office", "hallway", "bathroom", "bedroom"]
VERBS = ["moved to", "went to", "journeyed to", "travelled to"]


def synthetic_task1(n_stories: int, seed: int) -> str:
    """Stories in bAbI task-1 format: where is X? -> X's last location."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n_stories):
        where: dict[str, tuple[str, int]] = {}
        n = 0
        for _q in range(5):
            for _f in range(2):
                n += 1
                who, place = rng.choice(PEOPLE), rng.choice(PLACES)
                where[who] = (place, n)
                lines.append(f"{n} {who.capitalize()} {rng.choice(VERBS)} the {place}.")
            n += 1
            who = rng.choice(sorted(where))
            place, line = where[who]
            lines.append(f"{n} Where is {who.capitalize()}? \t{place}\t{line}")
    return "\n".join(lines) + "\n"


@pytest.fixture()
def babi_dir(tmp_path: Path) -> Path:
    d = tmp_path / "babi"
    d.mkdir()
    (d / "qa1_single-supporting-fact_train.txt").write_text(synthetic_task1(200, 0))
    (d / "qa1_single-supporting-fact_test.txt").write_text(synthetic_task1(40, 1))
    return d


def test_parse_babi_format() -> None:
    text = ("1 Mary moved to the bathroom.\n2 John went to the hallway.\n"
            "3 Where is Mary? \tbathroom\t1\n4 Daniel went back to the hallway.\n"
            "5 Where is Daniel? \thallway\t4\n1 Sandra got the apple there.\n"
            "2 What is Sandra carrying? \tapple,milk\t1\n")
    samples = parse_babi(text)
    assert len(samples) == 3
    s0, s1, s2 = samples
    assert s0.story == [["mary", "moved", "to", "the", "bathroom"],
                        ["john", "went", "to", "the", "hallway"]]
    assert s0.question == ["where", "is", "mary"] and s0.answer == "bathroom"
    assert s0.supporting == [0]
    assert len(s1.story) == 3 and s1.supporting == [2]  # questions are not memories
    assert s2.story == [["sandra", "got", "the", "apple", "there"]]  # new story resets
    assert s2.answer == "apple,milk"


def test_loader_vocab_and_tensors(babi_dir: Path) -> None:
    train_s, test_s = load_task(babi_dir, 1)
    assert len(train_s) == 1000 and len(test_s) == 200
    vocab = Vocab.build(train_s, test_s)
    assert vocab.itos[0] == "<nil>" and "kitchen" in vocab.stoi
    sent = sentence_size(train_s)
    t = vectorize(train_s[:7], vocab, memory_size=3, sent_size=sent)
    assert t.stories.shape == (7, 3, sent) and t.queries.shape == (7, sent)
    # slot 0 holds the most recent fact
    last = vocab.encode(train_s[6].story[-1])
    assert t.stories[6, 0, : len(last)].tolist() == last
    assert t.mem_mask[0].tolist() == [1.0, 1.0, 0.0]  # first question: two facts
    assert vocab.itos[int(t.answers[0])] == train_s[0].answer


def test_resolve_data_dir(babi_dir: Path, monkeypatch: pytest.MonkeyPatch,
                          tmp_path: Path) -> None:
    assert resolve_data_dir(babi_dir) == babi_dir
    monkeypatch.setenv("LTM_BABI_DIR", str(babi_dir))
    assert resolve_data_dir(None) == babi_dir
    with pytest.raises(FileNotFoundError):
        resolve_data_dir(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        task_file(babi_dir, 2, "train")


def test_memn2n_learns_synthetic_task(babi_dir: Path, tmp_path: Path) -> None:
    cfg = BabiTrainConfig(task=1, data_dir=str(babi_dir), epochs=15, ls_max_epochs=5,
                          embed_dim=16, progress=False)
    metrics = train_babi(cfg, tmp_path / "run")
    # chance is ~1/6 correct (six places); a working MemN2N gets nearly all right
    assert metrics["test_error"] < 0.2, metrics["test_error"]
    on_disk = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert 0.0 <= on_disk["test_error"] <= 1.0
    assert (tmp_path / "run" / "learning_curve.png").exists()


def test_cli_memn2n_babi_writes_test_error(babi_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    res = CliRunner().invoke(train, ["memn2n-babi", "--task", "1", "--data", str(babi_dir),
                                     "--steps", "30", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    m = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= m["test_error"] <= 1.0 and m["task"] == 1


def test_cli_memn2n_babi_env_var_and_missing_dir(babi_dir: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LTM_BABI_DIR", str(tmp_path / "nope"))
    res = CliRunner().invoke(train, ["memn2n-babi", "--out", str(tmp_path / "x")])
    assert res.exit_code != 0 and "not found" in res.output
    monkeypatch.setenv("LTM_BABI_DIR", str(babi_dir))
    res = CliRunner().invoke(train, ["memn2n-babi", "--steps", "5", "--out",
                                     str(tmp_path / "y"), "--no-progress"])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("preset", ["ntm-copy", "ntm-repeat-copy", "ntm-recall", "dnc-copy",
                                    "dnc-recall"])
def test_cli_sequence_presets_write_metrics(preset: str, tmp_path: Path) -> None:
    out = tmp_path / preset
    res = CliRunner().invoke(train, [
        preset, "--seed", "1", "--steps", "3", "--out", str(out), "--batch-size", "2",
        "--max-len", "3", "--memory-n", "8", "--memory-w", "4", "--controller-size", "8",
        "--eval-lengths", "3,4", "--eval-sequences", "4", "--eval-memory-n", "12",
        "--lr-schedule", "cosine", "--item-len", "2",
        "--no-progress"])
    assert res.exit_code == 0, res.output
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["bits_per_sequence"]) == {"3", "4"}
    assert set(m["bits_per_sequence_enlarged_memory"]) == {"3", "4"}
    assert (out / "learning_curve.png").exists() and (out / "checkpoint.pt").exists()


def test_cli_memn2n_babi_data_sets_folder_and_a_folder_without_tasks(
        babi_dir: Path, tmp_path: Path) -> None:
    """``--data`` given the data set's folder (``../shared/data/babi``, holding ``en`` and
    ``en-10k``) trains on ``en``, the 1k setting; a folder without the task's files is a usage
    error naming it (it was a FileNotFoundError traceback)."""
    root = tmp_path / "data"
    root.mkdir()
    babi_dir.rename(root / "en")
    (root / "en-10k").mkdir()
    out = tmp_path / "root"
    res = CliRunner().invoke(train, ["memn2n-babi", "--task", "1", "--data", str(root),
                                     "--steps", "5", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "metrics.json").read_text())["task"] == 1
    res = CliRunner().invoke(train, ["memn2n-babi", "--task", "2", "--data", str(root / "en"),
                                     "--out", str(tmp_path / "none")])
    assert res.exit_code == 2 and "no qa2_*_train.txt" in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert not (tmp_path / "none").exists()
