"""Errors raised by ``ltm.replay``, within the package-wide hierarchy::

    LtmError
     └── ReplayError
          ├── SchemaError        (also InvalidInput) an item does not fit the buffer's fields
          ├── InvalidArgument    (also InvalidInput) a capacity, batch size, index or priority out of range
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


class InvalidArgument(ReplayError, InvalidInput):
    """An argument is out of range or of the wrong type: a capacity or batch size below 1,
    a slot index outside the buffer, a priority that is not finite, a negative ``eps``."""

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
