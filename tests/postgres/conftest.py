"""PostgreSQL-only tests: a real server (pgserver, or LTM_POSTGRES_URL) with pgvector."""

from __future__ import annotations

from postgres_support import pg_store_url, postgres_url

__all__ = ["pg_store_url", "postgres_url"]
