"""QA 20: storage and command line defects. A command whose reader closes the pipe exits
quietly (exit 0, as ripgrep does, no traceback); a failed open leaves no store
behind where there was none and leaves an existing one as it was; export/import round trips."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from postgres_support import postgres_url
from store_locations import Location, backend_kind, new_location

import ltm

__all__ = ["backend_kind", "new_location", "postgres_url"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTM_")}
    env["LTM_EMBEDDER"] = "hash"
    return env


def _cli(*args: str, cwd: Path | None = None,
         stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ltm", *args], capture_output=True, text=True,
                          env=_env(), cwd=cwd, input=stdin, timeout=120)


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,000 memories of ~250 characters: every streaming command below prints far more than
    a pipe holds (64 KiB), so the writer meets the closed pipe."""
    path = tmp_path_factory.mktemp("pipe") / "store"
    with ltm.open(path, embedder="hash") as store:
        store.add_many([{"text": f"memory {i} about the harbour " + "lorem ipsum " * 18,
                         "user": "u", "session": f"s{i % 7}"} for i in range(1000)])
    return path


PIPED = [
    ["export"],
    ["export", "--no-embeddings", "-u", "u"],
    ["list", "-u", "u", "--limit", "1000"],
    ["list", "-u", "u", "--limit", "1000", "--json"],
    ["search", "-u", "u", "harbour lorem", "-k", "1000"],
    ["search", "-u", "u", "harbour lorem", "-k", "1000", "--json"],
]


@pytest.mark.parametrize("args", PIPED, ids=[" ".join(a) for a in PIPED])
def test_a_reader_that_closes_the_pipe_ends_the_command_quietly(big_store: Path,
                                                                args: list[str]) -> None:
    """``ltm export | head -1``: the reader takes one line and goes."""
    proc = subprocess.Popen([sys.executable, "-m", "ltm", *args, "--store", str(big_store)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    code = proc.wait(timeout=120)
    assert first.strip(), err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
    assert code == 0, (code, err)
    # the whole output, for a reader that keeps reading, is unchanged and ends with 0
    whole = _cli(*args, "--store", str(big_store))
    assert whole.returncode == 0 and len(whole.stdout) > 65536 and whole.stderr.count("\n") <= 1
    if args[0] in ("export", "list"):  # (a search counts an access of what it returns)
        assert whole.stdout.splitlines()[0].encode() == first.rstrip(b"\n")


# -- a failed open leaves no store where there was none, and an existing one as it was --------

def _files(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a folder)."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes())
            for p in sorted(root.rglob("*"))}


def _long_path(base: Path) -> Path:
    """A folder path that may be created, but whose ``memories.db`` is past PATH_MAX (4096):
    SQLite cannot open the file after the folders were made."""
    path = base
    while len(str(path)) < 4080:
        path = path / ("d" * min(200, 4090 - len(str(path)) - 1))
    assert len(str(path / "memories.db")) >= 4096 > len(str(path))
    return path


@pytest.mark.parametrize("where", ["nested", "existing empty folder"])
@pytest.mark.parametrize("settings", [{"embedder": "no-such-embedder"},
                                      {"embedder": "hash:0"}],
                         ids=["unknown embedder", "embedder that fails to load"])
def test_a_failed_open_of_a_new_store_leaves_nothing(tmp_path: Path, where: str,
                                                     settings: dict[str, str]) -> None:
    if where == "nested":
        target = tmp_path / "a" / "b" / "store"
    else:
        target = tmp_path / "store"
        target.mkdir()
    with pytest.raises(ltm.errors.LtmError):
        ltm.open(target, **settings)
    left = _files(tmp_path)
    assert left == ({} if where == "nested" else {"store": None}), left


def test_a_store_whose_file_cannot_be_opened_leaves_no_folders(tmp_path: Path) -> None:
    target = _long_path(tmp_path / "base")
    (tmp_path / "base").mkdir()
    with pytest.raises(ltm.errors.StoreError, match="unable to open database file"):
        ltm.open(target, embedder="hash")
    assert _files(tmp_path) == {"base": None}


def test_a_cli_command_that_fails_to_open_a_new_store_creates_nothing(tmp_path: Path) -> None:
    env = _env() | {"LTM_EMBEDDER": "no-such-embedder"}
    r = subprocess.run([sys.executable, "-m", "ltm", "add", "-u", "alice", "hello", "--store",
                        str(tmp_path / "x" / "store")], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("ltm: unknown embedder"), r.stderr
    assert _files(tmp_path) == {}


def _newer(path: Path) -> None:
    import sqlite3
    with sqlite3.connect(path / "memories.db") as conn:
        conn.execute("INSERT INTO migrations VALUES ('9999_from_the_future', 0)")
    conn.close()


@pytest.mark.parametrize("failure", ["unknown embedder", "other embedder", "newer schema"])
def test_a_failed_open_of_an_existing_store_leaves_it_byte_identical(tmp_path: Path,
                                                                     failure: str) -> None:
    target = tmp_path / "store"
    with ltm.open(target, embedder="hash") as store:
        store.add_many([{"text": f"note {i}", "user": "u"} for i in range(50)])
    if failure == "newer schema":
        _newer(target)
    before = _files(tmp_path)
    settings = {"unknown embedder": {"embedder": "no-such-embedder"},
                "other embedder": {"embedder": "hash:64"},
                "newer schema": {"embedder": "hash"}}[failure]
    with pytest.raises(ltm.errors.LtmError):
        ltm.open(target, **settings)
    assert _files(tmp_path) == before
    if failure != "newer schema":
        with ltm.open(target, embedder="hash") as store:
            assert store.stats()["memories"] == 50


# -- export / import through the command line -----------------------------------------------

def _varied_store(path: Path) -> None:
    """Every kind, a superseded fact, a summary with sources, metadata of every JSON type,
    pinned, expiring and expired memories, access counts, text that is hard to keep on one
    line, and a second user."""
    with ltm.open(path, embedder="hash") as s:
        e1 = s.add("Ich wohne in Zürich 😀 — مرحبا e\u0301 \u2028 line\x85 next\u2029 end",
                   user="ann", session="s1", agent="bot", time="2026-01-02T03:04:05.123456Z",
                   importance=0.7, metadata={"speaker": "Ann", "big": 2**60, "f": 2.5,
                                             "nested": {"a": [1, None, True, "ü\u0000x"]}})
        e2 = s.add("second turn", user="ann", session="s1")
        f1 = s.add("Ann lives in Zurich", user="ann", kind="fact", time="2025-01-01")
        s.add("Ann lives in Lisbon", user="ann", kind="fact", time="2026-03-01",
              supersedes=f1.id)
        s.add("pinned thing", user="ann", pinned=True, expires_at="2021-01-01")
        s.add("expires later", user="ann", expires_at="2099-01-01")
        s.add("expired already", user="ann", expires_at="2020-01-01T00:00:00Z")
        s.add("summary of s1", user="ann", kind="summary", sources=[e1.id, e2.id])
        s.add("bob's note", user="bob", session="s1")
        s.search("Zurich", user="ann")  # access counts


def test_export_import_export_round_trips_byte_for_byte(tmp_path: Path) -> None:
    _varied_store(tmp_path / "a")
    first = _cli("export", "--store", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    (tmp_path / "a.jsonl").write_text(first.stdout, encoding="utf-8")
    assert len(first.stdout.splitlines()) == 10
    imported = _cli("import", str(tmp_path / "a.jsonl"), "--store", str(tmp_path / "b"),
                    "--json")
    assert imported.returncode == 0, imported.stderr
    assert '"imported": 9, "skipped": 0, "reembedded": 0' in imported.stdout
    second = _cli("export", "--store", str(tmp_path / "b"))
    assert second.stdout == first.stdout
    again = _cli("import", "-", "--store", str(tmp_path / "b"), stdin=first.stdout)
    assert again.returncode == 0 and "imported 0, skipped 9" in again.stdout
    with ltm.open(tmp_path / "b", embedder="hash") as b:
        facts = {m.text: m for m in b.list("ann", kinds=["fact"]).memories}
        old, new = facts["Ann lives in Zurich"], facts["Ann lives in Lisbon"]
        assert old.superseded_by == new.id and old.valid_to is not None
        assert b.search("Zurich", user="ann", k=1)[0].memory.text.startswith("Ich wohne")


def test_an_export_cut_short_imports_nothing_and_creates_no_store(tmp_path: Path) -> None:
    _varied_store(tmp_path / "a")
    whole = _cli("export", "--store", str(tmp_path / "a")).stdout.encode()
    (tmp_path / "cut.jsonl").write_bytes(whole[:len(whole) // 2])  # mid-line
    new = tmp_path / "new" / "store"
    r = _cli("import", str(tmp_path / "cut.jsonl"), "--store", str(new))
    assert r.returncode == 2 and "cut.jsonl: line" in r.stderr, r.stderr
    assert not (tmp_path / "new").exists()
    # into an existing store: nothing of it, the store as it was
    with ltm.open(tmp_path / "b", embedder="hash") as b:
        b.add("already here", user="ann")
    before = _files(tmp_path / "b")
    r = _cli("import", str(tmp_path / "cut.jsonl"), "--store", str(tmp_path / "b"))
    assert r.returncode == 2
    assert _files(tmp_path / "b") == before


@pytest.mark.parametrize("args", [
    ["add", "-u", "alice", "   "],
    ["add", "-u", "alice", "hi", "--time", "not a time"],
    ["add", "-u", "alice", "hi", "--metadata", "[1]"],
])
def test_a_command_that_fails_on_a_new_store_leaves_no_store(tmp_path: Path,
                                                            args: list[str]) -> None:
    r = _cli(*args, "--store", str(tmp_path / "x" / "store"))
    assert r.returncode == 2, r.stderr
    assert _files(tmp_path) == {}


def test_an_import_killed_midway_leaves_none_of_it(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "a", embedder="hash") as a:
        a.add_many([{"text": f"memory {i} " + "word " * 30, "user": f"u{i % 50}"}
                    for i in range(8_000)])
        with open(tmp_path / "a.jsonl", "w", encoding="utf-8") as fp:
            a.export(fp)
    target = tmp_path / "b"
    proc = subprocess.Popen([sys.executable, "-m", "ltm", "import", str(tmp_path / "a.jsonl"),
                             "--store", str(target)], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wal = target / "memories.db-wal"
    try:
        for _ in range(6000):  # until the import's transaction has written 1 MB
            if wal.exists() and wal.stat().st_size > 1 << 20:
                break
            assert proc.poll() is None, "the import ended before it could be killed"
            time.sleep(0.005)
        else:
            raise AssertionError("the import wrote nothing in 30 s")
    finally:
        proc.kill()
        proc.wait()
    with ltm.open(target, embedder="hash") as b:
        assert b.stats()["memories"] == 0
    r = _cli("import", str(tmp_path / "a.jsonl"), "--store", str(target))
    assert r.returncode == 0 and "imported 8000, skipped 0" in r.stdout, r.stderr


def test_an_export_to_a_file_cut_short_leaves_no_shorter_export(tmp_path: Path) -> None:
    """``ltm export -o FILE`` killed midway: FILE is not a shorter export (which imports as if
    whole when cut at a line's end) but absent, or what it held before."""
    with ltm.open(tmp_path / "a", embedder="hash") as a:
        a.add_many([{"text": f"memory {i} " + "word " * 30, "user": f"u{i % 50}"}
                    for i in range(8_000)])
    for existing in (False, True):
        out = tmp_path / "out.jsonl"
        if existing:
            out.write_text("the previous export\n")
        proc = subprocess.Popen([sys.executable, "-m", "ltm", "export", "--store",
                                 str(tmp_path / "a"), "-o", str(out)], env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(6000):  # until 1 MB of it is written
                if any(p.stat().st_size > 1 << 20 for p in tmp_path.iterdir()
                       if p.name.startswith((".out.jsonl.", "out.jsonl"))):
                    break
                assert proc.poll() is None, "the export ended before it could be killed"
                time.sleep(0.005)
            else:
                raise AssertionError("the export wrote nothing in 30 s")
        finally:
            proc.kill()
            proc.wait()
        if existing:
            assert out.read_text() == "the previous export\n"
        else:
            assert not out.exists()
        for left in tmp_path.glob(".out.jsonl.*.partial"):  # (what kill -9 leaves)
            left.unlink()
    whole = _cli("export", "--store", str(tmp_path / "a"), "-o", str(out))
    assert whole.returncode == 0 and "exported 8000 memories" in whole.stderr
    assert out.read_text(encoding="utf-8") == _cli("export", "--store",
                                                   str(tmp_path / "a")).stdout
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "out.jsonl"]
    assert _cli("export", "--store", str(tmp_path / "a"), "-o", os.devnull).returncode == 0


def test_exporting_a_store_holds_a_batch_not_the_store(tmp_path: Path) -> None:
    """The whole store's export streams its rows: the Python memory it takes does not grow
    with the store (all rows were read at once: ~1.8 KB a memory with its vector)."""
    import io
    import tracemalloc

    with ltm.open(tmp_path / "a", embedder="hash") as a:
        a.add_many([{"text": f"memory {i} " + "word " * 30, "user": f"u{i % 50}"}
                    for i in range(10_000)])

        class Counting(io.TextIOBase):
            size = 0

            def write(self, s: str) -> int:
                self.size += len(s)
                return len(s)

        out = Counting()
        tracemalloc.start()
        try:
            assert a.export(out) == 10_000
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert out.size > 15_000_000
    assert peak < 4_000_000, peak  # (measured: 2.2 MB streamed, 18.4 MB read at once)


def test_an_export_holds_no_memory_forgotten_before_it_was_read(tmp_path: Path) -> None:
    """A page at a time: a forget while an export runs is neither held up (a read snapshot
    held for the whole export kept its checkpoint waiting for the busy timeout, 10 s) nor
    undone by the export (a memory erased before its page is read is not in it)."""
    with ltm.open(tmp_path / "a", embedder="hash") as a, \
            ltm.open(tmp_path / "a", embedder="hash") as other:
        ids = [m.id for m in a.add_many([{"text": f"note {i}", "user": "u"}
                                         for i in range(2_000)])]
        rows = a.backend.iter_export(None, with_vectors=False)
        seen = [next(rows)[0].id]
        started = time.monotonic()
        other.forget(ids[-1], user="u")  # (another process, meanwhile)
        assert time.monotonic() - started < 3
        late = other.add("written after the export began", user="u")
        seen += [m.id for m, _ in rows]
        assert seen == ids[:-1] + [late.id]
        # inside a transaction the export sees its own writes
        with a.engine.atomic():
            a.add("inside", user="v")
            assert [m.text for m, _ in a.backend.iter_export(None)][-1] == "inside"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_an_export_to_a_full_disk_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    _varied_store(tmp_path / "a")
    r = _cli("export", "--store", str(tmp_path / "a"), "-o", "/dev/full")
    assert r.returncode == 1 and r.stderr == \
        "ltm: cannot write /dev/full: No space left on device\n", r.stderr
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "ltm", "export", "--store",
                            str(tmp_path / "a")], stdout=full, stderr=subprocess.PIPE,
                           text=True, env=_env(), timeout=120)
    assert r.returncode == 1 and r.stderr == \
        "ltm: cannot write standard output: No space left on device\n", r.stderr


def test_an_imported_fact_superseded_by_a_missing_memory_loses_the_link(
        backend_kind: str, new_location: Callable[[str], Location], tmp_path: Path) -> None:
    """As a forget of a fact's last successor does: superseded by nothing, the fact was
    ranked as outdated (relevance ~0) with nothing in its place. Links to a later line of the
    file or to a memory the store holds stay."""
    import io
    import json

    with ltm.open(tmp_path / "src", embedder="hash") as src:
        a = src.add("Ann lives in Zurich", user="ann", kind="fact", time="2025-01-01")
        b = src.add("Ann lives in Lisbon", user="ann", kind="fact", time="2026-01-01",
                    supersedes=a.id)
        c = src.add("Ann lives in Porto", user="ann", kind="fact", time="2026-06-01",
                    supersedes=b.id)
        dump = io.StringIO()
        src.export(dump)
    header, *lines = dump.getvalue().splitlines()
    by_id = {json.loads(line)["id"]: line for line in lines}
    with ltm.open(new_location(backend_kind), embedder="hash") as dst:
        dst.import_([header, by_id[c.id]])  # the successor of b, already in the store
        # a (superseded by b: a later line) and b (by c: in the store), and one whose
        # successor is nowhere
        stray = json.loads(by_id[a.id]) | {"id": ltm.ids.new_id(), "text": "Ann is in Rome",
                                            "superseded_by": ltm.ids.new_id()}
        report = dst.import_([header, by_id[a.id], json.dumps(stray), by_id[b.id]])
        assert report.imported == 3
        got = {m.id: m for m in dst.list("ann", limit=10).memories}
        assert got[a.id].superseded_by == b.id and got[b.id].superseded_by == c.id
        assert got[stray["id"]].superseded_by is None
        assert got[stray["id"]].valid_to == got[a.id].valid_to is not None
        assert dst.search("Rome", user="ann", k=1)[0].memory.id == stray["id"]
