"""The ``ltm`` command line: a thin layer over the library.

Exit codes: 0 ok, 1 unexpected failure, 2 bad usage or invalid input, 3 not found,
4 store unusable (wrong embedder, unreadable folder, busy), 5 missing optional dependency,
6 an external service (the LLM, a remote embedding server) failed.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

# Subcommands that live in other rooms, imported only when used (keeps `ltm --help` fast).
_LAZY: dict[str, str] = {
    "serve": "ltm.server.cli:serve",
    "mcp": "ltm.server.cli:mcp",
    "keys": "ltm.server.cli:keys",
    "gc": "ltm.policies.cli:gc",
    "process": "ltm.policies.cli:process",
    "train": "ltm.neural.cli:train",
}
_LAZY_BENCH: dict[str, str] = {
    "locomo": "ltm.bench.locomo:locomo",
    "beam": "ltm.bench.beam:beam",
    "small": "ltm.bench.small:small",
    "scale": "ltm.bench.scale:scale",
    "peers": "ltm.bench.peers:peers",
    "replay": "ltm.replay.cli:replay",
    "load": "ltm.server.load:load",
    "fuzz": "ltm.server.fuzz:fuzz",
    "faults": "ltm.bench.faults:faults",
    "soak": "ltm.server.soak:soak",
}
_LAZY_TRAIN_EXTRA: dict[str, str] = {"continual": "ltm.continual.cli:continual",
                                     "episodic": "ltm.rl.cli:episodic",
                                     "ranker": "ltm.retrieval.train:ranker"}


class LazyGroup(click.Group):
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
            cmd = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise click.ClickException(f"command {name!r} is unavailable: {exc}") from None
        if name == "train" and isinstance(cmd, click.Group):
            for sub, sub_target in _LAZY_TRAIN_EXTRA.items():
                if sub not in cmd.commands:
                    smod, sattr = sub_target.split(":")
                    try:
                        cmd.add_command(getattr(importlib.import_module(smod), sattr), sub)
                    except (ImportError, AttributeError):
                        pass
        return cmd


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


def emit(obj: Any, as_json: bool, human: Callable[[Any], str]) -> None:
    if as_json:
        click.echo(json.dumps(_jsonable(obj), ensure_ascii=False))
    else:
        click.echo(human(obj))


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Map library errors to one-line messages and exit codes."""
    from .errors import (
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
        _fail(str(exc), 3, type(exc).__name__)
    except (InvalidInput, ScopeError) as exc:
        _fail(str(exc), 2, type(exc).__name__)
    except (EmbedderMismatch, StoreError) as exc:
        _fail(str(exc), 4, type(exc).__name__)
    except MissingDependency as exc:
        _fail(str(exc), 5, type(exc).__name__)
    except LtmError as exc:
        # the rest: an external service (the LLM, a remote embedder) failed -> 6; else 1
        from .embed.openai import EmbeddingServiceError
        from .llm import LLMError
        code = 6 if isinstance(exc, (LLMError, EmbeddingServiceError)) else 1
        _fail(str(exc), code, type(exc).__name__)


def _wants_json() -> bool:
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if ctx.params.get("as_json"):
            return True
        ctx = ctx.parent
    return False


def _fail(message: str, code: int, kind: str) -> None:
    """Print one error line (a JSON object on stderr when the command has --json) and exit."""
    if _wants_json():
        click.echo(json.dumps({"error": kind, "message": message, "exit_code": code},
                              ensure_ascii=False), err=True)
    else:
        click.echo(f"ltm: {message}", err=True)
    sys.exit(code)


def _store_from_root(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """A command's own --store, else the one given before the command (``ltm --store X
    stats``), which also reads LTM_STORE and defaults to ./ltm-data."""
    if value is not None:
        return value
    root = ctx.find_root()
    return str(root.params.get("store") or os.environ.get("LTM_STORE") or "ltm-data")


def store_option(f: F) -> F:
    return click.option("--store", "store", default=None, callback=_store_from_root,
                        type=click.Path(file_okay=False),
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
    from .backends.sqlite import DB_NAME
    return not (Path(store) / DB_NAME).is_file()


@contextmanager
def opened(store: str, *, create: bool = True) -> Iterator[Any]:
    """The store at ``store``; read-only commands pass ``create=False``: a missing store is
    then an error (exit 4) and nothing is created."""
    from .store import open as open_store
    if not create and _missing_store(store):
        _fail(f"no store at {store!r} (nothing was created; give --store or set LTM_STORE)", 4,
              "StoreError")
    with errors_to_exit():
        with open_store(store) as mem:
            yield mem


def _fmt_memory(m: Any) -> str:
    extra = f" session={m.session}" if m.session else ""
    return f"{m.id}  {m.time:%Y-%m-%d %H:%M}  [{m.kind}{extra}]  {m.text}"


@click.group(cls=LazyGroup, lazy=_LAZY, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ltm")
@click.option("--store", "store", envvar="LTM_STORE", default="ltm-data", show_default=True,
              type=click.Path(file_okay=False),
              help="Store folder or PostgreSQL URL for every command (env LTM_STORE); a "
              "command's own --store wins.")
def main(store: str) -> None:
    """ltm: long-term memory for AI systems (embedded store, hybrid retrieval)."""


@main.command()
@store_option
@user_option
@click.argument("text")
@click.option("--session", help="Session the memory belongs to.")
@click.option("--agent", help="Agent that recorded it.")
@click.option("--kind", default="episode", show_default=True,
              help="episode, fact, summary or any other lowercase word.")
@click.option("--time", "time_", help="When it happened (ISO-8601); default now.")
@click.option("--importance", type=float, help="0..1.")
@click.option("--pinned", is_flag=True, help="Exempt from retention policies.")
@click.option("--metadata", help="JSON object.")
@json_option
def add(store: str, user: str, text: str, session: str | None, agent: str | None, kind: str,
        time_: str | None, importance: float | None, pinned: bool, metadata: str | None,
        as_json: bool) -> None:
    """Remember TEXT for a user."""
    meta = _parse_json_arg(metadata, "--metadata")
    with opened(store) as mem:
        with errors_to_exit():
            m = mem.add(text, user=user, session=session, agent=agent, kind=kind, time=time_,
                        importance=importance, pinned=pinned, metadata=meta)
        emit(m, as_json, lambda m: m.id)


def _parse_json_arg(value: str | None, name: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        click.echo(f"ltm: {name} is not valid JSON: {exc}", err=True)
        sys.exit(2)


@main.command()
@store_option
@user_option
@click.argument("query")
@click.option("-k", default=10, show_default=True, help="How many results.")
@click.option("--session", help="Only this session.")
@click.option("--agent", help="Only this agent.")
@click.option("--kind", "kinds", multiple=True, help="Only these kinds (repeatable).")
@click.option("--since", help="Only memories at or after this time.")
@click.option("--until", help="Only memories at or before this time.")
@click.option("--as-of", "as_of", help="What was valid at this time.")
@click.option("--explain", is_flag=True, help="Show the per-signal scores.")
@json_option
def search(store: str, user: str, query: str, k: int, session: str | None, agent: str | None,
           kinds: tuple[str, ...], since: str | None, until: str | None, as_of: str | None,
           explain: bool, as_json: bool) -> None:
    """Find a user's memories relevant to QUERY."""
    with opened(store, create=False) as mem:
        with errors_to_exit():
            hits = mem.search(query, user=user, k=k, session=session, agent=agent,
                              kinds=list(kinds) or None, since=since, until=until, as_of=as_of)

        def human(hits: Any) -> str:
            lines = []
            for h in hits:
                lines.append(f"{h.score:7.3f}  {_fmt_memory(h.memory)}")
                if explain:
                    lines.append("         " + "  ".join(f"{k}={v:.3f}"
                                                       for k, v in h.signals.items()))
            return "\n".join(lines) if lines else "(no results)"
        emit(hits, as_json, human)


@main.command()
@store_option
@user_option
@click.argument("query")
@click.option("--budget", "budget", default=1000, show_default=True, help="Token budget.")
@json_option
def context(store: str, user: str, query: str, budget: int, as_json: bool) -> None:
    """Print a prompt-ready block of a user's memories relevant to QUERY."""
    with opened(store, create=False) as mem:
        with errors_to_exit():
            block = mem.context(query, user=user, budget_tokens=budget)
        emit({"query": query, "user": user, "budget_tokens": budget, "context": block},
             as_json, lambda d: d["context"])


@main.command()
@store_option
@user_option
@click.argument("memory_id")
@json_option
def get(store: str, user: str, memory_id: str, as_json: bool) -> None:
    """Show one memory."""
    with opened(store, create=False) as mem:
        with errors_to_exit():
            m = mem.get(memory_id, user=user)
        emit(m, as_json, _fmt_memory)


@main.command()
@store_option
@user_option
@click.argument("memory_id", required=False)
@click.option("--session", help="Forget this whole session.")
@click.option("--before", help="Forget everything that happened before this time.")
@click.option("--all", "everything", is_flag=True, help="Forget everything about the user.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def forget(store: str, user: str, memory_id: str | None, session: str | None,
           before: str | None, everything: bool, yes: bool, as_json: bool) -> None:
    """Erase memories for real: one by id, a session, before a time, or --all."""
    if not (memory_id or session or before or everything):
        click.echo("ltm: say what to forget: an id, --session, --before or --all", err=True)
        sys.exit(2)
    if everything and (memory_id or session or before):
        click.echo("ltm: --all cannot be combined with an id, --session or --before", err=True)
        sys.exit(2)
    if everything and not yes and not click.confirm(f"Erase every memory of {user!r}?"):
        sys.exit(1)
    with opened(store) as mem:
        with errors_to_exit():
            receipt = mem.forget(memory_id, user=user, session=session, before=before)
        emit(receipt, as_json, lambda r: f"forgot {r.count} memories" + "".join(
            f"\n  {kind}: {len(ids)}" for kind, ids in r.ids_by_kind.items()))


@main.command()
@store_option
@user_option
@click.argument("memory_id")
@json_option
def history(store: str, user: str, memory_id: str, as_json: bool) -> None:
    """Show the change history of a memory."""
    with opened(store, create=False) as mem:
        with errors_to_exit():
            events = mem.history(memory_id, user=user)
        emit(events, as_json, lambda evs: "\n".join(
            f"{e.at:%Y-%m-%d %H:%M:%S}  {e.event}" + (f"  {json.dumps(e.data)}" if e.data
                                                     else "") for e in evs))


@main.command("list")
@store_option
@user_option
@click.option("--session", help="Only this session.")
@click.option("--agent", help="Only this agent.")
@click.option("--kind", "kinds", multiple=True, help="Only these kinds (repeatable).")
@click.option("--since", help="Only memories at or after this time.")
@click.option("--until", help="Only memories at or before this time.")
@click.option("--limit", "-n", default=20, show_default=True, help="How many (1-1000).")
@click.option("--cursor", help="Continue after a previous page (its next cursor).")
@click.option("--oldest", is_flag=True, help="Oldest first (default: newest first).")
@json_option
def list_cmd(store: str, user: str, session: str | None, agent: str | None,
             kinds: tuple[str, ...], since: str | None, until: str | None, limit: int,
             cursor: str | None, oldest: bool, as_json: bool) -> None:
    """List a user's memories by time, newest first, a page at a time."""
    with opened(store) as mem:
        with errors_to_exit():
            page = mem.list(user, session=session, agent=agent, kinds=list(kinds) or None,
                            since=since, until=until, limit=limit, cursor=cursor,
                            order="oldest" if oldest else "newest")
        if as_json:
            emit({"memories": page.memories, "next_cursor": page.next_cursor}, True, str)
            return
        click.echo("\n".join(_fmt_memory(m) for m in page) or "(no memories)")
        if page.next_cursor:
            click.echo(f"more: --cursor {page.next_cursor}", err=True)


@main.command()
@store_option
@user_option
@click.argument("memory_id")
@click.option("--text", help="New text (re-embedded).")
@click.option("--kind", help="New kind.")
@click.option("--session", help="New session.")
@click.option("--agent", help="New agent.")
@click.option("--time", "time_", help="New time it happened (ISO-8601).")
@click.option("--importance", type=float, help="New importance, 0..1.")
@click.option("--pinned/--unpinned", default=None, help="Exempt from retention, or not.")
@click.option("--expires-at", "expires_at", help="When it expires (ISO-8601).")
@click.option("--metadata", help="New metadata, a JSON object (replaces the old one).")
@json_option
def update(store: str, user: str, memory_id: str, text: str | None, kind: str | None,
           session: str | None, agent: str | None, time_: str | None,
           importance: float | None, pinned: bool | None, expires_at: str | None,
           metadata: str | None, as_json: bool) -> None:
    """Change a memory in place (the previous values go into its history)."""
    meta = _parse_json_arg(metadata, "--metadata")
    with opened(store) as mem:
        with errors_to_exit():
            m = mem.update(memory_id, user=user, text=text, kind=kind, session=session,
                           agent=agent, time=time_, importance=importance, pinned=pinned,
                           expires_at=expires_at, metadata=meta)
        emit(m, as_json, _fmt_memory)


@main.command("import")
@store_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--user", "-u", help="For plain conversation files: the user they belong to.")
@click.option("--session", help="For plain conversation files: the session (default: file name).")
@json_option
def import_cmd(store: str, file: str, user: str | None, session: str | None,
               as_json: bool) -> None:
    """Import FILE (UTF-8): an ltm export (JSONL), or with --user a conversation as JSONL lines
    of {"role"|"speaker", "content", "time"?}. All or nothing: a bad line (named by its
    number) exits 2 and writes nothing."""
    from tqdm import tqdm

    from .errors import InvalidInput

    with opened(store) as mem:
        # bytes lines: each is decoded on its own, so a bad byte is named by its exact line
        with click.open_file(file, "rb") as fp, errors_to_exit():
            if user is None:
                total = None
                if file != "-":
                    with open(file, "rb") as counted:
                        total = max(0, sum(1 for _ in counted) - 1)
                with tqdm(total=total, unit="mem", disable=as_json or None,
                          file=sys.stderr) as bar:
                    try:
                        report = mem.import_(fp, progress=bar.update)
                    except InvalidInput as exc:
                        raise InvalidInput(f"{file}: {exc}", field=exc.field) from None
                emit(report, as_json, lambda r: f"imported {r.imported}, skipped {r.skipped} "
                     f"already present, re-embedded {r.reembedded}")
            else:
                messages: list[Any] = []
                lines: list[int] = []  # the line of each message
                for n, raw in enumerate(fp, start=1):
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise InvalidInput(f"{file} line {n}: not UTF-8 text ({exc.reason} at "
                                           f"byte {exc.start})") from None
                    if line.strip():
                        try:
                            messages.append(json.loads(line))
                        except (ValueError, RecursionError) as exc:
                            raise InvalidInput(f"{file} line {n}: not JSON: {exc}") from None
                        lines.append(n)
                sess = session or os.path.splitext(os.path.basename(file))[0]
                with tqdm(total=len(messages), unit="turn", disable=as_json or None,
                          file=sys.stderr) as bar:
                    try:  # one call: one transaction
                        added = mem.add_conversation(messages, user=user, session=sess)
                    except InvalidInput as exc:
                        if exc.item is None or not 0 <= exc.item < len(lines):
                            raise
                        why = str(exc).removeprefix(f"message {exc.item}: ")
                        raise InvalidInput(f"{file} line {lines[exc.item]}: {why}",
                                           field=exc.field) from None
                    bar.update(len(messages))
                emit({"imported": len(added), "session": sess}, as_json,
                     lambda r: f"imported {r['imported']} turns into session {r['session']}")


@main.command("export")
@store_option
@click.option("--user", "-u", help="Only this user (default: the whole store).")
@click.option("--no-embeddings", is_flag=True, help="Leave vectors out (smaller file).")
@click.option("--out", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="Output file (default stdout).")
def export_cmd(store: str, user: str | None, no_embeddings: bool, out: str) -> None:
    """Export memories as JSON Lines."""
    with opened(store, create=False) as mem:
        with click.open_file(out, "w", encoding="utf-8") as fp, errors_to_exit():
            n = mem.export(fp, user=user, embeddings=not no_embeddings)
    if out != "-":
        click.echo(f"exported {n} memories to {out}", err=True)


@main.command()
@store_option
@json_option
def stats(store: str, as_json: bool) -> None:
    """Counts, size and embedder of the store."""
    with opened(store, create=False) as mem:
        emit(mem.stats(), as_json, _fmt_stats)


def _fmt_stats(s: dict[str, Any]) -> str:
    def num(v: Any) -> str:
        return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)

    lines = []
    for key, value in s.items():
        label = key.replace("_", " ")
        if key == "bytes_on_disk" and isinstance(value, int):
            size = float(value)
            for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
                if size < 1024 or unit == "TiB":
                    break
                size /= 1024
            lines.append(f"{'size on disk':<16}{size:,.1f} {unit}" if unit != "B"
                         else f"{'size on disk':<16}{value} B")
        elif isinstance(value, dict):
            inner = ", ".join(f"{k} {num(v)}" for k, v in value.items()) or "none"
            lines.append(f"{label:<16}{inner}")
        else:
            lines.append(f"{label:<16}{num(value)}")
    return "\n".join(lines)


@main.group(cls=LazyGroup, lazy=_LAZY_BENCH)
def bench() -> None:
    """Benchmarks (retrieval quality, scale, peers, replay)."""


if __name__ == "__main__":
    main()
