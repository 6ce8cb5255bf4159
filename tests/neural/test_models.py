"""Shape and invariant tests for the NTM, the DNC and MemN2N."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from ltm.neural import DNC, NTM, DNCConfig, MemN2N, MemN2NConfig, NTMConfig
from ltm.neural.memn2n import noisy_time, position_weights
from ltm.neural.tasks import AssociativeRecallTask, CopyTask, RepeatCopyTask

torch.set_num_threads(1)


@pytest.mark.parametrize("controller", ["lstm", "ff"])
def test_ntm_shapes_and_weightings(controller: str) -> None:
    torch.manual_seed(0)
    cfg = NTMConfig(input_size=5, output_size=4, controller=controller, controller_size=16,
                    memory_n=12, memory_w=6, read_heads=2, write_heads=1)
    model = NTM(cfg)
    x = torch.randn(7, 3, 5)
    y, state = model(x)
    assert y.shape == (7, 3, 4)
    assert state.memory.shape == (3, 12, 6)
    assert state.read_weights.shape == (3, 2, 12)
    torch.testing.assert_close(state.read_weights.sum(-1), torch.ones(3, 2))
    torch.testing.assert_close(state.write_weights.sum(-1), torch.ones(3, 1))
    y.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_ntm_runs_with_enlarged_memory() -> None:
    model = NTM(NTMConfig(input_size=3, output_size=2, controller_size=8, memory_n=8,
                          memory_w=4))
    y, state = model(torch.randn(5, 2, 3), model.init_state(2, memory_n=32))
    assert state.memory.shape == (2, 32, 4) and torch.isfinite(y).all()


def test_ntm_config_validation() -> None:
    with pytest.raises(ValueError):
        NTMConfig(controller="gru")


def test_dnc_long_run_is_finite_and_invariants_hold() -> None:
    torch.manual_seed(1)
    cfg = DNCConfig(input_size=6, output_size=5, controller_size=16, memory_n=10,
                    memory_w=8, read_heads=3)
    model = DNC(cfg)
    with torch.no_grad():  # provoke saturation: large weights, large inputs
        model.interface.weight.mul_(20.0)
    state = model.init_state(4)
    for t in range(300):
        y, state = model.step(torch.randn(4, 6) * 10, state)
        assert torch.isfinite(y).all(), f"non-finite output at step {t}"
        assert ((state.usage >= 0) & (state.usage <= 1)).all()
        assert torch.diagonal(state.link, dim1=-2, dim2=-1).abs().max() == 0
        assert ((state.link >= 0) & (state.link <= 1)).all()
        assert (state.read_weights.sum(-1) <= 1 + 1e-5).all()
        assert (state.write_weights.sum(-1) <= 1 + 1e-5).all()
    assert state.read_weights.shape == (4, 3, 10)


def test_dnc_gradients_finite_through_long_sequence() -> None:
    torch.manual_seed(2)
    model = DNC(DNCConfig(input_size=4, output_size=3, controller_size=12, memory_n=8,
                          memory_w=6, read_heads=2))
    y, _ = model(torch.randn(60, 2, 4))
    y.pow(2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_dnc_writes_go_to_least_used_slot() -> None:
    """With the allocation gate open and a full write gate, the write lands on a free slot."""
    torch.manual_seed(3)
    cfg = DNCConfig(input_size=2, output_size=2, controller_size=4, memory_n=5, memory_w=3,
                    read_heads=1)
    model = DNC(cfg)
    state = model.init_state(1)
    state.usage = torch.tensor([[0.9, 0.8, 0.1, 0.95, 0.7]])
    # interface: zeros except open write and allocation gates, no freeing
    xi = torch.zeros(1, sum(model._sizes))
    iface = model.parse_interface(xi)
    iface.allocation_gate = torch.ones(1, 1)
    iface.write_gate = torch.ones(1, 1)
    iface.free_gates = torch.zeros(1, 1)
    new = model.memory_step(iface, state)
    assert int(new.write_weights.argmax()) == 2


def test_memn2n_shapes_tying_and_attention() -> None:
    torch.manual_seed(4)
    cfg = MemN2NConfig(vocab_size=30, sentence_size=6, memory_size=10, embed_dim=8, hops=3)
    model = MemN2N(cfg)
    assert len(model.embeddings) == 4  # adjacent tying: K + 1 tables
    stories = torch.randint(1, 30, (5, 10, 6))
    stories[:, 7:] = 0  # three empty slots (nil sentences)
    mask = torch.ones(5, 10)
    mask[:, 7:] = 0
    query = torch.randint(1, 30, (5, 6))
    logits, att = model(stories, query, mask, return_attention=True)
    assert logits.shape == (5, 30)
    assert len(att) == 3
    for p in att:
        torch.testing.assert_close(p.sum(-1), torch.ones(5))
        # empty slots score 0 and stay in the softmax (authors' code): each gets 1 / Z
        torch.testing.assert_close(p[:, 7:], p[:, 7:8].expand(5, 3))
        assert (p[:, 7] > 0).all()
    masked = MemN2N(dataclasses.replace(cfg, mask_empty=True))
    masked.load_state_dict(model.state_dict())
    _, att_m = masked(stories, query, mask, return_attention=True)
    for p in att_m:
        torch.testing.assert_close(p.sum(-1), torch.ones(5))
        assert p[:, 7:].abs().max() < 1e-6
    lin = model(stories, query, mask, linear=True)
    assert isinstance(lin, torch.Tensor) and lin.shape == (5, 30)
    lw = MemN2N(dataclasses.replace(cfg, tying="layerwise"))
    out = lw(stories, query, mask)
    assert isinstance(out, torch.Tensor) and out.shape == (5, 30)


def test_memn2n_empty_slot_is_a_zero_score_option() -> None:
    """Empty slots add nothing but their softmax share; the temporal vector skips them."""
    torch.manual_seed(5)
    cfg = MemN2NConfig(vocab_size=20, sentence_size=4, memory_size=6, embed_dim=8, hops=1)
    model = MemN2N(cfg)
    stories = torch.zeros(1, 6, 4, dtype=torch.long)
    stories[0, 0, :3] = torch.tensor([3, 4, 5])
    stories[0, 1, :2] = torch.tensor([6, 7])
    mask = torch.zeros(1, 6)
    mask[0, :2] = 1
    query = torch.tensor([[8, 9, 0, 0]])
    logits = model(stories, query, mask)
    assert isinstance(logits, torch.Tensor)
    # closed form for one hop (B = A^1, W^T = C^1): softmax over [s0, s1, 0, 0, 0, 0]
    def enc(table: int, i: int) -> torch.Tensor:
        emb = model.embeddings[table]
        assert isinstance(emb, torch.nn.Embedding)
        e = emb(stories[0, i]) * position_weights(stories[0, i], 8)
        return e.sum(0) + model.time[table][i]
    emb_b = model.embeddings[0]
    assert isinstance(emb_b, torch.nn.Embedding)
    u = (emb_b(query[0]) * position_weights(query[0], 8)).sum(0)
    scores = torch.stack([enc(0, 0) @ u, enc(0, 1) @ u, *[torch.zeros(())] * 4])
    p = torch.softmax(scores, 0)
    o = p[0] * enc(1, 0) + p[1] * enc(1, 1)
    emb_w = model.embeddings[1]
    assert isinstance(emb_w, torch.nn.Embedding)
    torch.testing.assert_close(logits[0], (u + o) @ emb_w.weight.t())


def test_position_encoding_formula() -> None:
    tokens = torch.tensor([[4, 5, 6, 0]])  # J = 3
    d = 4
    w = position_weights(tokens, d)
    assert w.shape == (1, 4, d)
    for j in (1, 2, 3):
        for k in range(1, d + 1):
            expect = 1 + 4 * (k - (d + 1) / 2) * (j - (3 + 1) / 2) / (d * 3)
            assert abs(float(w[0, j - 1, k - 1]) - expect) < 1e-6
    # centred on the middle word: the first and last words mirror each other, the middle
    # word is unweighted, every word's weights average 1 (the printed form averages 1/2
    # and weighs the last word 1/d .. 1 but the first about 1/2: task 16 stayed at 50%)
    torch.testing.assert_close(w[0, 0], w[0, 2].flip(0))
    torch.testing.assert_close(w[0, 1], torch.ones(d))
    torch.testing.assert_close(w[0, :3].mean(-1), torch.ones(3))


def test_noisy_time_monotone_and_bounded() -> None:
    g = torch.Generator().manual_seed(0)
    t = noisy_time(torch.ones(50, 20), time_size=40, rate=0.3, generator=g)
    d = t.diff(dim=-1)
    assert (d >= 0).all() and (d[t[:, 1:] < 39] >= 1).all()
    assert t.max() <= 39 and (t[:, 0] >= 0).all()
    assert (t > torch.arange(20)).any()  # some gaps were inserted


def test_task_batches_have_expected_layout() -> None:
    g = torch.Generator().manual_seed(0)
    b = CopyTask(bits=8).batch(4, 5, g)
    assert b.inputs.shape == (11, 4, 9) and b.targets.shape == (11, 4, 8)
    torch.testing.assert_close(b.targets[6:], b.inputs[:5, :, :8])
    assert b.mask.sum() == 5 * 4
    r = RepeatCopyTask(bits=4).batch(2, 3, g, repeats=2)
    assert r.inputs.shape[0] == 3 + 2 + 6 + 1
    torch.testing.assert_close(r.targets[5:8, :, :4], r.inputs[1:4, :, :4])
    torch.testing.assert_close(r.targets[8:11, :, :4], r.inputs[1:4, :, :4])
    assert r.targets[-1, :, 4].eq(1).all()
    ar = AssociativeRecallTask(bits=6, item_len=3).batch(8, 4, g)
    items = ar.inputs[: 4 * 4].view(4, 4, 8, 8)[:, 1:, :, :6]  # [item, k, B, bits]
    query = ar.inputs[17:20, :, :6]
    answer = ar.targets[-3:]
    for bi in range(8):
        idx = [i for i in range(3) if torch.equal(items[i, :, bi], query[:, bi])]
        assert idx, "query must be one of the first n-1 items"
        assert torch.equal(items[idx[0] + 1, :, bi], answer[:, bi])


def test_ntm_output_scale_multiplies_the_logits() -> None:
    torch.manual_seed(0)
    model = NTM(NTMConfig(input_size=5, output_size=4, controller_size=8, memory_n=6,
                          memory_w=4, output_scale=True))
    x = torch.randn(3, 2, 5)
    with torch.no_grad():
        base, _ = model(x)
        assert model.log_scale is not None
        model.log_scale.fill_(math.log(2.0))
        scaled, _ = model(x)
    assert torch.allclose(scaled, 2.0 * base, atol=1e-6)
