"""QA: a saved memory state is either loadable or refused at save time; bad files are typed errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import torch

from ltm.errors import InvalidInput
from ltm.neural import DNC, DNCConfig, DNCState, NTMState


@pytest.fixture
def state() -> DNCState:
    torch.manual_seed(0)
    model = DNC(DNCConfig(input_size=4, output_size=3, controller_size=8, memory_n=6, memory_w=5))
    _, s = model(torch.randn(3, 2, 4))
    return s


@pytest.mark.parametrize("meta", [{"when": dt.datetime(2026, 1, 1)}, {"where": Path("x")}, {"obj": object()}])
def test_meta_that_would_make_the_file_unloadable_is_refused(tmp_path: Path, state: DNCState,
                                                             meta: dict) -> None:
    path = tmp_path / "mem.pt"
    state.save(path, ok=1)
    with pytest.raises(InvalidInput, match="meta"):
        state.save(path, **meta)  # was written, then DNCState.load raised UnpicklingError
    loaded, kept = DNCState.load_with_meta(path)  # the earlier file is untouched
    assert kept == {"ok": 1}
    assert torch.equal(loaded.memory, state.memory)
    assert not list(tmp_path.glob("*.tmp*"))


def test_json_meta_round_trips(tmp_path: Path, state: DNCState) -> None:
    meta = {"config": {"memory_n": 6, "name": "x", "sizes": [1, 2.5], "flag": True, "none": None}}
    state.save(tmp_path / "m.pt", **meta)
    loaded, got = DNCState.load_with_meta(tmp_path / "m.pt")
    assert got == meta
    for k, v in state.tensors().items():
        assert torch.equal(getattr(loaded, k), v)


def test_unreadable_files_are_invalid_input(tmp_path: Path, state: DNCState) -> None:
    (tmp_path / "garbage.pt").write_bytes(b"not a torch file")
    torch.save([1, 2], tmp_path / "list.pt")
    torch.save({"kind": "DNCState", "format": 1, "tensors": [1]}, tmp_path / "bad.pt")
    state.save(tmp_path / "dnc.pt")
    for name, cls in [("garbage.pt", DNCState), ("list.pt", DNCState), ("bad.pt", DNCState),
                      ("dnc.pt", NTMState)]:
        with pytest.raises(InvalidInput):
            cls.load(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        DNCState.load(tmp_path / "missing.pt")
