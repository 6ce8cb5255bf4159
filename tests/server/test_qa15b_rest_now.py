"""REST search and context read time phrases in the calendar of the body's ``now`` when it
carries a UTC offset (issue 15, guarantee (b) across time zones), over a real server."""

from __future__ import annotations

from server_support import Served

ASKED = "which film did we watch at the cinema yesterday?"


def test_search_reads_yesterday_in_nows_offset(served: Served) -> None:
    with served.client("bob") as c:
        ids = {}
        for session, when in [("sun", "2026-03-08T23:30:00-05:00"),
                              ("sat", "2026-03-07T20:00:00-05:00")]:
            r = c.post("/v1/users/bob/memories", json={
                "text": "We watched a film at the cinema downtown", "session": session,
                "time": when})
            assert r.status_code in (200, 201), r.text
            ids[session] = r.json()["id"]
        r = c.post("/v1/users/bob/search", json={"query": ASKED, "k": 2,
                                                 "now": "2026-03-09T10:00:00-05:00"})
        assert r.status_code == 200, r.text
        hits = r.json()["hits"]
        assert [h["memory"]["id"] for h in hits] == [ids["sun"], ids["sat"]]
        assert hits[0]["signals"]["time_window"] == 1.0
        r = c.post("/v1/users/bob/context", json={"query": ASKED, "min_relevance": 0,
                                                  "now": "2026-03-09T10:00:00-05:00"})
        assert r.status_code == 200 and "session sun" in r.json()["context"]
