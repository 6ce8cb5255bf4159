"""Without an optional extra, importing what needs it raises ``ltm.MissingDependency`` naming
the extra to install (as ``ltm.integrations`` and ``ltm.server.create_app`` do), not a bare
ModuleNotFoundError. The packages are made unimportable in a fresh interpreter
(``sys.modules[name] = None``, which Python's import reads as "not installed")."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
for name in ("torch", "gymnasium"):
    sys.modules[name] = None
import ltm
try:
    {stmt}
except ltm.MissingDependency as exc:
    print("missing", exc.extra, isinstance(exc, ImportError))
"""


@pytest.mark.parametrize(("stmt", "extra"), [
    ("import ltm.neural", "neural"),
    ("from ltm.rl import DQNAgent", "rl"),
])
def test_an_import_without_its_extra_names_the_extra(stmt: str, extra: str) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE.format(stmt=stmt)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["missing", extra, "True"], (out.stdout, out.stderr)
