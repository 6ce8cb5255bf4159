"""Bad input through `ltm import` (issue 14, F5): a clear message naming the line, exit code 2
(bad input, as the cli docstring documents), no traceback, nothing written."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import ltm


def _ltm(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LTM_STORE=str(store), LTM_EMBEDDER="hash")
    return subprocess.run([sys.executable, "-m", "ltm.cli", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def _memories(store: Path) -> int:
    with ltm.open(store, embedder="hash") as mem:
        return int(mem.stats()["memories"])


def _refused(result: subprocess.CompletedProcess[str], line: int) -> None:
    assert result.returncode == 2, result.stderr
    assert f"line {line}" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") <= 2, result.stderr  # one clear line (tqdm may add one)


def test_conversation_with_a_bad_line_writes_nothing(tmp_path: Path) -> None:
    store, conv = tmp_path / "store", tmp_path / "chat.jsonl"
    turns = [{"role": "user", "content": f"turn number {i}"} for i in range(1, 1001)]
    turns[700] = {"role": "user"}  # line 701: no content
    conv.write_text("".join(json.dumps(t) + "\n" for t in turns), encoding="utf-8")
    _refused(_ltm(store, "import", str(conv), "--user", "alice"), 701)
    assert _memories(store) == 0
    turns[700] = {"role": "user", "content": "fixed"}
    conv.write_text("".join(json.dumps(t) + "\n" for t in turns), encoding="utf-8")
    assert _ltm(store, "import", str(conv), "--user", "alice").returncode == 0
    assert _memories(store) == 1000


def test_conversation_that_is_not_utf8(tmp_path: Path) -> None:
    store, conv = tmp_path / "store", tmp_path / "latin1.jsonl"
    lines = [json.dumps({"role": "user", "content": f"turn {i}"}) for i in range(1, 11)]
    lines.append('{"role": "user", "content": "un caf\u00e9 cr\u00e8me"}')  # line 11
    conv.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    _refused(_ltm(store, "import", str(conv), "--user", "alice"), 11)
    assert _memories(store) == 0
    conv.write_bytes(b'{"role": "user", "content": "ok"}\n{not json\n')
    _refused(_ltm(store, "import", str(conv), "--user", "alice"), 2)
    assert _memories(store) == 0


def test_export_file_with_a_bad_line_writes_nothing(tmp_path: Path) -> None:
    source, store = tmp_path / "source", tmp_path / "store"
    with ltm.open(source, embedder="hash") as mem:
        mem.add_many([{"text": f"memory {i}", "user": "u"} for i in range(1_300)])
        buf = io.StringIO()
        mem.export(buf)
    lines = buf.getvalue().splitlines()
    export = tmp_path / "export.jsonl"
    bad = lines[:1_201] + ['{"id": "not an id"}'] + lines[1_201:]  # line 1,202
    export.write_text("\n".join(bad) + "\n", encoding="utf-8")
    _refused(_ltm(store, "import", str(export)), 1202)
    assert _memories(store) == 0
    latin = ("\n".join(lines[:5]) + "\n").encode() + \
        '{"text": "na\u00efve"}\n'.encode("latin-1") + ("\n".join(lines[5:]) + "\n").encode()
    export.write_bytes(latin)
    _refused(_ltm(store, "import", str(export)), 6)
    assert _memories(store) == 0
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _ltm(store, "import", str(export)).returncode == 0
    assert _memories(store) == 1_300
