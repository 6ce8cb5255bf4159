"""``ltm export -o`` into a folder that does not exist (or cannot be written) is one line and
exit code 2, not a traceback (found by the reliability QA sweep)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

import ltm
from ltm.cli import main


def test_export_to_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    store = tmp_path / "s"
    with ltm.open(store, embedder="hash") as mem:
        mem.add("a note", user="u")
    target = tmp_path / "missing" / "x.jsonl"
    done = CliRunner().invoke(main, ["export", "--store", str(store), "-o", str(target)])
    assert done.exit_code == 2, done.output
    assert "cannot write" in done.output and "Traceback" not in done.output
    assert not target.exists()
    ok = CliRunner().invoke(main, ["export", "--store", str(store), "-o",
                                   str(tmp_path / "x.jsonl")])
    assert ok.exit_code == 0 and (tmp_path / "x.jsonl").read_text().count("\n") == 2
