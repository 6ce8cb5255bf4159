"""Differentiable Neural Computer (Graves et al. 2016, Nature 538).

An LSTM controller emits an interface vector each step that drives one write head and
``R`` read heads over an ``N x W`` memory:

* write: content lookup interpolated with usage-based *allocation* (free list sorted by
  usage; free gates release slots that were read);
* temporal link matrix ``L`` (records the order of writes) and precedence ``p``;
* reads: a mix of backward ``L^T w``, content, and forward ``L w`` weightings.

Numerical safety for long runs: the interface is clipped, usage and links are clamped to
[0, 1], every division/log has an epsilon (see :mod:`.addressing`), and the trainer clips
gradients. The memory size ``N`` is not part of the weights: ``init_state(memory_n=...)``
runs a trained model with a larger memory.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from .addressing import (
    allocation_weighting,
    content_weighting,
    directional_weightings,
    oneplus,
    read_memory,
    retention_vector,
    update_link,
    update_precedence,
    update_usage,
)
from .checks import check_inputs, check_real, check_sizes, check_state, positive_int
from .state import MemoryState


@dataclass
class DNCConfig:
    input_size: int = 10
    output_size: int = 8
    controller_size: int = 64
    memory_n: int = 16
    memory_w: int = 16
    read_heads: int = 2
    clip: float = 20.0

    def __post_init__(self) -> None:
        check_sizes(self, ("input_size", "output_size", "controller_size", "memory_n", "memory_w",
                           "read_heads"))
        check_real(self, "clip", positive=True)


@dataclass
class DNCState(MemoryState):
    memory: torch.Tensor  # [B, N, W]
    usage: torch.Tensor  # [B, N]
    link: torch.Tensor  # [B, N, N]
    precedence: torch.Tensor  # [B, N]
    read_weights: torch.Tensor  # [B, R, N]
    write_weights: torch.Tensor  # [B, N]
    reads: torch.Tensor  # [B, R, W]
    h: torch.Tensor  # [B, C]
    c: torch.Tensor  # [B, C]


@dataclass
class Interface:
    read_keys: torch.Tensor  # [B, R, W]
    read_strengths: torch.Tensor  # [B, R]
    write_key: torch.Tensor  # [B, 1, W]
    write_strength: torch.Tensor  # [B, 1]
    erase: torch.Tensor  # [B, W]
    write_vector: torch.Tensor  # [B, W]
    free_gates: torch.Tensor  # [B, R]
    allocation_gate: torch.Tensor  # [B, 1]
    write_gate: torch.Tensor  # [B, 1]
    read_modes: torch.Tensor  # [B, R, 3]: backward, content, forward


class DNC(nn.Module):
    def __init__(self, config: DNCConfig) -> None:
        super().__init__()
        self.config = config
        r, w = config.read_heads, config.memory_w
        self._sizes = [r * w, r, w, 1, w, w, r, 1, 1, 3 * r]
        self.controller = nn.LSTMCell(config.input_size + r * w, config.controller_size)
        self.interface = nn.Linear(config.controller_size, sum(self._sizes))
        self.out = nn.Linear(config.controller_size + r * w, config.output_size)
        hs = config.controller_size
        with torch.no_grad():
            self.controller.bias_ih[hs : 2 * hs].fill_(1.0)

    def init_state(
        self, batch_size: int, memory_n: int | None = None, device: torch.device | None = None
    ) -> DNCState:
        cfg = self.config
        batch_size = positive_int(batch_size, "batch_size")
        n = cfg.memory_n if memory_n is None else positive_int(memory_n, "memory_n")
        dev = device or self.out.weight.device
        dt = self.out.weight.dtype
        b, r, w = batch_size, cfg.read_heads, cfg.memory_w

        def z(*shape: int) -> torch.Tensor:
            return torch.zeros(*shape, device=dev, dtype=dt)

        return DNCState(
            memory=z(b, n, w), usage=z(b, n), link=z(b, n, n), precedence=z(b, n),
            read_weights=z(b, r, n), write_weights=z(b, n), reads=z(b, r, w),
            h=z(b, cfg.controller_size), c=z(b, cfg.controller_size),
        )

    def parse_interface(self, xi: torch.Tensor) -> Interface:
        cfg = self.config
        b, r, w = xi.shape[0], cfg.read_heads, cfg.memory_w
        p = torch.split(xi.clamp(-cfg.clip, cfg.clip), self._sizes, dim=-1)
        return Interface(
            read_keys=p[0].view(b, r, w),
            read_strengths=oneplus(p[1]),
            write_key=p[2].view(b, 1, w),
            write_strength=oneplus(p[3]),
            erase=torch.sigmoid(p[4]),
            write_vector=p[5],
            free_gates=torch.sigmoid(p[6]),
            allocation_gate=torch.sigmoid(p[7]),
            write_gate=torch.sigmoid(p[8]),
            read_modes=torch.softmax(p[9].view(b, r, 3), dim=-1),
        )

    def memory_step(self, iface: Interface, s: DNCState) -> DNCState:
        """Update memory, usage, links and read from the new memory (no controller)."""
        # usage from the previous step's weightings, with slots freed by the free gates
        psi = retention_vector(iface.free_gates, s.read_weights)
        usage = update_usage(s.usage, s.write_weights, psi)
        alloc = allocation_weighting(usage)
        content_w = content_weighting(s.memory, iface.write_key, iface.write_strength)[:, 0]
        ga, gw = iface.allocation_gate, iface.write_gate
        write_w = gw * (ga * alloc + (1.0 - ga) * content_w)  # [B, N]
        memory = (s.memory * (1.0 - write_w.unsqueeze(-1) * iface.erase.unsqueeze(1))
                  + write_w.unsqueeze(-1) * iface.write_vector.unsqueeze(1))
        link = update_link(s.link, s.precedence, write_w)
        precedence = update_precedence(s.precedence, write_w)
        fwd, bwd = directional_weightings(link, s.read_weights)
        content_r = content_weighting(memory, iface.read_keys, iface.read_strengths)
        m = iface.read_modes
        read_w = m[..., 0:1] * bwd + m[..., 1:2] * content_r + m[..., 2:3] * fwd
        reads = read_memory(memory, read_w)
        return DNCState(memory, usage, link, precedence, read_w, write_w, reads, s.h, s.c)

    def step(self, x: torch.Tensor, state: DNCState) -> tuple[torch.Tensor, DNCState]:
        b = x.shape[0]
        h, c = self.controller(torch.cat([x, state.reads.reshape(b, -1)], -1),
                               (state.h, state.c))
        iface = self.parse_interface(self.interface(h))
        new = self.memory_step(iface, state)
        new.h, new.c = h, c
        logits = self.out(torch.cat([h, new.reads.reshape(b, -1)], -1))
        return logits, new

    def forward(
        self, inputs: torch.Tensor, state: DNCState | None = None
    ) -> tuple[torch.Tensor, DNCState]:
        """Run a sequence ``[T, B, input_size]`` -> logits ``[T, B, output_size]``.

        Inputs and a given state are checked against the model (shapes, dtype, device);
        a mismatch raises :class:`~ltm.errors.InvalidInput`. ``T = 0`` returns no logits
        and the state unchanged.
        """
        cfg = self.config
        like = self.out.weight
        check_inputs(inputs, cfg.input_size, like)
        b = inputs.shape[1]
        if state is None:
            state = self.init_state(b, device=inputs.device)
        else:
            n = state.memory.shape[1] if isinstance(state, DNCState) and state.memory.ndim == 3 else -1
            r, w, c = cfg.read_heads, cfg.memory_w, cfg.controller_size
            check_state(state, DNCState, {
                "memory": (b, n, w), "usage": (b, n), "link": (b, n, n), "precedence": (b, n),
                "read_weights": (b, r, n), "write_weights": (b, n), "reads": (b, r, w),
                "h": (b, c), "c": (b, c),
            }, like)
        if inputs.shape[0] == 0:
            return inputs.new_zeros(0, b, cfg.output_size), state
        outs = []
        for t in range(inputs.shape[0]):
            y, state = self.step(inputs[t], state)
            outs.append(y)
        return torch.stack(outs), state

    def config_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self.config)


__all__ = ["DNC", "DNCConfig", "DNCState", "Interface"]
