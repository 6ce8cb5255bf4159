"""Neural long-term memory: MemN2N, NTM and DNC with their tasks and trainer.

Needs the optional extra ``ltm[neural]`` (PyTorch). Submodules:

* :mod:`.addressing` - content/location addressing, allocation, temporal links
* :mod:`.ntm`, :mod:`.dnc`, :mod:`.memn2n` - the models
* :mod:`.state` - external memory state that can be saved and restored across processes
* :mod:`.tasks` - copy, repeat copy, associative recall; :mod:`.babi` - bAbI loader
* :mod:`.train`, :mod:`.babi_train` - training loops; ``ltm train`` (``ltm.cli.train``)
"""

from ..errors import MissingDependency

# without the extra: say which to install (the extra's one requirement here)
MissingDependency.import_module("torch", "neural")

from .dnc import DNC, DNCConfig, DNCState  # noqa: E402
from .memn2n import MemN2N, MemN2NConfig  # noqa: E402
from .ntm import NTM, NTMConfig, NTMState  # noqa: E402
from .state import MemoryState  # noqa: E402

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
