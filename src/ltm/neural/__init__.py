"""Neural long-term memory: MemN2N, NTM and DNC with their tasks and trainer.

Needs the optional extra ``ltm[neural]`` (PyTorch). Submodules:

* :mod:`.addressing` - content/location addressing, allocation, temporal links
* :mod:`.ntm`, :mod:`.dnc`, :mod:`.memn2n` - the models
* :mod:`.state` - external memory state that can be saved and restored across processes
* :mod:`.tasks` - copy, repeat copy, associative recall; :mod:`.babi` - bAbI loader
* :mod:`.train`, :mod:`.babi_train` - training loops; ``ltm train`` (``ltm.cli.train``)
"""

from .dnc import DNC, DNCConfig, DNCState
from .memn2n import MemN2N, MemN2NConfig
from .ntm import NTM, NTMConfig, NTMState
from .state import MemoryState

__all__ = [
    "DNC",
    "NTM",
    "DNCConfig",
    "DNCState",
    "MemN2N",
    "MemN2NConfig",
    "MemoryState",
    "NTMConfig",
    "NTMState",
]
