"""The isolation matrix: for every endpoint, alice's key against bob's memories gets 403/404
and changes nothing; the list of endpoints comes from the served OpenAPI schema, so a new
endpoint without a case here fails the test."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
from server_support import Served

BODIES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("post", "/v1/users/{user}/memories"): {"text": "written by the wrong key"},
    ("post", "/v1/users/{user}/memories/batch"): {"items": [{"text": "wrong key batch"}]},
    ("post", "/v1/users/{user}/conversations"): {"session": "bob-s",
                                                 "messages": [{"content": "wrong key turn"}]},
    ("get", "/v1/users/{user}/memories"): None,
    ("get", "/v1/users/{user}/memories/{memory_id}"): None,
    ("patch", "/v1/users/{user}/memories/{memory_id}"): {"text": "overwritten by alice"},
    ("delete", "/v1/users/{user}/memories/{memory_id}"): None,
    ("get", "/v1/users/{user}/memories/{memory_id}/history"): None,
    ("post", "/v1/users/{user}/search"): {"query": "bob secret plan"},
    ("post", "/v1/users/{user}/context"): {"query": "bob secret plan"},
    ("post", "/v1/users/{user}/forget"): {"session": "bob-s"},
    ("delete", "/v1/users/{user}"): None,
    ("get", "/v1/users/{user}/stats"): None,
    ("get", "/v1/users/{user}/export"): None,
}
# Endpoints that name no user: what alice's key may see there is checked below.
GLOBAL = {("get", "/v1/health"), ("get", "/v1/me"), ("get", "/v1/users"), ("get", "/v1/stats"),
          ("get", "/v1/export")}


def _bob_snapshot(served: Served) -> str:
    buf = io.StringIO()
    served.store.export(buf, user="bob", embeddings=True)
    rows = [json.loads(x) for x in buf.getvalue().splitlines()[1:]]
    for r in rows:  # reads by bob himself may bump these; alice's calls must not change more
        r.pop("access_count", None)
        r.pop("last_accessed", None)
    return json.dumps(rows, sort_keys=True)


@pytest.fixture(scope="module")
def bob_memory(served: Served) -> str:
    with served.client("bob") as c:
        r = c.post("/v1/users/bob/memories", json={"text": "bob secret plan: buy a boat",
                                                   "session": "bob-s"})
        assert r.status_code == 201
        c.post("/v1/users/bob/memories", json={"text": "bob second secret", "session": "bob-s"})
        return str(r.json()["id"])


def test_every_endpoint_is_in_the_matrix(served: Served) -> None:
    schema = httpx.get(served.url + "/openapi.json").json()
    ops = {(m, p) for p, item in schema["paths"].items() for m in item}
    assert ops == set(BODIES) | GLOBAL


@pytest.mark.parametrize("key", ["alice", "alice_admin"])
@pytest.mark.parametrize("op", sorted(BODIES), ids=lambda op: f"{op[0]} {op[1]}")
def test_a_key_for_alice_cannot_reach_bob(served: Served, bob_memory: str, key: str,
                                          op: tuple[str, str]) -> None:
    method, template = op
    before = _bob_snapshot(served)
    body = BODIES[op]
    with served.client(key) as c:
        # 1. naming bob: 403, whatever exists
        path = template.format(user="bob", memory_id=bob_memory)
        r = c.request(method.upper(), path, json=body)
        assert r.status_code == 403, (path, r.status_code, r.text)
        assert "boat" not in r.text
        # 2. bob's memory id under alice's own scope: not found, as if it did not exist
        if "{memory_id}" in template:
            path = template.format(user="alice", memory_id=bob_memory)
            r = c.request(method.upper(), path, json=body)
            assert r.status_code == 404, (path, r.status_code, r.text)
            missing = template.format(user="alice", memory_id="01AAAAAAAAAAAAAAAAAAAAAAAA")
            r2 = c.request(method.upper(), missing, json=body)
            # no existence leak: a foreign id and a made-up id answer alike
            assert r2.status_code == r.status_code
            assert r2.json()["error"] == r.json()["error"]
    assert _bob_snapshot(served) == before


def test_global_endpoints_reveal_nothing_of_bob(served: Served, bob_memory: str) -> None:
    with served.client("alice_admin") as c:
        assert c.get("/v1/users").json()["users"] in ([], ["alice"])
        assert c.get("/v1/stats").status_code == 403
        assert c.get("/v1/export").status_code == 403
        me = c.get("/v1/me").json()
        assert me["users"] == ["alice"]
    assert "bob" in httpx.get(served.url + "/v1/users", headers={
        "Authorization": f"Bearer {served.key['root']}"}).json()["users"]


def test_search_in_alice_scope_never_returns_bob(served: Served, bob_memory: str) -> None:
    with served.client("alice") as c:
        c.post("/v1/users/alice/memories", json={"text": "alice likes sailing boats"})
        hits = c.post("/v1/users/alice/search", json={"query": "bob secret plan boat",
                                                       "k": 50}).json()["hits"]
        assert hits and all(h["memory"]["user"] == "alice" for h in hits)
        assert bob_memory not in {h["memory"]["id"] for h in hits}
        ctx = c.post("/v1/users/alice/context", json={"query": "boat plan"}).json()["context"]
        assert "bob secret" not in ctx
        exported = c.get("/v1/users/alice/export").text
        assert "bob secret" not in exported


def test_sources_cannot_point_at_another_users_memory(served: Served, bob_memory: str) -> None:
    with served.client("alice") as c:
        r = c.post("/v1/users/alice/memories", json={"text": "derived", "sources": [bob_memory]})
        assert r.status_code == 422
        r2 = c.post("/v1/users/alice/memories", json={"text": "derived",
                                                       "sources": ["01AAAAAAAAAAAAAAAAAAAAAAAA"]})
        assert r2.status_code == 422
