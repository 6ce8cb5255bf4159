"""``supersedes`` (a new fact replacing a current one, issue 4) reaches every face, not only
the Python API: REST ``POST /v1/users/{user}/memories``, the CLI's ``ltm add --supersedes``
(with ``--valid-from``) and the MCP ``remember`` tool. The old memory gets ``superseded_by``
and ``valid_to``, ranks below its successor, and a bad id is a clear error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
from server_support import Served, mcp_tool_texts

import ltm


def test_rest_create_with_supersedes(served: Served) -> None:
    h = {"Authorization": f"Bearer {served.key['alice']}"}
    url = served.url + "/v1/users/alice/memories"
    old = httpx.post(url, json={"text": "Mara works at Acme", "kind": "fact",
                                "valid_from": "2021-01-01T00:00:00Z"}, headers=h).json()
    new = httpx.post(url, json={"text": "Mara works at Globex", "kind": "fact",
                                "valid_from": "2024-01-01T00:00:00Z",
                                "supersedes": old["id"]}, headers=h)
    assert new.status_code == 201, new.text
    got = httpx.get(f"{url}/{old['id']}", headers=h).json()
    assert got["superseded_by"] == new.json()["id"]
    assert got["valid_to"].startswith("2024-01-01")
    again = httpx.post(url, json={"text": "Mara works at Initech", "kind": "fact",
                                  "supersedes": old["id"]}, headers=h)
    assert again.status_code in (400, 409, 422) and "supersed" in again.text
    missing = httpx.post(url, json={"text": "x", "supersedes": "01J00000000000000000000000"},
                         headers=h)
    assert 400 <= missing.status_code < 500 and "01J00000000000000000000000" in missing.text
    batch = httpx.post(url + "/batch", json={"items": [{"text": "y", "supersedes": old["id"]}]},
                       headers=h)
    assert batch.status_code == 422  # one memory at a time


def _cli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ltm.cli", "--store", str(store), *args],
                          capture_output=True, text=True, timeout=120)


def test_cli_add_with_supersedes(tmp_path: Path) -> None:
    store = tmp_path / "s"
    first = _cli(store, "add", "--user", "u", "--kind", "fact", "--valid-from", "2021-01-01",
                 "Mara works at Acme", "--json")
    assert first.returncode == 0, first.stderr
    old = json.loads(first.stdout)["id"]
    second = _cli(store, "add", "--user", "u", "--kind", "fact", "--valid-from", "2024-01-01",
                  "--supersedes", old, "Mara works at Globex", "--json")
    assert second.returncode == 0, second.stderr
    new = json.loads(second.stdout)["id"]
    with ltm.open(store) as mem:
        assert mem.get(old, user="u").superseded_by == new
        hits = mem.search("where does Mara work", user="u", k=2)
        assert [h.memory.id for h in hits] == [new, old]
    bad = _cli(store, "add", "--user", "u", "--supersedes", old, "Mara works at Initech")
    assert bad.returncode == 2 and "supersed" in bad.stderr and "Traceback" not in bad.stderr


def test_mcp_remember_with_supersedes(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "store") as mem:
        old = mem.add("Mara works at Acme", user="u", kind="fact", valid_from="2021-01-01")
        got = mcp_tool_texts(mem, "u", {
            "new": ("remember", {"text": "Mara works at Globex", "kind": "fact",
                                 "supersedes": old.id}),
            "again": ("remember", {"text": "Mara works at Initech", "supersedes": old.id})})
        error, text = got["new"]
        assert not error, text
        new = json.loads(text)["id"]
        assert mem.get(old.id, user="u").superseded_by == new
        error, text = got["again"]
        assert error and "supersed" in text
