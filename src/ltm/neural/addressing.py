"""Differentiable memory addressing shared by the NTM and the DNC.

Every function is pure (no module state), works on batched tensors and is
numerically guarded (``EPS`` in denominators and logs), so that
``torch.autograd.gradcheck`` passes in float64 and long runs do not produce NaNs.

Shapes: ``B`` batch, ``H`` heads, ``N`` memory slots, ``W`` word width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-6

__all__ = [
    "EPS",
    "allocation_weighting",
    "circular_shift",
    "content_weighting",
    "cosine_similarity",
    "directional_weightings",
    "interpolate",
    "ntm_address",
    "read_memory",
    "retention_vector",
    "sharpen",
    "update_link",
    "update_precedence",
    "update_usage",
    "write_memory",
]


# ---------------------------------------------------------------- content


def cosine_similarity(memory: torch.Tensor, keys: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Cosine similarity of each key with each memory row.

    memory ``[B, N, W]``, keys ``[B, H, W]`` -> ``[B, H, N]``.
    """
    dot = torch.einsum("bhw,bnw->bhn", keys, memory)
    k_norm = torch.sqrt((keys * keys).sum(-1) + eps)  # [B, H]
    m_norm = torch.sqrt((memory * memory).sum(-1) + eps)  # [B, N]
    return dot / (k_norm.unsqueeze(-1) * m_norm.unsqueeze(1) + eps)


def content_weighting(
    memory: torch.Tensor, keys: torch.Tensor, strengths: torch.Tensor
) -> torch.Tensor:
    """Content addressing: ``softmax(beta * cos(k, M_i))`` over slots.

    strengths ``[B, H]`` (beta >= 0) -> weights ``[B, H, N]`` that sum to 1.
    """
    sim = cosine_similarity(memory, keys)
    return torch.softmax(sim * strengths.unsqueeze(-1), dim=-1)


# ---------------------------------------------------------------- location (NTM)


def interpolate(w_content: torch.Tensor, w_prev: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """``g * w_c + (1 - g) * w_prev`` with gate ``[B, H]`` in [0, 1]."""
    g = gate.unsqueeze(-1)
    return g * w_content + (1.0 - g) * w_prev


def circular_shift(w: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Circular convolution of weights ``[B, H, N]`` with a shift distribution ``[B, H, S]``.

    ``S = 2R + 1`` covers the shifts ``-R..R``; ``shift[..., R]`` is "no move".
    ``out[i] = sum_s w[i - s] * shift[s]``, so mass moves forward for positive shifts.
    """
    s_len = shift.shape[-1]
    radius = (s_len - 1) // 2
    rolled = torch.stack(
        [torch.roll(w, shifts=offset, dims=-1) for offset in range(-radius, radius + 1)],
        dim=-1,
    )  # [B, H, N, S]
    return (rolled * shift.unsqueeze(-2)).sum(-1)


def sharpen(w: torch.Tensor, gamma: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """``w^gamma / sum(w^gamma)`` with gamma ``[B, H]`` >= 1, computed in log space."""
    logw = torch.log(w + eps) * gamma.unsqueeze(-1)
    return torch.softmax(logw, dim=-1)


def ntm_address(
    memory: torch.Tensor,
    w_prev: torch.Tensor,
    key: torch.Tensor,
    beta: torch.Tensor,
    gate: torch.Tensor,
    shift: torch.Tensor,
    gamma: torch.Tensor,
) -> torch.Tensor:
    """The full NTM addressing pipeline (Graves et al. 2014, section 3.3)."""
    w_c = content_weighting(memory, key, beta)
    w_g = interpolate(w_c, w_prev, gate)
    w_s = circular_shift(w_g, shift)
    return sharpen(w_s, gamma)


# ---------------------------------------------------------------- read / write


def read_memory(memory: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Read vectors ``[B, H, W]`` = weights ``[B, H, N]`` @ memory ``[B, N, W]``."""
    return torch.bmm(weights, memory)


def write_memory(
    memory: torch.Tensor, weights: torch.Tensor, erase: torch.Tensor, add: torch.Tensor
) -> torch.Tensor:
    """Erase-then-add write for ``H`` write heads applied together.

    weights ``[B, H, N]``, erase ``[B, H, W]`` in [0, 1], add ``[B, H, W]``.
    ``M <- M * prod_h (1 - w_h e_h^T) + sum_h w_h a_h^T``.
    """
    keep = torch.prod(1.0 - weights.unsqueeze(-1) * erase.unsqueeze(2), dim=1)  # [B, N, W]
    added = torch.einsum("bhn,bhw->bnw", weights, add)
    return memory * keep + added


# ---------------------------------------------------------------- dynamic allocation (DNC)


def retention_vector(free_gates: torch.Tensor, read_weights: torch.Tensor) -> torch.Tensor:
    """psi = prod_i (1 - f_i w_r,i): how much each slot is retained. -> ``[B, N]``."""
    return torch.prod(1.0 - free_gates.unsqueeze(-1) * read_weights, dim=1)


def update_usage(
    usage: torch.Tensor, write_weights: torch.Tensor, retention: torch.Tensor
) -> torch.Tensor:
    """u_t = (u + w - u * w) * psi, clamped to [0, 1]. ``write_weights`` is ``[B, N]``."""
    u = (usage + write_weights - usage * write_weights) * retention
    return u.clamp(0.0, 1.0)


def allocation_weighting(usage: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Allocation weighting a_t from usage ``[B, N]`` (DNC, Methods "Dynamic memory allocation").

    Slots are sorted by usage (free list phi); ``a[phi_j] = (1 - u[phi_j]) prod_{i<j} u[phi_i]``.
    Usage is mapped to ``eps + (1 - eps) u`` first so that ties and exact zeros keep the
    cumulative product well conditioned.
    """
    u = eps + (1.0 - eps) * usage
    sorted_u, phi = torch.sort(u, dim=-1)  # ascending: least used first
    ones = torch.ones_like(sorted_u[..., :1])
    prod_before = torch.cumprod(torch.cat([ones, sorted_u[..., :-1]], dim=-1), dim=-1)
    sorted_alloc = (1.0 - sorted_u) * prod_before
    alloc = torch.zeros_like(sorted_alloc)
    return alloc.scatter(-1, phi, sorted_alloc)


def update_precedence(precedence: torch.Tensor, write_weights: torch.Tensor) -> torch.Tensor:
    """p_t = (1 - sum_i w_i) p_{t-1} + w_t, all ``[B, N]``."""
    return (1.0 - write_weights.sum(-1, keepdim=True)) * precedence + write_weights


def update_link(
    link: torch.Tensor, precedence: torch.Tensor, write_weights: torch.Tensor
) -> torch.Tensor:
    """Temporal link matrix update with a zero diagonal.

    ``L[i, j] <- (1 - w[i] - w[j]) L[i, j] + w[i] p_prev[j]``; ``precedence`` is p_{t-1}.
    """
    w_i = write_weights.unsqueeze(-1)  # [B, N, 1]
    w_j = write_weights.unsqueeze(-2)  # [B, 1, N]
    new = (1.0 - w_i - w_j) * link + w_i * precedence.unsqueeze(-2)
    n = link.shape[-1]
    eye = torch.eye(n, dtype=link.dtype, device=link.device)
    return (new * (1.0 - eye)).clamp(0.0, 1.0)


def directional_weightings(
    link: torch.Tensor, read_weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward ``f = L w`` and backward ``b = L^T w`` weightings for ``[B, R, N]`` read weights."""
    forward = torch.einsum("bij,brj->bri", link, read_weights)
    backward = torch.einsum("bji,brj->bri", link, read_weights)
    return forward, backward


def oneplus(x: torch.Tensor) -> torch.Tensor:
    """1 + softplus(x): strengths and sharpening exponents >= 1."""
    return 1.0 + F.softplus(x)
