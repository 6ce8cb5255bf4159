"""Continual-learning strategies behind one small interface.

A strategy sees the training loop through five hooks::

    training_data(t)                 -> the (x, y, task ids) to train task t on
    extra_loss(x, y, tid, logits)    -> a term added to the cross-entropy (penalty, replay)
    after_step()                     -> after each optimizer step (SI's path integral)
    observe(x, y, tid, logits)       -> each new batch, first epoch only (fills buffers)
    after_task(t)                    -> end of task t (Fisher, anchors)

Methods: naive fine-tuning, EWC and online EWC (Kirkpatrick et al., 2017;
Schwarz et al., 2018), SI (Zenke et al., 2017), experience replay with a
reservoir buffer from :mod:`ltm.replay`, DER++ (Buzzega et al., 2020), and
joint training on everything seen so far (the upper bound).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ltm.continual.data import Benchmark
from ltm.errors import InvalidInput

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass
class StrategyConfig:
    """Hyperparameters of every strategy (each reads its own)."""

    ewc_lambda: float = 100.0  # EWC penalty strength (online EWC's too unless set below)
    online_ewc_lambda: float | None = None  # online EWC penalty strength; None = ewc_lambda
    online_gamma: float = 1.0  # online EWC: decay of the running Fisher
    fisher_samples: int = 512  # examples per task for the Fisher diagonal
    si_c: float = 1.0  # SI penalty strength
    si_xi: float = 0.1  # SI damping
    buffer_size: int = 100  # ER / DER++ reservoir capacity
    replay_batch: int = 32  # items drawn from the buffer per step
    derpp_alpha: float = 0.3  # DER++: weight of the logit-matching term
    derpp_beta: float = 0.5  # DER++: weight of the buffer-label term

    def __post_init__(self) -> None:
        for name in ("fisher_samples", "buffer_size", "replay_batch"):
            check_count(getattr(self, name), name)
        for name in ("ewc_lambda", "online_ewc_lambda", "online_gamma", "si_c", "si_xi", "derpp_alpha",
                     "derpp_beta"):
            value = getattr(self, name)
            if value is not None or name != "online_ewc_lambda":
                check_nonnegative(value, name)


def check_count(value: object, name: str, minimum: int = 1) -> None:
    """InvalidInput unless ``value`` is an int >= ``minimum`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(f"{name} must be an integer >= {minimum}, got {value!r}", field=name)


def check_nonnegative(value: object, name: str, *, positive: bool = False) -> None:
    """InvalidInput unless ``value`` is a finite number >= 0 (> 0 with ``positive``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):  # type: ignore[operator]
        raise InvalidInput(f"{name} must be a finite number {'>' if positive else '>='} 0, got {value!r}",
                           field=name)


LossFn = Callable[["torch.Tensor", "torch.Tensor", "torch.Tensor"], "torch.Tensor"]


class Strategy:
    """Naive fine-tuning; the base of every other strategy."""

    name: ClassVar[str] = "finetune"

    def __init__(self, model: nn.Module, bench: Benchmark, cfg: StrategyConfig, ce: LossFn, seed: int) -> None:
        self.model = model
        self.bench = bench
        self.cfg = cfg
        self.ce = ce  # masked cross-entropy: ce(logits, y, task ids)
        self.seed = seed

    def training_data(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        task = self.bench.tasks[t]
        return task.x_train, task.y_train, np.full(task.y_train.shape[0], t, dtype=np.int64)

    def extra_loss(self, x: torch.Tensor, y: torch.Tensor, tid: torch.Tensor, logits: torch.Tensor) -> torch.Tensor | None:
        return None

    def after_step(self) -> None:
        pass

    def observe(self, x: torch.Tensor, y: torch.Tensor, tid: torch.Tensor, logits: torch.Tensor) -> None:
        pass

    def after_task(self, t: int) -> None:
        pass

    # helpers
    def _params(self) -> dict[str, torch.Tensor]:
        return {n: p for n, p in self.model.named_parameters() if p.requires_grad}

    def _snapshot(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in self._params().items()}


class Joint(Strategy):
    """Upper bound: task ``t`` trains on the union of tasks 0..t."""

    name = "joint"

    def training_data(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = [Strategy.training_data(self, k) for k in range(t + 1)]
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


class EWC(Strategy):
    """Elastic weight consolidation: one quadratic anchor per past task, weighted by
    the diagonal of the (empirical) Fisher information at that task's solution."""

    name = "ewc"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.anchors: list[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]] = []

    def fisher(self, t: int) -> dict[str, torch.Tensor]:
        """Mean squared per-example gradient of the log-likelihood (diagonal Fisher)."""
        import torch
        from torch.func import functional_call, grad, vmap

        x, y, tid = Strategy.training_data(self, t)
        rng = np.random.default_rng(self.seed + 1000 * t)
        if x.shape[0] > self.cfg.fisher_samples:
            pick = rng.choice(x.shape[0], self.cfg.fisher_samples, replace=False)
            x, y, tid = x[pick], y[pick], tid[pick]
        params = {k: v.detach() for k, v in self._params().items()}
        buffers = {k: v.detach() for k, v in self.model.named_buffers()}

        def loss_one(p: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor, ti: torch.Tensor) -> torch.Tensor:
            logits = functional_call(self.model, (p, buffers), (xi.unsqueeze(0),))  # [1, out]
            return self.ce(logits, yi.unsqueeze(0), ti.unsqueeze(0))

        per_example = vmap(grad(loss_one), in_dims=(None, 0, 0, 0))
        total = {k: torch.zeros_like(v) for k, v in params.items()}
        xt, yt, tt = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(tid)
        for s in range(0, xt.shape[0], 128):
            g = per_example(params, xt[s : s + 128], yt[s : s + 128], tt[s : s + 128])
            for k in total:
                total[k] += (g[k] ** 2).sum(0)
        return {k: v / xt.shape[0] for k, v in total.items()}

    def after_task(self, t: int) -> None:
        self.anchors.append((self.fisher(t), self._snapshot()))

    @property
    def strength(self) -> float:
        return self.cfg.ewc_lambda

    def extra_loss(self, x: torch.Tensor, y: torch.Tensor, tid: torch.Tensor, logits: torch.Tensor) -> torch.Tensor | None:
        if not self.anchors:
            return None
        params = self._params()
        pen = sum(
            (f[n] * (params[n] - star[n]) ** 2).sum() for f, star in self.anchors for n in params
        )
        return 0.5 * self.strength * pen  # type: ignore[return-value]


class OnlineEWC(EWC):
    """Online EWC: one running Fisher ``F <- gamma F + F_t`` and one anchor (the latest)."""

    name = "online-ewc"

    @property
    def strength(self) -> float:
        lam = self.cfg.online_ewc_lambda
        return self.cfg.ewc_lambda if lam is None else lam

    def after_task(self, t: int) -> None:
        f_t = self.fisher(t)
        if self.anchors:
            prev, _ = self.anchors[0]
            f_t = {k: self.cfg.online_gamma * prev[k] + v for k, v in f_t.items()}
        self.anchors = [(f_t, self._snapshot())]


class SI(Strategy):
    """Synaptic intelligence: each weight's contribution to the loss decrease along
    the training path, ``omega += -g * dtheta``, turned into an importance
    ``Omega += omega / (Delta**2 + xi)`` at the end of each task."""

    name = "si"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        import torch

        self.importance = {k: torch.zeros_like(v) for k, v in self._params().items()}
        self.star = self._snapshot()
        self.start = self._snapshot()
        self.omega = {k: torch.zeros_like(v) for k, v in self._params().items()}
        self.prev = self._snapshot()
        self.has_anchor = False

    def extra_loss(self, x: torch.Tensor, y: torch.Tensor, tid: torch.Tensor, logits: torch.Tensor) -> torch.Tensor | None:
        if not self.has_anchor:
            return None
        params = self._params()
        pen = sum((self.importance[n] * (params[n] - self.star[n]) ** 2).sum() for n in params)
        return self.cfg.si_c * pen  # type: ignore[return-value]

    def after_step(self) -> None:
        # grads are still those of the step just taken (taken at self.prev)
        for n, p in self._params().items():
            if p.grad is not None:
                self.omega[n] -= p.grad.detach() * (p.detach() - self.prev[n])
            self.prev[n] = p.detach().clone()

    def after_task(self, t: int) -> None:
        for n, p in self._params().items():
            delta = p.detach() - self.start[n]
            self.importance[n] += self.omega[n].clamp(min=0) / (delta**2 + self.cfg.si_xi)
            self.omega[n].zero_()
        self.star = self._snapshot()
        self.start = self._snapshot()
        self.prev = self._snapshot()
        self.has_anchor = True


class ExperienceReplay(Strategy):
    """Rehearsal: a reservoir buffer (``ltm.replay.ReservoirBuffer``) of past examples;
    every step adds a buffer batch to the current one."""

    name = "er"
    keep_logits: ClassVar[bool] = False

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        from ltm.replay import ReservoirBuffer

        schema: dict[str, object] = {"x": ((self.bench.input_dim,), "float32"), "y": "int64", "task": "int64"}
        if self.keep_logits:
            schema["logits"] = ((self.bench.n_outputs,), "float32")
        self.buffer = ReservoirBuffer(self.cfg.buffer_size, schema, seed=self.seed)
        self.rng = np.random.default_rng(self.seed + 7)

    def observe(self, x: torch.Tensor, y: torch.Tensor, tid: torch.Tensor, logits: torch.Tensor) -> None:
        item = {"x": x.numpy(), "y": y.numpy(), "task": tid.numpy()}
        if self.keep_logits:
            item["logits"] = logits.detach().numpy()
        self.buffer.extend(item)

    def _draw(self) -> dict[str, torch.Tensor]:
        import torch

        b = self.buffer.sample(self.cfg.replay_batch, self.rng)
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in b.data.items()}

    def extra_loss(self, x: torch.Tensor, y: torch.Tensor, tid: torch.Tensor, logits: torch.Tensor) -> torch.Tensor | None:
        if len(self.buffer) == 0:
            return None
        b = self._draw()
        return self.ce(self.model(b["x"]), b["y"], b["task"])


class DERpp(ExperienceReplay):
    """Dark experience replay++: match the logits stored with buffer items (MSE) and
    fit their labels (cross-entropy), from two independent buffer draws."""

    name = "derpp"
    keep_logits = True

    def extra_loss(self, x: torch.Tensor, y: torch.Tensor, tid: torch.Tensor, logits: torch.Tensor) -> torch.Tensor | None:
        import torch.nn.functional as F

        if len(self.buffer) == 0:
            return None
        b1 = self._draw()
        loss = self.cfg.derpp_alpha * F.mse_loss(self.model(b1["x"]), b1["logits"])
        b2 = self._draw()
        return loss + self.cfg.derpp_beta * self.ce(self.model(b2["x"]), b2["y"], b2["task"])


STRATEGIES: dict[str, type[Strategy]] = {
    s.name: s for s in (Strategy, EWC, OnlineEWC, SI, ExperienceReplay, DERpp, Joint)
}
