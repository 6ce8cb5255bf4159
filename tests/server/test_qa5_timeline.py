"""The timeline and the stats of memories dated before 1970 or before year 1000: REST pages
through them with next_before like any other, and per_day days read YYYY-MM-DD."""

from __future__ import annotations

import re
from pathlib import Path

from server_support import Served

import ltm

U = "/v1/users/qa5-old"
TIMES = ["1969-12-31T23:00:00Z", "1950-06-01T12:00:00Z", "1930-01-01T00:00:00Z",
         "0999-03-04T05:00:00Z", "0001-01-02T00:00:00Z"]


def test_rest_pages_through_memories_before_1970(served: Served) -> None:
    with served.client("root") as c:
        for n, t in enumerate(TIMES):
            r = c.post(U + "/memories", json={"text": f"old memory {n}", "time": t})
            assert r.status_code == 201, r.text
        seen: list[str] = []
        params: dict[str, str | int] = {"limit": 2}
        for _ in range(len(TIMES)):
            r = c.get(U + "/memories", params=params)
            assert r.status_code == 200, r.text
            page = r.json()
            seen += [m["text"] for m in page["memories"]]
            if page["next_before"] is None:
                break
            params = {"limit": 2, "before": page["next_before"]}
    assert seen == [f"old memory {n}" for n in range(len(TIMES))]
    # the library pages the same way with the same cursors
    lib = served.store.list("qa5-old", limit=2)
    assert lib.next_cursor is not None and lib.next_cursor.startswith("-")


def test_per_day_days_are_four_digit_years(served: Served) -> None:
    with served.client("root") as c:
        r = c.get(U + "/stats")
    assert r.status_code == 200, r.text
    days = [d["day"] for d in r.json()["per_day"]]
    assert "0001-01-02" in days and "0999-03-04" in days, days
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", d) for d in days), days


def test_library_user_stats_days_are_four_digit_years(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        mem.add("long ago", user="u", time="0042-07-08T00:00:00Z")
        assert mem.user_stats("u").per_day == [("0042-07-08", 1)]
