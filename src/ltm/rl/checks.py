"""Checks of the agents' settings, run when a config is made (no torch import here).

Each failure is :class:`~ltm.errors.InvalidInput` (a ``ValueError``) naming the setting, so a
bad ``--set`` value stops a run before training instead of crashing it later (``nstep=0``:
an IndexError after the first episode) or training with nonsense (``gamma=2``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ltm.errors import InvalidInput


def _fail(cfg: Any, name: str, what: str) -> InvalidInput:
    return InvalidInput(f"{type(cfg).__name__}.{name} must be {what}, got {getattr(cfg, name)!r}",
                        field=name)


def counts(cfg: Any, names: tuple[str, ...], minimum: int = 1) -> None:
    for name in names:
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum:
            raise _fail(cfg, name, f"an integer >= {minimum}")


def reals(cfg: Any, names: tuple[str, ...], lo: float, hi: float = math.inf, *,
          open_lo: bool = False) -> None:
    for name in names:
        v = getattr(cfg, name)
        ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
        if not ok or v < lo or v > hi or (open_lo and v == lo):
            raise _fail(cfg, name, f"a finite number in {'(' if open_lo else '['}{lo}, {hi}]")


def widths(cfg: Any, name: str) -> None:
    v = getattr(cfg, name)
    if not isinstance(v, (tuple, list)) or not all(
            isinstance(w, numbers.Integral) and not isinstance(w, bool) and int(w) >= 1 for w in v):
        raise _fail(cfg, name, "a sequence of integer widths >= 1")


def exploration(cfg: Any) -> None:
    """gamma and the epsilon schedule, shared by every agent."""
    reals(cfg, ("gamma", "eps_start", "eps_end"), 0.0, 1.0)
    counts(cfg, ("eps_steps",), minimum=0)
