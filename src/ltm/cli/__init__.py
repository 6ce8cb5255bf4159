"""The ``ltm`` command line: every command, one package, thin over the library.

Exit codes: 0 ok, 1 unexpected failure, 2 bad usage or invalid input, 3 not found,
4 store unusable (wrong embedder, unreadable folder, busy), 5 missing optional dependency,
6 an external service (the LLM, a remote embedding server) failed. A command whose reader
closes standard output (``ltm export | head -1``) stops there and exits 0, quietly.

Modules: ``common`` (options, output, the error-to-exit-code mapping), ``root`` (the ``ltm``
group), ``memory`` (add, search, ... stats), ``serve`` (serve, mcp, keys), ``policies`` (gc,
process), ``train`` (``ltm train ...``), ``bench`` and ``bench_server`` (``ltm bench ...``).
Each imports only click and the standard library at module level; the library and its
heavy dependencies load when a command runs.
"""

from __future__ import annotations

from .root import main

__all__ = ["main"]
