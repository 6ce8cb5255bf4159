"""Folders: reopen exactly as checkpointed, roll back uncheckpointed writes, survive kill -9."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ltm.replay import KINDS, CorruptBufferError, PrioritizedBuffer, open_buffer

SCHEMA = {"obs": ((4,), "float32"), "action": ((), "int64"), "note": object}


def fill(buf, start: int, n: int) -> None:  # type: ignore[no-untyped-def]
    ids = np.arange(start, start + n)
    buf.extend({"obs": np.tile(ids[:, None], (1, 4)).astype(np.float32), "action": ids,
                "note": [{"id": int(i)} for i in ids]})


def drive(buf, rng: np.random.Generator, rounds: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(rounds):
        fill(buf, buf.added, int(rng.integers(1, 60)))
        b = buf.sample(16)
        if isinstance(buf, PrioritizedBuffer):
            buf.update_priorities(b.indices, rng.random(16) * 3, b.stamps)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_round_trip_restores_everything(tmp_path: Path, kind: str) -> None:
    cls = KINDS[kind]
    kwargs = {"alpha": 0.8, "beta": 0.3} if kind == "prioritized" else {}
    buf = cls(200, SCHEMA, path=tmp_path / "b", seed=5, max_times_sampled=6, **kwargs)
    drive(buf, np.random.default_rng(0), 30)
    digest, n, added = buf.digest(), len(buf), buf.added
    buf.close()
    re = open_buffer(tmp_path / "b")
    assert type(re) is cls and re.digest() == digest and len(re) == n and re.added == added
    if kind == "prioritized":
        assert (re.alpha, re.beta) == (0.8, 0.3)
    # same future: a twin reopened from a copy of the folder behaves identically
    shutil.copytree(tmp_path / "b", tmp_path / "copy")
    twin = open_buffer(tmp_path / "copy")
    drive(re, np.random.default_rng(1), 5)
    drive(twin, np.random.default_rng(1), 5)
    assert re.digest() == twin.digest()
    s1, s2 = re.sample(20), twin.sample(20)
    np.testing.assert_array_equal(s1.indices, s2.indices)
    assert [x["id"] for x in s1.data["note"]] == s1.data["action"].tolist()


def test_uncheckpointed_changes_are_rolled_back(tmp_path: Path) -> None:
    buf = PrioritizedBuffer(100, SCHEMA, path=tmp_path / "b", seed=1)
    rng = np.random.default_rng(2)
    drive(buf, rng, 20)  # wrapped several times
    buf.checkpoint()
    saved = buf.digest()
    drive(buf, rng, 10)  # overwrites slots, priorities, RNG -- never checkpointed
    assert buf.digest() != saved
    # a crashed process leaves the files as they are now (shared page cache); the live
    # folder is locked by ``buf``, so open a copy of it
    shutil.copytree(tmp_path / "b", tmp_path / "crashed")
    again = open_buffer(tmp_path / "crashed")
    assert again.digest() == saved


def test_open_without_checkpoint_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(CorruptBufferError):
        open_buffer(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(CorruptBufferError):
        open_buffer(tmp_path)


def test_schema_inferred_lazily_in_a_folder(tmp_path: Path) -> None:
    buf = KINDS["uniform"](10, path=tmp_path / "b", seed=0)
    buf.extend(["x", ("y", 2)])
    buf.close()
    re = open_buffer(tmp_path / "b")
    assert sorted(map(str, re.sample(50, rng=0).items)) != [] and len(re) == 2


@pytest.mark.parametrize("kind", ["prioritized", "reservoir"])
def test_kill_9_during_writes_keeps_last_checkpoint(tmp_path: Path, kind: str) -> None:
    folder, log = tmp_path / "buf", tmp_path / "log.txt"
    writer = Path(__file__).with_name("_kill_writer.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rng = np.random.default_rng(123)
    for round_ in range(3):
        lines_before = len(log.read_text().splitlines()) if log.exists() else 0
        proc = subprocess.Popen([sys.executable, str(writer), str(folder), str(log), kind, "9"], env=env)
        try:
            deadline = time.monotonic() + 60
            # wait for a few checkpoints of this run, then kill at a random moment
            while time.monotonic() < deadline:
                if log.exists() and len(log.read_text().splitlines()) >= lines_before + 3 + round_:
                    break
                if proc.poll() is not None:
                    pytest.fail(f"writer exited with {proc.returncode}")
                time.sleep(0.01)
            time.sleep(float(rng.uniform(0.0, 0.05)))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        expected = {}
        for line in log.read_text().splitlines():
            gen, dig = line.split()
            expected[int(gen)] = dig  # the last record for a generation is its checkpoint
        buf = open_buffer(folder)
        gen = buf._storage.generation
        assert gen >= 2
        assert buf.digest() == expected[gen], f"round {round_}: checkpoint {gen} not restored"
        buf._storage.close()
