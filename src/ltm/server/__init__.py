"""The memory server: REST API (``/v1``), web page (``/``), MCP (stdio and ``/mcp``), API keys.

Needs the ``server`` extra (``pip install 'ltm[server]'``). ``create_app`` builds the ASGI app;
``ltm serve`` runs it under uvicorn.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    """See ``ltm.server.app.create_app`` (imported lazily: FastAPI loads only when used)."""
    try:
        from .app import create_app as _create
    except ImportError as exc:
        from ..errors import MissingDependency
        raise MissingDependency(exc.name or "fastapi", "server") from None
    return _create(*args, **kwargs)
