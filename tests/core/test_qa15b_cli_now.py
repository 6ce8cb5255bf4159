"""``ltm search --now`` / ``ltm context --now``: time phrases read in the calendar of the given
time's UTC offset (issue 15, guarantee (b) across time zones), and by default in this
machine's local time zone rather than UTC's. The command line had no way to say when "now"
is, so "yesterday" at 21:00 in New York was today's UTC date."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import ltm
from ltm.cli import main

ASKED = "which film did we watch at the cinema yesterday?"
NOW = "2026-03-09T10:00:00-05:00"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    path = tmp_path / "store"
    with ltm.open(path) as mem:
        sunday = mem.add("We watched a film at the cinema downtown", user="u", session="sun",
                         time="2026-03-08T23:30:00-05:00").id
        mem.add("We watched a film at the cinema downtown", user="u", session="sat",
                time="2026-03-07T20:00:00-05:00")
    yield path, sunday


def _cli(path: Path, *args: str) -> tuple[int, str]:
    got = CliRunner().invoke(main, [args[0], "--store", str(path), "--user", "u", *args[1:]])
    return got.exit_code, got.output


def test_now_with_an_offset(store: tuple[Path, str]) -> None:
    path, sunday = store
    code, out = _cli(path, "search", ASKED, "--now", NOW, "-k", "1", "--json")
    assert code == 0 and json.loads(out)[0]["memory"]["id"] == sunday
    code, out = _cli(path, "context", ASKED, "--now", NOW, "--min-relevance", "0")
    assert code == 0 and "[2026-03-08 23:30 · session sun]" in out
    code, out = _cli(path, "search", ASKED, "--now", "Monday morning")
    assert code == 2 and "now" in out


def test_the_default_now_is_the_local_time_zone(store: tuple[Path, str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = store
    monkeypatch.setenv("TZ", "EST+5")  # UTC-5 all year (POSIX: no daylight saving)
    time.tzset()
    try:
        code, out = _cli(path, "context", ASKED, "--min-relevance", "0")
        assert code == 0 and "[2026-03-07 20:00 · session sat]" in out  # not 03-08 01:00
    finally:
        monkeypatch.undo()
        time.tzset()
