"""Bad input: each is a 4xx with a JSON message, and nothing is written."""

from __future__ import annotations

import pytest
from server_support import Served

from ltm.server.models import MAX_BATCH, MAX_BODY_BYTES, MAX_K

JSON = {"Content-Type": "application/json"}
U = "/v1/users/alice"

CASES: list[tuple[str, str, str, bytes, int, str]] = [
    # name, method, path, raw body, expected status, word expected in the message
    ("malformed json", "POST", U + "/memories", b'{"text": "hi",', 400, "JSON"),
    ("not an object", "POST", U + "/memories", b'["hi"]', 422, "object"),
    ("empty body", "POST", U + "/memories", b"", 422, "required"),
    ("invalid utf-8", "POST", U + "/memories", b'{"text": "caf\xe9"}', 400, "UTF-8"),
    ("lone surrogate", "POST", U + "/memories", b'{"text": "x\\ud800y"}', 400, "surrogate"),
    ("unknown field", "POST", U + "/memories", b'{"text": "hi", "colour": "red"}', 422,
     "colour"),
    ("wrong type text", "POST", U + "/memories", b'{"text": 42}', 422, "text"),
    ("wrong type k", "POST", U + "/search", b'{"query": "x", "k": "5"}', 422, "k"),
    ("bool as k", "POST", U + "/search", b'{"query": "x", "k": true}', 422, "k"),
    ("huge k", "POST", U + "/search", b'{"query": "x", "k": 100000000}', 422, "less than"),
    ("zero k", "POST", U + "/search", b'{"query": "x", "k": 0}', 422, "k"),
    ("blank text", "POST", U + "/memories", b'{"text": "   "}', 422, "text"),
    ("nul in text", "POST", U + "/memories", b'{"text": "a\\u0000b"}', 422, "NUL"),
    ("NaN importance", "POST", U + "/memories", b'{"text": "x", "importance": NaN}', 422,
     "importance"),
    ("importance > 1", "POST", U + "/memories", b'{"text": "x", "importance": 2}', 422,
     "importance"),
    ("bad time", "POST", U + "/memories", b'{"text": "x", "time": "yesterday-ish"}', 422,
     "ISO-8601"),
    ("overflowing time", "POST", U + "/memories", b'{"text": "x", "time": 1e308}', 422,
     "range"),
    ("year 10000 in UTC", "POST", U + "/memories",
     b'{"text": "x", "time": "9999-12-31T23:00:00-05:00"}', 422, "range"),
    ("bad kind", "POST", U + "/memories", b'{"text": "x", "kind": "Not A Kind"}', 422, "kind"),
    ("empty batch", "POST", U + "/memories/batch", b'{"items": []}', 422, "items"),
    ("metadata not object", "POST", U + "/memories", b'{"text": "x", "metadata": [1]}', 422,
     "metadata"),
    ("metadata filter key", "POST", U + "/search",
     b'{"query": "x", "metadata": {"a b": 1}}', 422, "metadata"),
    ("bad cursor", "GET", U + "/memories?before=%C2%B2.x", b"", 422, "cursor"),
    ("limit too big", "GET", U + "/memories?limit=100000", b"", 422, "limit"),
    ("update with nothing", "PATCH", U + "/memories/01AAAAAAAAAAAAAAAAAAAAAAAA", b"{}", 404,
     "no memory"),
    ("nul in user", "GET", "/v1/users/a%00b/memories", b"", 422, "NUL"),
    ("wrong method", "PUT", U + "/search", b"{}", 405, "Method"),
    ("reserved user name", "GET", "/v1/users/%2A/memories", b"", 422, "every user"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_4xx_with_a_message(served: Served,
                                           case: tuple[str, str, str, bytes, int, str]) -> None:
    _, method, path, body, status, word = case
    before = served.store.stats()["memories"]
    with served.client("alice") as c:
        r = c.request(method, path, content=body, headers=JSON)
    assert r.status_code == status, r.text
    data = r.json()
    assert data["error"] and word.lower() in data["message"].lower(), data
    assert served.store.stats()["memories"] == before


def test_nul_in_user_is_refused_for_a_key_that_covers_every_user(served: Served) -> None:
    with served.client("root") as c:
        r = c.get("/v1/users/a%00b/memories")
    assert r.status_code == 422 and "NUL" in r.json()["message"]


def test_oversized_body_is_413_before_reading_it(served: Served) -> None:
    big = b'{"text": "' + b"a" * (MAX_BODY_BYTES + 10) + b'"}'
    with served.client("alice") as c:
        r = c.post(U + "/memories", content=big, headers=JSON)
        assert r.status_code == 413 and "larger" in r.json()["message"]
        # streamed without a length: counted as it arrives
        r = c.post(U + "/memories", content=iter([big[:1000], big[1000:]]), headers=JSON)
        assert r.status_code == 413


def test_text_and_batch_limits(served: Served) -> None:
    from ltm.store import MAX_TEXT_CHARS
    with served.client("alice") as c:
        r = c.post(U + "/memories", json={"text": "a" * (MAX_TEXT_CHARS + 1)})
        assert r.status_code == 422 and "text" in r.json()["message"]
        items = [{"text": "x"}] * (MAX_BATCH + 1)
        r = c.post(U + "/memories/batch", json={"items": items})
        assert r.status_code == 422 and "items" in r.json()["message"]
        r = c.post(U + "/search", json={"query": "x", "k": MAX_K})
        assert r.status_code == 200
