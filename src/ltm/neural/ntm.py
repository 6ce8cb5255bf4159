"""Neural Turing Machine (Graves, Wayne & Danihelka 2014).

An LSTM or feed-forward controller drives read and write heads over an ``N x W``
memory matrix. Each head addresses memory by content (cosine similarity sharpened by a
key strength), then by location: interpolation with its previous weighting, a circular
shift, and sharpening. Write heads erase then add.

Implementation choices follow Collier & Beel (2018), "Implementing Neural Turing
Machines", which found them to make training fast and reliable: memory initialised to a
small constant, learned initial read vectors, controller outputs clipped. The memory
size ``N`` is not part of the weights, so a trained model can run with a larger memory.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ltm.errors import InvalidInput

from .addressing import ntm_address, oneplus, read_memory, write_memory
from .checks import check_inputs, check_real, check_sizes, check_state, positive_int
from .state import MemoryState

MEMORY_INIT = 1e-6


@dataclass
class NTMConfig:
    input_size: int = 10
    output_size: int = 8
    controller: str = "lstm"  # "lstm" or "ff"
    controller_size: int = 100
    controller_layers: int = 1
    memory_n: int = 128
    memory_w: int = 20
    read_heads: int = 1
    write_heads: int = 1
    shift_range: int = 1  # shifts -R..R
    clip: float = 20.0  # controller-output clip
    # learned output scale: logits = exp(s) * out(...), s from 0. Under Adam s moves by about
    # lr per update, so the confidence of already-correct outputs grows geometrically
    output_scale: bool = False

    def __post_init__(self) -> None:
        if self.controller not in ("lstm", "ff"):
            raise InvalidInput(f"controller must be 'lstm' or 'ff', not {self.controller!r}",
                               field="controller")
        check_sizes(self, ("input_size", "output_size", "controller_size", "controller_layers",
                           "memory_n", "memory_w", "read_heads", "write_heads"))
        check_sizes(self, ("shift_range",), minimum=0)
        check_real(self, "clip", positive=True)


@dataclass
class NTMState(MemoryState):
    memory: torch.Tensor  # [B, N, W]
    read_weights: torch.Tensor  # [B, R, N]
    write_weights: torch.Tensor  # [B, Hw, N]
    reads: torch.Tensor  # [B, R, W]
    h: torch.Tensor  # [B, layers, C] (zeros of width 0 for a feed-forward controller)
    c: torch.Tensor  # [B, layers, C]


class NTM(nn.Module):
    def __init__(self, config: NTMConfig) -> None:
        super().__init__()
        self.config = config
        cfg = config
        w, s = cfg.memory_w, 2 * cfg.shift_range + 1
        self._read_len = w + 1 + 1 + s + 1  # key, beta, gate, shift, gamma
        self._write_len = self._read_len + 2 * w  # + erase, add
        ctrl_in = cfg.input_size + cfg.read_heads * w
        if cfg.controller == "lstm":
            self.cells = nn.ModuleList(
                nn.LSTMCell(ctrl_in if i == 0 else cfg.controller_size, cfg.controller_size)
                for i in range(cfg.controller_layers)
            )
            self.ff: nn.Module | None = None
        else:
            layers: list[nn.Module] = []
            for i in range(cfg.controller_layers):
                layers += [nn.Linear(ctrl_in if i == 0 else cfg.controller_size,
                                     cfg.controller_size), nn.Tanh()]
            self.ff = nn.Sequential(*layers)
            self.cells = nn.ModuleList()
        n_params = cfg.read_heads * self._read_len + cfg.write_heads * self._write_len
        self.heads = nn.Linear(cfg.controller_size, n_params)
        self.out = nn.Linear(cfg.controller_size + cfg.read_heads * w, cfg.output_size)
        self.read_init = nn.Parameter(torch.randn(cfg.read_heads, w) * 0.01)
        self.log_scale = nn.Parameter(torch.zeros(())) if cfg.output_scale else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for cell in self.cells:
            assert isinstance(cell, nn.LSTMCell)
            nn.init.xavier_uniform_(cell.weight_ih)
            nn.init.orthogonal_(cell.weight_hh)
            nn.init.zeros_(cell.bias_ih)
            nn.init.zeros_(cell.bias_hh)
            hs = cell.hidden_size
            with torch.no_grad():
                cell.bias_ih[hs : 2 * hs].fill_(1.0)  # forget gate
        nn.init.xavier_uniform_(self.heads.weight)
        nn.init.zeros_(self.heads.bias)
        nn.init.xavier_uniform_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    # ------------------------------------------------------------ state

    def init_state(
        self, batch_size: int, memory_n: int | None = None, device: torch.device | None = None
    ) -> NTMState:
        """A fresh state; ``memory_n`` may exceed the training memory size."""
        cfg = self.config
        batch_size = positive_int(batch_size, "batch_size")
        n = cfg.memory_n if memory_n is None else positive_int(memory_n, "memory_n")
        dev = device or self.out.weight.device
        dtype = self.out.weight.dtype
        memory = torch.full((batch_size, n, cfg.memory_w), MEMORY_INIT, device=dev, dtype=dtype)

        def focus(heads: int) -> torch.Tensor:
            w = torch.zeros(batch_size, heads, n, device=dev, dtype=dtype)
            w[..., 0] = 1.0
            return w

        reads = torch.tanh(self.read_init).unsqueeze(0).expand(batch_size, -1, -1)
        hidden = cfg.controller_size if cfg.controller == "lstm" else 0
        layers = cfg.controller_layers
        zeros = torch.zeros(batch_size, layers, hidden, device=dev, dtype=dtype)
        return NTMState(memory, focus(cfg.read_heads), focus(cfg.write_heads), reads,
                        zeros, zeros.clone())

    # ------------------------------------------------------------ step

    def _split(self, params: torch.Tensor, heads: int, write: bool) -> dict[str, torch.Tensor]:
        cfg = self.config
        w, s = cfg.memory_w, 2 * cfg.shift_range + 1
        length = self._write_len if write else self._read_len
        p = params.view(params.shape[0], heads, length)
        sizes = [w, 1, 1, s, 1] + ([w, w] if write else [])
        parts = torch.split(p, sizes, dim=-1)
        out = {
            "key": parts[0],
            "beta": F.softplus(parts[1]).squeeze(-1),
            "gate": torch.sigmoid(parts[2]).squeeze(-1),
            "shift": torch.softmax(parts[3], dim=-1),
            "gamma": oneplus(parts[4]).squeeze(-1),
        }
        if write:
            out["erase"] = torch.sigmoid(parts[5])
            out["add"] = torch.tanh(parts[6])
        return out

    def step(self, x: torch.Tensor, state: NTMState) -> tuple[torch.Tensor, NTMState]:
        """One time step: ``x [B, input_size]`` -> logits ``[B, output_size]``, new state."""
        cfg = self.config
        b = x.shape[0]
        inp = torch.cat([x, state.reads.reshape(b, -1)], dim=-1)
        if cfg.controller == "lstm":
            hs, cs = [], []
            h_in = inp
            for i, cell in enumerate(self.cells):
                h, c = cell(h_in, (state.h[:, i], state.c[:, i]))
                hs.append(h)
                cs.append(c)
                h_in = h
            ctrl = h_in
            new_h, new_c = torch.stack(hs, 1), torch.stack(cs, 1)
        else:
            assert self.ff is not None
            ctrl = self.ff(inp)
            new_h, new_c = state.h, state.c
        params = self.heads(ctrl).clamp(-cfg.clip, cfg.clip)
        n_read = cfg.read_heads * self._read_len
        rp = self._split(params[:, :n_read], cfg.read_heads, write=False)
        wp = self._split(params[:, n_read:], cfg.write_heads, write=True)

        memory = state.memory
        read_w = ntm_address(memory, state.read_weights, rp["key"], rp["beta"], rp["gate"],
                             rp["shift"], rp["gamma"])
        reads = read_memory(memory, read_w)
        write_w = ntm_address(memory, state.write_weights, wp["key"], wp["beta"], wp["gate"],
                              wp["shift"], wp["gamma"])
        memory = write_memory(memory, write_w, wp["erase"], wp["add"])

        logits = self.out(torch.cat([ctrl, reads.reshape(b, -1)], dim=-1))
        if self.log_scale is not None:
            logits = logits * self.log_scale.exp()
        return logits, NTMState(memory, read_w, write_w, reads, new_h, new_c)

    def forward(
        self, inputs: torch.Tensor, state: NTMState | None = None
    ) -> tuple[torch.Tensor, NTMState]:
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
            n = state.memory.shape[1] if isinstance(state, NTMState) and state.memory.ndim == 3 else -1
            hidden = cfg.controller_size if cfg.controller == "lstm" else 0
            check_state(state, NTMState, {
                "memory": (b, n, cfg.memory_w), "read_weights": (b, cfg.read_heads, n),
                "write_weights": (b, cfg.write_heads, n), "reads": (b, cfg.read_heads, cfg.memory_w),
                "h": (b, cfg.controller_layers, hidden), "c": (b, cfg.controller_layers, hidden),
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
