"""Experience replay buffers (numpy only; usable from any framework).

Example::

    from ltm.replay import PrioritizedBuffer

    buf = PrioritizedBuffer(100_000, {"obs": ((4,), "float32"), "reward": "float32"}, seed=0)
    buf.extend({"obs": obs_batch, "reward": reward_batch})
    batch = buf.sample(256)                       # batch.data, batch.weights
    buf.update_priorities(batch.indices, td_errors, batch.stamps)

Names are loaded on first use so that ``ltm bench`` (and ``ltm --help``)
does not import numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "KINDS": "ltm.replay.buffers",
    "Batch": "ltm.replay.buffers",
    "FIFOBuffer": "ltm.replay.buffers",
    "PrioritizedBuffer": "ltm.replay.buffers",
    "ReplayBuffer": "ltm.replay.buffers",
    "ReservoirBuffer": "ltm.replay.buffers",
    "UniformBuffer": "ltm.replay.buffers",
    "open_buffer": "ltm.replay.buffers",
    "BufferInUseError": "ltm.replay.errors",
    "CorruptBufferError": "ltm.replay.errors",
    "EmptyBufferError": "ltm.replay.errors",
    "InvalidArgument": "ltm.replay.errors",
    "ReplayError": "ltm.replay.errors",
    "SchemaError": "ltm.replay.errors",
    "nstep_returns": "ltm.replay.nstep",
    "SumMinTree": "ltm.replay.segment_tree",
    "Field": "ltm.replay.storage",
}

__all__ = [
    "KINDS",
    "Batch",
    "BufferInUseError",
    "CorruptBufferError",
    "EmptyBufferError",
    "FIFOBuffer",
    "Field",
    "InvalidArgument",
    "PrioritizedBuffer",
    "ReplayBuffer",
    "ReplayError",
    "ReservoirBuffer",
    "SchemaError",
    "SumMinTree",
    "UniformBuffer",
    "nstep_returns",
    "open_buffer",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ltm.replay' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
