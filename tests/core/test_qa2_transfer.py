"""An export from a later version of ltm (QA of issue 2): its header names a newer format, and
the import says so (upgrade ltm) instead of calling the file "not an ltm export"; nothing is
written."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import ltm
from ltm.errors import InvalidInput
from ltm.transfer import EXPORT_FORMAT


def test_an_export_of_a_newer_format_says_so(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "a", embedder="hash") as src:
        src.add("I moved to Lisbon in March", user="alice")
        out = io.StringIO()
        src.export(out)
    header, *rest = out.getvalue().splitlines()
    newer = json.dumps({**json.loads(header), "ltm_export": EXPORT_FORMAT + 1})
    with ltm.open(tmp_path / "b", embedder="hash") as dst:
        with pytest.raises(InvalidInput, match=f"format {EXPORT_FORMAT + 1}, newer.*upgrade"):
            dst.import_(io.StringIO("\n".join([newer, *rest]) + "\n"))
        with pytest.raises(InvalidInput, match="not an ltm export"):
            dst.import_(io.StringIO("\n".join(['{"ltm_export": "x"}', *rest]) + "\n"))
        assert dst.stats()["memories"] == 0
        assert dst.import_(io.StringIO(out.getvalue())).imported == 1


def test_an_export_into_a_binary_file_is_invalid_input(tmp_path: Path) -> None:
    """open(path, "wb") raised a raw TypeError ('a bytes-like object is required')."""
    with ltm.open(tmp_path / "a", embedder="hash") as mem:
        mem.add("I moved to Lisbon in March", user="alice")
        with open(tmp_path / "e.jsonl", "wb") as fp, pytest.raises(InvalidInput) as err:
            mem.export(fp)  # type: ignore[arg-type]
        assert err.value.field == "fp" and "text mode" in str(err.value)
        with open(tmp_path / "e.jsonl", "w", encoding="utf-8") as text:
            assert mem.export(text) == 1
