"""Shared by the server tests (imported by name: the test folders are not packages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

import ltm
from ltm.server.auth import KeyStore


@dataclass
class Served:
    url: str
    store: ltm.MemoryStore
    keys: KeyStore
    path: Path
    key: dict[str, str] = field(default_factory=dict)

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.key[key]}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)
