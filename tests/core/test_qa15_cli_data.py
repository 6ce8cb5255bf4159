"""The benchmark and training commands of issue 15 (``ltm bench beam``, ``ltm train ranker
--data``) given a folder or file that holds no such data: one line naming it and exit code 2,
not a Python traceback (they raised FileNotFoundError)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ltm.cli import main


def test_missing_benchmark_data_is_a_usage_error(tmp_path: Path) -> None:
    run = CliRunner().invoke
    got = run(main, ["bench", "beam", "--data", str(tmp_path), "--out",
                     str(tmp_path / "beam.json")])
    assert got.exit_code == 2 and "no BEAM conversations" in got.output, got.output
    assert got.exception is None or isinstance(got.exception, SystemExit)
    for data in (f"locomo:{tmp_path / 'missing.json'}", f"beam:{tmp_path}"):
        got = run(main, ["train", "ranker", "--data", data, "--out", str(tmp_path / "r.json")])
        assert got.exit_code == 2 and "--data" in got.output, (data, got.output)
        assert got.exception is None or isinstance(got.exception, SystemExit)
    assert not (tmp_path / "beam.json").exists() and not (tmp_path / "r.json").exists()
