"""An unpinned memory past its ``expires_at`` is gone for reads on every face (helper 67,
thirteenth session): REST ``GET /v1/users/{u}/memories/{id}`` and ``ltm get`` returned it while
the list and search hid it. Now 404 / exit 3 saying when it expired; a pinned one is shown."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from server_support import Served

import ltm
from ltm.cli import main


def test_rest_get_of_an_expired_memory_is_404(served: Served) -> None:
    with served.client("alice") as c:
        made = c.post("/v1/users/alice/memories", json={
            "text": "temporary door code 4411", "expires_at": "2026-01-01T00:00:00Z"})
        pinned = c.post("/v1/users/alice/memories", json={
            "text": "pinned door code 5522", "expires_at": "2026-01-01T00:00:00Z",
            "pinned": True})
        assert made.status_code == pinned.status_code == 201
        r = c.get(f"/v1/users/alice/memories/{made.json()['id']}")
        assert r.status_code == 404 and "expired at 2026-01-01" in r.text, r.text
        r = c.get(f"/v1/users/alice/memories/{pinned.json()['id']}")
        assert r.status_code == 200 and r.json()["text"] == "pinned door code 5522"
        # revived by a later expiry
        r = c.patch(f"/v1/users/alice/memories/{made.json()['id']}",
                    json={"expires_at": None})
        assert r.status_code == 200, r.text
        assert c.get(f"/v1/users/alice/memories/{made.json()['id']}").status_code == 200


def test_cli_get_of_an_expired_memory_exits_not_found(tmp_path: Path) -> None:
    store = tmp_path / "s"
    with ltm.open(store, embedder="hash") as mem:
        m = mem.add("temporary door code 4411", user="u", expires_at="2026-01-01")
    got = CliRunner().invoke(main, ["--store", str(store), "get", m.id, "-u", "u", "--json"])
    assert got.exit_code == 3, got.output
    error = json.loads(got.stderr.strip().splitlines()[-1])
    assert error["error"] == "NotFound" and "expired at 2026-01-01" in error["message"]
