"""Save/restore of external memory, within a process and across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch

from ltm.neural import DNC, NTM, DNCConfig, DNCState, NTMConfig, NTMState
from ltm.neural.runs import load_checkpoint, load_model
from ltm.neural.tasks import CopyTask

torch.set_num_threads(1)


def _models() -> list[tuple[torch.nn.Module, type]]:
    torch.manual_seed(0)
    return [
        (NTM(NTMConfig(input_size=5, output_size=4, controller_size=8, memory_n=6,
                       memory_w=3)), NTMState),
        (DNC(DNCConfig(input_size=5, output_size=4, controller_size=8, memory_n=6,
                       memory_w=3, read_heads=2)), DNCState),
    ]


@pytest.mark.parametrize("idx", [0, 1], ids=["ntm", "dnc"])
def test_state_round_trip_and_resume_is_exact(tmp_path: Path, idx: int) -> None:
    model, state_cls = _models()[idx]
    x = torch.randn(10, 2, 5)
    with torch.no_grad():
        full, _ = model(x)
        _, mid = model(x[:6])
        path = tmp_path / "mem.pt"
        mid.save(path, note="half way")
        loaded, meta = state_cls.load_with_meta(path)
        assert meta == {"note": "half way"}
        for k, v in mid.tensors().items():
            torch.testing.assert_close(loaded.tensors()[k], v, rtol=0, atol=0)
        rest, _ = model(x[6:], loaded)
    torch.testing.assert_close(rest, full[6:])


def test_load_rejects_wrong_kind(tmp_path: Path) -> None:
    (ntm, _), _ = _models()
    state = ntm.init_state(1)
    state.save(tmp_path / "ntm.pt")
    with pytest.raises(ValueError, match="NTMState"):
        DNCState.load(tmp_path / "ntm.pt")


def test_checkpoint_stores_dataclass_configs(fast_dnc_copy: tuple[dict[str, Any], Path]) -> None:
    _, out = fast_dnc_copy
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["kind"] == "dnc"
    assert ckpt["model_config"]["memory_n"] == 8
    assert ckpt["train_config"]["preset"] == "dnc-copy"
    model, _ = load_model(out / "checkpoint.pt")
    assert isinstance(model, DNC) and model.config == DNCConfig(**ckpt["model_config"])


WRITER = textwrap.dedent("""
    import sys, torch
    from ltm.neural.runs import load_model
    from ltm.neural.tasks import CopyTask
    ckpt, mem, seed, n, length = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    model, _ = load_model(ckpt)
    batch = CopyTask(bits=4).batch(n, length, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        _, state = model(batch.inputs[: length + 1])   # the facts and the delimiter
    state.save(mem, wrote="copy facts")
""")

READER = textwrap.dedent("""
    import sys, torch
    from ltm.neural.runs import load_model
    from ltm.neural import DNCState
    ckpt, mem, out, length = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    model, _ = load_model(ckpt)
    state = DNCState.load(mem)
    n = state.batch_size
    with torch.no_grad():
        logits, _ = model(torch.zeros(length, n, model.config.input_size), state)
    torch.save((logits > 0).float(), out)
""")


def test_memory_written_in_one_process_is_read_in_the_next(
    tmp_path: Path, fast_dnc_copy: tuple[dict[str, Any], Path]
) -> None:
    """A trained DNC stores a sequence in process A; process B restores memory and recalls it."""
    _, run_dir = fast_dnc_copy
    ckpt, mem, out = run_dir / "checkpoint.pt", tmp_path / "memory.pt", tmp_path / "recalled.pt"
    seed, n, length = 123, 32, 4
    subprocess.run([sys.executable, "-c", WRITER, str(ckpt), str(mem), str(seed), str(n),
                    str(length)], check=True, timeout=120)
    assert mem.exists()
    subprocess.run([sys.executable, "-c", READER, str(ckpt), str(mem), str(out), str(length)],
                   check=True, timeout=120)
    recalled = torch.load(out)
    facts = CopyTask(bits=4).batch(n, length, torch.Generator().manual_seed(seed))
    truth = facts.inputs[:length, :, :4]
    accuracy = float((recalled == truth).float().mean())
    assert accuracy >= 0.95, accuracy

    # control: the same reader with an empty memory cannot recall the facts
    model, _ = load_model(ckpt)
    assert isinstance(model, DNC)
    fresh = model.init_state(n)
    fresh.h, fresh.c = DNCState.load(mem).h, DNCState.load(mem).c  # keep controller state
    with torch.no_grad():
        logits, _ = model(torch.zeros(length, n, model.config.input_size), fresh)
    blind = float(((logits > 0).float() == truth).float().mean())
    assert blind < 0.8, blind
