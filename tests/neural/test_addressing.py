"""Invariants and float64 gradient checks for the addressing functions."""

from __future__ import annotations

import torch
from torch.autograd import gradcheck

from ltm.neural import addressing as A

torch.set_num_threads(1)


def _rand_weights(*shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.softmax(torch.randn(*shape, dtype=dtype), dim=-1)


def test_content_weighting_sums_to_one_and_prefers_matching_row() -> None:
    torch.manual_seed(0)
    mem = torch.randn(2, 8, 5)
    keys = mem[:, [3, 6]] * 2.0  # scaled copies of rows 3 and 6
    w = A.content_weighting(mem, keys, torch.full((2, 2), 50.0))
    assert w.shape == (2, 2, 8)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 2))
    assert (w.argmax(-1) == torch.tensor([3, 6])).all()


def test_cosine_similarity_is_safe_on_zero_memory() -> None:
    sim = A.cosine_similarity(torch.zeros(1, 4, 3), torch.zeros(1, 1, 3))
    assert torch.isfinite(sim).all()
    w = A.content_weighting(torch.zeros(1, 4, 3), torch.zeros(1, 1, 3), torch.ones(1, 1))
    torch.testing.assert_close(w, torch.full((1, 1, 4), 0.25))


def test_interpolate_shift_sharpen_invariants() -> None:
    torch.manual_seed(1)
    wc, wp = _rand_weights(3, 2, 7), _rand_weights(3, 2, 7)
    g = torch.rand(3, 2, dtype=torch.float64)
    wg = A.interpolate(wc, wp, g)
    torch.testing.assert_close(wg.sum(-1), torch.ones(3, 2, dtype=torch.float64))
    ws = A.circular_shift(wg, _rand_weights(3, 2, 3))
    torch.testing.assert_close(ws.sum(-1), torch.ones(3, 2, dtype=torch.float64))
    out = A.sharpen(ws, 1.0 + torch.rand(3, 2, dtype=torch.float64) * 5)
    torch.testing.assert_close(out.sum(-1), torch.ones(3, 2, dtype=torch.float64))
    assert (out >= 0).all()


def test_circular_shift_moves_focus_and_wraps() -> None:
    w = torch.zeros(1, 1, 5)
    w[..., 4] = 1.0
    forward = torch.tensor([[[0.0, 0.0, 1.0]]])  # shift +1
    backward = torch.tensor([[[1.0, 0.0, 0.0]]])  # shift -1
    assert A.circular_shift(w, forward)[0, 0].argmax() == 0  # wraps around
    assert A.circular_shift(w, backward)[0, 0].argmax() == 3
    stay = torch.tensor([[[0.0, 1.0, 0.0]]])
    torch.testing.assert_close(A.circular_shift(w, stay), w)


def test_sharpen_increases_peak() -> None:
    w = torch.tensor([[[0.1, 0.2, 0.7]]])
    out = A.sharpen(w, torch.tensor([[3.0]]))
    assert out[0, 0, 2] > 0.7


def test_ntm_address_sums_to_one() -> None:
    torch.manual_seed(2)
    mem = torch.randn(4, 10, 6)
    w = A.ntm_address(mem, _rand_weights(4, 3, 10, dtype=torch.float32), torch.randn(4, 3, 6),
                      torch.rand(4, 3) * 5, torch.rand(4, 3),
                      _rand_weights(4, 3, 3, dtype=torch.float32), 1 + torch.rand(4, 3))
    torch.testing.assert_close(w.sum(-1), torch.ones(4, 3))


def test_write_memory_erase_then_add() -> None:
    mem = torch.ones(1, 3, 2)
    w = torch.tensor([[[0.0, 1.0, 0.0]]])
    out = A.write_memory(mem, w, torch.ones(1, 1, 2), torch.tensor([[[5.0, 6.0]]]))
    torch.testing.assert_close(out, torch.tensor([[[1.0, 1.0], [5.0, 6.0], [1.0, 1.0]]]))


def test_allocation_picks_least_used_slot() -> None:
    usage = torch.tensor([[0.9, 0.2, 0.05, 0.7], [0.0, 1.0, 1.0, 1.0]])
    a = A.allocation_weighting(usage)
    assert a.argmax(-1).tolist() == [2, 0]
    assert (a >= 0).all() and (a.sum(-1) <= 1 + 1e-6).all()
    # a fully used memory allocates (almost) nothing
    assert A.allocation_weighting(torch.ones(1, 4)).sum() < 1e-3


def test_usage_stays_in_unit_interval() -> None:
    torch.manual_seed(3)
    usage = torch.zeros(2, 6)
    for _ in range(50):
        w = _rand_weights(2, 6, dtype=torch.float32) * torch.rand(2, 1)
        psi = A.retention_vector(torch.rand(2, 3), _rand_weights(2, 3, 6, dtype=torch.float32))
        usage = A.update_usage(usage, w, psi)
        assert ((usage >= 0) & (usage <= 1)).all()


def test_link_matrix_diagonal_zero_and_rows_bounded() -> None:
    torch.manual_seed(4)
    n = 6
    link, prec = torch.zeros(2, n, n), torch.zeros(2, n)
    for _ in range(30):
        w = _rand_weights(2, n, dtype=torch.float32) * torch.rand(2, 1)
        link = A.update_link(link, prec, w)
        prec = A.update_precedence(prec, w)
        assert torch.diagonal(link, dim1=-2, dim2=-1).abs().max() == 0
        assert (link >= 0).all() and (link.sum(-1) <= 1 + 1e-5).all()
        assert (prec.sum(-1) <= 1 + 1e-5).all()


def test_link_records_write_order() -> None:
    n = 4
    link, prec = torch.zeros(1, n, n), torch.zeros(1, n)
    for slot in [2, 0, 3]:
        w = torch.zeros(1, n)
        w[0, slot] = 1.0
        link = A.update_link(link, prec, w)
        prec = A.update_precedence(prec, w)
    read = torch.zeros(1, 1, n)
    read[0, 0, 0] = 1.0  # focused on the 2nd write
    fwd, bwd = A.directional_weightings(link, read)
    assert fwd[0, 0].argmax() == 3 and bwd[0, 0].argmax() == 2


# ------------------------------------------------------------- gradient checks (float64)

D = torch.float64


def _p(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=D, requires_grad=True)


def test_gradcheck_content_weighting() -> None:
    torch.manual_seed(5)
    assert gradcheck(lambda m, k, b: A.content_weighting(m, k, b.abs() + 0.5),
                     (_p(2, 5, 3), _p(2, 2, 3), _p(2, 2)))


def test_gradcheck_ntm_address() -> None:
    torch.manual_seed(6)

    def fn(m: torch.Tensor, wp: torch.Tensor, k: torch.Tensor, b: torch.Tensor,
           g: torch.Tensor, s: torch.Tensor, gm: torch.Tensor) -> torch.Tensor:
        return A.ntm_address(m, torch.softmax(wp, -1), k, b.abs() + 0.5, torch.sigmoid(g),
                             torch.softmax(s, -1), A.oneplus(gm))

    args = (_p(2, 6, 3), _p(2, 1, 6), _p(2, 1, 3), _p(2, 1), _p(2, 1), _p(2, 1, 3), _p(2, 1))
    assert gradcheck(fn, args)


def test_gradcheck_circular_shift_and_sharpen() -> None:
    torch.manual_seed(7)
    assert gradcheck(lambda w, s: A.circular_shift(torch.softmax(w, -1), torch.softmax(s, -1)),
                     (_p(2, 2, 5), _p(2, 2, 3)))
    assert gradcheck(lambda w, g: A.sharpen(torch.softmax(w, -1), A.oneplus(g)),
                     (_p(2, 2, 5), _p(2, 2)))


def test_gradcheck_write_memory() -> None:
    torch.manual_seed(8)
    assert gradcheck(lambda m, w, e, a: A.write_memory(m, torch.softmax(w, -1),
                                                       torch.sigmoid(e), a),
                     (_p(2, 4, 3), _p(2, 2, 4), _p(2, 2, 3), _p(2, 2, 3)))


def test_gradcheck_allocation_usage_and_links() -> None:
    torch.manual_seed(9)
    # distinct usages (no ties), so the sort is locally constant
    usage = torch.tensor([[0.1, 0.5, 0.3, 0.8, 0.65]], dtype=D, requires_grad=True)
    assert gradcheck(A.allocation_weighting, (usage,))
    assert gradcheck(
        lambda u, w, f, r: A.update_usage(torch.sigmoid(u), torch.softmax(w, -1) * 0.5,
                                          A.retention_vector(torch.sigmoid(f),
                                                             torch.softmax(r, -1))),
        (_p(2, 5), _p(2, 5), _p(2, 2), _p(2, 2, 5)))

    def link_fn(lk: torch.Tensor, p: torch.Tensor, w: torch.Tensor,
                r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = lk.shape[-1]
        link = torch.sigmoid(lk) / n * (1 - torch.eye(n, dtype=D))
        ww = torch.softmax(w, -1) * 0.9
        new = A.update_link(link, torch.softmax(p, -1) * 0.9, ww)
        return A.directional_weightings(new, torch.softmax(r, -1))

    assert gradcheck(link_fn, (_p(2, 4, 4), _p(2, 4), _p(2, 4), _p(2, 2, 4)))
