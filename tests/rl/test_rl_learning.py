"""Learning-curve metrics in closed form, and a short MFEC run through the command that beats
a random policy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ltm.cli.train import episodic
from ltm.rl.train import auc, moving_mean, steps_to_threshold


def _returns(pairs: list[tuple[int, float]]) -> list[dict[str, float]]:
    return [{"step": s, "return": r} for s, r in pairs]


def test_moving_mean_and_threshold() -> None:
    np.testing.assert_allclose(moving_mean(np.array([1.0, 3.0, 5.0, 7.0]), 2), [1, 2, 4, 6])
    rets = _returns([(10 * (i + 1), float(i)) for i in range(30)])  # returns 0, 1, ..., 29
    # mean of the last 20 = i - 9.5 at episode i >= 19: first >= 12 at i = 22 (step 230)
    assert steps_to_threshold(rets, 12.0) == 230
    assert steps_to_threshold(rets, 100.0) is None
    assert steps_to_threshold(rets[:19], -1.0) is None  # never a full window


def test_auc_is_the_mean_of_the_step_function() -> None:
    rets = _returns([(100, 2.0), (300, 4.0)])
    # [0,100): 2 (first return), [100,300): mean(2) = 2, [300,400): mean(2,4) = 3
    assert auc(rets, 400, window=20) == pytest.approx((100 * 2 + 200 * 2 + 100 * 3) / 400)
    assert auc(rets, 200, window=20) == pytest.approx(2.0)  # only the budget counts


def test_cli_module_imports_no_torch_or_gymnasium() -> None:
    code = ("import sys, ltm.cli.train; "
            "sys.exit(any(m in sys.modules for m in ('torch', 'gymnasium', 'ltm.rl.train')))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_short_mfec_run_beats_a_random_policy(tmp_path: Path) -> None:
    pytest.importorskip("gymnasium")
    from ltm.rl.envs import make_env

    env = make_env("CartPole-v1")
    rng = np.random.default_rng(0)
    random_returns = []
    for episode in range(60):
        env.reset(seed=10_000 + episode)
        total, done = 0.0, False
        while not done:
            _, r, term, trunc = env.step(int(rng.integers(env.n_actions)))
            total, done = total + r, term or trunc
        random_returns.append(total)
    res = CliRunner().invoke(episodic, ["--env", "CartPole-v1", "--agent", "mfec", "--steps",
                                        "4000", "--seeds", "0", "1", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    for seed in (0, 1):
        m = json.loads((tmp_path / f"seed-{seed}" / "metrics.json").read_text())
        assert set(m) >= {"returns", "auc", "steps_to_threshold", "wall_s", "settings"}
        assert m["settings"]["seed"] == seed and m["settings"]["steps"] == 4000
        assert m["returns"][-1]["step"] >= 4000
        last = np.mean([r["return"] for r in m["returns"][-20:]])
        assert last > 2 * np.mean(random_returns), (last, np.mean(random_returns))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["seeds"] == [0, 1]


def test_unknown_setting_is_a_usage_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(episodic, ["--env", "CartPole-v1", "--agent", "mfec", "--steps",
                                        "10", "--set", "nope=1", "--out", str(tmp_path)])
    assert res.exit_code != 0 and "no setting 'nope'" in res.output
