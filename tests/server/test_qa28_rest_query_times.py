"""A time with a UTC offset in a URL's query (helper 66, thirteenth session): `?since=...+01:00`
typed as it is written (curl, a browser's address bar) arrives with a space where the `+` was,
and was refused ("since '2026-03-01T00:00:00 01:00' is not an ISO-8601 time")."""

from __future__ import annotations

from server_support import Served


def test_an_offset_whose_plus_became_a_space_is_read_as_the_offset(served: Served) -> None:
    with served.client("alice") as c:
        for text, time in (("before the offset's midnight", "2026-02-28T23:30:00Z"),
                           ("after the offset's midnight", "2026-03-01T01:30:00Z")):
            assert c.post("/v1/users/alice/memories", json={
                "text": text, "time": time, "session": "offsets"}).status_code == 201
        for query in ("since=2026-03-01T00:00:00+01:00", "since=2026-03-01T00:00:00%2B01:00",
                      "since=2026-03-01T00:00+0100"):
            r = c.get(f"/v1/users/alice/memories?session=offsets&{query}")
            assert r.status_code == 200, (query, r.text)
            # 00:00+01:00 is 23:00 UTC the day before: both are at or after it
            assert len(r.json()["memories"]) == 2, query
        r = c.get("/v1/users/alice/memories?session=offsets&until=2026-03-01T01:00:00+01:00")
        assert r.status_code == 200 and len(r.json()["memories"]) == 1, r.text
        # what is still not a time is refused as before
        r = c.get("/v1/users/alice/memories?since=2026-03-01 garbage")
        assert r.status_code == 422 and r.json()["field"] == "since"
