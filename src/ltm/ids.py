"""Time-sortable identifiers (ULID: 48-bit millisecond time + 80 random bits, Crockford base32)."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# every pair of digits, indexed by 10 bits: a ULID is 13 lookups
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_SHIFTS = tuple(range(120, -1, -10))
_lock = threading.Lock()
_last_ms = -1
_last_rand = 0


def new_id(ms: int | None = None) -> str:
    """Return a new ULID; ids made in one process are strictly increasing."""
    global _last_ms, _last_rand
    with _lock:
        now = int(time.time() * 1000) if ms is None else ms
        if now <= _last_ms:
            now = _last_ms
            rand = _last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # leave room to increment
        _last_ms, _last_rand = now, rand
    return _encode((now << 80) | (rand & ((1 << 80) - 1)))


def _encode(value: int) -> str:
    """26 Crockford base32 digits of a 128-bit value, most significant first."""
    return "".join([_PAIRS[(value >> s) & 1023] for s in _SHIFTS])


def is_id(value: object) -> bool:
    return (isinstance(value, str) and len(value) == 26
            and all(c in _ALPHABET for c in value.upper()))
