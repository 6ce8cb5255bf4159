"""An environment whose own dependency is missing (LunarLander-v3 without Box2D: issue 18 uses
it only "if Box2D installs") ends ``ltm train episodic`` with one line naming the environment
and what to install, not a traceback."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner

from ltm.cli.train import episodic
from ltm.rl import make_env

pytestmark = pytest.mark.skipif(importlib.util.find_spec("Box2D") is not None,
                                reason="Box2D is installed: LunarLander runs")


def test_lunar_lander_without_box2d_says_so(tmp_path: Path) -> None:
    with pytest.raises(ImportError, match="LunarLander-v3 needs a package"):
        make_env("LunarLander-v3")
    res = CliRunner().invoke(episodic, ["--env", "LunarLander-v3", "--agent", "mfec",
                                        "--steps", "10", "--out", str(tmp_path / "run")])
    assert res.exit_code == 1 and "Box2D" in res.output, res.output
    assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output
