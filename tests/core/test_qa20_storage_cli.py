"""QA 20: storage and command line defects. A command whose reader closes the pipe exits
quietly (exit 0, as ripgrep does, no traceback); a failed open leaves no store
behind where there was none and leaves an existing one as it was; export/import round trips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import ltm


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
                                      {"embedder": "st:/no/such/model/folder"}],
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
