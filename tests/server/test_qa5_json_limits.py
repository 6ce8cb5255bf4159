"""JSON the parser gives up on (nested thousands deep, a number of thousands of digits) is
400 invalid_json saying why, like other malformed JSON; it was 400 'bad_request' with
FastAPI's 'There was an error parsing the body'. Nothing is written."""

from __future__ import annotations

import pytest
from server_support import Served

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("path, body", [
    ("/v1/users/alice/memories", b"[" * 100_000 + b"]" * 100_000),
    ("/v1/users/alice/memories",
     b'{"text": "x", "metadata": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}"),
    ("/v1/users/alice/memories", b'{"text": "x", "importance": ' + b"9" * 5_000 + b"}"),
    ("/v1/users/alice/search", b'{"query": "x", "k": ' + b"9" * 5_000 + b"}"),
], ids=["deep list", "deep metadata", "long number", "long k"])
def test_json_too_deep_or_too_long_is_invalid_json(served: Served, path: str,
                                                   body: bytes) -> None:
    before = served.store.stats()["memories"]
    with served.client("alice") as c:
        r = c.post(path, content=body, headers=JSON)
    assert r.status_code == 400, r.text
    data = r.json()
    assert data["error"] == "invalid_json", data
    assert "JSON" in data["message"] and ("deep" in data["message"]
                                          or "digits" in data["message"]), data
    assert served.store.stats()["memories"] == before
