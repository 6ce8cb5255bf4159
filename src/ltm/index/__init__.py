"""Vector search, derived from the database: exact per-user scans and HNSW for large scopes."""

from .exact import VectorIndex

__all__ = ["VectorIndex"]
