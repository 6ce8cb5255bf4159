"""Policies that keep memory true over time: supersession, fact extraction (LLM, optional),
near-duplicate reinforcement, retention (TTL, decay, capacity), consolidation into summaries,
and what ``forget`` does to derived memories.

This package imports nothing heavy at import time; use
the submodules: ``retention``, ``dedup``, ``consolidate``, ``extract``, ``cascade``, ``worker``.
"""

from __future__ import annotations

__all__ = ["retention", "dedup", "consolidate", "extract", "cascade", "worker"]
