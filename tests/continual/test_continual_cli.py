"""The ``continual`` command: light imports and a tiny end-to-end run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ltm.cli.train import continual


def test_cli_module_imports_no_torch() -> None:
    code = ("import sys, ltm.cli.train; "
            "sys.exit(any(m in sys.modules for m in ('torch', 'sklearn', 'ltm.continual.train')))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_single_run_writes_json_and_png(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    res = CliRunner().invoke(
        continual,
        ["--scenario", "domain", "--method", "si", "--seeds", "0", "--epochs", "1", "--out", str(tmp_path)],
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "continual_domain_si.json").read_text())
    assert data["seeds"] == [0] and 0.4 < data["average_accuracy"]["mean"] <= 1.0
    assert len(data["acc_matrix_mean"]) == 5
    assert (tmp_path / "continual_domain_si.png").stat().st_size > 1000
    assert "average accuracy" in res.output


def test_bad_seeds_are_a_usage_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(continual, ["--seeds", "a,b", "--out", str(tmp_path)])
    assert res.exit_code == 2
