"""Ctrl-C during a command: exit 130 (as shells report SIGINT) with one line, no traceback, and
the store as it was. Before: click's "Aborted!" and exit 1, which a script cannot tell from a
failure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _ltm(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LTM_EMBEDDER": "hash"}
    return subprocess.run([sys.executable, "-m", "ltm", *args], capture_output=True, text=True,
                          timeout=120, env=env, check=False, **kw)  # type: ignore[call-overload]


def test_ctrl_c_during_an_import_exits_130_and_keeps_the_store(tmp_path: Path) -> None:
    store = str(tmp_path / "s")
    assert _ltm("--store", store, "add", "--user", "u", "first memory").returncode == 0
    env = {**os.environ, "LTM_EMBEDDER": "hash"}
    # an import reading standard input that never ends: the command is waiting in a read
    proc = subprocess.Popen([sys.executable, "-m", "ltm", "--store", store, "import", "-",
                             "--user", "u", "--session", "s1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"role": "user", "content": "a line that arrives"}) + "\n")
    proc.stdin.flush()
    time.sleep(3)  # (the interpreter and the store open; the read then waits)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, err)
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "ltm: interrupted"
    listed = _ltm("--store", store, "list", "--user", "u", "--json")
    assert listed.returncode == 0, listed.stderr
    texts = [m["text"] for m in json.loads(listed.stdout)["memories"]]
    assert "first memory" in texts and "a line that arrives" not in texts
