"""Errors raised by ``ltm.replay``, within the package-wide hierarchy::

    LtmError
     └── ReplayError
          ├── SchemaError        (also InvalidInput) an item does not fit the buffer's fields
          ├── EmptyBufferError   sampling from a buffer with nothing to sample
          ├── BufferInUseError   the folder is open in another buffer object or process
          └── CorruptBufferError (also StoreError) a folder with no readable checkpoint or damaged files
"""

from __future__ import annotations

from ltm.errors import InvalidInput, LtmError, StoreError


class ReplayError(LtmError):
    """Base class of replay-buffer errors."""


class SchemaError(ReplayError, InvalidInput):
    """An item or batch does not match the buffer's field names, shapes or dtypes."""

    def __init__(self, message: str, field: str | None = None) -> None:
        InvalidInput.__init__(self, message, field=field)


class EmptyBufferError(ReplayError):
    """Sampling was asked of a buffer (or window length) that holds nothing to sample."""


class BufferInUseError(ReplayError):
    """The buffer folder is already open (in this process or another); close that one first."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class CorruptBufferError(ReplayError, StoreError):
    """A buffer folder has no readable checkpoint (manifest missing or malformed)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path
