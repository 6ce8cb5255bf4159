"""The lean install (no extras) as a new user meets it (QA of issue 2): a command that needs an
optional package exits 5 with one line naming the extra to install, as ``ltm serve`` does,
instead of a Python traceback (``ltm train ntm-copy`` raised ModuleNotFoundError for torch,
``ltm train continual`` an uncaught MissingDependency, ``ltm bench peers`` ModuleNotFoundError
for matplotlib after its run).

The packages are made absent the way Python itself allows: ``sys.modules[name] = None`` makes
``import name`` raise ModuleNotFoundError, as in an environment without them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ABSENT = ("torch", "gymnasium", "minigrid", "matplotlib", "chromadb")
RUN = ("import sys\n"
       f"for name in {ABSENT!r}:\n"
       "    sys.modules[name] = None\n"
       "from ltm.cli import main\n"
       "main()\n")


def _ltm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.mark.parametrize(("args", "extra"), [
    (["train", "ntm-copy", "--out", "run"], "neural"),
    (["train", "memn2n-babi", "--out", "run"], "neural"),
    (["train", "continual", "--out", "run"], "neural"),
    (["train", "episodic", "--env", "CartPole-v1", "--agent", "mfec", "--out", "run"], "rl"),
])
def test_training_without_its_extra_exits_5_naming_it(tmp_path: Path, args: list[str],
                                                      extra: str) -> None:
    got = _ltm(*args, cwd=tmp_path)
    assert got.returncode == 5, got.stderr[-2000:]
    assert got.stderr.strip().splitlines() == [
        f"ltm: torch is not installed: pip install 'ltm[{extra}]'"], got.stderr[-2000:]


def test_a_benchmark_plot_without_matplotlib_exits_5_after_writing_its_result(
        tmp_path: Path) -> None:
    out = tmp_path / "peers.json"
    got = _ltm("bench", "peers", "--n", "10", "--queries", "5", "--only", "chroma",
               "--out", str(out), cwd=tmp_path)
    assert got.returncode == 5, got.stderr[-2000:]
    assert got.stderr.strip().splitlines()[-1] == \
        "ltm: matplotlib is not installed: pip install 'ltm[bench]'"
    assert "Traceback" not in got.stderr
    assert json.loads(out.read_text())["systems"]["ltm"]["recall_at_10"] > 0
