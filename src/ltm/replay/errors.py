"""Errors raised by ``ltm.replay``.

They derive from ``ltm.errors.LtmError`` (the package-wide base) when that
module is present, so callers can catch every ltm failure in one place::

    LtmError
     └── ReplayError
          ├── SchemaError        an item does not fit the buffer's fields
          ├── EmptyBufferError   sampling from a buffer with no items
          └── CorruptBufferError a folder that holds no readable checkpoint
"""

from __future__ import annotations

try:  # the shared base lives in ltm.errors (owned by the lead)
    from ltm.errors import LtmError as _Base
except ImportError:  # pragma: no cover - only while ltm.errors is not there yet
    _Base = Exception  # type: ignore[misc,assignment]


class ReplayError(_Base):  # type: ignore[valid-type,misc]
    """Base class of replay-buffer errors."""


class SchemaError(ReplayError, ValueError):
    """An item or batch does not match the buffer's field names, shapes or dtypes."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class EmptyBufferError(ReplayError):
    """Sampling was asked of a buffer (or window length) that holds nothing to sample."""


class CorruptBufferError(ReplayError):
    """A buffer folder has no readable checkpoint (manifest missing or malformed)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path
