"""REST error messages say what to fix in plain words (no pydantic internals), a body sent
without a JSON content type is a 415 that says so, and kinds follow the documented rule: any
lowercase word."""

from __future__ import annotations

import json

import pytest
from server_support import Served

JSON = {"Content-Type": "application/json"}
U = "/v1/users/alice"

# what pydantic's own messages look like; none may reach a client
INTERNALS = ("Value error", "Input should", "String should", "List should", "pattern",
             "^[", "constrained-", "function-after", ".str", ".float", "[key]", "dictionary")

CASES: list[tuple[str, str, str, bytes, str, str | None]] = [
    # name, method, path, body, the message expected (exactly), the field expected
    ("time of a wrong type", "POST", U + "/memories", b'{"text": "x", "time": [1]}',
     "time must be a string or a number", "time"),
    ("bad time", "POST", U + "/memories", b'{"text": "x", "time": "soonish"}',
     "time 'soonish' is not an ISO-8601 time (e.g. 2026-03-02T10:00:00Z)", "time"),
    ("blank text", "POST", U + "/memories", b'{"text": "  "}', "text must not be blank", "text"),
    ("text a number", "POST", U + "/memories", b'{"text": 5}', "text must be a string", "text"),
    ("unknown field", "POST", U + "/memories", b'{"text": "x", "colour": 1}',
     "unknown field 'colour'", "colour"),
    ("missing query", "POST", U + "/search", b"{}", "query is required", "query"),
    ("k too big", "POST", U + "/search", b'{"query": "x", "k": 201}',
     "k must be less than or equal to 200", "k"),
    ("not an object", "POST", U + "/memories", b"[1]", "the body must be a JSON object", None),
    ("empty batch", "POST", U + "/memories/batch", b'{"items": []}', "items must not be empty",
     "items"),
    ("bad kind in a batch", "POST", U + "/memories/batch",
     b'{"items": [{"text": "x", "kind": "Two Words"}]}',
     "items.0.kind must be a lowercase word: a letter, then up to 31 letters, digits, '_' or "
     "'-' (episode, fact, summary or any other)", "items.0.kind"),
    ("metadata filter value", "POST", U + "/search",
     b'{"query": "x", "metadata": {"a": [1]}}',
     "metadata.a must be a string, an integer, a number or a boolean", "metadata.a"),
    ("metadata filter key", "POST", U + "/search", b'{"query": "x", "metadata": {"a b": 1}}',
     "metadata key 'a b' is not allowed: keys must be 1 to 64 letters, digits, '_' or '-'",
     "metadata.a b"),
    ("limit not a number", "GET", U + "/memories?limit=many", b"", "limit must be an integer",
     "limit"),
    ("pinned not a boolean", "POST", U + "/memories", b'{"text": "x", "pinned": "yes"}',
     "pinned must be true or false", "pinned"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_validation_errors_are_plain_sentences(
        served: Served, case: tuple[str, str, str, bytes, str, str | None]) -> None:
    _, method, path, body, message, field = case
    with served.client("alice") as c:
        r = c.request(method, path, content=body, headers=JSON)
    assert r.status_code == 422, r.text
    data = r.json()
    assert data["error"] == "invalid_input"
    assert data["message"] == message
    assert data.get("field") == field
    assert not [w for w in INTERNALS if w in data["message"]], data["message"]


def test_several_errors_are_each_said_once(served: Served) -> None:
    with served.client("alice") as c:
        r = c.post(U + "/memories", json={"text": "", "importance": 3, "time": {"a": 1}})
    assert r.status_code == 422
    message = r.json()["message"]
    assert message.split("; ") == ["text must not be empty",
                                   "time must be a string or a number",
                                   "importance must be less than or equal to 1.0"]


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x"])
def test_a_body_that_is_not_sent_as_json_is_415(served: Served, ctype: str | None) -> None:
    before = served.store.stats()["memories"]
    body = json.dumps({"text": "sent without saying it is JSON"}).encode()
    with served.client("alice") as c:
        headers = {"Content-Type": ctype} if ctype else {}
        r = c.post(U + "/memories", content=body, headers=headers)
        assert r.status_code == 415, r.text
        data = r.json()
        assert data["error"] == "unsupported_media_type"
        assert "Content-Type: application/json" in data["message"]
        assert (repr(ctype) if ctype else "no Content-Type") in data["message"]
        # the same body with the header is stored; a JSON media type with a suffix is JSON too
        assert c.post(U + "/memories", content=body, headers=JSON).status_code == 201
        assert c.post(U + "/memories", content=body,
                      headers={"Content-Type": "application/merge-patch+json"}).status_code \
            == 201
    assert served.store.stats()["memories"] == before + 2


def test_any_lowercase_word_is_a_kind_and_nothing_else(served: Served) -> None:
    with served.client("alice") as c:
        r = c.post(U + "/memories", json={"text": "a bogus kind is a kind", "kind": "bogus"})
        assert r.status_code == 201 and r.json()["kind"] == "bogus"
        r = c.post(U + "/search", json={"query": "bogus kind", "kinds": ["bogus"]})
        assert [h["memory"]["kind"] for h in r.json()["hits"]] == ["bogus"]
        r = c.get(U + "/memories", params={"kind": "bogus"})
        assert [m["text"] for m in r.json()["memories"]] == ["a bogus kind is a kind"]
        for bad in ("Bogus", "two words", "1st", "", "a" * 33):
            r = c.post(U + "/memories", json={"text": "x", "kind": bad})
            assert r.status_code == 422 and r.json()["field"] == "kind", bad
            assert "lowercase word" in r.json()["message"]
            r = c.get(U + "/memories", params={"kind": bad})
            assert r.status_code == 422 and "lowercase word" in r.json()["message"], bad


def test_the_documented_kind_rule_is_the_one_enforced() -> None:
    """docs/server.md and the schema state the rule the server applies."""
    from pathlib import Path

    from ltm.server.models import KIND_RULE, MemoryIn

    docs = " ".join((Path(__file__).resolve().parents[2] / "docs" / "server.md").read_text()
                    .split())
    assert "A `kind` is any lowercase word: a letter, then up to 31 letters, digits" in docs
    assert "a kind that is not a lowercase word" in docs  # the 422 row of the errors table
    assert "lowercase word" in MemoryIn.model_json_schema()["properties"]["kind"]["description"]
    assert "any other" in KIND_RULE
