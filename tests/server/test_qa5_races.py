"""Races between requests: a memory erased while another request changes it is not found
(404), never a 500."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

import ltm
from ltm.errors import NotFound
from ltm.server.app import create_app
from ltm.server.live import LiveServer


def test_backend_update_of_an_erased_memory_is_not_found(tmp_path: Path) -> None:
    # what store.update meets when a forget commits between its check and its write
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        m = mem.add("soon gone", user="u")
        mem.forget(m.id, user="u")
        with pytest.raises(NotFound):
            mem.backend.update(m.id, "u", {"text": "changed"}, None)


def test_updates_racing_forgets_over_http_are_never_500(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as mem, \
            LiveServer(create_app(mem, require_keys=False, mcp=False)) as srv, \
            httpx.Client(base_url=srv.url, timeout=30) as c:
        statuses: list[int] = []
        for n in range(40):
            mid = c.post("/v1/users/u/memories", json={"text": f"memory {n}"}).json()["id"]
            path = f"/v1/users/u/memories/{mid}"
            out: list[int] = []
            t = threading.Thread(target=lambda p=path: out.append(c.delete(p).status_code))
            t.start()
            statuses.append(c.patch(path, json={"text": "changed", "importance": 0.5}
                                    ).status_code)
            t.join()
            assert out == [200]
        assert set(statuses) <= {200, 404}, statuses
