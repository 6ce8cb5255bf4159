"""ULIDs: Crockford base32 of 48-bit milliseconds and 80 random bits, increasing within a
process."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from ltm import ids


def _reference(value: int) -> str:
    """Five bits a character, most significant first (the ULID spec, digit by digit)."""
    return "".join(ids._ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def test_encoding_matches_the_spec_digit_by_digit() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        ms, rand = rng.getrandbits(48), rng.getrandbits(80)
        value = (ms << 80) | rand
        assert ids._encode(value) == _reference(value)
    assert ids._encode(0) == "0" * 26
    assert ids._encode((1 << 128) - 1) == "7" + "Z" * 25
    # the spec's example, 01ARZ3NDEKTSV4RRFFQ69G5FAV, has time 1469922850259 ms
    assert ids._encode(1469922850259 << 80).startswith("01ARZ3NDEK")


def test_ids_increase_and_are_valid() -> None:
    made = [ids.new_id() for _ in range(5000)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(ids.is_id(m) and len(m) == 26 for m in made)
    same_ms = [ids.new_id(10**12) for _ in range(3)]
    assert same_ms[0] < same_ms[1] < same_ms[2]



@pytest.mark.parametrize("asked", ["ids._last_ms + 1000", "ids._last_ms"])
def test_a_forked_child_gives_other_ids_than_its_parent(asked: str) -> None:
    """A forked child and its parent give other ids for the same millisecond: a new one
    (random bits are read from the OS in blocks, ``ids._random``: the child starts with none
    of its parent's) and the one of the parent's last id (the child does not go on from the
    parent's last random bits: both would give them plus one). In a process of its own: the
    milliseconds asked for here lie past every id this process gives later."""
    code = f"""
import os
from ltm import ids
ids.new_id()  # the parent holds unread random bytes and a last millisecond now
ms = {asked}
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.write(w, ids.new_id(ms).encode())
    os._exit(0)
os.close(w)
child = os.read(r, 64).decode()
os.waitpid(pid, 0)
mine = ids.new_id(ms)
assert ids.is_id(child) and child != mine, (child, mine)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
