"""A saved agent resumes in a new process with the same state: the episodes after the restart
have the returns of a run never interrupted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("gymnasium")
pytest.importorskip("torch")

from ltm.rl.train import run, settings_for  # noqa: E402

# small, fast settings that still train (updates start early) and fill the replay buffers
FAST = {
    "mfec": {"normalize_steps": 200},
    "nec": {"learning_starts": 100, "train_every": 4, "refresh_every": 20, "nstep": 10},
    "dqn": {"learning_starts": 100, "train_freq": 4, "gradient_steps": 1, "target_update": 100,
            "hidden": (32, 32), "replay": "prioritized"},
}

AGENTS = ("mfec", "nec", "dqn")
_SCRIPT = """
import json, sys
from pathlib import Path
from ltm.rl.train import run, settings_for
steps, root, resume, fast = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1", json.loads(sys.argv[4])
for agent, overrides in fast.items():
    run(settings_for("CartPole-v1", agent, steps, 3, overrides=overrides), root / agent, resume=resume)
"""


def _listed(overrides: dict[str, object]) -> dict[str, object]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()}


def _in_subprocess(steps: int, root: Path, resume: bool) -> None:
    fast = json.dumps({a: _listed(FAST[a]) for a in AGENTS})
    subprocess.run([sys.executable, "-c", _SCRIPT, str(steps), str(root), "1" if resume else "0",
                    fast], check=True, timeout=300)


def test_resume_in_a_new_process_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    _in_subprocess(250, tmp_path / "b", resume=False)  # one process trains and saves ...
    first = {a: json.loads((tmp_path / "b" / a / "metrics.json").read_text()) for a in AGENTS}
    _in_subprocess(500, tmp_path / "b", resume=True)  # ... another resumes
    for agent in AGENTS:
        whole = run(settings_for("CartPole-v1", agent, 500, 3, overrides=_listed(FAST[agent])),
                    tmp_path / "a" / agent)
        resumed = json.loads((tmp_path / "b" / agent / "metrics.json").read_text())
        n = len(first[agent]["returns"])
        assert 0 < n < len(resumed["returns"]), agent
        assert resumed["returns"][:n] == first[agent]["returns"], agent
        # the episodes after the restart have the returns of the uninterrupted run
        assert resumed["returns"] == whole["returns"], agent
        assert resumed["settings"]["steps"] == 500


def test_resume_refuses_other_settings(tmp_path: Path) -> None:
    run(settings_for("CartPole-v1", "mfec", 300, 0), tmp_path)
    with pytest.raises(ValueError, match="other settings"):
        run(settings_for("CartPole-v1", "mfec", 600, 0, overrides={"k": 3}), tmp_path, resume=True)
