"""A short soak (``ltm bench soak``): clients mixing adds, searches, reads and forgets on one
served store; no 5xx, no acknowledged write lost, no erased memory returned afterwards."""

from __future__ import annotations

from server_support import Served

from ltm.server.soak import run_soak


def test_soak_loses_nothing_and_resurrects_nothing(served: Served) -> None:
    report = run_soak([served.url], served.key["root"], clients=4, seconds=10, seed=5)
    assert report.requests > 50 and report.forgets > 10 and report.searches > 10
    assert report.errors_5xx == 0, report.error_samples
    assert report.errors_other == 0, report.error_samples
    assert report.lost_writes == 0 and report.resurrected == 0, report.error_samples
    assert report.stored == report.adds - report.forgotten_ids  # every erased id was added
