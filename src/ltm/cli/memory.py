"""The memory commands: ``ltm add``, ``search``, ``context``, ``get``, ``forget``, ``history``,
``list``, ``update``, ``import``, ``export`` and ``stats``. Each parses its options, calls
``MemoryStore`` and prints (``--json`` for scripts); exit codes in ``ltm.cli``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any

import click

from .common import (
    drop_stdout,
    emit,
    errors_to_exit,
    fail,
    json_option,
    opened,
    parse_json_arg,
    store_option,
    user_option,
    visible,
)

now_option = click.option(
    "--now", help="The time to read time phrases ('yesterday', 'last week') against, ISO-8601 "
    "with its UTC offset; default: this machine's clock in its local time zone.")


def _now(value: str | None) -> Any:
    """--now as given, else the present with the machine's UTC offset, so 'yesterday' is the
    user's yesterday rather than UTC's."""
    if value is not None:
        return value
    from datetime import datetime
    return datetime.now().astimezone()


def fmt_memory(m: Any) -> str:
    """One line per memory (line breaks in its text become spaces, as in context()); a fact
    that no longer holds (superseded or ended) says until when it held, as context() does."""
    extra = f" session={m.session}" if m.session else ""
    if m.valid_to is not None:
        extra += f" until {m.valid_to:%Y-%m-%d %H:%M}"
    text = " ".join(m.text.split())
    return f"{m.id}  {m.time:%Y-%m-%d %H:%M}  [{m.kind}{extra}]  {text}"


@click.command()
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
@click.option("--valid-from", "valid_from",
              help="When a fact started to hold (ISO-8601); default --time.")
@click.option("--supersedes", help="Id of a current memory of the user that this one replaces.")
@json_option
def add(store: str, user: str, text: str, session: str | None, agent: str | None, kind: str,
        time_: str | None, importance: float | None, pinned: bool, metadata: str | None,
        valid_from: str | None, supersedes: str | None, as_json: bool) -> None:
    """Remember TEXT for a user."""
    meta = parse_json_arg(metadata, "--metadata")
    with opened(store) as mem:
        with errors_to_exit():
            m = mem.add(text, user=user, session=session, agent=agent, kind=kind, time=time_,
                        importance=importance, pinned=pinned, metadata=meta,
                        valid_from=valid_from, supersedes=supersedes)
        emit(m, as_json, lambda m: m.id)


@click.command()
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
@click.option("--min-relevance", "min_relevance", type=float, default=0.0, show_default=True,
              help="Leave out memories whose relevance (0-1) is below this.")
@now_option
@click.option("--explain", is_flag=True, help="Show the per-signal scores.")
@json_option
def search(store: str, user: str, query: str, k: int, session: str | None, agent: str | None,
           kinds: tuple[str, ...], since: str | None, until: str | None, as_of: str | None,
           min_relevance: float, now: str | None, explain: bool, as_json: bool) -> None:
    """Find a user's memories relevant to QUERY."""
    with opened(store, create=False) as mem:
        with errors_to_exit():
            hits = mem.search(query, user=user, k=k, session=session, agent=agent,
                              kinds=list(kinds) or None, since=since, until=until, as_of=as_of,
                              min_relevance=min_relevance, now=_now(now))

        def human(hits: Any) -> str:
            lines = []
            for h in hits:
                lines.append(f"{h.score:7.3f}  {fmt_memory(h.memory)}")
                if explain:
                    lines.append("         " + "  ".join(f"{k}={v:.3f}"
                                                       for k, v in h.signals.items()))
            return "\n".join(lines) if lines else "(no results)"
        emit(hits, as_json, human)


@click.command()
@store_option
@user_option
@click.argument("query")
@click.option("--budget", "budget", default=1000, show_default=True, help="Token budget.")
@click.option("--min-relevance", "min_relevance", type=float, default=None,
              help="Leave out memories whose relevance (0-1) is below this (default: the "
              "context_min_relevance setting); the block may then be empty.")
@now_option
@json_option
def context(store: str, user: str, query: str, budget: int, min_relevance: float | None,
            now: str | None, as_json: bool) -> None:
    """Print a prompt-ready block of a user's memories relevant to QUERY."""
    with opened(store, create=False) as mem:
        with errors_to_exit():
            block = mem.context(query, user=user, budget_tokens=budget,
                                min_relevance=min_relevance, now=_now(now))
        emit({"query": query, "user": user, "budget_tokens": budget, "context": block},
             as_json, lambda d: d["context"])


@click.command()
@store_option
@user_option
@click.argument("memory_id")
@json_option
def get(store: str, user: str, memory_id: str, as_json: bool) -> None:
    """Show one memory."""
    with opened(store, create=False) as mem:
        with errors_to_exit():
            m = mem.get(memory_id, user=user)
        emit(m, as_json, fmt_memory)


@click.command()
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
        fail("say what to forget: an id, --session, --before or --all", 2, "InvalidInput")
    if everything and (memory_id or session or before):
        fail("--all cannot be combined with an id, --session or --before", 2, "InvalidInput")
    if everything and not yes and not click.confirm(f"Erase every memory of {user!r}?"):
        sys.exit(1)
    with opened(store, create=False) as mem:
        with errors_to_exit():
            receipt = mem.forget(memory_id, user=user, session=session, before=before)
        emit(receipt, as_json, lambda r: f"forgot {r.count} memories" + "".join(
            f"\n  {kind}: {len(ids)}" for kind, ids in r.ids_by_kind.items()))


@click.command()
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
            f"{e.at:%Y-%m-%d %H:%M:%S}  {e.event}" + (f"  {_previous(e.data)}" if e.data
                                                     else "") for e in evs))


_TIME_FIELDS = frozenset({"time", "recorded_at", "valid_from", "valid_to", "expires_at",
                          "last_accessed"})


def _previous(data: dict[str, Any]) -> str:
    """An event's previous values for a person: text as written (not ASCII escapes), times
    (kept as microseconds since 1970) as dates; ``--json`` gives them as stored."""
    from ..timeutil import from_us

    def value(key: str, v: Any) -> Any:
        if key in _TIME_FIELDS and isinstance(v, int) and not isinstance(v, bool):
            try:
                return f"{from_us(v):%Y-%m-%d %H:%M:%S}"
            except (OverflowError, ValueError):
                return v
        return v
    return json.dumps({k: value(k, v) for k, v in data.items()}, ensure_ascii=False)


@click.command("list")
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
    with opened(store, create=False) as mem:
        with errors_to_exit():
            page = mem.list(user, session=session, agent=agent, kinds=list(kinds) or None,
                            since=since, until=until, limit=limit, cursor=cursor,
                            order="oldest" if oldest else "newest")
        if as_json:
            emit({"memories": page.memories, "next_cursor": page.next_cursor}, True, str)
            return
        click.echo(visible("\n".join(fmt_memory(m) for m in page)) or "(no memories)")
        if page.next_cursor:
            click.echo(f"more: --cursor {page.next_cursor}", err=True)


@click.command()
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
@click.option("--no-expiry", "no_expiry", is_flag=True,
              help="Remove the expiry: it no longer expires.")
@click.option("--metadata", help="New metadata, a JSON object (replaces the old one).")
@json_option
def update(store: str, user: str, memory_id: str, text: str | None, kind: str | None,
           session: str | None, agent: str | None, time_: str | None,
           importance: float | None, pinned: bool | None, expires_at: str | None,
           no_expiry: bool, metadata: str | None, as_json: bool) -> None:
    """Change a memory in place (the previous values go into its history)."""
    meta = parse_json_arg(metadata, "--metadata")
    with opened(store, create=False) as mem:
        with errors_to_exit():
            m = mem.update(memory_id, user=user, text=text, kind=kind, session=session,
                           agent=agent, time=time_, importance=importance, pinned=pinned,
                           expires_at=expires_at, clear_expiry=no_expiry, metadata=meta)
        emit(m, as_json, fmt_memory)


@click.command("import")
@store_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--user", "-u", help="For plain conversation files: the user they belong to.")
@click.option("--session", help="For plain conversation files: the session (default: file name; "
              "needed when FILE is - for standard input).")
@json_option
def import_cmd(store: str, file: str, user: str | None, session: str | None,
               as_json: bool) -> None:
    """Import FILE (UTF-8): an ltm export (JSONL), or with --user a conversation as JSONL lines
    of {"role"|"speaker", "content", "time"?}. All or nothing: a bad line (named by its
    number) exits 2 and writes nothing."""
    from tqdm import tqdm

    from ..errors import InvalidInput

    if user is not None and session is None and file == "-":
        # the file name is the default session: standard input has none (every piped
        # conversation would land in one session named "-", their turns as neighbours)
        fail("a conversation read from standard input needs --session", 2, "InvalidInput")
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
                    if n == 1:  # a byte order mark (editors on Windows save UTF-8 with one),
                        line = line.removeprefix("\ufeff")  # as an export's import takes it
                    if line.strip():
                        try:
                            messages.append(json.loads(line))
                        except (ValueError, RecursionError) as exc:
                            raise InvalidInput(f"{file} line {n}: not JSON: {exc}") from None
                        if not lines and isinstance(messages[0], dict) \
                                and "ltm_export" in messages[0]:
                            raise InvalidInput(f"{file} is an ltm export: import it without "
                                               "--user (each memory keeps its own user)")
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


@click.command("export")
@store_option
@click.option("--user", "-u", help="Only this user (default: the whole store).")
@click.option("--no-embeddings", is_flag=True, help="Leave vectors out (smaller file).")
@click.option("--out", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="Output file (default stdout).")
def export_cmd(store: str, user: str | None, no_embeddings: bool, out: str) -> None:
    """Export memories as JSON Lines."""
    if not out:  # (an empty name was written whole beside, then a traceback at its rename)
        fail("--out needs a file name (or - for standard output)", 2, "InvalidInput")
    with opened(store, create=False) as mem:
        try:
            target = click.open_file(out, "w", encoding="utf-8") if out == "-" \
                else WholeFile(out)
        except OSError as exc:  # a missing folder, no permission: one line, exit 2
            fail(f"cannot write {out}: {exc.strerror or exc}", 2, "InvalidInput")
        try:
            with target as fp, errors_to_exit():
                try:
                    n = mem.export(fp, user=user, embeddings=not no_embeddings)
                except BrokenPipeError:
                    raise  # (the reader went: reader_gone)
                except OSError as exc:  # a full disk: one line, exit 1 (FILE keeps what it held)
                    if out == "-":
                        drop_stdout()
                    fail(f"cannot write {'standard output' if out == '-' else out}: "
                         f"{exc.strerror or exc}", 1, "OSError")
        except OSError as exc:
            if out == "-" or isinstance(exc, BrokenPipeError):
                raise
            # the written file could not take its name (a folder made there meanwhile, the
            # folder's permissions changed): FILE keeps what it held
            fail(f"cannot write {out}: {exc.strerror or exc}", 1, "OSError")
    if out != "-":
        click.echo(f"exported {n} memories to {out}", err=True)


class WholeFile:
    """A text file that becomes ``path`` only once it is written whole: written beside it under
    a temporary name and renamed over it at the end, so that an export cut short (killed, a
    full disk, an error) leaves no file that reads as a shorter export (an import cannot tell
    one cut at a line's end from a whole one) and ``path`` keeps what it held. A path that is
    not a regular file (a device, a pipe, a symbolic link) is written in place."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.tmp: str | None = None
        if os.path.islink(path) or (os.path.exists(path) and not os.path.isfile(path)):
            self.fp = open(path, "w", encoding="utf-8")
            return
        folder, name = os.path.split(os.path.abspath(path))
        fd, self.tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".partial")
        mask = os.umask(0)  # (read back: mkstemp's 0600 becomes what open() would give)
        os.umask(mask)
        os.chmod(self.tmp, 0o666 & ~mask)
        self.fp = open(fd, "w", encoding="utf-8")

    def __enter__(self) -> Any:
        return self.fp

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            try:
                if self.tmp is not None and kind is None:
                    # on disk before it takes the name: after a crash the file under PATH is
                    # the old one or the whole new one, never a truncated one
                    self.fp.flush()
                    os.fsync(self.fp.fileno())
                self.fp.close()
            except OSError:
                if kind is None:  # (else the error that stopped the export is the one told)
                    raise
            if self.tmp is not None and kind is None:
                os.replace(self.tmp, self.path)
        finally:
            if self.tmp is not None and os.path.exists(self.tmp):
                os.unlink(self.tmp)


@click.command()
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
