"""A bounded schemathesis run against the served OpenAPI schema: no 5xx, no schema violation.
(The longer run is ``ltm bench fuzz``.)"""

from __future__ import annotations

from server_support import Served

from ltm.server.fuzz import run_fuzz, seed_store


def test_schemathesis_finds_no_server_error_or_schema_violation(served: Served) -> None:
    seed_store(served.store)
    summary = run_fuzz(served.url, served.key["root"], max_examples=6,
                       phases="examples,fuzzing", seed=7, timeout=240)
    assert summary["cases"] and summary["cases"] > 50, summary["output_tail"]
    assert summary["server_errors"] == 0 and summary["schema_violations"] == 0, \
        summary["output_tail"]
    assert summary["ok"], summary["output_tail"]
