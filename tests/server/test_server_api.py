"""The REST API end to end over HTTP: every endpoint, keys, the committed OpenAPI schema."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from server_support import Served

from ltm.cli.serve import keys as keys_cmd
from ltm.cli.serve import serve
from ltm.server.app import OPENAPI_PATH, openapi_text
from ltm.server.auth import KeyStore


def test_health_needs_no_key_and_reports_keys(served: Served) -> None:
    r = httpx.get(served.url + "/v1/health")
    assert r.status_code == 200
    assert r.json()["auth"] == "keys"
    # a probe that sends HEAD (a load balancer, curl -I) gets 200 too, without a key
    # (it was 405 Method Not Allowed)
    head = httpx.head(served.url + "/v1/health")
    assert head.status_code == 200 and head.content == b""


def test_requests_without_or_with_a_bad_key_are_refused(served: Served) -> None:
    with httpx.Client(base_url=served.url) as c:
        r = c.post("/v1/users/alice/search", json={"query": "x"})
        assert r.status_code == 401 and "API key" in r.json()["message"]
        r = c.get("/v1/users/alice/memories", headers={"Authorization": "Bearer ltm_abc_def"})
        assert r.status_code == 401
        good = served.key["alice"]
        r = c.get("/v1/users/alice/memories", headers={"Authorization": f"Bearer {good}x"})
        assert r.status_code == 401
        r = c.get("/v1/users/alice/memories", headers={"X-API-Key": good})
        assert r.status_code == 200


def test_memory_lifecycle(served: Served) -> None:
    with served.client("alice") as c:
        r = c.post("/v1/users/alice/memories", json={
            "text": "I moved to Lisbon in March", "time": "2026-03-02T10:00:00Z",
            "session": "s-life", "metadata": {"topic": "home"}, "importance": 0.8})
        assert r.status_code == 201, r.text
        m = r.json()
        assert m["user"] == "alice" and m["time"].startswith("2026-03-02T10:00")
        mid = m["id"]

        assert c.get(f"/v1/users/alice/memories/{mid}").json()["text"] == m["text"]

        r = c.patch(f"/v1/users/alice/memories/{mid}", json={"text": "I moved to Porto"})
        assert r.status_code == 200 and r.json()["text"] == "I moved to Porto"
        events = c.get(f"/v1/users/alice/memories/{mid}/history").json()["events"]
        assert [e["event"] for e in events] == ["created", "updated"]
        assert events[1]["data"]["text"] == "I moved to Lisbon in March"

        hits = c.post("/v1/users/alice/search", json={"query": "Porto", "k": 3}).json()["hits"]
        assert hits[0]["memory"]["id"] == mid
        assert {"text", "dense"} <= set(hits[0]["signals"])

        r = c.delete(f"/v1/users/alice/memories/{mid}")
        assert r.status_code == 200 and r.json()["count"] == 1
        assert c.get(f"/v1/users/alice/memories/{mid}").status_code == 404
        events = c.get(f"/v1/users/alice/memories/{mid}/history").json()["events"]
        assert events[-1]["event"] == "deleted" and events[-1]["data"] is None
        assert "Lisbon" not in json.dumps(events)


def test_batch_conversation_filters_context_and_forget_by_filter(served: Served) -> None:
    with served.client("alice") as c:
        r = c.post("/v1/users/alice/memories/batch", json={"items": [
            {"text": "Alice's favourite tea is jasmine", "kind": "fact", "session": "s-b"},
            {"text": "Alice booked a flight to Tokyo", "time": "2025-01-10T09:00:00Z",
             "session": "s-b", "agent": "planner"},
        ]})
        assert r.status_code == 201 and len(r.json()["memories"]) == 2
        r = c.post("/v1/users/alice/conversations", json={"session": "s-conv", "messages": [
            {"content": "I adopted a cat called Miso", "role": "user"},
            {"content": "Lovely! How old is Miso?", "role": "assistant"},
        ]})
        assert r.status_code == 201
        turns = r.json()["memories"]
        assert [t["seq"] for t in turns] == [0, 1]
        assert turns[0]["metadata"]["speaker"] == "user"

        def ids(body: dict[str, object]) -> list[str]:
            r = c.post("/v1/users/alice/search", json=body)
            assert r.status_code == 200, r.text
            return [h["memory"]["text"] for h in r.json()["hits"]]

        assert ids({"query": "tea", "kinds": ["fact"]}) == ["Alice's favourite tea is jasmine"]
        assert ids({"query": "flight Tokyo", "agent": "planner"}) == \
            ["Alice booked a flight to Tokyo"]
        assert ids({"query": "flight Tokyo", "until": "2025-02-01T00:00:00Z"}) == \
            ["Alice booked a flight to Tokyo"]
        assert ids({"query": "cat", "session": "s-conv", "k": 1}) == \
            ["I adopted a cat called Miso"]
        assert ids({"query": "tea", "since": "2030-01-01T00:00:00Z"}) == []

        ctx = c.post("/v1/users/alice/context", json={"query": "cat", "budget_tokens": 200})
        assert ctx.status_code == 200 and "Miso" in ctx.json()["context"]

        page = c.get("/v1/users/alice/memories", params={"session": "s-conv"}).json()
        assert {m["text"] for m in page["memories"]} == {t["text"] for t in turns}
        facts = c.get("/v1/users/alice/memories", params={"kind": "fact"}).json()["memories"]
        assert all(m["kind"] == "fact" for m in facts) and facts

        r = c.post("/v1/users/alice/forget", json={"session": "s-conv"})
        assert r.status_code == 200 and r.json()["count"] == 2
        assert c.get("/v1/users/alice/memories",
                     params={"session": "s-conv"}).json()["memories"] == []
        assert c.post("/v1/users/alice/forget", json={}).status_code == 422


def test_timeline_pages_newest_first(served: Served) -> None:
    with served.client("bob") as c:
        items = [{"text": f"bob note {i}", "time": f"2024-05-{i + 1:02d}T12:00:00Z",
                  "session": "pages"} for i in range(7)]
        assert c.post("/v1/users/bob/memories/batch", json={"items": items}).status_code == 201
        seen: list[str] = []
        before = None
        while True:
            params: dict[str, str | int] = {"session": "pages", "limit": 3}
            if before:
                params["before"] = before
            page = c.get("/v1/users/bob/memories", params=params).json()
            seen += [m["text"] for m in page["memories"]]
            before = page["next_before"]
            if before is None:
                break
        assert seen == [f"bob note {i}" for i in reversed(range(7))]
        stats = c.get("/v1/users/bob/stats").json()
        assert stats["memories"] >= 7
        assert {"day": "2024-05-03", "count": 1} in stats["per_day"]
        assert any(s["session"] == "pages" and s["count"] == 7 for s in stats["sessions"])


def test_export_streams_jsonl_of_one_user(served: Served) -> None:
    with served.client("bob") as c:
        c.post("/v1/users/bob/memories", json={"text": "bob exports this"})
        with c.stream("GET", "/v1/users/bob/export") as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("application/x-ndjson")
            lines = [json.loads(x) for x in r.iter_lines() if x]
        assert lines[0]["ltm_export"] == 1
        assert {row["user"] for row in lines[1:]} == {"bob"}
        assert any(row["text"] == "bob exports this" for row in lines[1:])
        assert all("embedding_f32" not in row for row in lines[1:])


def test_rights_are_enforced(served: Served) -> None:
    with served.client("alice_ro") as c:
        assert c.post("/v1/users/alice/search", json={"query": "tea"}).status_code == 200
        r = c.post("/v1/users/alice/memories", json={"text": "read-only cannot write"})
        assert r.status_code == 403 and "write" in r.json()["message"]
    with served.client("alice") as c:
        assert c.delete("/v1/users/alice").status_code == 403  # whole-user erase needs admin
        assert c.get("/v1/stats").status_code == 403
        assert c.get("/v1/export").status_code == 403
        assert c.get("/v1/me").json()["users"] == ["alice"]
    with served.client("root") as c:
        s = c.get("/v1/stats").json()
        assert s["memories"] == served.store.stats()["memories"]
        assert {"alice", "bob"} <= set(c.get("/v1/users").json()["users"])


def test_admin_erases_a_whole_user(served: Served) -> None:
    with served.client("root") as c:
        c.post("/v1/users/carol/memories/batch",
               json={"items": [{"text": "carol one"}, {"text": "carol two"}]})
        r = c.delete("/v1/users/carol")
        assert r.status_code == 200 and r.json()["count"] == 2
        assert c.get("/v1/users/carol/memories").json()["memories"] == []
    assert "carol" not in served.store.users()


def test_revoked_key_stops_working(served: Served) -> None:
    text, key = served.keys.create(["alice"], "read")
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {text}"}) as c:
        assert c.get("/v1/users/alice/memories").status_code == 200
        served.keys.revoke(key.key_id)
        assert c.get("/v1/users/alice/memories").status_code == 401


def test_openapi_schema_is_committed_and_current(served: Served) -> None:
    served_schema = httpx.get(served.url + "/openapi.json").json()
    committed = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    assert served_schema == committed, "regenerate with: python -m ltm.server.app"
    from ltm.server.app import create_app
    assert openapi_text(create_app(served.store, keys=served.keys, mcp=False)) == \
        OPENAPI_PATH.read_text(encoding="utf-8")


def test_web_page_and_assets_are_served(served: Served) -> None:
    r = httpx.get(served.url + "/")
    assert r.status_code == 200 and "<title>ltm" in r.text
    for asset in ("app.js", "style.css"):
        assert httpx.get(f"{served.url}/static/{asset}").status_code == 200


def test_keys_cli_create_list_revoke(tmp_path: Path) -> None:
    store = str(tmp_path / "s")
    runner = CliRunner()
    r = runner.invoke(keys_cmd, ["create", "--store", store, "--user", "alice", "--user", "bob",
                                 "--rights", "read,write", "--label", "ci", "--json"])
    assert r.exit_code == 0, r.output
    made = json.loads(r.output)
    assert made["key"].startswith("ltm_") and made["users"] == ["alice", "bob"]
    ks = KeyStore(store)
    try:
        assert ks.verify(made["key"]) is not None
        assert made["key"].split("_", 2)[2].encode() not in (tmp_path / "s" / "memories.db"
                                                             ).read_bytes()
    finally:
        ks.close()
    listed = json.loads(runner.invoke(keys_cmd, ["list", "--store", store, "--json"]).output)
    assert listed[0]["key_id"] == made["key_id"] and listed[0]["revoked_at"] is None
    assert runner.invoke(keys_cmd, ["revoke", "--store", store, made["key_id"]]).exit_code == 0
    listed = json.loads(runner.invoke(keys_cmd, ["list", "--store", store, "--json"]).output)
    assert listed[0]["revoked_at"] is not None
    assert runner.invoke(keys_cmd, ["revoke", "--store", store, "nosuchkey"]).exit_code == 3
    bad = runner.invoke(keys_cmd, ["create", "--store", store, "-u", "a", "--rights", "root"])
    assert bad.exit_code == 2


def test_open_until_the_first_key_then_keys_for_good(tmp_path: Path) -> None:
    import ltm
    from ltm.server.app import create_app
    from ltm.server.live import LiveServer

    with ltm.open(tmp_path / "s", embedder="hash") as store:
        keys = KeyStore(tmp_path / "s")
        with LiveServer(create_app(store, keys=keys, mcp=False)) as srv:
            assert httpx.get(srv.url + "/v1/health").json()["auth"] == "open"
            r = httpx.post(srv.url + "/v1/users/eve/memories", json={"text": "open server"})
            assert r.status_code == 201
            _, key = keys.create(["eve"], "read")
            assert httpx.get(srv.url + "/v1/users/eve/memories").status_code == 401
            keys.revoke(key.key_id)  # revoking every key does not reopen the server
            assert httpx.get(srv.url + "/v1/users/eve/memories").status_code == 401
            assert httpx.get(srv.url + "/v1/health").json()["auth"] == "keys"
        with LiveServer(create_app(store, keys=keys, require_keys=False, mcp=False)) as srv:
            assert httpx.get(srv.url + "/v1/users/eve/memories").status_code == 200
        keys.close()
    fresh = tmp_path / "t"
    with ltm.open(fresh, embedder="hash") as store:
        with LiveServer(create_app(store, require_keys=True, mcp=False)) as srv:
            assert httpx.get(srv.url + "/v1/users/eve/memories").status_code == 401


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1"])
def test_serve_refuses_non_loopback_without_keys(tmp_path: Path, host: str) -> None:
    r = CliRunner().invoke(serve, ["--store", str(tmp_path / "s"), "--host", host,
                                   "--port", "1"])
    assert r.exit_code == 2
    assert "refusing" in r.output and "ltm keys create" in r.output


def test_keys_cli_says_a_comma_is_part_of_the_user_name(tmp_path: Path) -> None:
    # --rights is comma-separated; --user is repeated, and a user name may hold a comma
    r = CliRunner().invoke(keys_cmd, ["create", "--store", str(tmp_path / "s"), "--user",
                                      "alice,bob", "--json"])
    assert r.exit_code == 0, r.output
    assert "'alice,bob' is one user name; repeat --user" in r.stderr
    assert json.loads(r.stdout)["users"] == ["alice,bob"]
