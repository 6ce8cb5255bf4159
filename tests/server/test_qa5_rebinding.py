"""DNS rebinding: a web page on another name (evil.example, re-pointed at 127.0.0.1) must not
reach an open loopback server's memories. MCP already checked Host; the REST API did not, so
any page the user visited could read and erase every memory of a keyless `ltm serve`."""

from __future__ import annotations

from pathlib import Path

import httpx

import ltm
from ltm.server.app import create_app
from ltm.server.auth import KeyStore
from ltm.server.live import LiveServer


def test_open_loopback_server_answers_only_loopback_names(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        mem.add("alice's secret", user="alice")
        with LiveServer(create_app(mem, mcp=False)) as srv, \
                httpx.Client(base_url=srv.url, timeout=30) as c:
            port = srv.port
            for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.nip.io:{port}"):
                for method, path in [("GET", "/v1/users/alice/memories"),
                                     ("DELETE", "/v1/users/alice"),
                                     ("GET", "/v1/export"), ("GET", "/v1/me")]:
                    r = c.request(method, path, headers={"Host": host})
                    assert r.status_code == 403, (host, path, r.text)
                    assert "secret" not in r.text and "Host" in r.json()["message"]
            for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}",
                         f"LOCALHOST:{port}"):
                r = c.get("/v1/users/alice/memories", headers={"Host": host})
                assert r.status_code == 200 and "secret" in r.text, (host, r.text)
            assert httpx.get(srv.url + "/v1/health", headers={"Host": "evil.example"}
                             ).status_code == 200  # nothing to steal there
        assert [m.text for m in mem.list("alice").memories] == ["alice's secret"]


def test_with_keys_any_host_name_works(tmp_path: Path) -> None:
    # a key is what protects a server with keys (a reverse proxy may pass its own Host)
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        keys = KeyStore(tmp_path / "s")
        key = keys.create(["alice"], "read")[0]
        mem.add("alice's note", user="alice")
        with LiveServer(create_app(mem, keys=keys, mcp=False)) as srv:
            r = httpx.get(srv.url + "/v1/users/alice/memories", headers={
                "Host": "memory.example.org", "Authorization": f"Bearer {key}"})
            assert r.status_code == 200 and "note" in r.text
            r = httpx.get(srv.url + "/v1/users/alice/memories",
                          headers={"Host": "memory.example.org"})
            assert r.status_code == 401
        keys.close()
