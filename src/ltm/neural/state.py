"""External memory that outlives a process.

``MemoryState`` is a dataclass of tensors (the memory matrix, head weightings, usage,
link matrix, controller state, ...) that the NTM and the DNC carry from one time step to
the next. It can be saved to a file and loaded back in another process, so facts written
into memory by one process can be read by the next.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Self, TypeVar

import torch

from ltm.errors import InvalidInput

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
        """Write the state (and JSON-able ``meta``, e.g. the model config) atomically and durably.

        ``meta`` must be JSON-able (it is stored as its JSON round trip: tuples come back as
        lists); anything else raises :class:`~ltm.errors.InvalidInput` before the file is
        touched, since :meth:`load` reads only plain data.
        """
        path = Path(path)
        try:
            plain_meta = json.loads(json.dumps(meta))
        except (TypeError, ValueError) as e:
            raise InvalidInput(f"meta must be JSON-able: {e}", field="meta") from None
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": FORMAT_VERSION,
            "kind": type(self).__name__,
            "tensors": {k: v.detach().cpu() for k, v in self.tensors().items()},
            "meta": plain_meta,
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                torch.save(payload, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        state, _ = cls.load_with_meta(path)
        return state

    @classmethod
    def load_with_meta(cls, path: str | os.PathLike[str]) -> tuple[Self, dict[str, Any]]:
        """The state and the ``meta`` saved with it. A file that is not a saved state of
        this class raises :class:`~ltm.errors.InvalidInput` (a ``ValueError``)."""
        try:
            payload = torch.load(Path(path), map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError) as e:
            raise InvalidInput(f"{path} is not a saved memory state: {str(e).splitlines()[0]}",
                               field="path") from None
        if not isinstance(payload, dict):
            raise InvalidInput(f"{path} is not a saved memory state", field="path")
        if payload.get("kind") != cls.__name__:
            raise InvalidInput(f"{path} holds a {payload.get('kind')}, not a {cls.__name__}", field="path")
        if payload.get("format") != FORMAT_VERSION:
            raise InvalidInput(f"{path}: unsupported memory format {payload.get('format')}", field="path")
        names = {f.name for f in dataclasses.fields(cls)}
        tensors = payload.get("tensors")
        if (not isinstance(tensors, dict) or set(tensors) != names
                or not all(isinstance(v, torch.Tensor) for v in tensors.values())):
            got = sorted(tensors) if isinstance(tensors, dict) else type(tensors).__name__
            raise InvalidInput(f"{path}: fields {got} do not match {sorted(names)}", field="path")
        meta = payload.get("meta") or {}
        return cls(**tensors), dict(meta) if isinstance(meta, dict) else {}

