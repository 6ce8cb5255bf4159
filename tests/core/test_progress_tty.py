"""Progress bars are drawn on a terminal, not into pipes (train and bench used to fill logs)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import click

from ltm.cli.common import progress_default

PROBE = """
import sys, click
from ltm.cli.common import progress_default
@click.command()
@click.option("--progress/--no-progress", default=None, callback=progress_default)
def main(progress):
    print("progress=%s" % progress)
main()
"""


def _run(*args: str, tty: bool) -> str:
    if not tty:
        r = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                           timeout=60)
        return r.stdout.strip()
    primary, secondary = pty.openpty()
    try:
        r = subprocess.run([sys.executable, "-c", PROBE, *args], stdout=subprocess.PIPE,
                           stderr=secondary, text=True, timeout=60)
    finally:
        os.close(secondary)
        os.close(primary)
    return r.stdout.strip()


def test_bars_follow_the_terminal_unless_asked() -> None:
    assert _run(tty=False) == "progress=False"
    assert _run(tty=True) == "progress=True"
    assert _run("--progress", tty=False) == "progress=True"
    assert _run("--no-progress", tty=True) == "progress=False"


def test_the_commands_use_it() -> None:
    from ltm.cli.bench import scale
    from ltm.cli.train import train

    opts = [p for p in scale.params if p.name == "progress"]
    assert opts and opts[0].callback is progress_default
    for name in train.list_commands(click.Context(train)):
        cmd = train.get_command(click.Context(train), name)
        for p in getattr(cmd, "params", []):
            if p.name == "progress":
                assert p.callback is progress_default, name
