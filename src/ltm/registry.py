"""Opening a store's parts: the backend registry (a name -> factory, like ``ltm.embed``'s
registry of embedders), which backend a path or URL names, and the embedder a store was built
with (recorded on first open, checked on every other).

A factory takes the target (a folder, or a URL / connection string), the settings the caller
gave and the options of ``ltm.open`` that only a backend reads (``schema``); it loads the
settings (a folder's own ``ltm.toml`` included) and returns the open backend with them. The
backend parses its own target: PostgreSQL's URL (``?schema=``) is read by
``ltm.backends.postgres``, not here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import ids as _ids
from .backends.base import Backend
from .config import Settings, load_settings
from .embed import Embedder, load_embedder
from .errors import EmbedderMismatch, InvalidInput

BackendFactory = Callable[[str, dict[str, Any], dict[str, Any]], tuple[Backend, Settings]]


def _sqlite(target: str, settings: dict[str, Any],
            options: dict[str, Any]) -> tuple[Backend, Settings]:
    from .backends.sqlite import SqliteBackend

    folder = Path(target)
    cfg = load_settings(folder, **settings)
    return SqliteBackend(folder, busy_timeout_ms=cfg.busy_timeout_ms,
                         hnsw_min_scope=cfg.hnsw_min_scope,
                         hnsw_ef_search=cfg.hnsw_ef_search), cfg


def _postgres(target: str, settings: dict[str, Any],
              options: dict[str, Any]) -> tuple[Backend, Settings]:
    from .backends.postgres import PostgresBackend

    cfg = load_settings(None, **settings)
    return PostgresBackend(target, schema=options.get("schema"),
                           hnsw_min_scope=cfg.hnsw_min_scope,
                           hnsw_ef_search=cfg.hnsw_ef_search), cfg


DEFAULT_BACKEND = "sqlite"
BACKENDS: dict[str, BackendFactory] = {"sqlite": _sqlite, "postgres": _postgres}
# a target "<scheme>://..." opens with this backend
URL_SCHEMES: dict[str, str] = {"postgresql": "postgres", "postgres": "postgres"}
# ``ltm.open(dsn=...)`` opens with this backend
DSN_BACKEND = "postgres"


def register_backend(name: str, factory: BackendFactory, *,
                     schemes: tuple[str, ...] = ()) -> None:
    """Add a backend: ``ltm.open(path, backend=name)`` and targets ``<scheme>://...`` then
    open with ``factory``."""
    BACKENDS[name] = factory
    for scheme in schemes:
        URL_SCHEMES[scheme] = name


def backend_name(target: str, kind: str | None, dsn: str | None) -> str:
    """Which backend opens ``target``: a registered ``backend=`` other than the default, else
    PostgreSQL when a ``dsn`` is given, else the one its URL scheme names, else the default
    (an unknown ``backend=`` is InvalidInput)."""
    if kind is not None and kind != DEFAULT_BACKEND and kind in BACKENDS:
        return kind
    if dsn is not None:
        return DSN_BACKEND
    scheme, sep, _ = target.partition("://")
    if sep and scheme in URL_SCHEMES:
        return URL_SCHEMES[scheme]
    if kind not in (None, DEFAULT_BACKEND):
        names = " or ".join(repr(n) for n in BACKENDS)
        raise InvalidInput(f"unknown backend {kind!r}: {names}", field="backend")
    return DEFAULT_BACKEND


def open_backend(path: str | os.PathLike[str] | None,
                 settings: dict[str, Any]) -> tuple[Backend, Settings]:
    """The backend ``ltm.open(path, **settings)`` names, open, with its settings. Takes the
    options only a backend reads (``backend``, ``dsn``, ``schema``) out of ``settings``; the
    default path is ``$LTM_STORE``, else ./ltm-data."""
    kind = settings.pop("backend", None)
    dsn = settings.pop("dsn", None)
    options = {"schema": settings.pop("schema", None)}
    target = os.fspath(path if path is not None
                       else dsn or os.environ.get("LTM_STORE", "ltm-data"))
    name = backend_name(str(target), kind, dsn)
    return BACKENDS[name](str(dsn or target), settings, options)


def store_embedder(backend: Backend, embedder: str | Embedder | None,
                   cfg: Settings) -> Embedder:
    """The embedder to open ``backend`` with: an object given, else the settings' name, else
    the one the store recorded, else WordLlama. A new store records it (and its id and
    dimension); an existing one built with another embedder raises EmbedderMismatch."""
    stored = backend.get_meta("embedder")
    spec: str | Embedder
    if embedder is not None and not isinstance(embedder, str):
        spec = embedder
    else:
        spec = cfg.embedder or backend.get_meta("embedder_spec") or "wordllama"
    emb = load_embedder(spec, cfg)
    if stored is None:
        if backend.get_meta("store_id") is None:
            backend.set_meta("store_id", _ids.new_id())
        backend.set_meta("embedder", emb.name)
        if isinstance(spec, str):
            backend.set_meta("embedder_spec", spec)
        backend.set_meta("dim", str(emb.dim))
    elif stored != emb.name:
        raise EmbedderMismatch(stored, emb.name)
    return emb
