"""ULIDs: Crockford base32 of 48-bit milliseconds and 80 random bits, increasing within a
process."""

from __future__ import annotations

import random
import subprocess
import sys

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


def test_a_forked_child_draws_other_random_bits() -> None:
    """Random bits are read from the OS in blocks (ids._random): a forked child starts with
    none of its parent's, so both give other ids for the same new millisecond (in a process of
    its own: the milliseconds asked for here lie past every id this process gives later)."""
    code = """
import os
from ltm import ids
ids.new_id()  # the parent holds unread random bytes now
ms = ids._last_ms + 1000
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


def test_a_forked_child_in_its_parents_millisecond_gives_another_id() -> None:
    """A child forked right after its parent made an id, asking in that same millisecond,
    does not give the id its parent gives next (the parent's last random bits plus one)."""
    code = """
import os
from ltm import ids
ms = 10**12
ids.new_id(ms)
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
