"""``ltm serve``, ``ltm mcp`` and ``ltm keys``. Only click and the standard library are imported
here; the server's dependencies load when a command runs.

Exit codes follow ``ltm``: 2 bad usage, 3 not found, 4 store unusable, 5 missing extra.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import click

from .common import errors_to_exit, missing_store_exit, store_option, visible

_STORE = store_option


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_errors = errors_to_exit  # the same error-to-exit-code mapping as every other command


def _need_server_extra() -> None:
    for module in ("fastapi", "uvicorn", "mcp"):
        try:
            __import__(module)
        except ImportError:
            click.echo(f"ltm: {module} is not installed: pip install 'ltm[server]'", err=True)
            sys.exit(5)


@click.command()
@_STORE
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535),
              help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes sharing the store (SQLite WAL; see docs/server.md).")
@click.option("--allow-open", is_flag=True,
              help="Start on a non-loopback interface even though no API key exists "
                   "(anyone who can reach the port can read and erase every memory).")
@click.option("--require-keys/--auto-keys", default=None,
              help="Demand an API key on every request even before any key exists "
                   "(default: keys are demanded once one has been created).")
@click.option("--no-mcp", is_flag=True, help="Do not serve MCP at /mcp.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              help="Server log verbosity.")
def serve(store: str, host: str, port: int, workers: int, allow_open: bool,
          require_keys: bool | None, no_mcp: bool, log_level: str) -> None:
    """Serve the REST API (/v1), the web page (/) and MCP over HTTP (/mcp)."""
    _need_server_extra()
    import uvicorn

    from ..server.app import create_app
    from ..server.auth import KeyStore, keys_folder
    from ..store import open as open_store

    with _errors():
        mem = open_store(store)
        keys = KeyStore(keys_folder(store))
    if not is_loopback(host) and not require_keys and not keys.any_keys() and not allow_open:
        mem.close()
        click.echo(f"ltm: refusing to listen on {host} without API keys: create one with "
                   "`ltm keys create --user NAME --rights read,write` (or pass --allow-open)",
                   err=True)
        sys.exit(2)
    click.echo(f"ltm: serving {store} on http://{host}:{port}/ "
               f"({'keys required' if require_keys or keys.any_keys() else 'open, no keys'})",
               err=True)
    if workers > 1:
        mem.close()
        keys.close()
        os.environ.update({"LTM_STORE": store, "LTM_SERVER_HOST": host,
                           "LTM_SERVER_REQUIRE_KEYS": "auto" if require_keys is None
                           else str(require_keys).lower(),
                           "LTM_SERVER_NO_MCP": "1" if no_mcp else ""})
        with _started(host, port):
            uvicorn.run("ltm.server.app:create_app_from_env", factory=True, host=host,
                        port=port, workers=workers, log_level=log_level)
        return
    app = create_app(mem, keys=keys, require_keys=require_keys, mcp=not no_mcp, host=host,
                     close_store=True)
    with _started(host, port):
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    keys.close()


@contextlib.contextmanager
def _started(host: str, port: int) -> Iterator[None]:
    """uvicorn exits 3 when the server cannot start (a port in use), the code ltm keeps
    for 'not found': exit 1 with a line saying so instead."""
    try:
        yield
    except SystemExit as exc:
        if exc.code in (0, None):
            raise
        click.echo(f"ltm: the server could not start on {host}:{port} (a port in use? see "
                   "the error above)", err=True)
        sys.exit(1)


@click.command()
@_STORE
@click.option("--user", "-u", help="Act for this user only (default: tools take a `user`).")
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio",
              show_default=True, help="stdin/stdout, or streamable HTTP at /mcp.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="With --transport http: interface to listen on (loopback only: no API keys "
                   "here; `ltm serve` serves /mcp with keys).")
@click.option("--port", default=8766, show_default=True, type=click.IntRange(1, 65535),
              help="With --transport http: TCP port.")
def mcp(store: str, user: str | None, transport: str, host: str, port: int) -> None:
    """Serve the memory tools to an agent over MCP on stdin/stdout (or streamable HTTP)."""
    if transport == "http" and not is_loopback(host):
        click.echo("ltm: `ltm mcp --transport http` listens on loopback only; use `ltm serve` "
                   "(MCP at /mcp, with API keys) to serve other hosts", err=True)
        sys.exit(2)
    _need_server_extra()
    from ..server.auth import ALL_USERS, RIGHTS, ApiKey
    from ..server.mcp_server import build_mcp
    from ..store import open as open_store

    if user is not None:
        # one user's name: '' (an unset variable, --user "$LTM_USER") and '*' served every
        # user, as if --user had been left out
        from ..validate import user as check_user

        with _errors():
            user = check_user(user)
    principal = ApiKey("stdio", (user,) if user else (ALL_USERS,), frozenset(RIGHTS))
    with _errors(), contextlib.redirect_stdout(sys.stderr):  # stdout carries the protocol
        mem = open_store(store)
    try:
        server = build_mcp(mem, lambda _headers: principal, static_recent=user is not None)
        if transport == "http":
            click.echo(f"ltm: MCP over streamable HTTP at http://{host}:{port}/mcp", err=True)
            with _started(host, port):
                server.run("streamable-http", host=host, port=port)
        else:
            server.run("stdio")
    finally:
        mem.close()


@click.group()
def keys() -> None:
    """Manage API keys of the memory server (stored hashed in the store)."""


@keys.command("create")
@_STORE
@click.option("--user", "-u", "users", multiple=True, required=True,
              help="User the key reaches (repeatable; '*' = every user).")
@click.option("--rights", default="read,write", show_default=True,
              help="Comma-separated: read, write, admin.")
@click.option("--label", help="A note to recognise the key by.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def keys_create(store: str, users: tuple[str, ...], rights: str, label: str | None,
                as_json: bool) -> None:
    """Create a key; its secret is printed once and never stored."""
    from ..server.auth import KeyStore, keys_folder

    for u in users:
        if "," in u:  # --rights is comma-separated; a user name may hold a comma
            click.echo(f"ltm: note: {u!r} is one user name; repeat --user for several users",
                       err=True)
    with _errors():
        ks = KeyStore(keys_folder(store))
        try:
            secret, key = ks.create(list(users), rights, label)
        finally:
            ks.close()
    if as_json:
        click.echo(json.dumps({"key": secret, "key_id": key.key_id, "users": list(key.users),
                               "rights": sorted(key.rights)}))
    else:
        click.echo(secret)
        click.echo(visible(f"key id {key.key_id}: users {', '.join(key.users)}; rights "
                           f"{','.join(sorted(key.rights))} (shown once; keep it secret)"),
                   err=True)


@keys.command("list")
@_STORE
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def keys_list(store: str, as_json: bool) -> None:
    """List keys (ids, users, rights; never secrets)."""
    from datetime import datetime

    from ..server.auth import KeyStore, keys_folder

    missing_store_exit(store)
    with _errors():
        ks = KeyStore(keys_folder(store))
        try:
            found = ks.list()
        finally:
            ks.close()

    def when(t: float | None) -> str | None:
        return None if t is None else datetime.fromtimestamp(t, UTC).isoformat(
            timespec="seconds").replace("+00:00", "Z")

    rows: list[dict[str, Any]] = [
        {"key_id": k.key_id, "users": list(k.users), "rights": sorted(k.rights),
         "label": k.label, "created_at": when(k.created_at), "revoked_at": when(k.revoked_at)}
        for k in found]
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("(no keys)")
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
        click.echo(visible(f"{r['key_id']}  {','.join(r['rights']):16}  "
                           f"{','.join(r['users'])}  {state}"
                           + (f"  {r['label']}" if r["label"] else "")))


@keys.command("revoke")
@_STORE
@click.argument("key_id")
def keys_revoke(store: str, key_id: str) -> None:
    """Revoke KEY_ID (or the full key text): it stops working at once."""
    from ..server.auth import KeyStore, keys_folder

    with _errors():
        ks = KeyStore(keys_folder(store))
        try:
            ks.revoke(key_id)
        finally:
            ks.close()
    click.echo(f"revoked {key_id}", err=True)

