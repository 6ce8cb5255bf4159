"""Experience replay buffers (numpy only; usable from any framework).

>>> from ltm.replay import PrioritizedBuffer
>>> buf = PrioritizedBuffer(1000, {"obs": ((4,), "float32"), "reward": "float32"}, seed=0)
>>> slots = buf.extend({"obs": np.zeros((8, 4)), "reward": np.ones(8)})   # doctest: +SKIP
>>> batch = buf.sample(4)                                                  # doctest: +SKIP
>>> buf.update_priorities(batch.indices, td_errors, batch.stamps)          # doctest: +SKIP
"""

from ltm.replay.buffers import (
    KINDS,
    Batch,
    FIFOBuffer,
    PrioritizedBuffer,
    ReplayBuffer,
    ReservoirBuffer,
    UniformBuffer,
    open_buffer,
)
from ltm.replay.errors import CorruptBufferError, EmptyBufferError, ReplayError, SchemaError
from ltm.replay.nstep import nstep_returns
from ltm.replay.segment_tree import SumMinTree
from ltm.replay.storage import Field

__all__ = [
    "KINDS",
    "Batch",
    "CorruptBufferError",
    "EmptyBufferError",
    "FIFOBuffer",
    "Field",
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
