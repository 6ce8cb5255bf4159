"""Abstention from the command line (issue 15, item 4): ``ltm search --min-relevance`` leaves
out what is below the floor, ``ltm context --min-relevance`` overrides the
``context_min_relevance`` setting, and a floor outside [0, 1] (NaN included) is invalid input
(exit code 2), as in the library, REST and MCP."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import ltm
from ltm.cli import main

UNRELATED = "what's the weather in Tokyo"


def test_search_and_context_abstain(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with ltm.open(path) as mem:
        mem.add("Priya has been vegetarian since 2019 and avoids eggs", user="p", kind="fact")
        mem.add("Priya works as a nurse at the city hospital", user="p", kind="fact")
    run = CliRunner().invoke

    def cli(*args: str) -> tuple[int, str]:
        got = run(main, [args[0], "--store", str(path), "--user", "p", *args[1:]])
        return got.exit_code, got.output

    code, out = cli("search", UNRELATED, "--json")
    assert code == 0 and len(json.loads(out)) == 2  # no floor: everything, ranked
    assert cli("search", UNRELATED, "--min-relevance", "0.5") == (0, "(no results)\n")
    code, out = cli("search", "is Priya vegetarian?", "--json")
    ranked = [(h["relevance"], h["memory"]["text"]) for h in json.loads(out)]
    assert code == 0 and "vegetarian" in ranked[0][1] and ranked[0][0] > ranked[1][0]
    floor = (ranked[0][0] + ranked[1][0]) / 2  # between the answer and the other fact
    code, out = cli("search", "is Priya vegetarian?", "--min-relevance", str(floor), "--json")
    assert code == 0 and [h["memory"]["text"] for h in json.loads(out)] == [ranked[0][1]]
    for bad in ("nan", "1.5", "-0.1", "inf"):
        code, out = cli("search", UNRELATED, "--min-relevance", bad)
        assert code == 2 and "min_relevance" in out, (bad, out)
        code, out = cli("context", UNRELATED, "--min-relevance", bad)
        assert code == 2 and "min_relevance" in out, (bad, out)
    assert cli("context", UNRELATED) == (0, "\n")  # the setting's floor: an empty block
    code, out = cli("context", UNRELATED, "--min-relevance", "0", "--json")
    assert code == 0 and "vegetarian" in json.loads(out)["context"]


def test_train_ranker_on_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    """``ltm train ranker --store TYPO`` is an error (exit 4) like every command that reads a
    store; it created an empty store there and said it had no feedback (exit 0)."""
    typo = tmp_path / "no-such-store"
    got = CliRunner().invoke(main, ["train", "ranker", "--store", str(typo)])
    assert got.exit_code == 4 and "no store at" in got.output, got.output
    assert not typo.exists()
