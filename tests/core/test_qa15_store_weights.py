"""Per-store relevance weights (issue 15, item 2) reach a store that is already open: a
long-running process (``ltm serve``, an agent) whose store was fitted by ``ltm train ranker
--store`` from another process searches with the new weights without being restarted, and
with the shipped ones again once they are dropped. On both backends."""

from __future__ import annotations

import time
from collections.abc import Callable

from click.testing import CliRunner
from postgres_support import postgres_url
from store_locations import Location, backend_kind, copen, location, new_location

import ltm
from ltm.cli.train import ranker as ranker_command
from ltm.retrieval.feedback import save_ranker
from ltm.retrieval.ranker import shipped
from ltm.store import RANKER_RECHECK_S

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

NOW = "2024-07-01T12:00:00Z"


def test_open_store_picks_up_weights_trained_elsewhere(
        copen: Callable[..., ltm.MemoryStore], location: Location) -> None:
    mem = copen()  # the long-running process
    old = mem.add("my favourite drink is green tea", user="u", time="2020-01-01")
    new = mem.add("these days I mostly drink coffee", user="u", time="2024-06-01")
    q = "what do I like to drink"
    first = mem.search(q, user="u", now=NOW)[0].memory.id
    assert mem.ranker is shipped()
    loser = new if first == old.id else old
    winner = old if loser is new else new
    for _ in range(30):  # the user keeps saying the other one is what they meant
        mem.feedback(q, loser.id, True, user="u", now=NOW)
        mem.feedback(q, winner.id, False, user="u", now=NOW)
    got = CliRunner().invoke(ranker_command, ["--store", str(location)])
    assert got.exit_code == 0 and "from 60 judgments" in got.output, got.output
    time.sleep(RANKER_RECHECK_S + 0.05)
    assert mem.ranker is not shipped()
    assert mem.search(q, user="u", now=NOW)[0].memory.id == loser.id
    # dropped by another process: the shipped weights again
    other = copen()
    save_ranker(other.backend, None)
    time.sleep(RANKER_RECHECK_S + 0.05)
    assert mem.ranker is shipped()
    assert mem.search(q, user="u", now=NOW)[0].memory.id == first
