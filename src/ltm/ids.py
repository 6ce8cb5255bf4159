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
# Random bytes read from the OS 4 KiB at a time, 10 for each new millisecond: one system call
# per ~400 milliseconds of ids instead of one per millisecond. A call that leaves the GIL is
# slow to come back to it while another thread runs Python (add_many's embedding and writing
# threads): one read a millisecond held a batch of 1,000's main thread ~20 ms. A forked
# child starts with none (it must not give the ids its parent gives).
_RANDOM_READ = 4096
_random = b""
_random_at = 0
# the first 10 digits of the ids of the last millisecond (its 48 bits): what changes from one
# id to the next is mostly the last 16 (ids of a batch of 1,000 span ~10 milliseconds)
_prefix = (-1, "")


def _forget_random() -> None:
    """In a forked child: none of the parent's unread random bytes, nor its last millisecond
    (the next id in that millisecond would be the parent's last plus one, the id the parent
    gives next), and a lock of its own (the parent's may have been held by another thread)."""
    global _random, _random_at, _last_ms, _last_rand, _lock
    _random, _random_at = b"", 0
    _last_ms, _last_rand = -1, 0
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_random)


def new_id(ms: int | None = None) -> str:
    """Return a new ULID; ids made in one process are strictly increasing."""
    global _last_ms, _last_rand, _random, _random_at, _prefix
    with _lock:
        now = int(time.time() * 1000) if ms is None else ms
        if now <= _last_ms:
            now = _last_ms
            rand = _last_rand + 1
        else:
            if _random_at + 10 > len(_random):
                _random, _random_at = os.urandom(_RANDOM_READ), 0
            # leave room to increment
            rand = int.from_bytes(_random[_random_at:_random_at + 10], "big") >> 1
            _random_at += 10
        _last_ms, _last_rand = now, rand
        at, prefix = _prefix
        if at != now:
            prefix = _encode(now << 80)[:10]  # (10-bit pairs from bit 80 up: the time's)
            _prefix = (now, prefix)
    r = rand & ((1 << 80) - 1)  # the 16 digits of the random bits, as _encode gives them
    p = _PAIRS
    return (prefix + p[r >> 70] + p[(r >> 60) & 1023] + p[(r >> 50) & 1023]
            + p[(r >> 40) & 1023] + p[(r >> 30) & 1023] + p[(r >> 20) & 1023]
            + p[(r >> 10) & 1023] + p[r & 1023])


def _encode(value: int) -> str:
    """26 Crockford base32 digits of a 128-bit value, most significant first."""
    return "".join([_PAIRS[(value >> s) & 1023] for s in _SHIFTS])


def is_id(value: object) -> bool:
    return (isinstance(value, str) and len(value) == 26
            and all(c in _ALPHABET for c in value.upper()))
