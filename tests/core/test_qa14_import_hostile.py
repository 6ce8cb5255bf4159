"""Hostile import files (issue 14's bad-input standard): a record no ``add`` could have made
is refused as ``InvalidInput`` naming its line, and nothing of the file is written."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import ltm
from ltm import ids


def _line(**fields: Any) -> str:
    base = {"id": ids.new_id(), "user": "alice", "kind": "fact", "text": "Ana lives in Paris",
            "time": "2026-01-01T00:00:00Z", "recorded_at": "2026-01-01T00:00:00Z"}
    base.update(fields)
    return json.dumps(base)


def _file(*lines: str) -> io.StringIO:
    header = json.dumps({"ltm_export": 1, "embedder": "hash:256", "dim": 256})
    return io.StringIO("\n".join([header, _line(text="a good line first"), *lines]) + "\n")


SELF = ids.new_id()
HOSTILE = {
    # valid_to before valid_from: add() refuses it (an interval that is never valid)
    "inverted-interval": _line(valid_from="2026-05-01T00:00:00Z",
                               valid_to="2026-02-01T00:00:00Z"),
    # valid_to before the time, which is valid_from when none is given
    "valid-to-before-time": _line(time="2026-05-01T00:00:00Z", valid_to="2026-02-01T00:00:00Z"),
    # a fact superseded by itself can never be current again nor be superseded by another
    "superseded-by-itself": _line(id=SELF, superseded_by=SELF,
                                  valid_to="2026-02-01T00:00:00Z"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_record_is_refused_and_nothing_written(tmp_path: Path, case: str) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        before = io.StringIO()
        mem.export(before)
        with pytest.raises(ltm.errors.InvalidInput) as err:
            mem.import_(_file(HOSTILE[case]))
        assert err.value.item == 3 and "line 3" in str(err.value)
        after = io.StringIO()
        mem.export(after)
        assert after.getvalue() == before.getvalue()


def test_a_superseded_fact_whose_successor_was_erased_still_imports(tmp_path: Path) -> None:
    """What a real store exports stays importable: forgetting the successor of a fact leaves
    the old fact superseded (valid_to, superseded_by naming the erased id)."""
    with ltm.open(tmp_path / "a", embedder="hash") as mem:
        old = mem.add("Ana lives in Paris", user="alice", kind="fact", time="2026-01-01")
        new = mem.add("Ana lives in Berlin", user="alice", kind="fact", supersedes=old.id,
                      valid_from="2026-03-01")
        mem.forget(new.id, user="alice")
        out = io.StringIO()
        mem.export(out)
    with ltm.open(tmp_path / "b", embedder="hash") as mem:
        assert mem.import_(io.StringIO(out.getvalue())).imported == 1
        again = io.StringIO()
        mem.export(again)
        assert again.getvalue() == out.getvalue()


def test_an_export_saved_with_a_byte_order_mark_imports(tmp_path: Path) -> None:
    """Editors on Windows save UTF-8 with a BOM; the file is still the export (it was refused
    as 'not an ltm export: the first line must be the export header')."""
    with ltm.open(tmp_path / "a", embedder="hash") as mem:
        mem.add("Ana lives in Paris", user="alice")
        out = io.StringIO()
        mem.export(out)
    with ltm.open(tmp_path / "b", embedder="hash") as mem:
        assert mem.import_(io.StringIO("\ufeff" + out.getvalue())).imported == 1
        lines = ("\ufeff" + out.getvalue()).encode().splitlines(keepends=True)
        assert mem.import_(lines).skipped == 1  # bytes lines too


def test_an_id_in_small_letters_is_refused(tmp_path: Path) -> None:
    """A ULID in small letters is the same ULID as in capitals (Crockford base32), but was
    stored as another id: add_many and import made two memories of one ULID."""
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        first = mem.add("Ana lives in Paris", user="alice")
        with pytest.raises(ltm.errors.InvalidInput) as err:
            mem.add_many([{"text": "a twin", "user": "alice", "id": first.id.lower()}])
        assert err.value.field == "id"
        with pytest.raises(ltm.errors.InvalidInput) as err:
            mem.import_(_file(_line(id=ids.new_id().lower())))
        assert err.value.item == 3
        assert [m.id for m in mem.list("alice").memories] == [first.id]
