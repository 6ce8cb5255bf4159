"""ltm: long-term memory for AI systems.

>>> import ltm
>>> mem = ltm.open("./memories")
>>> mem.add("I moved to Lisbon in March", user="alice", time="2026-03-02T10:00")
>>> mem.search("where does alice live?", user="alice", k=5)
"""

from .aio import AsyncMemoryStore, open_async
from .errors import (
                     EmbedderMismatch,
                     InvalidInput,
                     LtmError,
                     MissingDependency,
                     NotFound,
                     ScopeError,
                     StoreBusy,
                     StoreError,
)
from .model import ForgetReceipt, HistoryEvent, Hit, Memory, Page, UserStats
from .store import ImportReport, MemoryStore, open

__version__ = "0.1.0"

__all__ = [
    "AsyncMemoryStore",
    "EmbedderMismatch",
    "ForgetReceipt",
    "HistoryEvent",
    "Hit",
    "ImportReport",
    "InvalidInput",
    "LtmError",
    "Memory",
    "MemoryStore",
    "MissingDependency",
    "NotFound",
    "Page",
    "ScopeError",
    "StoreBusy",
    "StoreError",
    "UserStats",
    "open",
    "open_async",
]
