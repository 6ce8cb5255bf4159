"""The README's adapter examples run as written (each in a fresh folder, offline)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks() -> list[str]:
    text = README.read_text()
    start = text.index("## Framework adapters")
    section = text[start:text.index("\n## ", start + 1)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_there_is_an_example_per_adapter() -> None:
    blocks = _blocks()
    for module in ("ltm.integrations.langchain", "ltm.integrations.langgraph",
                   "ltm.integrations.openai_agents"):
        assert sum(module in b for b in blocks) == 1, module


@pytest.mark.parametrize("n", range(3))
def test_example_runs(n: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = _blocks()[n]
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md example {n + 1}", "exec"), {"__name__": "__readme__"})
    printed = out.getvalue()
    assert "Lisbon" in printed or "jasmine" in printed, printed
    assert any(tmp_path.iterdir())  # the store was made where the example said
