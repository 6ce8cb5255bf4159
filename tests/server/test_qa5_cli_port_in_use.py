"""`ltm serve` (and `ltm mcp --transport http`) on a port another program holds exits 1 with one line saying so; it exited 3
(uvicorn's startup failure code), which ltm's exit codes reserve for 'not found'."""

from __future__ import annotations

import socket
from pathlib import Path

from click.testing import CliRunner

import ltm
from ltm.cli.serve import mcp, serve


def test_a_port_in_use_is_exit_1_with_a_message(tmp_path: Path) -> None:
    store = tmp_path / "store"
    ltm.open(store, embedder="hash").close()
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        for cmd, args in [(serve, ["--no-mcp", "--log-level", "critical"]),
                          (mcp, ["--transport", "http"])]:
            r = CliRunner().invoke(cmd, ["--store", str(store), "--port", str(port), *args])
            assert r.exit_code == 1, (cmd.name, r.exit_code, r.output)
            assert f"could not start on 127.0.0.1:{port}" in r.output, r.output
