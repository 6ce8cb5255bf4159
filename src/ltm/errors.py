"""The exceptions ltm raises. Catch ``LtmError`` for all of them.

Hierarchy::

    LtmError
    ├── InvalidInput        bad argument: empty text, malformed time, NaN importance, bad k ...
    │   └── DimensionMismatch   a vector of the wrong length
    ├── ScopeError          a call without a valid ``user`` scope
    ├── NotFound            no such memory *for this user* (never reveals other users' data)
    ├── EmbedderMismatch    the store was built with another embedder
    ├── EmbedderError       the embedder failed, or answered something other than vectors
    ├── StoreError          the store folder or database cannot be used
    │   ├── StoreBusy           another process holds the write lock past the busy timeout
    │   └── ConnectionLost      the database server dropped the connection during the call
    └── MissingDependency   an optional extra is not installed

``InvalidInput`` also subclasses ``ValueError`` and ``NotFound`` subclasses ``KeyError``, so
code written against the builtin exceptions keeps working.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class LtmError(Exception):
    """Base class of every error raised by ltm."""


class InvalidInput(LtmError, ValueError):
    """An argument was malformed; nothing was written. ``field`` names the argument, ``item``
    the position of the offending item in a batch (``add_many``, ``add_conversation``,
    ``import_`` lines count from 1) when there is one."""

    def __init__(self, message: str, *, field: str | None = None,
                 item: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.item = item


class DimensionMismatch(InvalidInput):
    """A vector's length differs from the store's embedding dimension."""

    def __init__(self, expected: int, got: int) -> None:
        super().__init__(f"embedding has dimension {got}, the store uses {expected}",
                         field="embedding")
        self.expected = expected
        self.got = got


class ScopeError(LtmError):
    """A read or write did not name a valid user scope."""


class NotFound(LtmError, KeyError):
    """No memory with this id exists for this user, or (``expired`` set: when) it is past its
    ``expires_at`` and not pinned, which reads treat as gone."""

    def __init__(self, memory_id: str, *, user: str | None = None,
                 expired: str | None = None) -> None:
        super().__init__(f"no memory {memory_id!r} for user {user!r}" + (
            f": it expired at {expired}" if expired else ""))
        self.memory_id = memory_id
        self.user = user
        self.expired = expired

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class EmbedderMismatch(LtmError):
    """The store was built with a different embedder than the one configured now."""

    def __init__(self, stored: str, configured: str) -> None:
        super().__init__(
            f"this store was built with embedder {stored!r} but {configured!r} is configured; "
            "open it with the same embedder (or export and re-import into a new store)")
        self.stored = stored
        self.configured = configured


class EmbedderError(LtmError):
    """The embedder raised an error of its own, or answered something that is not one vector
    of its dimension for each text (None, strings, ragged lists, another number of rows);
    nothing was written. ``embedder`` names it. (An answer of the right shape holding NaN is
    ``InvalidInput``, one of another length ``DimensionMismatch``.)"""

    def __init__(self, message: str, *, embedder: str | None = None) -> None:
        super().__init__(message)
        self.embedder = embedder


class StoreError(LtmError):
    """The store folder or its database cannot be used."""


class StoreBusy(StoreError):
    """Another process held the store's write lock past the busy timeout; nothing was written
    and the call may be retried."""


class ConnectionLost(StoreError):
    """The database server dropped the connection during the call (a restart,
    ``pg_terminate_backend``, a network failure) and trying it again on a fresh connection
    did not help or was not safe. ``maybe_written`` is False when the call's transaction was
    rolled back (nothing of it was written: retry it) and True when the connection was lost
    while its write committed (it may have been applied: read it back before retrying)."""

    def __init__(self, message: str, *, maybe_written: bool = False) -> None:
        super().__init__(message)
        self.maybe_written = maybe_written


class MissingDependency(LtmError, ImportError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed: pip install 'ltm[{extra}]'")
        self.package = package
        self.extra = extra

    @classmethod
    def import_module(cls, module: str, extra: str) -> ModuleType:
        """Import ``module`` (one of ltm's); a third-party package it needs that is not
        installed raises this error, naming ``extra``."""
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] == "ltm":
                raise
            raise cls(exc.name or module, extra) from None
