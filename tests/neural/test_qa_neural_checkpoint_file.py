"""QA: loading a checkpoint reads data only (no code runs from the file); bad files are typed."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from ltm.errors import InvalidInput
from ltm.neural import DNC, DNCConfig
from ltm.neural.runs import load_checkpoint, load_model, save_checkpoint
from ltm.neural.train import SeqTrainConfig


class _Payload:
    """Pickles to a call of Path.touch: loading the file with pickle would create ``target``."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.target,))


def _model() -> DNC:
    torch.manual_seed(0)
    return DNC(DNCConfig(input_size=4, output_size=3, controller_size=8, memory_n=6, memory_w=5))


def test_a_checkpoint_round_trips(tmp_path: Path) -> None:
    model = _model()
    opt = torch.optim.Adam(model.parameters())
    path = tmp_path / "c.pt"
    save_checkpoint(path, kind="dnc", model=model, model_config=model.config,
                    train_config=SeqTrainConfig(), step=3, optimizer=opt, extra={"vocab": ["a", "b"]})
    loaded, ckpt = load_model(path)
    assert ckpt["step"] == 3 and ckpt["extra"] == {"vocab": ["a", "b"]}
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(v, v2)


def test_loading_runs_no_code_from_the_file(tmp_path: Path) -> None:
    model = _model()
    target = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"kind": "dnc", "model_config": {"input_size": 4, "output_size": 3, "controller_size": 8,
                                                "memory_n": 6, "memory_w": 5},
                "state_dict": model.state_dict(), "extra": _Payload(target)}, path)
    for load in (load_checkpoint, load_model):
        with pytest.raises(InvalidInput):
            load(path)
        assert not target.exists()  # weights_only=False ran Path.touch


def test_bad_checkpoint_files_are_invalid_input(tmp_path: Path) -> None:
    (tmp_path / "garbage.pt").write_bytes(b"nope")
    torch.save([1, 2], tmp_path / "list.pt")
    torch.save({"kind": "lstm", "model_config": {}, "state_dict": {}}, tmp_path / "kind.pt")
    (tmp_path / "pickle.pt").write_bytes(pickle.dumps({"kind": "dnc"}))
    for name in ("garbage.pt", "list.pt", "kind.pt"):
        with pytest.raises(InvalidInput):
            load_model(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")
