"""External memory that outlives a process.

``MemoryState`` is a dataclass of tensors (the memory matrix, head weightings, usage,
link matrix, controller state, ...) that the NTM and the DNC carry from one time step to
the next. It can be saved to a file and loaded back in another process, so facts written
into memory by one process can be read by the next.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Self, TypeVar

import torch

S = TypeVar("S", bound="MemoryState")

FORMAT_VERSION = 1


@dataclasses.dataclass
class MemoryState:
    """Base class: every field is a tensor whose first dimension is the batch."""

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def detach(self) -> Self:
        """A copy cut from the autograd graph (for truncated back-propagation or storage)."""
        return type(self)(**{k: v.detach() for k, v in self.tensors().items()})

    def clone(self) -> Self:
        return type(self)(**{k: v.detach().clone() for k, v in self.tensors().items()})

    def to(self, device: torch.device | str) -> Self:
        return type(self)(**{k: v.to(device) for k, v in self.tensors().items()})

    @property
    def batch_size(self) -> int:
        return int(next(iter(self.tensors().values())).shape[0])

    def save(self, path: str | os.PathLike[str], **meta: Any) -> None:
        """Write the state (and JSON-able ``meta``, e.g. the model config) atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": FORMAT_VERSION,
            "kind": type(self).__name__,
            "tensors": {k: v.detach().cpu() for k, v in self.tensors().items()},
            "meta": meta,
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        state, _ = cls.load_with_meta(path)
        return state

    @classmethod
    def load_with_meta(cls, path: str | os.PathLike[str]) -> tuple[Self, dict[str, Any]]:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
        if payload.get("kind") != cls.__name__:
            raise ValueError(f"{path} holds a {payload.get('kind')}, not a {cls.__name__}")
        if payload.get("format") != FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported memory format {payload.get('format')}")
        names = {f.name for f in dataclasses.fields(cls)}
        tensors = payload["tensors"]
        if set(tensors) != names:
            raise ValueError(f"{path}: fields {sorted(tensors)} do not match {sorted(names)}")
        return cls(**tensors), dict(payload.get("meta") or {})
