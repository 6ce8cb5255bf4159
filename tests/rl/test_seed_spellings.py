"""``--seeds`` reads the same in both training commands that take it: comma-separated
(``--seeds 0,1``) or space-separated after the option (``--seeds 0 1``), or both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ltm.cli.train import continual, episodic


def test_episodic_takes_commas_and_spaces(tmp_path: Path) -> None:
    pytest.importorskip("gymnasium")
    res = CliRunner().invoke(episodic, ["--env", "CartPole-v1", "--agent", "mfec",
                                        "--seeds", "0,1", "2", "--steps", "20",
                                        "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["seeds"] == [0, 1, 2]
    assert [run["seed"] for run in summary["runs"]] == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.glob("seed-*")) == ["seed-0", "seed-1", "seed-2"]


def test_a_bad_seed_names_the_option(tmp_path: Path) -> None:
    res = CliRunner().invoke(episodic, ["--env", "CartPole-v1", "--agent", "mfec",
                                        "--seeds", "0,x", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "--seeds" in res.output and "'0,x'" in res.output


def test_continual_takes_seeds_after_the_option(tmp_path: Path) -> None:
    # `--seeds 0 1` used to stop at "unexpected extra argument (1)"; it now reaches the
    # command's own checks (here: --grid refuses --epochs, before any training)
    res = CliRunner().invoke(continual, ["--seeds", "0", "1", "--grid", "--epochs", "1",
                                         "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "--grid runs the benchmark settings" in res.output
    assert "unexpected extra argument" not in res.output


def test_continual_seeds_without_the_option_are_refused(tmp_path: Path) -> None:
    # 'ltm train continual 3' would have run the default 0,1,2 and 3
    res = CliRunner().invoke(continual, ["3", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "give the seeds after --seeds" in res.output


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_threshold_that_is_no_number_is_a_usage_error(tmp_path: Path, value: str) -> None:
    # --threshold nan was taken, and no return ever reaches NaN: steps_to_threshold never set
    res = CliRunner().invoke(episodic, ["--env", "CartPole-v1", "--agent", "mfec",
                                        "--threshold", value, "--out", str(tmp_path)])
    assert res.exit_code == 2, res.output
    assert "--threshold" in res.output and "not a finite number" in res.output
    assert not any(tmp_path.iterdir())
