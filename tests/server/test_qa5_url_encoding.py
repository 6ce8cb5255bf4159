"""A URL whose percent-escapes are not UTF-8 (%FF, an encoded surrogate %ED%A0%80) is 400
bad_encoding, as such a body is; the path's user was decoded to U+FFFD, so '/v1/users/%FF'
and '/v1/users/%FE' both wrote to a user named '\ufffd', and ?session=%FF filtered on it."""

from __future__ import annotations

import pytest
from server_support import Served


@pytest.mark.parametrize("method, path", [
    ("POST", "/v1/users/%FF/memories"),
    ("GET", "/v1/users/%ED%A0%80/memories"),
    ("GET", "/v1/users/alice/memories?session=%FF"),
    ("GET", "/v1/users/alice/memories/%C0%AF"),
    ("POST", "/v1/users/caf%E9/search"),
])
def test_a_url_that_is_not_utf8_is_400(served: Served, method: str, path: str) -> None:
    before = served.store.users()
    with served.client("root") as c:
        r = c.request(method, path, json={"text": "x"} if path.endswith("memories") and
                      method == "POST" else {"query": "x"} if method == "POST" else None)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "bad_encoding" and "UTF-8" in r.json()["message"]
    assert served.store.users() == before


def test_utf8_names_still_work(served: Served) -> None:
    with served.client("root") as c:
        r = c.post("/v1/users/zo%C3%AB/memories", json={"text": "Zoë's note", "session": "ß"})
        assert r.status_code == 201 and r.json()["user"] == "zoë"
        r = c.get("/v1/users/zo%C3%AB/memories?session=%C3%9F")
        assert r.status_code == 200 and r.json()["memories"][0]["text"] == "Zoë's note"
        r = c.get("/v1/users/zo%C3%AB/memories", params={"session": "a b+c"})
        assert r.status_code == 200
