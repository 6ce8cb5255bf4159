"""End-to-end memory network (Sukhbaatar, Szlam, Weston & Fergus 2015).

Sentences are embedded as position-weighted bags of words (PE) plus a learned temporal
vector per memory slot (TE). ``hops`` layers each attend over the memories with the
current internal state ``u`` and add the output ``o`` to it. Weight tying:

* ``adjacent``: ``A^{k+1} = C^k``, ``B = A^1``, ``W^T = C^K`` (K + 1 embedding tables);
* ``layerwise``: one ``A`` and one ``C`` for all hops, ``u^{k+1} = H u^k + o^k``.

Linear start (LS) is ``forward(..., linear=True)``: attention without the softmax.
Random noise (RN) jitters the temporal indices during training (:func:`noisy_time`).

Empty memory slots (fewer facts than ``memory_size``) hold a zero vector: they score 0 and
add nothing, but, as in the authors' code, they stay in the attention softmax
(``mask_empty=False``). That gives every hop a fixed "none of these" option against which
a fact must score higher to be read; the yes/no tasks (6, 9, 10, 18) lean on it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from ltm.errors import InvalidInput

from .checks import check_real, check_sizes


@dataclass
class MemN2NConfig:
    vocab_size: int
    sentence_size: int
    memory_size: int = 50
    embed_dim: int = 20
    hops: int = 3
    position_encoding: bool = True
    temporal_encoding: bool = True
    tying: str = "adjacent"  # "adjacent" or "layerwise"
    time_size: int = 0  # temporal table size; 0 -> 2 * memory_size (room for RN)
    init_std: float = 0.1
    mask_empty: bool = False  # True: empty slots get no attention (not in the authors' code)

    def __post_init__(self) -> None:
        if self.tying not in ("adjacent", "layerwise"):
            raise InvalidInput("tying must be 'adjacent' or 'layerwise'", field="tying")
        check_sizes(self, ("vocab_size", "sentence_size", "memory_size", "embed_dim", "hops"))
        check_sizes(self, ("time_size",), minimum=0)
        check_real(self, "init_std", positive=False)
        if not self.time_size:
            self.time_size = 2 * self.memory_size


def position_weights(tokens: torch.Tensor, dim: int) -> torch.Tensor:
    """PE weights ``l_kj = 1 + 4 (k - (d+1)/2) (j - (J+1)/2) / (d J)``: ``[..., L]`` -> ``[..., L, d]``.

    ``J`` is each sentence's own length (non-nil words); ``j``/``k`` are 1-based. This is the
    form of the authors' released code (MemN2N-babi-matlab, ``build_model.m``). The paper
    prints ``(1 - j/J) - (k/d)(1 - 2j/J)``, which is the same bilinear form halved and
    centred on ``j = J/2`` instead of the middle word: the last word's weights span
    ``1/d .. 1`` while the first word's span only ~1/4 .. 3/4, and embeddings are scaled by ~1/2.
    On bAbI task 16 (seed 0, same schedule) the printed form ended at 54% test and 49%
    training error, this one at 1.2% and 0.7% (benchmarks/sections/neural.md).
    The weights average 1 over ``k`` and mirror around the middle word.
    """
    lengths = (tokens != 0).sum(-1, keepdim=True).clamp_min(1).to(torch.float32)  # [..., 1]
    j = torch.arange(1, tokens.shape[-1] + 1, dtype=torch.float32, device=tokens.device)
    k = torch.arange(1, dim + 1, dtype=torch.float32, device=tokens.device)
    jc = (j - (lengths + 1) / 2).unsqueeze(-1)  # [..., L, 1] word offset from the middle
    kc = k - (dim + 1) / 2  # [d]
    return 1 + 4 * jc * kc / (dim * lengths.unsqueeze(-1))  # [..., L, d]


def noisy_time(mem_mask: torch.Tensor, time_size: int, rate: float = 0.1,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Temporal indices with ~``rate`` empty memories inserted (RN), ``[B, M]`` long."""
    b, m = mem_mask.shape
    base = torch.arange(m).expand(b, m)
    gaps = (torch.rand(b, m, generator=generator) < rate).long()
    return (base + gaps.cumsum(-1)).clamp_max(time_size - 1)


class MemN2N(nn.Module):
    def __init__(self, config: MemN2NConfig) -> None:
        super().__init__()
        self.config = config
        cfg = config
        n_tables = cfg.hops + 1 if cfg.tying == "adjacent" else 3  # layerwise: B, A, C

        def emb() -> nn.Embedding:
            e = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=0)
            nn.init.normal_(e.weight, std=cfg.init_std)
            with torch.no_grad():
                e.weight[0].zero_()
            return e

        self.embeddings = nn.ModuleList(emb() for _ in range(n_tables))
        n_time = n_tables if cfg.temporal_encoding else 0
        self.time = nn.ParameterList(
            nn.Parameter(torch.randn(cfg.time_size, cfg.embed_dim) * cfg.init_std)
            for _ in range(n_time)
        )
        if cfg.tying == "layerwise":
            self.H = nn.Linear(cfg.embed_dim, cfg.embed_dim, bias=False)
            nn.init.normal_(self.H.weight, std=cfg.init_std)
            self.W = nn.Linear(cfg.embed_dim, cfg.vocab_size, bias=False)
            nn.init.normal_(self.W.weight, std=cfg.init_std)

    def _tables(self, hop: int) -> tuple[int, int]:
        """Indices of the (A, C) tables for ``hop`` (0-based)."""
        if self.config.tying == "adjacent":
            return hop, hop + 1
        return 1, 2

    def _embed(self, table: int, tokens: torch.Tensor) -> torch.Tensor:
        e = self.embeddings[table](tokens)  # [..., L, d]
        if self.config.position_encoding:
            e = e * position_weights(tokens, self.config.embed_dim)
        return e.sum(-2)

    def forward(
        self,
        stories: torch.Tensor,
        queries: torch.Tensor,
        mem_mask: torch.Tensor,
        time: torch.Tensor | None = None,
        linear: bool = False,
        return_attention: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """stories ``[B, M, L]``, queries ``[B, L]``, mem_mask ``[B, M]`` -> logits ``[B, V]``.

        Word ids must be integers in ``[0, vocab_size)``; with temporal encoding ``M`` (and
        every ``time`` index) must be below ``time_size``. A mismatch is InvalidInput.
        """
        cfg = self.config
        self._check(stories, queries, mem_mask, time)
        if time is None:
            time = torch.arange(stories.shape[1], device=stories.device).expand(stories.shape[0], -1)
        u = self._embed(0, queries)  # B = A^1 (adjacent) / table 0 (layerwise)
        attentions = []
        for hop in range(cfg.hops):
            a, c = self._tables(hop)
            m = self._embed(a, stories)
            out = self._embed(c, stories)
            if cfg.temporal_encoding:  # only stored facts carry a time vector
                m = m + self.time[a][time] * mem_mask.unsqueeze(-1)  # [B, M, d]
                out = out + self.time[c][time] * mem_mask.unsqueeze(-1)
            scores = torch.einsum("bmd,bd->bm", m, u)  # empty slots score exactly 0
            if linear:
                p = scores * mem_mask
            elif cfg.mask_empty:
                p = torch.softmax(scores.masked_fill(mem_mask == 0, -1e9), dim=-1)
            else:
                p = torch.softmax(scores, dim=-1)
            attentions.append(p)
            o = torch.einsum("bm,bmd->bd", p, out)
            u = (self.H(u) if cfg.tying == "layerwise" else u) + o
        if cfg.tying == "adjacent":
            table = self.embeddings[cfg.hops]
            assert isinstance(table, nn.Embedding)
            logits = u @ table.weight.t()  # W^T = C^K
        else:
            logits = self.W(u)
        if return_attention:
            return logits, attentions
        return logits

    def _check(self, stories: torch.Tensor, queries: torch.Tensor, mem_mask: torch.Tensor,
               time: torch.Tensor | None) -> None:
        cfg = self.config

        def bad(field: str, message: str) -> InvalidInput:
            return InvalidInput(f"{field}: {message}", field=field)

        for name, t, ndim in (("stories", stories, 3), ("queries", queries, 2), ("mem_mask", mem_mask, 2)):
            if not isinstance(t, torch.Tensor) or t.ndim != ndim:
                raise bad(name, f"must be a {ndim}-D tensor, got "
                          f"{list(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")
        b, m, length = stories.shape
        if tuple(queries.shape) != (b, length) or tuple(mem_mask.shape) != (b, m):
            raise bad("queries", f"stories {list(stories.shape)} need queries [{b}, {length}] and mem_mask "
                      f"[{b}, {m}], got {list(queries.shape)} and {list(mem_mask.shape)}")
        for name, t in (("stories", stories), ("queries", queries)):
            if t.dtype not in (torch.int64, torch.int32):
                raise bad(name, f"word ids must be integers, got {t.dtype}")
            if t.numel() and (int(t.min()) < 0 or int(t.max()) >= cfg.vocab_size):
                raise bad(name, f"word ids must be in [0, {cfg.vocab_size}), got "
                          f"{int(t.min()) if int(t.min()) < 0 else int(t.max())}")
        if time is not None:
            if not isinstance(time, torch.Tensor) or tuple(time.shape) != (b, m) or time.dtype not in (
                    torch.int64, torch.int32):
                raise bad("time", f"must be integer indices [{b}, {m}]")
            if time.numel() and (int(time.min()) < 0 or int(time.max()) >= cfg.time_size):
                raise bad("time", f"indices must be in [0, {cfg.time_size})")
        elif cfg.temporal_encoding and m > cfg.time_size:
            raise bad("stories", f"{m} memory slots, the temporal table holds {cfg.time_size} "
                      "(MemN2NConfig.time_size)")

    def config_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self.config)
