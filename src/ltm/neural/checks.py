"""Argument checks shared by the models: config sizes, inputs and carried state.

Each raises :class:`~ltm.errors.InvalidInput` (a ``ValueError``) naming the field, so a
mismatch is reported where it is made, not as a RuntimeError from deep inside torch.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

from ltm.errors import InvalidInput


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int >= 1 (bools refused), else InvalidInput naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InvalidInput(f"{name} must be an integer >= 1, got {value!r}", field=name)
    return int(value)


def check_inputs(inputs: Any, input_size: int, like: torch.Tensor) -> None:
    """``inputs`` must be ``[T, B, input_size]`` (B >= 1) of ``like``'s dtype and device."""
    if not isinstance(inputs, torch.Tensor):
        raise InvalidInput(f"inputs must be a tensor [T, B, {input_size}], got {type(inputs).__name__}",
                           field="inputs")
    if inputs.ndim != 3 or inputs.shape[2] != input_size or inputs.shape[1] < 1:
        raise InvalidInput(f"inputs must be [T, B >= 1, {input_size}], got {list(inputs.shape)}",
                           field="inputs")
    if inputs.dtype != like.dtype or inputs.device != like.device:
        raise InvalidInput(f"inputs are {inputs.dtype} on {inputs.device}, the model is {like.dtype} on "
                           f"{like.device} (convert with .to())", field="inputs")


def check_state(state: Any, cls: type, shapes: dict[str, tuple[int, ...]],
                like: torch.Tensor) -> None:
    """``state`` must be a ``cls`` whose tensors have ``shapes`` and ``like``'s dtype and device."""
    if not isinstance(state, cls):
        raise InvalidInput(f"state must be a {cls.__name__}, got {type(state).__name__}", field="state")
    for name, shape in shapes.items():
        t = getattr(state, name)
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape:
            got = list(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise InvalidInput(f"state.{name} is {got}, this model and batch need {list(shape)}",
                               field="state")
        if t.dtype != like.dtype or t.device != like.device:
            raise InvalidInput(f"state.{name} is {t.dtype} on {t.device}, the model is {like.dtype} on "
                               f"{like.device}", field="state")


def check_sizes(config: Any, names: tuple[str, ...], minimum: int = 1) -> None:
    """Each named config field must be an integer >= ``minimum``."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise InvalidInput(f"{type(config).__name__}.{name} must be an integer >= {minimum}, "
                               f"got {value!r}", field=name)


def check_real(config: Any, name: str, *, positive: bool) -> None:
    """The named config field must be a finite number, > 0 (``positive``) or >= 0."""
    value = getattr(config, name)
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        raise InvalidInput(f"{type(config).__name__}.{name} must be a finite number "
                           f"{'>' if positive else '>='} 0, got {value!r}", field=name)
