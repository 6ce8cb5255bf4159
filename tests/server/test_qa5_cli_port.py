"""`ltm serve --port` and `ltm mcp --port` take a TCP port (1-65535): --port 99999 listened on
34463 (99999 mod 65536) and said it served :99999."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ltm.cli.serve import mcp, serve


@pytest.mark.parametrize("port", ["99999", "65536", "0", "-1"])
def test_a_port_outside_1_65535_is_refused(tmp_path: Path, port: str) -> None:
    store = str(tmp_path / "store")
    runner = CliRunner()
    for cmd, args in [(serve, ["--store", store, "--port", port]),
                      (mcp, ["--store", store, "--transport", "http", "--port", port])]:
        r = runner.invoke(cmd, args)
        assert r.exit_code == 2, r.output
        assert "--port" in r.output and "65535" in r.output, r.output
    assert not (tmp_path / "store").exists()  # refused before opening anything
