"""Opening a store's parts: the backend registry (a name -> factory, like ``ltm.embed``'s
registry of embedders), which backend a path or URL names, and the embedder a store was built
with (recorded on first open, checked on every other).

A factory takes the target (a folder, or a URL / connection string), the settings the caller
gave and the options of ``ltm.open`` that only a backend reads (``schema``); it loads the
settings (a folder's own ``ltm.toml`` included) and returns the open backend with them. The
backend parses its own target: PostgreSQL's URL is recognised and parsed (``?schema=``) by
``ltm.backends.postgres.dsn``, not here.
"""

from __future__ import annotations

import os
import re
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


def _postgres_url(target: str) -> bool:
    from .backends.postgres.dsn import is_postgres_url
    return is_postgres_url(target)


DEFAULT_BACKEND = "sqlite"
BACKENDS: dict[str, BackendFactory] = {"sqlite": _sqlite, "postgres": _postgres}
# backends that claim a URL target ("<scheme>://..."): name -> does it name one of its stores
URL_BACKENDS: dict[str, Callable[[str], bool]] = {"postgres": _postgres_url}
# ``ltm.open(dsn=...)`` opens with this backend
DSN_BACKEND = "postgres"


def register_backend(name: str, factory: BackendFactory, *,
                     claims_url: Callable[[str], bool] | None = None) -> None:
    """Add a backend: ``ltm.open(path, backend=name)`` then opens with ``factory``, and so
    does every URL target ``claims_url`` accepts."""
    BACKENDS[name] = factory
    if claims_url is not None:
        URL_BACKENDS[name] = claims_url


def backend_name(target: str, kind: str | None, dsn: str | None) -> str:
    """Which backend opens ``target``: a registered ``backend=`` other than the default, else
    PostgreSQL when a ``dsn`` is given, else the backend that claims its URL, else the default
    (an unknown ``backend=`` is InvalidInput)."""
    if kind is not None and kind != DEFAULT_BACKEND and kind in BACKENDS:
        return kind
    if dsn is not None:
        return DSN_BACKEND
    if "://" in target:
        for name, claims in URL_BACKENDS.items():
            if claims(target):
                return name
        if re.match(r"[A-Za-z][A-Za-z0-9+.\-]*://", target) and kind in (None, DEFAULT_BACKEND):
            # a mistyped URL ('postgresq://...', 'sqlite:///x') would become nested folders
            # named 'postgresq:' ... in the working directory
            scheme = target.split("://", 1)[0]
            raise InvalidInput(f"no backend opens {scheme}:// URLs: PostgreSQL takes "
                               "postgresql:// or postgres://, and a SQLite store is a folder "
                               "path", field="path")
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
    # an empty LTM_STORE counts as unset, as the CLI reads it (not the working directory)
    raw = path if path is not None else dsn or os.environ.get("LTM_STORE") or "ltm-data"
    try:
        target = os.fsdecode(raw)  # (bytes too, as open() takes them)
    except TypeError:
        raise InvalidInput(f"the store path must be a folder (str or os.PathLike) or a "
                           f"PostgreSQL URL, got {type(raw).__name__}", field="path") from None
    if not str(target).strip():
        raise InvalidInput("the store path is empty: name a folder (or a PostgreSQL URL)",
                           field="path")
    if "\x00" in str(target):
        raise InvalidInput("the store path must not contain NUL", field="path")
    try:
        os.fsencode(target)  # '\ud800': no file system names it (os.mkdir would raise)
    except UnicodeEncodeError:
        raise InvalidInput(f"the store path {target!r} is not valid Unicode (a lone "
                           "surrogate)", field="path") from None
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
    else:
        dim = backend.get_meta("dim")
        if dim is not None and dim != str(emb.dim):
            # an embedder object of the same name that makes vectors of another length: the
            # first vector it wrote (update's) left every later search failing
            raise EmbedderMismatch(f"{stored} (dimension {dim})",
                                   f"{emb.name} (dimension {emb.dim})")
    return emb
