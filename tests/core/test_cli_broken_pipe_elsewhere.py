"""A broken pipe that is not standard output is a failure: ``ltm export -o FIFO`` whose reader
went away exited 0 as if the export had been written (every BrokenPipeError was taken for
``ltm export | head``). Standard output's own reader closing still ends quietly with 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _env() -> dict[str, str]:
    return {**os.environ, "LTM_EMBEDDER": "hash"}


def _store(tmp_path: Path) -> str:
    store = str(tmp_path / "s")
    lines = "".join(f'{{"role": "user", "content": "memory number {i} about the garden"}}\n'
                    for i in range(3000))
    got = subprocess.run([sys.executable, "-m", "ltm", "--store", store, "import", "-",
                          "--user", "u", "--session", "s1"], input=lines, text=True,
                         capture_output=True, env=_env(), timeout=300, check=False)
    assert got.returncode == 0, got.stderr
    return store


def test_a_fifo_whose_reader_left_is_a_failure_and_stdout_still_quiet(tmp_path: Path) -> None:
    store = _store(tmp_path)
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["head", "-c", "100", str(fifo)], stdout=subprocess.DEVNULL)
    got = subprocess.run([sys.executable, "-m", "ltm", "--store", store, "export", "--user",
                          "u", "-o", str(fifo)], capture_output=True, text=True, env=_env(),
                         timeout=300, check=False)
    reader.wait(timeout=60)
    assert got.returncode == 1, (got.returncode, got.stderr)
    assert "Traceback" not in got.stderr and "pipe" in got.stderr
    # standard output's reader leaving is still the quiet end of the command
    piped = subprocess.run(f'"{sys.executable}" -m ltm --store "{store}" export --user u '
                           f"| head -c 100 > /dev/null; exit ${{PIPESTATUS[0]}}",
                           shell=True, executable="/bin/bash", capture_output=True, text=True,
                           env=_env(), timeout=300, check=False)
    assert piped.returncode == 0 and "Traceback" not in piped.stderr, piped.stderr
