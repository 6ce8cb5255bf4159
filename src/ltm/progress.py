"""When to draw progress bars: on a terminal, not into pipes or log files."""

from __future__ import annotations

import sys
from typing import Any


def on_terminal() -> bool:
    """True when standard error is a terminal (where tqdm's bars go)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def progress_default(ctx: Any, param: Any, value: bool | None) -> bool:
    """Click callback for ``--progress/--no-progress`` with ``default=None``: bars on a
    terminal unless asked otherwise."""
    return on_terminal() if value is None else bool(value)
