"""Input that escaped as a raw exception before the session-12 sweep: each is now a typed
``ltm.errors`` error (or, on the command line, exit 2 with one line and no traceback) and
writes nothing.

- ``reindex(progress=1)`` / ``import_(progress="x")``: TypeError after the first batch (the
  reindex's first batch committed, the import rolled back);
- ``ltm.open`` of a path with NUL or a lone surrogate: ValueError / UnicodeEncodeError from
  os.mkdir (a command line cannot hold either: argv has no NUL, and undecodable bytes are
  surrogate escapes, which name files);
- an ``ltm.toml`` that is not UTF-8: UnicodeDecodeError;
- JSON nested thousands deep or with a number of thousands of digits in ``--metadata``, the
  ``retention`` setting or an LLM's answer: RecursionError / ValueError from json.loads;
- a datetime whose tzinfo's utcoffset() raises or returns something datetime refuses:
  that exception; one whose utcoffset() is None (naive): TypeError.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path

import pytest
from click.testing import CliRunner

import ltm
from ltm.cli import main
from ltm.errors import InvalidInput
from ltm.llm import SchemaError, parse_json

DEEP = "[" * 100_000
DIGITS = '{"n": ' + "9" * 5_000 + "}"


def _export(store: ltm.MemoryStore) -> str:
    buf = io.StringIO()
    store.export(buf)
    return buf.getvalue()


@pytest.mark.parametrize("progress", [1, "bar", [], True])
def test_progress_that_cannot_be_called(tmp_path: Path, progress: object) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as store:
        store.add("I moved to Lisbon", user="alice")
        dump = _export(store)
        with pytest.raises(InvalidInput) as caught:
            store.reindex(progress=progress)  # type: ignore[arg-type]
        assert caught.value.field == "progress"
        other = tmp_path / "other"
        with ltm.open(other, embedder="hash") as target:
            with pytest.raises(InvalidInput) as caught:
                target.import_(io.StringIO(dump), progress=progress)  # type: ignore[arg-type]
            assert caught.value.field == "progress"
            assert target.users() == []
        seen: list[int] = []
        store.reindex(progress=seen.append)  # a callable still works
        assert sum(seen) >= 1


@pytest.mark.parametrize("name", ["a\x00b", "a\ud800b"], ids=["nul", "surrogate"])
def test_store_path_no_file_system_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ltm.open(str(tmp_path / name), embedder="hash")
    assert caught.value.field == "path"
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_ltm_toml_that_is_not_utf8(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "ltm.toml").write_text("erase = 'fast'\n", encoding="utf-16")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        ltm.open(folder, embedder="hash")
    assert [p.name for p in folder.iterdir()] == ["ltm.toml"]


@pytest.mark.parametrize("spec", [DEEP, '{"episode": ' + "[" * 100_000 + "}"])
def test_retention_setting_nested_too_deep(tmp_path: Path, spec: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ltm.open(tmp_path / "s", embedder="hash", retention=spec)
    assert caught.value.field == "retention"


@pytest.mark.parametrize("answer", [DEEP, DIGITS])
def test_llm_answer_json_it_cannot_read(answer: str) -> None:
    with pytest.raises(SchemaError):
        parse_json(answer, {"type": "object"})


@pytest.mark.parametrize("value", [DEEP, '{"a": ' * 5_000 + "1" + "}" * 5_000, DIGITS],
                         ids=["deep-list", "deep-object", "digits"])
@pytest.mark.parametrize("as_json", [False, True])
def test_cli_metadata_json_it_cannot_read(tmp_path: Path, value: str, as_json: bool) -> None:
    store = tmp_path / "s"
    with ltm.open(store, embedder="hash") as mem:
        mem.add("kept", user="alice")
        dump = _export(mem)
    args = ["--store", str(store), "add", "-u", "alice", "x", "--metadata", value]
    got = CliRunner().invoke(main, args + (["--json"] if as_json else []))
    assert got.exit_code == 2, got.output
    assert "Traceback" not in got.output and "nested too deep" in got.stderr
    if as_json:
        assert json.loads(got.stderr.strip().splitlines()[-1])["exit_code"] == 2
    with ltm.open(store) as mem:
        assert _export(mem) == dump


class _Raising(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("no offset here")


class _DayAndMore(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=30)


class _NotADelta(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        return "+05:00"  # type: ignore[return-value]


class _Naive(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None


@pytest.mark.parametrize("zone", [_Raising(), _DayAndMore(), _NotADelta()],
                         ids=["raises", "30-hours", "a-string"])
def test_a_time_zone_without_a_valid_offset(tmp_path: Path, zone: tzinfo) -> None:
    """A datetime's tzinfo is the caller's code: its utcoffset() raised RuntimeError,
    ValueError or TypeError out of every call that takes a time."""
    when = datetime(2026, 3, 2, 10, tzinfo=zone)
    with ltm.open(tmp_path / "s", embedder="hash") as store:
        store.add("I moved to Lisbon", user="alice")
        dump = _export(store)
        for call in (lambda: store.add("x", user="alice", time=when),
                     lambda: store.add("x", user="alice", expires_at=when),
                     lambda: store.search("yesterday", user="alice", now=when),
                     lambda: store.list("alice", since=when),
                     lambda: store.forget(user="alice", before=when)):
            with pytest.raises(InvalidInput, match="time zone without a valid UTC offset"):
                call()
        assert _export(store) == dump


def test_a_time_zone_whose_offset_is_none_is_naive(tmp_path: Path) -> None:
    """utcoffset() None makes a datetime naive (Python's rule): taken as UTC, as a naive one
    is, instead of TypeError 'can't subtract offset-naive and offset-aware datetimes'."""
    with ltm.open(tmp_path / "s", embedder="hash") as store:
        got = store.add("x", user="alice", time=datetime(2026, 3, 2, 10, tzinfo=_Naive()))
        assert got.time == datetime(2026, 3, 2, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("schema", ["ltm\n", "a" * 64, "Ltm", "l tm"])
def test_postgres_schema_names_refused_before_connecting(schema: str) -> None:
    """A schema name is checked before any connection (the URL's host does not exist): its
    pattern ended in '$', which also matched before a final line feed ('ltm\\n' named a
    second schema beside 'ltm')."""
    with pytest.raises(InvalidInput) as caught:
        ltm.open("postgresql://nobody@host.invalid:1/db", schema=schema, embedder="hash")
    assert caught.value.field == "schema"


def test_metadata_filter_key_with_a_final_line_feed(tmp_path: Path) -> None:
    """The key pattern ended in '$', which re.match also finds before a final line feed:
    'speaker\\n' passed the check the error message states, and matched nothing."""
    with ltm.open(tmp_path / "s", embedder="hash") as store:
        store.add("I moved to Lisbon", user="alice", metadata={"speaker": "ana"})
        for call in (lambda: store.search("Lisbon", user="alice", metadata={"speaker\n": "ana"}),
                     lambda: store.list("alice", metadata={"speaker\n": "ana"})):
            with pytest.raises(InvalidInput, match="metadata filter key"):
                call()


def test_export_to_a_file_it_cannot_write(tmp_path: Path) -> None:
    """A closed file, one opened for reading, or one whose encoding cannot hold the text
    (open(path, 'w') where the locale's is not UTF-8): ValueError, io.UnsupportedOperation
    and UnicodeEncodeError escaped (the last halfway through the file)."""
    with ltm.open(tmp_path / "s", embedder="hash") as store:
        store.add("caf\u00e9 \U0001f600 in Lisbon", user="alice")
        closed = io.StringIO()
        closed.close()
        (tmp_path / "in.txt").write_text("x")
        with open(tmp_path / "in.txt") as reading, \
                open(tmp_path / "out.txt", "w", encoding="cp1252") as legacy:
            for fp, words in ((closed, "closed file"), (reading, "not writable"),
                              (legacy, "encoding='utf-8' (this one encodes as cp1252)")):
                with pytest.raises(InvalidInput, match=re.escape(words)):
                    store.export(fp)


def test_import_from_a_file_it_cannot_read(tmp_path: Path) -> None:
    """A closed file object, or one opened for writing: ValueError and
    io.UnsupportedOperation escaped from the first read."""
    with ltm.open(tmp_path / "s", embedder="hash") as store:
        closed = io.StringIO('{"ltm_export": 1}\n')
        closed.close()
        with open(tmp_path / "w.jsonl", "w") as writing:
            for fp, words in ((closed, "closed file"), (writing, "not readable")):
                with pytest.raises(InvalidInput, match=words):
                    store.import_(fp)
        assert store.users() == []


def test_context_names_itself_for_an_argument_it_does_not_take(tmp_path: Path) -> None:
    """context() passes its filters on to search(): an argument neither takes raised
    TypeError "MemoryStore.search() got an unexpected keyword argument", naming a method the
    caller never called. Now the message names context() and lists its filters; the filters
    it does take still reach the search."""
    with ltm.open(tmp_path / "s", embedder="hash") as store:
        store.add("I moved to Lisbon", user="alice", session="s1")
        with pytest.raises(TypeError, match=r"context\(\) got an unexpected keyword argument "
                                            r"'bogus' \(its filters: agent, as_of, kinds"):
            store.context("Lisbon", user="alice", bogus=1)
        assert "Lisbon" in store.context("Lisbon", user="alice", session="s1")
        assert store.context("Lisbon", user="alice", session="s2") == ""
