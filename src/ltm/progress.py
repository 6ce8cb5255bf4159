"""When to draw progress bars: on a terminal, not into pipes or log files."""

from __future__ import annotations

import sys


def on_terminal() -> bool:
    """True when standard error is a terminal (where tqdm's bars go)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False

