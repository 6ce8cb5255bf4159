"""QA: a replay buffer folder in use by one buffer object cannot be opened by another."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ltm.replay import BufferInUseError, ReplayError, UniformBuffer, open_buffer

SCHEMA = {"obs": ((3,), "float32"), "tag": object}


def _fill(buf: UniformBuffer, n: int, start: int = 0) -> None:
    buf.extend({"obs": np.full((n, 3), 1.0) * np.arange(start, start + n)[:, None],
                "tag": [f"t{i}" for i in range(start, start + n)]})


def test_a_second_open_in_the_same_process_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "buf"
    buf = UniformBuffer(8, SCHEMA, path=folder, seed=0)
    _fill(buf, 5)
    buf.checkpoint()
    _fill(buf, 2, start=5)  # not checkpointed yet: a second open used to roll it back
    with pytest.raises(BufferInUseError) as e:
        open_buffer(folder)
    assert isinstance(e.value, ReplayError)
    with pytest.raises(BufferInUseError):
        UniformBuffer(8, SCHEMA, path=folder)
    # the live buffer is untouched: its 7 items are all there
    assert len(buf) == 7
    stamps = buf.sample(200, rng=0).stamps
    assert set(stamps.tolist()) == set(range(7))
    digest = buf.digest()
    buf.close()
    again = open_buffer(folder)  # free once closed
    assert again.digest() == digest
    again.close()


def test_another_process_cannot_open_a_folder_in_use(tmp_path: Path) -> None:
    folder = tmp_path / "buf"
    buf = UniformBuffer(8, SCHEMA, path=folder, seed=0)
    _fill(buf, 3)
    code = (
        "import sys\n"
        "from ltm.replay import BufferInUseError, open_buffer\n"
        "try:\n"
        "    open_buffer(sys.argv[1])\n"
        "except BufferInUseError:\n"
        "    sys.exit(7)\n"
    )
    child = subprocess.run([sys.executable, "-c", code, str(folder)], timeout=60)
    assert child.returncode == 7
    buf.close()
    child = subprocess.run([sys.executable, "-c", code, str(folder)], timeout=60)
    assert child.returncode == 0


def test_a_buffer_dropped_without_close_frees_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "buf"
    buf = UniformBuffer(8, SCHEMA, path=folder, seed=0)
    _fill(buf, 3)
    buf.checkpoint()
    del buf  # never closed: reopening rolls back to the checkpoint
    again = open_buffer(folder)
    assert len(again) == 3
    again.close()


def test_a_forked_child_neither_keeps_the_lock_nor_gets_it(tmp_path: Path) -> None:
    import os
    import time

    folder = tmp_path / "buf"
    buf = UniformBuffer(8, SCHEMA, path=folder, seed=0)
    _fill(buf, 3)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child (think of a DataLoader worker) outlives the parent's close()
        os.close(r)
        try:
            open_buffer(folder)
            code = b"1"  # got the folder the parent still holds
        except BufferInUseError:
            code = b"0"
        except BaseException:
            code = b"2"
        os.write(w, code)
        time.sleep(2)
        os._exit(0)
    os.close(w)
    try:
        assert os.read(r, 1) == b"0"  # the parent's lock holds against the child
        buf.close()
        again = open_buffer(folder)  # was BufferInUseError: the child shared the lock
        assert len(again) == 3
        again.close()
    finally:
        os.close(r)
        os.waitpid(pid, 0)
