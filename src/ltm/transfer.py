"""Export and import: a store's memories as JSON Lines and back.

An export is a header line (``{"ltm_export": 1, "embedder": ..., "dim": ...}``) and one
memory per line (every field, times in ISO-8601 UTC, the vector as base64 float32 in
``embedding_f32`` unless left out, and in ``history`` the changes ``MemoryStore.history``
shows: ``{"event", "at", "data"}`` each, oldest first). An import keeps ids and times and
history (a line without ``history``, as exports before it, starts one with its import),
skips ids the same user already has, reuses the vectors when the export was made with the
store's embedder, drops a ``superseded_by`` naming a memory neither the file nor the store
holds, and is all or nothing (one transaction; a bad line is ``InvalidInput`` naming its
number).
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from . import ids as _ids
from . import validate as check
from .backends.base import NewRow
from .engine import Engine, embed_text
from .errors import InvalidInput, ScopeError
from .model import HistoryEvent, Memory
from .timeutil import iso, now_us, opt_us, to_us

EXPORT_FORMAT = 1
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportReport:
    imported: int
    skipped: int
    reembedded: int


def export_jsonl(engine: Engine, fp: IO[str], *, user: str | None = None,
                 embeddings: bool = True) -> int:
    """Write memories as JSON Lines (a header line, then one memory per line); returns how
    many (``MemoryStore.export``)."""
    if user is not None:
        check.user(user, stored=True)  # '*' too: what an earlier ltm stored under it
    if not callable(getattr(fp, "write", None)):
        raise InvalidInput("export writes to a text file object (with write())", field="fp")
    try:
        fp.write(json.dumps({"ltm_export": EXPORT_FORMAT, "embedder": engine.embedder.name,
                             "dim": engine.embedder.dim}) + "\n")
    except TypeError:  # a file opened in binary mode ("wb")
        raise InvalidInput("export writes text: open the file in text mode ('w', UTF-8), not "
                           "binary", field="fp") from None
    except ValueError as exc:  # closed, or opened for reading (io.UnsupportedOperation)
        raise InvalidInput(f"export cannot write to this file object: {exc}",
                           field="fp") from None
    n = 0
    page: list[tuple[Memory, np.ndarray | None]] = []

    def write() -> None:
        history: dict[str, list[HistoryEvent]] = {}
        for name in {m.user for m, _ in page}:
            history.update(engine.backend.histories([m.id for m, _ in page if m.user == name],
                                                    name))
        for mem, vec in page:
            data = memory_to_json(mem, vec)
            data["history"] = [history_to_json(e) for e in history.get(mem.id, [])]
            line = _one_line(json.dumps(data, ensure_ascii=False)) + "\n"
            try:
                fp.write(line)
            except UnicodeEncodeError as exc:  # open(path, "w") where UTF-8 is not the default
                raise InvalidInput(f"export writes UTF-8: open the file with encoding='utf-8' "
                                   f"(this one encodes as "
                                   f"{getattr(fp, 'encoding', None) or exc.encoding})",
                                   field="fp") from None
        page.clear()

    for mem, vec in engine.backend.iter_export(user, with_vectors=embeddings):
        page.append((mem, vec))
        n += 1
        if len(page) >= _HISTORY_PAGE:
            write()
    write()
    return n


_HISTORY_PAGE = 500  # memories whose history one read fetches


# characters JSON leaves raw in a string that str.splitlines() (and other readers) take for a
# line break: escaped, so one memory stays one line whatever reads the file
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _one_line(text: str) -> str:
    return text.translate(_LINE_BREAKS)


def import_jsonl(engine: Engine, fp: Iterable[str] | Iterable[bytes], *,
                 progress: Callable[[int], None] | None = None,
                 batch_size: int = 1000) -> ImportReport:
    """The work behind ``MemoryStore.import_`` (its docstring is the contract): validate
    every line, then write the batches in one transaction."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInput("batch_size must be a positive integer", field="batch_size")
    if isinstance(fp, (str, bytes)) or not isinstance(fp, Iterable):
        raise InvalidInput("import_ reads a file object or an iterable of lines",
                           field="file")
    lines = _decoded_lines(fp)
    first = next(lines, None)
    header: Any = None
    try:
        # (a byte order mark, as editors on Windows save UTF-8, is not part of the header)
        header = json.loads(first[1].removeprefix("\ufeff")) if first is not None else None
        if not isinstance(header, dict) or header.get("ltm_export") != EXPORT_FORMAT:
            raise ValueError
    except (ValueError, RecursionError):
        version = header.get("ltm_export") if isinstance(header, dict) else None
        if isinstance(version, int) and not isinstance(version, bool) \
                and version > EXPORT_FORMAT:  # the header of a later version's export
            raise InvalidInput(f"the export is in format {version}, newer than this version "
                               f"of ltm reads ({EXPORT_FORMAT}): upgrade ltm to import it",
                               field="file", item=1) from None
        raise InvalidInput("not an ltm export: the first line must be the export header",
                           field="file", item=1) from None
    same = header.get("embedder") == engine.embedder.name
    dim = engine.embedder.dim
    limits = {"max_bytes": engine.settings.max_metadata_bytes,
              "max_depth": engine.settings.max_metadata_depth}
    imported = skipped = reembedded = 0
    batch: list[tuple[int, NewRow, np.ndarray | None]] = []
    # the history of each line that holds one: (user, id) -> events (id, event, at, data)
    histories: dict[tuple[str, str], list[tuple[str, str, int, Any]]] = {}
    seen: set[tuple[str, str]] = set()  # (user, id) of this file: none may come twice
    links: list[tuple[str, str, str]] = []  # (user, id, superseded_by) of the rows written

    def flush() -> None:
        nonlocal imported, reembedded, skipped
        if not batch:
            return
        present: set[tuple[str, str]] = set()
        for user in {row.user for _, row, _ in batch}:
            ids = [row.id for _, row, _ in batch if row.user == user]
            present.update((user, i) for i in engine.backend.get_many(ids, user))
        fresh = [(n, row, vec) for n, row, vec in batch if (row.user, row.id) not in present]
        skipped += len(batch) - len(fresh)
        vecs = np.zeros((len(fresh), dim), dtype=np.float32)
        given = [(i, n, v) for i, (n, _, v) in enumerate(fresh) if v is not None]
        for _, n, v in given:
            if len(v) != dim:
                raise InvalidInput(f"line {n}: embedding has dimension {len(v)}, the store "
                                   f"uses {dim}", field="embedding", item=n)
        if given:
            matrix = np.stack([v for _, _, v in given])
            bad = ~np.isfinite(matrix).all(axis=1)
            if bad.any():
                n = given[int(np.argmax(bad))][1]
                raise InvalidInput(f"line {n}: embedding contains NaN or infinity",
                                   field="embedding", item=n)
            vecs[[i for i, _, _ in given]] = check.unit_vectors(matrix, dim)
        missing = [i for i, (_, _, v) in enumerate(fresh) if v is None]
        if missing:
            vecs[missing] = engine.embed([embed_text(fresh[i][1].text, fresh[i][1].metadata)
                                         for i in missing])
            reembedded += len(missing)
        links.extend((row.user, row.id, row.superseded_by) for _, row, _ in fresh
                     if row.superseded_by is not None)
        if fresh:
            try:
                engine.backend.insert([row for _, row, _ in fresh], vecs)
            except InvalidInput as exc:
                if exc.item is None or not 0 <= exc.item < len(fresh):
                    raise
                n = fresh[exc.item][0]
                raise InvalidInput(f"line {n}: {exc}", field=exc.field, item=n) from None
            # the exported history instead of the 'created' event the insert wrote
            by_user: dict[str, list[tuple[str, str, int, Any]]] = {}
            for _, row, _ in fresh:
                events = histories.get((row.user, row.id))
                if events:
                    by_user.setdefault(row.user, []).extend(events)
            for name, events in by_user.items():
                engine.backend.set_history(name, events)
            # a memory forgotten here before: its tombstone moves after the events just
            # written, and 'restored' follows (else its history read 'deleted, created')
            ids_of: dict[str, list[str]] = {}
            for _, row, _ in fresh:
                ids_of.setdefault(row.user, []).append(row.id)
            at = now_us()
            for name, ids in ids_of.items():
                engine.backend.restored(name, ids, at)
        histories.clear()
        imported += len(fresh)
        if progress:
            progress(len(batch))
        batch.clear()

    with engine.backend.atomic():
        for lineno, line in lines:
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                row, vec = memory_from_json(d, **limits)
                events = history_from_json(d.get("history"), row.id)
            except KeyError as exc:
                raise InvalidInput(f"line {lineno}: no {exc.args[0]!r}", field="file",
                                   item=lineno) from None
            except (ValueError, TypeError, RecursionError, ScopeError) as exc:
                raise InvalidInput(f"line {lineno}: {exc}", field="file",
                                   item=lineno) from None
            # (ids are per user on PostgreSQL: two users' lines may repeat one; a backend
            # whose ids are store-wide refuses the second as an id in use)
            if (row.user, row.id) in seen:
                raise InvalidInput(f"line {lineno}: id {row.id} comes twice in the file; "
                                   "ids are unique", field="id", item=lineno)
            seen.add((row.user, row.id))
            if events:
                histories[(row.user, row.id)] = events
            batch.append((lineno, row, vec if same else None))
            if len(batch) >= batch_size:
                flush()
        flush()
        _unlink_missing_successors(engine, links, seen)
    return ImportReport(imported=imported, skipped=skipped, reembedded=reembedded)


def _unlink_missing_successors(engine: Engine, links: list[tuple[str, str, str]],
                               seen: set[tuple[str, str]]) -> None:
    """A written memory superseded by one that is neither in the file nor the user's in the
    store loses the link (its valid_to stays: when it stopped holding), as a forget of its
    last successor does (``successor_relinks``): superseded by nothing, it was ranked as
    outdated with nothing standing in its place. An export taken while a forget ran may
    hold such a link (rows are read a page at a time), and add() refuses one."""
    missing: dict[str, list[tuple[str, str]]] = {}  # user -> (id, successor)
    for user, mid, successor in links:
        if (user, successor) not in seen:
            missing.setdefault(user, []).append((mid, successor))
    for user, pairs in missing.items():
        held = engine.backend.get_many(sorted({s for _, s in pairs}), user)
        for mid, successor in pairs:
            if successor not in held:
                engine.backend.update(mid, user, {"superseded_by": None}, None)
                log.info("imported memory %s: its successor %s is not in the store; link "
                         "dropped", mid, successor)


def _decoded_lines(fp: Iterable[str] | Iterable[bytes]) -> Iterator[tuple[int, str]]:
    """The lines of ``fp`` numbered from 1; text that is not UTF-8 is InvalidInput naming the
    line (``bytes`` lines are decoded here, exactly; a text stream decodes blocks ahead, so
    there the bad byte is at or after the line named)."""
    it: Iterator[Any] | None = None
    n = 0
    while True:
        try:
            if it is None:
                it = iter(fp)  # (a closed file refuses this already)
            line: Any = next(it)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"line {n + 1} or later is not UTF-8 text ({exc.reason})",
                               field="file", item=n + 1) from None
        except ValueError as exc:  # a file object closed, or opened for writing only
            if not isinstance(fp, io.IOBase):
                raise
            raise InvalidInput(f"import cannot read this file object: {exc}",
                               field="file") from None
        n += 1
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidInput(f"line {n} is not UTF-8 text ({exc.reason} at byte "
                                   f"{exc.start})", field="file", item=n) from None
        if not isinstance(line, str):
            raise InvalidInput(f"line {n} is not text", field="file", item=n)
        yield n, line


def memory_to_json(mem: Memory, vec: np.ndarray | None = None) -> dict[str, Any]:
    def t(d: Any) -> str | None:
        return None if d is None else iso(to_us(d))

    data: dict[str, Any] = {
        "id": mem.id, "user": mem.user, "agent": mem.agent, "session": mem.session,
        "kind": mem.kind, "text": mem.text, "metadata": mem.metadata,
        "importance": mem.importance, "time": t(mem.time), "recorded_at": t(mem.recorded_at),
        "valid_from": t(mem.valid_from), "valid_to": t(mem.valid_to),
        "superseded_by": mem.superseded_by, "sources": list(mem.sources),
        "access_count": mem.access_count, "last_accessed": t(mem.last_accessed),
        "pinned": mem.pinned, "expires_at": t(mem.expires_at), "seq": mem.seq,
    }
    if vec is not None:
        data["embedding_f32"] = base64.b64encode(np.asarray(vec, np.float32).tobytes()).decode()
    return data


def history_to_json(event: HistoryEvent) -> dict[str, Any]:
    """One history event as an export holds it (``data``: the previous values, as
    ``MemoryStore.history`` gives them; times there in microseconds). Its keys in sorted
    order: PostgreSQL's jsonb gives them back in its own, and one history exports as the same
    line from either backend."""
    return {"event": event.event, "at": iso(to_us(event.at)), "data": _sorted_keys(event.data)}


def _sorted_keys(value: Any) -> Any:
    """``value`` with the keys of each object in it in sorted order."""
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


# an event's previous values hold at most a memory's fields: its text, metadata, sources...
_MAX_EVENT_BYTES = 4 * check.MAX_TEXT_CHARS + 4 * check.MAX_METADATA_BYTES


def history_from_json(value: Any, memory_id: str) -> list[tuple[str, str, int, Any]]:
    """An exported memory's ``history`` as the events ``Backend.set_history`` writes (none:
    the line has no history, as exports before it). ValueError when it is malformed."""
    if value is None:
        return []
    if not isinstance(value, list):  # (as many as the store wrote: a line holds them all)
        raise ValueError("history must be a list of events")
    out: list[tuple[str, str, int, Any]] = []
    for e in value:
        if not isinstance(e, dict) or set(e) - {"event", "at", "data"}:
            raise ValueError("a history event is an object of event, at and data")
        name = e.get("event")
        if not isinstance(name, str) or not 0 < len(name) <= check.MAX_NAME_CHARS \
                or not check.has_content(name) or "\x00" in name:
            raise ValueError("a history event's name must be a short text")
        data = e.get("data")
        if data is not None:
            try:
                data = check.metadata(data, max_bytes=_MAX_EVENT_BYTES)
            except InvalidInput as exc:
                raise ValueError(f"a history event's data: {exc}") from None
        out.append((memory_id, name, to_us(e.get("at"), field="history.at"), data))
    return out


def memory_from_json(d: dict[str, Any], *, max_bytes: int = check.MAX_METADATA_BYTES,
                     max_depth: int = check.MAX_METADATA_DEPTH
                     ) -> tuple[NewRow, np.ndarray | None]:
    """One exported memory as a row to insert and its vector (None: none exported);
    ``max_bytes`` and ``max_depth`` limit its metadata. ValueError (InvalidInput) when the
    record is malformed."""
    if not isinstance(d, dict):
        raise ValueError("each line must be a JSON object")
    if not _ids.is_id(d.get("id")):
        raise ValueError(f"id {d.get('id')!r} is not a ULID")
    check.new_id(d["id"])  # in capitals
    vec = None
    if d.get("embedding_f32"):
        vec = np.frombuffer(base64.b64decode(d["embedding_f32"]), dtype=np.float32).copy()
    seq = d.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)
                            or not 0 <= seq < 2**31):
        raise ValueError("seq must be an integer in [0, 2**31)")
    access = d.get("access_count", 0)
    if isinstance(access, bool) or not isinstance(access, int) or not 0 <= access < 2**31:
        raise ValueError("access_count must be an integer in [0, 2**31)")
    if not isinstance(d.get("pinned", False), bool):
        raise ValueError("pinned must be true or false")
    superseded = d.get("superseded_by")
    if superseded is not None and not _ids.is_id(superseded):
        raise ValueError("superseded_by must be a memory id")
    if superseded == d["id"]:
        raise ValueError("a memory cannot be superseded by itself")
    row = NewRow(
        id=d["id"], user=check.user(d.get("user")), agent=check.opt_name(d.get("agent"), "agent"),
        session=check.opt_name(d.get("session"), "session"), kind=check.kind(d.get("kind", "episode")),
        text=check.text(d.get("text")),
        metadata=check.metadata(d.get("metadata"), max_bytes=max_bytes, max_depth=max_depth),
        importance=check.importance(d.get("importance")), time=to_us(d["time"]),
        recorded_at=to_us(d["recorded_at"], field="recorded_at"),
        valid_from=opt_us(d.get("valid_from"), field="valid_from"),
        valid_to=opt_us(d.get("valid_to"), field="valid_to"), superseded_by=superseded,
        sources=check.sources(d.get("sources")), pinned=d.get("pinned", False),
        expires_at=opt_us(d.get("expires_at"), field="expires_at"), access_count=access,
        last_accessed=opt_us(d.get("last_accessed"), field="last_accessed"), seq=seq)
    if row.valid_to is not None and row.valid_to < (row.valid_from if row.valid_from is not None
                                                    else row.time):
        # as add() refuses: an interval that ends before it starts is never valid
        raise ValueError("valid_to must not be before valid_from (default: time)")
    return row, vec
