"""Examples of docs/ that run fast and offline run as written and show what the text says.

(The README's are in test_readme_examples.py; docs/neural.md's needs a trained checkpoint,
docs/continual.md's trains for minutes and docs/postgres.md's names a server.)
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import ltm

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _blocks(name: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(), re.S)


def _run(code: str, scope: dict[str, object], where: str) -> dict[str, object]:
    exec(compile(code, where, "exec"), scope)
    return scope


def test_facts_and_supersession(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    scope = _run(_blocks("time-and-retention.md")[0], {}, "docs/time-and-retention.md")
    mem, a, b = scope["mem"], scope["a"], scope["b"]
    assert isinstance(mem, ltm.MemoryStore)
    assert isinstance(a, ltm.Memory) and isinstance(b, ltm.Memory)
    old = mem.get(a.id, user="ana")
    assert old.valid_to == b.valid_from and old.superseded_by == b.id  # b's valid_from, b.id
    then = mem.search("where does Ana work", user="ana", as_of="2020-06-01")
    assert then[0].memory.id == a.id  # -> a
    ids = [h.memory.id for h in mem.search("where does Ana work", user="ana")]
    assert ids.index(b.id) < ids.index(a.id)  # -> b first, a below
    mem.close()


def test_replay_buffer_and_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first, persist = _blocks("replay.md")
    scope = _run(first, {}, "docs/replay.md, first example")
    batch = scope["batch"]
    obs = batch.data["obs"]  # type: ignore[attr-defined]
    assert obs.shape == (256, 8) and obs.dtype == np.float32  # (256, 8) float32
    weights = batch.weights  # type: ignore[attr-defined]
    assert weights.max() == pytest.approx(1.0) and weights.min() > 0  # importance weights, max 1
    scope = _run(persist, scope, "docs/replay.md, persistence")
    buf = scope["buf"]
    assert type(buf).__name__ == "PrioritizedBuffer" and len(buf) == 512  # type: ignore[arg-type]
    assert (tmp_path / "runs" / "replay" / "manifest.json").is_file()
    buf.close()  # type: ignore[attr-defined]
