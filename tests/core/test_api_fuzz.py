"""Odd input through the public API (issue 14): every call returns or raises an ``ltm.errors``
type, and a rejected call leaves the store's content as it was (its export before == after)."""

from __future__ import annotations

import io
import json
import math
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ltm
from ltm import ids
from ltm.errors import LtmError

KNOWN = [ids.new_id() for _ in range(4)]  # memories every store starts with (alice, bob)
FREE = ids.new_id()  # an id no memory has (until a call gives it to one)

_any_char = st.characters(exclude_categories=())  # surrogates and controls included
_special = st.sampled_from([
    "", " ", "\x00", "\ud800", "a\udfffb", "\u200b", "\ufeff", "\u202e", "\x1b[31m", "\t\n",
    "x" * 100_001, "word " * 3_000, "caf\u00e9", "\U0001f600", "NaN", "null", "*", '"', "-",
    "OR", "NEAR(a b)", "a:b", "%", "_", "\\", "'", "''", ")", "(", "^", "{}"])
odd_text = st.one_of(_special, st.text(_any_char, max_size=20),
                     st.text(st.sampled_from("ab \x00\u200b\ud800\ufeff\x7f:\"*()"), max_size=8))
odd_number = st.one_of(
    st.sampled_from([0, 1, -1, 2**31, 2**63, 2**70, -(2**70), 0.5, math.nan, math.inf,
                     -math.inf, 1e308, -1e308, 5e-324, True, False]),
    st.integers(), st.floats())
odd_time = st.one_of(
    st.none(), odd_number,
    st.sampled_from(["2026-03-02T10:00", "2026-03-02T10:00Z", "0001-01-01", "9999-12-31",
                     "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00", "yesterday",
                     "2026-02-30", "", "\ud800", "1e10", datetime(2026, 1, 1),
                     datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
                     datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))]))
odd_scalar = st.one_of(st.none(), odd_number, odd_text, st.binary(max_size=4))
_json = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), odd_text),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                         st.text(max_size=4), inner, max_size=3), max_leaves=8)


def _nested(depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cur = out
    for _ in range(depth):
        cur["a"] = {}
        cur = cur["a"]
    return out


odd_metadata = st.one_of(
    st.none(), odd_scalar, st.lists(odd_scalar, max_size=2),
    st.dictionaries(st.one_of(st.text(max_size=5), st.integers(), st.none()), _json, max_size=3),
    st.sampled_from([_nested(40), _nested(5_000), {"x": "y" * 70_000}, {"s": {1, 2}},
                     {"f": math.nan}, {"big": 10**5000}, {"b": b"x"}, {"k": "\ud800"},
                     {"\ud800": 1}, {(1, 2): 3}, {"ok": [1, {"deep": None}]}]))
odd_id = st.one_of(st.sampled_from(KNOWN + [FREE]), odd_text, odd_number, st.none(),
                   st.sampled_from([KNOWN[0].lower(), "0" * 26, "Z" * 26, KNOWN[0] + " "]))
odd_user = st.one_of(st.sampled_from(["alice", "bob"]), odd_text, odd_number, st.none())
odd_name = st.one_of(st.none(), st.sampled_from(["s1", "s2"]), odd_text, odd_number)
odd_kind = st.one_of(st.sampled_from(["episode", "fact", "summary", "Fact", "", "x" * 40]),
                     odd_scalar)
odd_value = st.one_of(odd_scalar, odd_time, odd_metadata, st.lists(odd_id, max_size=2))

# Sane values: a call made only of them should succeed (or miss: NotFound), so the deep paths
# run; each call then has 0 to 2 of its arguments replaced by odd ones.
sane_text = st.one_of(st.sampled_from(["I moved to Lisbon in March", "cats sleep a lot",
                                       "note about lisbon", "caf\u00e9 \U0001f600 ok"]),
                      st.text("abc xyz", min_size=1, max_size=20).filter(str.strip))
sane_user = st.sampled_from(["alice", "bob"])
sane_name = st.one_of(st.none(), st.sampled_from(["s1", "s2"]))
sane_kind = st.sampled_from(["episode", "fact", "summary"])
sane_time = st.one_of(st.none(), st.sampled_from(["2026-03-02T10:00", "2025-01-01T00:00Z",
                                                  datetime(2024, 5, 1), 1.7e9]))
sane_metadata = st.one_of(st.none(), st.sampled_from([{"speaker": "ana"},
                                                      {"n": 1, "tags": ["a", {"b": None}]}]))
sane_id = st.sampled_from(KNOWN + [FREE])
SANE_ITEM = {"text": "fine item", "user": "alice"}

# name -> (positional [(sane, odd)], required keywords, optional keywords: name -> (sane, odd))
_ADD = {"agent": (sane_name, odd_name), "session": (sane_name, odd_name),
        "kind": (sane_kind, odd_kind), "time": (sane_time, odd_time),
        "metadata": (sane_metadata, odd_metadata),
        "importance": (st.one_of(st.none(), st.floats(0, 1)), odd_value),
        "pinned": (st.booleans(), odd_value), "expires_at": (st.just(None), odd_time),
        "valid_from": (sane_time, odd_time),
        "sources": (st.one_of(st.none(), st.just([])), st.lists(odd_id, max_size=2))}
_FILTERS = {"k": (st.integers(1, 20), odd_number), "agent": (sane_name, odd_name),
            "session": (sane_name, odd_name),
            "kinds": (st.one_of(st.none(), st.lists(sane_kind, max_size=2)),
                      st.one_of(odd_kind, st.lists(odd_kind, max_size=2))),
            "since": (sane_time, odd_time), "until": (sane_time, odd_time),
            "as_of": (sane_time, odd_time),
            "metadata": (st.one_of(st.none(), st.just({"speaker": "ana"})), odd_metadata),
            "now": (sane_time, odd_time)}
_USER = {"user": (sane_user, odd_user)}
SPECS: dict[str, tuple[list[Any], dict[str, Any], dict[str, Any]]] = {
    "add": ([(sane_text, odd_text)], _USER, {**_ADD, "supersedes": (st.just(None), odd_id)}),
    "add_many": ([(st.just("items"), st.one_of(odd_scalar, st.lists(odd_scalar, max_size=2)))],
                 {}, {}),
    "search": ([(sane_text, odd_text)], _USER, _FILTERS),
    "context": ([(sane_text, odd_text)], _USER,
                {"budget_tokens": (st.integers(1, 2_000), odd_number),
                 "k": (st.integers(1, 20), odd_number), "session": (sane_name, odd_name)}),
    "get": ([(sane_id, odd_id)], _USER, {}),
    "history": ([(sane_id, odd_id)], _USER, {}),
    "update": ([(sane_id, odd_id)], _USER,
               {"text": (sane_text, odd_text), "metadata": (sane_metadata, odd_metadata),
                "importance": (st.floats(0, 1), odd_value), "pinned": (st.booleans(), odd_value),
                "expires_at": (st.just(None), odd_time), "time": (sane_time, odd_time),
                "kind": (sane_kind, odd_kind), "session": (sane_name, odd_name),
                "agent": (sane_name, odd_name)}),
    "forget": ([(sane_id, odd_id)], _USER, {"session": (sane_name, odd_name),
                                            "before": (st.just(None), odd_time)}),
    "import_": ([(st.just("file"), st.just("odd file"))], {},
                {"batch_size": (st.integers(1, 5), odd_number)}),
    "export": ([(st.just("buffer"), odd_scalar)], {},
               {"user": (st.one_of(st.none(), sane_user), odd_user),
                "embeddings": (st.booleans(), odd_value)}),
}


@st.composite
def _items(draw: st.DrawFn) -> list[Any]:
    """add_many's items: sane ones, one of them with up to two odd fields."""
    items: list[Any] = [dict(SANE_ITEM, text=draw(sane_text), user=draw(sane_user))
                        for _ in range(draw(st.integers(1, 3)))]
    fields = {"text": odd_text, "user": odd_user, "id": odd_id, "valid_to": odd_time,
              "colour": odd_scalar, **{k: odd for k, (_, odd) in _ADD.items()}}
    n = draw(st.integers(0, len(items) - 1))
    n_odd = draw(st.sampled_from([0, 0, 1, 1, 2]))
    for key in draw(st.lists(st.sampled_from(sorted(fields)), min_size=n_odd, max_size=n_odd)):
        items[n][key] = draw(fields[key])
    if draw(st.integers(0, 9)) == 0:
        items[n] = draw(odd_scalar)
    return items


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    name = draw(st.sampled_from(sorted(SPECS)))
    positional, required, optional = SPECS[name]
    chosen = {**required, **{k: v for k, v in optional.items() if draw(st.integers(0, 3)) == 0}}
    slots = [f"#{i}" for i in range(len(positional))] + sorted(chosen)
    n_odd = draw(st.sampled_from([0, 0, 1, 1, 2]))  # a third of the calls are all sane
    odd = set(draw(st.lists(st.sampled_from(slots), min_size=n_odd, max_size=n_odd)))
    args = tuple(draw(pair[1] if f"#{i}" in odd else pair[0])
                 for i, pair in enumerate(positional))
    kwargs = {k: draw(pair[1] if k in odd else pair[0]) for k, pair in chosen.items()}
    if name == "add_many" and args[0] == "items":
        args = (draw(_items()),)
    if name == "import_":
        args = (draw(_import_file(odd="#0" in odd)),)
    return name, args, kwargs


def _export_lines(store: ltm.MemoryStore) -> list[str]:
    buf = io.StringIO()
    store.export(buf)
    return buf.getvalue().splitlines()


@st.composite
def _import_file(draw: st.DrawFn, odd: bool) -> Any:
    """An export (new memories, or the seeded ones: skipped), some records made odd, handed
    over as a text stream, lines or bytes lines (or, when ``odd``, something else)."""
    if odd and draw(st.booleans()):
        return draw(odd_scalar)
    header = json.dumps({"ltm_export": 1, "embedder": "hash:256", "dim": 256})
    records = []
    for _ in range(draw(st.integers(0, 3))):
        rec: dict[str, Any] = {"id": draw(st.one_of(st.builds(ids.new_id), sane_id)),
                               "user": draw(sane_user), "text": draw(sane_text),
                               "time": "2026-01-01T00:00:00Z", "session": draw(sane_name),
                               "recorded_at": "2026-01-02T00:00:00Z"}
        mutable = ["id", "user", "text", "time", "recorded_at", "metadata", "importance", "seq",
                   "access_count", "pinned", "kind", "sources", "embedding_f32", "valid_to",
                   "superseded_by", "session"]
        for key in draw(st.lists(st.sampled_from(mutable), max_size=2 if odd else 0)):
            rec[key] = draw(odd_value)
        try:
            line = json.dumps(rec, allow_nan=True, default=repr)
        except (RecursionError, TypeError, ValueError):  # too deep, odd keys, huge ints
            line = "[" * 5_000
        if odd and draw(st.integers(0, 4)) == 0:
            line = draw(st.one_of(odd_text, st.just("[" * 5_000), st.just("{}")))
        records.append(line)
    first = draw(odd_text) if odd and draw(st.integers(0, 4)) == 0 else header
    lines = [first, *records]
    form = draw(st.sampled_from(["text", "lines", "bytes"]))
    if form == "text":
        return io.StringIO("\n".join(lines) + "\n")
    if form == "lines":
        return [line + "\n" for line in lines]
    return [line.encode("utf-8", "surrogatepass") + b"\n" for line in lines]


def _seed(store: ltm.MemoryStore) -> None:
    store.add_many([{"text": f"note {i} about lisbon and cats", "user": u, "id": mid,
                     "session": "s1", "metadata": {"speaker": "ana"}}
                    for i, (u, mid) in enumerate(zip(["alice", "alice", "bob", "bob"], KNOWN))])


def _run(store: ltm.MemoryStore, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
         ) -> None:
    if name == "export" and args and args[0] == "buffer":
        args = (io.StringIO(),)
    before = _export_lines(store)
    try:
        getattr(store, name)(*args, **kwargs)
    except LtmError:
        after = _export_lines(store)
        assert after == before, f"rejected {name} changed the store"
    if name == "forget" or len(_export_lines(store)) < 4:
        _seed_missing(store)


def _seed_missing(store: ltm.MemoryStore) -> None:
    have = {json.loads(line)["id"] for line in _export_lines(store)[1:]}
    if not all(mid in have for mid in KNOWN):
        for mid in KNOWN:
            for user in ("alice", "bob"):
                try:
                    store.forget(mid, user=user)
                except LtmError:
                    pass
        _seed(store)


@pytest.fixture
def fuzz_store(tmp_path: Path) -> Any:
    with ltm.open(tmp_path / "store", embedder="hash", max_metadata_depth=32) as store:
        _seed(store)
        yield store


# LTM_FUZZ_EXAMPLES=5000 for a longer hunt
@settings(max_examples=int(os.environ.get("LTM_FUZZ_EXAMPLES", "100")), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(sequence=st.lists(calls(), min_size=1, max_size=4))
def test_every_call_returns_or_raises_a_typed_error_and_rejects_cleanly(
        fuzz_store: ltm.MemoryStore,
        sequence: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> None:
    for name, args, kwargs in sequence:
        _run(fuzz_store, name, args, kwargs)
    # the store still works after whatever came before
    assert isinstance(fuzz_store.search("lisbon cats", user="alice"), list)
