"""`ltm serve` over a PostgreSQL store: API keys live in a local folder (LTM_KEYS_DIR)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import ltm
from ltm.errors import StoreError
from ltm.server.app import create_app
from ltm.server.auth import KeyStore, keys_folder
from ltm.server.live import LiveServer


def test_keys_folder_for_postgres_needs_ltm_keys_dir(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.delenv("LTM_KEYS_DIR", raising=False)
    assert keys_folder(str(tmp_path)) == str(tmp_path)
    with pytest.raises(StoreError, match="LTM_KEYS_DIR"):
        keys_folder("postgresql://localhost/db")
    monkeypatch.setenv("LTM_KEYS_DIR", str(tmp_path / "keys"))
    assert keys_folder("postgresql://localhost/db") == str(tmp_path / "keys")


def test_server_with_keys_on_postgres(pg_store_url: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LTM_KEYS_DIR", str(tmp_path / "keys"))
    keys = KeyStore(keys_folder(pg_store_url))
    alice_key, _ = keys.create(users=["alice"], rights="read,write")
    mem = ltm.open(pg_store_url)
    try:
        with LiveServer(create_app(mem, close_store=False)) as srv:
            h = {"Authorization": f"Bearer {alice_key}"}
            r = httpx.post(f"{srv.url}/v1/users/alice/memories", headers=h,
                           json={"text": "Alice keeps bees in her garden"})
            assert r.status_code in (200, 201), r.text
            r = httpx.post(f"{srv.url}/v1/users/alice/search", headers=h,
                           json={"query": "bees", "k": 3})
            assert r.status_code == 200 and "bees" in r.text
            assert httpx.post(f"{srv.url}/v1/users/bob/search", headers=h,
                              json={"query": "bees"}).status_code == 403
            assert httpx.post(f"{srv.url}/v1/users/alice/search",
                              json={"query": "bees"}).status_code == 401
    finally:
        mem.close()
