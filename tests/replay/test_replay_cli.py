"""The ``replay`` benchmark command: light imports, JSON keys, measured values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from ltm.cli.bench import replay


def test_cli_module_imports_only_click_and_stdlib() -> None:
    # numpy may come with `import ltm` itself; the replay code and torch must not load
    code = ("import sys, ltm.cli.bench; "
            "sys.exit(any(m in sys.modules for m in ('ltm.replay.buffers', 'ltm.replay.bench', 'torch')))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_bench_command_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    res = CliRunner().invoke(replay, ["--capacity", "2000", "--out", str(out), "--freq-samples", "200000"])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    for key in ("inserts_per_s", "per_batches_per_s", "max_frequency_error"):
        assert data[key] > 0
    assert data["max_frequency_error"] < 0.05
    assert data["peer"]["name"]
    assert "inserts/s" in res.output
