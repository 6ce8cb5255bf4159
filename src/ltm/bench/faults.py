"""``ltm bench faults``: kill -9 a process writing to a store at random moments, again and again,
and check after each kill that the reopened store lost nothing and holds nothing it should not.

A child process (a real ``python -m ltm.bench.faults --child``) runs a mixed workload on one
store: ``add``, ``add_many`` (sizes log-uniform up to ``--max-batch``), ``forget`` by id, by
session and of a whole user, ``update`` of a text, ``import_`` of an export file (fresh ids),
``export``, ``compact``, close and reopen, and a few searches. After each call
returns it appends what was acknowledged to a log file (one JSON line, fsync'd): the ids and
texts it added, the ids each forget erased (before a forget it logs what it is about to
forget, so that a forget cut short by the kill is known to be undecided; likewise the new text
of an update and the rows of an import). The parent kills it
with SIGKILL after a random delay, reopens the store in its own process and checks:

* every acknowledged id that no acknowledged forget erased is stored with its text (``lost``,
  ``wrong_content``) and a sample is found by ``get`` and by a search for its own text
  (``unsearchable``); no id an acknowledged forget erased is stored (``resurrected``);
* an import the kill cut short left all of its rows or none (``partial_imports``), and an
  update cut short the old text or the new one;
* every row has its vector (``missing_vectors``); the full-text index holds an entry for every
  row and none for a row that is gone (``fts_orphans``, ``fts_missing``; FTS5's own
  ``integrity-check`` against the table); ``PRAGMA integrity_check`` is ok
  (``integrity_failures``);
* the vector index the store serves equals the database: the same row ids, each once, under
  its row's user, with its row's vector, byte for byte (``inconsistent_index`` counts checks
  where it did not);
* no temporary file is left in the store folder once it has been opened and closed again
  (``orphan_files``: distinct leftovers seen);
* no vector of an erased memory is a row of the index's vector files
  (``erased_vectors_on_disk``): before the reopen, none erased before this life or by this life's
  acknowledged ``erase="full"`` forgets; after the reopen and close, none at all (a vector a
  live memory also has, its words in another order, is rightly there: ``erased_also_live``). A second
  process (``--reader``) keeps the store open and reading during each life and closes cleanly
  after the kill, so a stale process's write-back shows here and in the index check;
* neither the child nor the checker met an exception that is not an ``ltm.errors`` type
  (``raw_errors``).

Rows a kill left committed without an acknowledgement are adopted (they must then survive
like any other), and a forget cut short settles as whatever the check finds. Only the standard
library is imported at module level; the checker uses the SQLite backend's
vector index read-only.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .faults_disk import TEMP_MARKS as _TEMP_MARKS
from .faults_disk import erased_on_disk, live_vectors, vectors_of

USERS = tuple(f"fault-u{i}" for i in range(8))
SESSIONS = 12
WORDS = (
    "lisbon", "porto", "tokyo", "flight", "hotel", "sister", "cat", "miso", "tea", "jasmine",
    "coffee", "running", "morning", "meeting", "project", "deadline", "birthday", "gift",
    "book", "guitar", "piano", "garden", "tomato", "recipe", "pasta", "doctor", "dentist",
    "insurance", "car", "bike", "train", "ticket", "concert", "museum", "beach", "mountain",
)
# the child's mix of operations (relative weights)
OPS = {"add": 10, "add_many": 2, "forget_id": 75, "forget_session": 4, "forget_user": 1,
       "update": 4, "import": 2, "export": 1, "compact": 2, "reopen": 4, "search": 2}
_SAMPLES = 12  # failure messages kept in the report


# -- the child: the workload that gets killed ------------------------------------------------
class _AckLog:
    """Append-only JSON lines, each fsync'd before the next call starts."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def __call__(self, entry: dict[str, Any]) -> None:
        data = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data):]
        os.fsync(self.fd)


def _child(args: dict[str, Any]) -> None:
    import ltm
    from ltm.errors import LtmError

    rng = random.Random(args["seed"])
    ack = _AckLog(args["log"])
    alive: dict[str, dict[str, list[str]]] = json.loads(Path(args["state"]).read_text())
    counter = [int(args["counter"])]
    settings = {"erase": args["erase"]}

    def text() -> str:
        counter[0] += 1
        return f"{' '.join(rng.sample(WORDS, 4))} note q{counter[0]:x}z"

    def total() -> int:
        return sum(len(ids) for sessions in alive.values() for ids in sessions.values())

    def forget(mem: Any, user: str, **how: str) -> None:
        ack({"op": "forget-begin", "user": user, **how})
        receipt = mem.forget(how.get("id"), user=user, session=how.get("session"))
        ack({"op": "forgot", "user": user, "ids": receipt.ids, **how})
        gone = set(receipt.ids)
        for s in list(alive.get(user, {})):
            alive[user][s] = [i for i in alive[user][s] if i not in gone]

    def remember(mems: list[Any]) -> None:
        ack({"op": "add", "ids": [m.id for m in mems], "users": [m.user for m in mems],
             "sessions": [m.session for m in mems], "texts": [m.text for m in mems]})
        for m in mems:
            alive.setdefault(m.user, {}).setdefault(m.session, []).append(m.id)

    def import_rows(mem: Any) -> None:
        import io

        from ltm.ids import new_id
        from ltm.timeutil import iso, now_us

        size = int(math.exp(rng.uniform(0, math.log(min(2_000, args["max_batch"])))))
        at = iso(now_us())
        rows = [{"id": new_id(), "user": rng.choice(USERS), "session": f"s{rng.randrange(SESSIONS)}",
                 "text": text(), "time": at, "recorded_at": at} for _ in range(size)]
        header = {"ltm_export": 1, "embedder": mem.embedder.name, "dim": mem.embedder.dim}
        entry = {"ids": [r["id"] for r in rows], "users": [r["user"] for r in rows],
                 "sessions": [r["session"] for r in rows], "texts": [r["text"] for r in rows]}
        ack({"op": "import-begin", **entry})
        mem.import_(io.StringIO("\n".join(json.dumps(x) for x in [header, *rows]) + "\n"))
        ack({"op": "add", **entry})
        for r in rows:
            alive.setdefault(r["user"], {}).setdefault(r["session"], []).append(r["id"])

    def step(mem: Any, op: str) -> Any:
        user = rng.choice(USERS)
        owned = {s: ids for s, ids in alive.get(user, {}).items() if ids}
        if op == "update" and owned:
            mid, new = rng.choice(owned[rng.choice(list(owned))]), text()
            ack({"op": "update-begin", "id": mid, "text": new})
            mem.update(mid, user=user, text=new)
            ack({"op": "updated", "id": mid, "text": new})
        elif op == "import":
            import_rows(mem)
        elif op == "export":
            import io

            mem.export(io.StringIO(), user=user if rng.random() < 0.5 else None)
        elif op == "add":
            remember([mem.add(text(), user=user, session=f"s{rng.randrange(SESSIONS)}")])
        elif op == "add_many":
            size = int(math.exp(rng.uniform(0, math.log(args["max_batch"]))))
            remember(mem.add_many([{"text": text(), "user": rng.choice(USERS),
                                    "session": f"s{rng.randrange(SESSIONS)}"}
                                   for _ in range(size)]))
        elif op == "forget_id" and owned:
            forget(mem, user, id=rng.choice(owned[rng.choice(list(owned))]))
        elif op == "forget_session" and owned:
            forget(mem, user, session=rng.choice(list(owned)))
        elif op == "forget_user":
            biggest = max(USERS, key=lambda u: sum(len(i) for i in alive.get(u, {}).values()))
            forget(mem, biggest, all="yes")
        elif op == "compact":
            mem.backend.compact()
            ack({"op": "compacted"})
        elif op == "reopen":
            mem.close()
            mem = ltm.open(args["store"], embedder=args["embedder"], **settings)
            ack({"op": "reopened"})
        elif op == "search":
            mem.search(" ".join(rng.sample(WORDS, 2)), user=user, k=5)
        return mem

    def fail(op: str, exc: BaseException) -> None:
        if isinstance(exc, LtmError):
            ack({"op": "typed", "during": op, "error": f"{type(exc).__name__}: {exc}"})
            return
        ack({"op": "raw", "during": op, "error": traceback.format_exc()[-4000:]})
        os._exit(3)

    try:
        mem = ltm.open(args["store"], embedder=args["embedder"], **settings)
    except BaseException as exc:
        fail("open", exc)
        os._exit(2)
    print("ready", flush=True)
    names, weights = list(OPS), list(OPS.values())
    while True:
        op = "forget_user" if total() > args["max_rows"] else rng.choices(names, weights)[0]
        try:
            mem = step(mem, op)
        except Exception as exc:
            fail(op, exc)


def _reader(args: dict[str, Any]) -> None:
    """A second process on the store that only reads (its vector index loaded and kept), and
    closes cleanly when told (SIGTERM) after the writer was killed: a stale process must not
    write back what the writer erased."""
    import ltm
    from ltm.errors import LtmError

    rng = random.Random(args["seed"])
    ack = _AckLog(args["log"])
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    try:
        mem = ltm.open(args["store"], embedder=args["embedder"])
        while not stop[0]:
            try:
                mem.search(" ".join(rng.sample(WORDS, 2)), user=rng.choice(USERS), k=5)
            except LtmError as exc:
                ack({"op": "typed", "during": "reader search", "error": f"{exc}"})
            time.sleep(0.1)
        mem.close()
    except LtmError as exc:
        ack({"op": "typed", "during": "reader", "error": f"{type(exc).__name__}: {exc}"})
    except Exception:
        ack({"op": "raw", "during": "reader", "error": traceback.format_exc()[-4000:]})
        os._exit(3)


# -- the parent: what it knows and what it finds -------------------------------------------
@dataclass
class FaultReport:
    kills: int = 0
    acknowledged: int = 0  # ids whose add returned (and was logged) before a kill
    lost: int = 0  # acknowledged, not erased by an acknowledged forget, and not stored
    inconsistent_index: int = 0  # checks where the vector index differed from the database
    orphan_files: int = 0  # distinct temporary files left after a reopen and close
    raw_errors: int = 0  # exceptions not from ltm.errors, in the child or the checker
    forgets: int = 0  # acknowledged forget calls
    forgotten_ids: int = 0
    resurrected: int = 0  # ids an acknowledged forget erased, found stored later
    wrong_content: int = 0
    unsearchable: int = 0  # stored, but not found by a search for its own text
    missing_vectors: int = 0
    fts_orphans: int = 0  # full-text entries without their row
    fts_missing: int = 0  # rows without their full-text entry
    integrity_failures: int = 0  # PRAGMA integrity_check or FTS5 integrity-check not ok
    open_failures: int = 0  # the store could not be opened after a kill (typed error)
    erased_vectors_on_disk: int = 0  # vectors of erased ids found in the index files
    # erased vectors that a live memory also has (the same words in another order): on disk
    # rightly, left out of erased_vectors_on_disk (the most seen at one check)
    erased_also_live: int = 0
    reader_hung: int = 0  # readers that did not close within a minute of being told
    typed_errors: int = 0  # ltm.errors raised in the child (expected ones included)
    child_exits: int = 0  # children that ended before their kill
    killed_before_ready: int = 0
    adopted: int = 0  # rows committed by a call the kill cut short (not acknowledged)
    partial_imports: int = 0  # imports cut short that left some of their rows, not all
    updates: int = 0  # acknowledged text updates
    imports: int = 0  # acknowledged imports
    checks: int = 0
    api_gets: int = 0
    api_searches: int = 0
    max_rows: int = 0
    fts_structure_bytes_max: int = 0  # the FTS5 structure record (grew without bound: F1)
    seconds: float = 0.0
    check_seconds: float = 0.0
    load_average: list[float] = field(default_factory=list)
    seed: int = 0
    embedder: str = ""
    samples: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return (self.lost + self.inconsistent_index + self.orphan_files + self.raw_errors
                + self.resurrected + self.wrong_content + self.unsearchable
                + self.missing_vectors + self.fts_orphans + self.fts_missing
                + self.integrity_failures + self.open_failures
                + self.erased_vectors_on_disk + self.reader_hung + self.partial_imports)

    def note(self, when: int, message: str) -> None:
        if len(self.samples) < _SAMPLES:
            self.samples.append(f"kill {when}: {message}"[:2000])


@dataclass
class _Model:
    alive: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # id: user, session, text
    forgotten: set[str] = field(default_factory=set)
    undecided: set[str] = field(default_factory=set)  # a forget the kill cut short
    recent: list[str] = field(default_factory=list)  # acknowledged in the last life
    seen_orphans: set[str] = field(default_factory=set)
    erased_texts: list[str] = field(default_factory=list)  # erased since the last check
    erased_vectors: set[bytes] = field(default_factory=set)  # erased before it
    new_texts: dict[str, str] = field(default_factory=dict)  # an update the kill cut short
    importing: list[set[str]] = field(default_factory=list)  # imports the kill cut short

    def state(self) -> dict[str, dict[str, list[str]]]:
        out: dict[str, dict[str, list[str]]] = {}
        for mid, (user, session, _) in self.alive.items():
            out.setdefault(user, {}).setdefault(session, []).append(mid)
        return out


def _read_log(path: Path, model: _Model, report: FaultReport, when: int) -> None:
    """Fold one life's acknowledgements into the model."""
    lines = path.read_text(encoding="utf-8").split("\n") if path.exists() else []
    pending: set[str] = set()  # what a forget that has not returned may erase
    importing: set[str] = set()  # the rows of an import that has not returned
    model.recent = []
    for n, line in enumerate(lines):
        if not line:
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            if n < len(lines) - 1:  # only the last line may be cut by the kill
                report.raw_errors += 1
                report.note(when, f"unreadable acknowledgement line {n}")
            continue
        op = entry["op"]
        if op == "add":
            for mid, user, session, text in zip(entry["ids"], entry["users"], entry["sessions"],
                                                entry["texts"]):
                model.alive[mid] = (user, session, text)
                model.recent.append(mid)
            report.acknowledged += len(entry["ids"])
            if importing == set(entry["ids"]):
                report.imports += 1
            elif importing:
                model.importing.append(importing)
            importing = set()
        elif op == "import-begin":
            importing = set(entry["ids"])
        elif op == "update-begin":
            model.new_texts[entry["id"]] = entry["text"]
        elif op == "updated":
            model.new_texts.pop(entry["id"], None)
            row = model.alive.get(entry["id"])
            if row is not None:
                model.alive[entry["id"]] = (row[0], row[1], entry["text"])
            report.updates += 1
        elif op == "forget-begin":
            # a forget that raised (or was cut short) may still have erased what it targeted
            model.undecided |= pending
            pending = {mid for mid, (u, s, _) in model.alive.items()
                       if u == entry["user"] and entry.get("id", mid) == mid
                       and entry.get("session", s) == s}
        elif op == "forgot":
            pending = set()
            report.forgets += 1
            report.forgotten_ids += len(entry["ids"])
            for mid in entry["ids"]:
                row = model.alive.pop(mid, None)
                if row is not None:
                    model.erased_texts.append(row[2])
                model.forgotten.add(mid)
        elif op == "typed":
            report.typed_errors += 1
            if importing:  # an import that raised wrote nothing
                model.importing.append(importing)
                importing = set()
        elif op == "raw":
            report.raw_errors += 1
            report.note(when, f"child, during {entry['during']}: {entry['error']}")
    model.undecided |= pending
    if importing:
        model.importing.append(importing)


def _leftovers(folder: Path) -> list[str]:
    """Temporary files, and index generations (``index/gen-<n>/``) older than the newest."""
    out = [str(p.relative_to(folder)) for p in folder.rglob("*")
           if p.is_file() and any(mark in p.name for mark in _TEMP_MARKS)]
    gens = sorted((p for p in (folder / "index").glob("gen-*")
                   if p.name.removeprefix("gen-").isdigit()),
                  key=lambda p: int(p.name.removeprefix("gen-")))
    out += [str(p.relative_to(folder)) + "/" for p in gens[:-1]]
    return sorted(out)


def _check(path: Path, embedder: Any, model: _Model, report: FaultReport, when: int,
           rng: random.Random, sample: int, full: bool = True) -> None:
    """Reopen the store as a user would and compare it with what was acknowledged."""
    import numpy as np

    import ltm
    from ltm.errors import LtmError

    report.checks += 1
    # before the store is reopened: what was erased before this life (the last check's close
    # rewrote the index files without it) and what this life erased under erase="full" (each
    # such forget rewrites them) must be in no index file, whatever process closed since
    needles = model.erased_vectors | (vectors_of(embedder, model.erased_texts) if full
                                      else set())
    live = live_vectors(path)
    # not a failure (see live_vectors): counted, so that the exclusion can be seen
    report.erased_also_live = max(report.erased_also_live, len(needles & live))
    found = erased_on_disk(path, needles - live)
    if found:
        report.erased_vectors_on_disk += len(found)
        report.note(when, f"{len(found)} erased vectors in the index files before the reopen "
                          f"(written back?): {found[:3]}")
    try:
        mem = ltm.open(path, embedder=embedder)
    except LtmError as exc:
        report.open_failures += 1
        report.note(when, f"open: {type(exc).__name__}: {exc}")
        return
    except Exception:
        report.raw_errors += 1
        report.note(when, f"open: {traceback.format_exc()[-1500:]}")
        return
    try:
        # the index as the store serves it, brought up to date with the database
        idx = mem.backend._vector_index()  # type: ignore[attr-defined]
        db = sqlite3.connect(f"file:{path / 'memories.db'}?mode=ro", uri=True)
        try:
            _check_rows(db, model, report, when)
            _check_index(db, idx, report, when, np)
            _check_fulltext(db, report, when)
        finally:
            db.close()
        _check_fts_content(path, report, when)
        _check_api(mem, model, report, when, rng, sample)
    except LtmError as exc:
        report.open_failures += 1
        report.note(when, f"check: {type(exc).__name__}: {exc}")
    except Exception:
        report.raw_errors += 1
        report.note(when, f"check: {traceback.format_exc()[-1500:]}")
    finally:
        try:
            mem.close()
        except Exception:
            report.raw_errors += 1
            report.note(when, f"close: {traceback.format_exc()[-1500:]}")
    # everything erased so far, now that the store was opened and closed again
    model.erased_vectors |= vectors_of(embedder, model.erased_texts)
    model.erased_texts = []
    found = erased_on_disk(path, model.erased_vectors - live_vectors(path))
    if found:
        report.erased_vectors_on_disk += len(found)
        report.note(when, f"{len(found)} erased vectors in the index files after a reopen "
                          f"and close: {found[:3]}")
    fresh = set(_leftovers(path)) - model.seen_orphans
    if fresh:
        report.orphan_files += len(fresh)
        model.seen_orphans |= fresh
        report.note(when, f"left over after reopen and close: {sorted(fresh)[:5]}")


def _check_rows(db: sqlite3.Connection, model: _Model, report: FaultReport, when: int) -> None:
    stored = {mid: (user, session, text, has_vec) for mid, user, session, text, has_vec
              in db.execute("SELECT id, user, session, text, "
                            "embedding IS NOT NULL AND length(embedding) > 0 FROM memories")}
    report.max_rows = max(report.max_rows, len(stored))
    back = [mid for mid in model.forgotten if mid in stored]
    if back:
        report.resurrected += len(back)
        report.note(when, f"{len(back)} forgotten ids stored again, e.g. {back[:3]}")
        model.forgotten.difference_update(back)  # adopted below: counted once
    for mid in model.undecided:  # settled by what the kill left
        if mid not in stored:
            row = model.alive.pop(mid, None)
            if row is not None:
                model.erased_texts.append(row[2])
            model.forgotten.add(mid)
    model.undecided = set()
    for mid, text in model.new_texts.items():  # an update cut short: the old text or the new
        row = model.alive.get(mid)
        if row is not None and mid in stored and stored[mid][2] == text:
            model.alive[mid] = (row[0], row[1], text)
    model.new_texts = {}
    for ids in model.importing:  # an import cut short: all of its rows or none
        held = ids & stored.keys()
        if held and held != ids:
            report.partial_imports += 1
            report.note(when, f"an import cut short left {len(held)} of its {len(ids)} rows")
    model.importing = []
    lost = [mid for mid in model.alive if mid not in stored]
    if lost:
        report.lost += len(lost)
        report.note(when, f"{len(lost)} acknowledged ids missing, e.g. {lost[:3]}")
        for mid in lost:
            del model.alive[mid]
    wrong = [mid for mid, (u, s, t) in model.alive.items() if stored[mid][:3] != (u, s, t)]
    if wrong:
        report.wrong_content += len(wrong)
        report.note(when, f"{len(wrong)} rows changed, e.g. {wrong[0]}: "
                          f"{stored[wrong[0]][:3]} != {model.alive[wrong[0]]}")
    for mid, (user, session, text, _) in stored.items():
        if mid not in model.alive:
            model.alive[mid] = (user, session, text)
            report.adopted += 1
    no_vec = [mid for mid, row in stored.items() if not row[3]]
    if no_vec:
        report.missing_vectors += len(no_vec)
        report.note(when, f"{len(no_vec)} rows without a vector, e.g. {no_vec[:3]}")


def _check_index(db: sqlite3.Connection, idx: Any, report: FaultReport, when: int,
                 np: Any) -> None:
    """The served vector index against the database: ids, users, vectors."""
    want: dict[int, tuple[str, bytes]] = {
        n: (user, bytes(blob)) for n, user, blob in
        db.execute("SELECT n, user, embedding FROM memories WHERE embedding IS NOT NULL")}
    problems: list[str] = []
    seen: dict[int, str] = {}
    for user in list(idx.user_names):
        rowids, vecs = idx.user_rows(user)
        vecs = np.asarray(vecs, dtype=np.float32)
        for r, vec in zip(rowids.tolist(), vecs):
            if r in seen:
                problems.append(f"row {r} twice (users {seen[r]!r}, {user!r})")
            seen[r] = user
            row = want.get(r)
            if row is None:
                problems.append(f"row {r} of {user!r} is in the index, not in the database")
            elif row[0] != user:
                problems.append(f"row {r} filed under {user!r}, belongs to {row[0]!r}")
            elif vec.tobytes() != row[1]:
                problems.append(f"row {r} of {user!r}: the index holds another vector")
    missing = [n for n in want if n not in seen]
    if missing:
        problems.append(f"{len(missing)} rows of the database not in the index, "
                        f"e.g. {missing[:3]}")
    if problems:
        report.inconsistent_index += 1
        report.note(when, f"vector index: {len(problems)} problems: {problems[:4]}")


def _check_fulltext(db: sqlite3.Connection, report: FaultReport, when: int) -> None:
    for sql, what in (("PRAGMA integrity_check", "PRAGMA integrity_check"),):
        result = [r[0] for r in db.execute(sql)]
        if result != ["ok"]:
            report.integrity_failures += 1
            report.note(when, f"{what}: {result[:3]}")
    size = db.execute("SELECT max(length(block)) FROM memories_fts_data WHERE id = 10"
                      ).fetchone()[0]
    report.fts_structure_bytes_max = max(report.fts_structure_bytes_max, int(size or 0))
    cols = [r[1] for r in db.execute("PRAGMA table_info(memories_fts)")]
    if "scope" not in cols:
        return
    # every row carries one scope term ('u' + hex of its user): the union of those terms'
    # documents is every entry the index holds
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fault_vrow "
               "USING fts5vocab(main, memories_fts, 'row')")
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fault_vins "
               "USING fts5vocab(main, memories_fts, 'instance')")
    terms = [t for (t,) in db.execute("SELECT term FROM temp.fault_vrow "
                                      "WHERE term >= 'u' AND term < 'v'")
             if all(c in "0123456789abcdef" for c in t[1:])]
    entries: set[int] = set()
    for term in terms:
        entries.update(d for (d,) in db.execute(
            "SELECT DISTINCT doc FROM temp.fault_vins WHERE term = ? AND col = 'scope'",
            (term,)))
    rows = {n for (n,) in db.execute("SELECT n FROM memories")}
    orphans, missing = entries - rows, rows - entries
    if orphans or missing:
        report.fts_orphans += len(orphans)
        report.fts_missing += len(missing)
        report.note(when, f"full-text index: {len(orphans)} entries without a row "
                          f"(e.g. {sorted(orphans)[:3]}), {len(missing)} rows without one")


def _check_fts_content(path: Path, report: FaultReport, when: int) -> None:
    """FTS5's own check of the index against the table it indexes (a write statement that
    writes nothing: run on a connection of its own, rolled back)."""
    db = sqlite3.connect(path / "memories.db", isolation_level=None, timeout=60)
    try:
        db.execute("BEGIN")
        db.execute("INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)")
    except sqlite3.DatabaseError as exc:
        report.integrity_failures += 1
        report.note(when, f"FTS5 integrity-check against the table: {exc}")
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")
        db.close()


def _check_api(mem: Any, model: _Model, report: FaultReport, when: int, rng: random.Random,
               sample: int) -> None:
    """``get`` and a search for its own text, for the last life's writes and a random sample."""
    from ltm.errors import NotFound

    ids = list(model.alive)
    recent = [m for m in model.recent if m in model.alive]
    picks = rng.sample(recent, min(sample, len(recent))) \
        + rng.sample(ids, min(sample, len(ids)))
    for mid in dict.fromkeys(picks):
        user, _, text = model.alive[mid]
        try:
            got = mem.get(mid, user=user)
        except NotFound:
            report.lost += 1
            report.note(when, f"get({mid}) of {user!r}: not found")
            continue
        report.api_gets += 1
        if got.text != text:
            report.wrong_content += 1
        report.api_searches += 1
        if mid not in {h.memory.id for h in mem.search(text, user=user, k=10)}:
            report.unsearchable += 1
            report.note(when, f"search for the text of {mid} ({user!r}) did not find it")


# -- the run -------------------------------------------------------------------------------
def _wait_ready(proc: subprocess.Popen[str], timeout: float) -> bool:
    import select

    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.05)
        if ready:
            return proc.stdout.readline().strip() == "ready"
        if proc.poll() is not None:
            return False
    return False


def _stop_reader(proc: subprocess.Popen[str], report: FaultReport, when: int) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        report.reader_hung += 1
        report.note(when, "the reader did not close within 60 s of SIGTERM")
        return
    # 3: a raw error, logged by the reader itself; -SIGTERM: told to stop before its handler
    # was in place (still starting)
    if proc.returncode not in (0, 3, -signal.SIGTERM):
        report.raw_errors += 1
        report.note(when, f"reader exited with {proc.returncode}: {err[-1500:]}")


def run_faults(store: Path, *, kills: int, seed: int = 0, embedder: str = "wordllama",
               max_batch: int = 20_000, max_life: float = 4.0, max_rows: int = 30_000,
               early_kill: float = 0.1, fast_erase: float = 0.25, sample: int = 20,
               reader: bool = True, keep: Path | None = None, progress: bool = False
               ) -> FaultReport:
    """Kill a writer ``kills`` times and check the store after each kill (see the module)."""
    import ltm

    spec = "hash" if embedder == "hashing" else embedder
    rng = random.Random(seed)
    report = FaultReport(seed=seed, embedder=spec)
    model = _Model()
    store = Path(store)
    with ltm.open(store, embedder=spec) as mem:  # created with the embedder the children use
        emb = mem.embedder
    work = Path(tempfile.mkdtemp(prefix="ltm-faults-"))
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    startup = 1.0
    t_start = time.perf_counter()
    from tqdm import tqdm

    bar = tqdm(total=kills, desc="kills", unit="kill", disable=not progress, file=sys.stderr)
    try:
        life = 0
        while report.kills < kills and life < 2 * kills + 10:
            life += 1
            log, state = work / f"life-{life}.jsonl", work / "state.json"
            state.write_text(json.dumps(model.state()))
            args = {"store": str(store), "log": str(log), "state": str(state),
                    "seed": seed * 1_000_003 + life, "counter": life * 10_000_000,
                    "embedder": spec, "max_batch": max_batch, "max_rows": max_rows,
                    "erase": "fast" if rng.random() < fast_erase else "full"}
            reading = None
            if reader:
                reading = subprocess.Popen(
                    [sys.executable, "-m", "ltm.bench.faults", "--reader",
                     json.dumps({**args, "log": str(work / f"reader-{life}.jsonl")})],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
            t0 = time.monotonic()
            proc = subprocess.Popen([sys.executable, "-m", "ltm.bench.faults", "--child",
                                     json.dumps(args)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=env)
            if rng.random() < early_kill:  # during start-up (imports, open, any repair)
                deadline = t0 + rng.uniform(0, startup)
                early = True
            else:
                if not _wait_ready(proc, 300):
                    deadline = time.monotonic()
                    early = proc.poll() is None
                else:
                    startup = 0.8 * startup + 0.2 * (time.monotonic() - t0)
                    deadline = time.monotonic() + rng.uniform(0, max_life)
                    early = False
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                report.kills += 1
                report.killed_before_ready += early
                bar.update(1)
            else:
                report.child_exits += 1
            _, err = proc.communicate()
            if proc.returncode not in (-signal.SIGKILL, 2, 3):
                report.raw_errors += 1
                report.note(life, f"child exited with {proc.returncode}: {err[-1500:]}")
            if reading is not None:  # told to close only now: after the writer's last write
                _stop_reader(reading, report, life)
                _read_log(work / f"reader-{life}.jsonl", _Model(), report, life)
            _read_log(log, model, report, life)
            failures = report.failures
            t1 = time.perf_counter()
            _check(store, emb, model, report, life, rng, sample, args["erase"] == "full")
            report.check_seconds += time.perf_counter() - t1
            if keep is not None and report.failures > failures:
                shutil.copytree(store, keep / f"after-kill-{life}", dirs_exist_ok=True)
    finally:
        bar.close()
        shutil.rmtree(work, ignore_errors=True)
    report.seconds = round(time.perf_counter() - t_start, 1)
    report.check_seconds = round(report.check_seconds, 1)
    report.load_average = [round(x, 2) for x in os.getloadavg()]
    return report


def faults_report(store: Path | None, *, kills: int, seed: int = 0,
                  embedder: str = "wordllama", max_batch: int = 20_000, max_life: float = 4.0,
                  max_rows: int = 30_000, fast_erase: float = 0.25, sample: int = 20,
                  reader: bool = True, keep: Path | None = None,
                  progress: bool = False) -> dict[str, Any]:
    """``ltm bench faults``'s run: ``run_faults`` on ``store`` (default a fresh temporary
    one), and its report as the JSON the command prints (with the settings, the machine and
    the load average before)."""
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        report = run_faults(store or Path(tmp) / "store", kills=kills, seed=seed,
                            embedder=embedder, max_batch=max_batch, max_life=max_life,
                            max_rows=max_rows, fast_erase=fast_erase, sample=sample,
                            reader=reader, keep=keep, progress=progress)
    data = asdict(report)
    data.update({"failures": report.failures, "load_average_before": load_before,
                 "max_batch": max_batch, "max_life_s": max_life, "max_rows_cap": max_rows,
                 "reader": reader, "fast_erase_share": fast_erase,
                 "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
                 "sqlite": sqlite3.sqlite_version, "date": time.strftime("%Y-%m-%d")})
    return data


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(json.loads(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "--reader":
        _reader(json.loads(sys.argv[2]))
