"""QA: model configs refuse sizes a model cannot be built or run with; MemN2N checks its inputs."""

from __future__ import annotations

import pytest
import torch

from ltm.errors import InvalidInput
from ltm.neural import DNC, NTM, DNCConfig, MemN2N, MemN2NConfig, NTMConfig

BAD_NTM = [{"input_size": 0}, {"output_size": 0}, {"controller_size": 0}, {"controller_layers": 0},
           {"shift_range": -1}, {"memory_n": 4.5}, {"clip": 0.0}, {"clip": float("nan")}]
BAD_DNC = [{"input_size": 0}, {"output_size": 0}, {"memory_w": 2.0}, {"clip": -1.0}]
BAD_MEMN2N = [{"vocab_size": 0}, {"sentence_size": 0}, {"memory_size": 0}, {"embed_dim": 0},
              {"init_std": -0.1}, {"time_size": -2}]


@pytest.mark.parametrize("kw", BAD_NTM, ids=str)
def test_bad_ntm_config(kw: dict) -> None:
    # controller_layers=0 built a model whose forward raised 'stack expects a non-empty
    # TensorList'; the others built models of zero width or a shift kernel of width -1
    with pytest.raises(InvalidInput):
        NTMConfig(**kw)


@pytest.mark.parametrize("kw", BAD_DNC, ids=str)
def test_bad_dnc_config(kw: dict) -> None:
    with pytest.raises(InvalidInput):
        DNCConfig(**kw)


@pytest.mark.parametrize("kw", BAD_MEMN2N, ids=str)
def test_bad_memn2n_config(kw: dict) -> None:
    with pytest.raises(InvalidInput):  # vocab_size=0 was a raw IndexError
        MemN2NConfig(**{"vocab_size": 10, "sentence_size": 4, **kw})


def test_old_errors_stay_value_errors() -> None:
    with pytest.raises(ValueError):
        NTMConfig(controller="gru")
    with pytest.raises(ValueError):
        MemN2NConfig(vocab_size=5, sentence_size=3, tying="none")
    NTM(NTMConfig(input_size=3, output_size=2, controller_size=4, memory_n=4, memory_w=3, shift_range=0))
    DNC(DNCConfig(input_size=3, output_size=2, controller_size=4, memory_n=4, memory_w=3, read_heads=1))


def test_memn2n_checks_its_inputs() -> None:
    torch.manual_seed(0)
    m = MemN2N(MemN2NConfig(vocab_size=10, sentence_size=4, memory_size=5))  # time_size 10
    stories = torch.randint(0, 10, (2, 5, 4))
    queries = torch.randint(0, 10, (2, 4))
    mask = torch.ones(2, 5)
    assert m(stories, queries, mask).shape == (2, 10)
    assert m(stories, queries, mask.bool()).shape == (2, 10)
    bad = {
        "more slots than the temporal table": (torch.randint(0, 10, (2, 11, 4)), queries,
                                               torch.ones(2, 11), None),  # raw IndexError
        "word id past the vocabulary": (stories + 10, queries, mask, None),  # raw IndexError
        "negative word id": (stories - 1, queries, mask, None),
        "float word ids": (stories.float(), queries, mask, None),  # raw RuntimeError
        "queries of another batch": (stories, queries[:1], mask, None),
        "mask of another shape": (stories, queries, torch.ones(2, 4), None),
        "2-D stories": (stories[0], queries, mask, None),
        "time of another shape": (stories, queries, mask, torch.zeros(2, 4, dtype=torch.long)),
        "time past the table": (stories, queries, mask, torch.full((2, 5), 10)),
    }
    for what, (s, q, mk, time) in bad.items():
        with pytest.raises(InvalidInput):
            m(s, q, mk, time)
            pytest.fail(what)
