"""QA: NTM and DNC check their inputs and carried state; a mismatch is InvalidInput, not a
RuntimeError from deep inside a matmul."""

from __future__ import annotations

import pytest
import torch

from ltm.errors import InvalidInput
from ltm.neural import DNC, NTM, DNCConfig, NTMConfig


def _models() -> list[NTM | DNC]:
    torch.manual_seed(0)
    return [
        NTM(NTMConfig(input_size=4, output_size=3, controller_size=8, memory_n=6, memory_w=5)),
        NTM(NTMConfig(input_size=4, output_size=3, controller="ff", controller_size=8, memory_n=6,
                      memory_w=5, read_heads=2)),
        DNC(DNCConfig(input_size=4, output_size=3, controller_size=8, memory_n=6, memory_w=5)),
    ]


@pytest.mark.parametrize("model", _models(), ids=["ntm-lstm", "ntm-ff", "dnc"])
def test_bad_inputs_and_states_are_invalid_input(model: NTM | DNC) -> None:
    x = torch.randn(3, 2, 4)
    other = (DNC(DNCConfig(input_size=4, output_size=3, controller_size=8, memory_n=6, memory_w=5))
             if isinstance(model, NTM) else NTM(NTMConfig(input_size=4, output_size=3, memory_w=5)))
    wider = type(model)(type(model.config)(input_size=4, output_size=3, controller_size=8, memory_w=7))
    bad = {
        "2-D inputs": (torch.randn(3, 4), None),
        "float64 inputs": (x.double(), None),
        "integer inputs": (x.long(), None),
        "other feature size": (torch.randn(3, 2, 5), None),
        "state of another batch": (x, model.init_state(1)),
        "state of the other model": (x, other.init_state(2)),
        "state of another memory width": (x, wider.init_state(2)),
        "not a tensor": ([[0.0] * 4], None),
    }
    for what, (inputs, state) in bad.items():
        with pytest.raises(InvalidInput):
            model(inputs, state)
            pytest.fail(what)
    for call in (lambda: model.init_state(0), lambda: model.init_state(2, memory_n=0),
                 lambda: model.init_state(2, memory_n=-3)):
        with pytest.raises(InvalidInput):
            call()  # memory_n=0 silently meant the training size


@pytest.mark.parametrize("model", _models(), ids=["ntm-lstm", "ntm-ff", "dnc"])
def test_an_empty_sequence_returns_no_logits_and_the_same_state(model: NTM | DNC) -> None:
    _, state = model(torch.randn(2, 2, 4))
    logits, after = model(torch.zeros(0, 2, 4), state)  # was a RuntimeError from torch.stack
    assert logits.shape == (0, 2, 3)
    for k, v in state.tensors().items():
        assert torch.equal(getattr(after, k), v)


@pytest.mark.parametrize("model", _models(), ids=["ntm-lstm", "ntm-ff", "dnc"])
def test_a_larger_memory_still_runs(model: NTM | DNC) -> None:
    logits, state = model(torch.randn(3, 2, 4), model.init_state(2, memory_n=11))
    assert logits.shape == (3, 2, 3) and state.memory.shape[1] == 11
