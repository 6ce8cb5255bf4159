"""The conversation structure of a pool (``ltm.retrieval.ranker.Turns``: where each turn's
neighbours and session are) is kept with a cached scope view and shared by its searches. It
gives the columns a plain reading of ``structure``'s definition gives, for a whole pool and for
a part of one, and a write between two searches is never answered with the structure before it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ltm
from ltm.retrieval.ranker import RawPool, Turns, structure

STRUCTURE = ("previous", "next", "near", "session", "session_lse")


def _reference(session: np.ndarray, seq: np.ndarray, has_seq: np.ndarray, own: np.ndarray,
               top: np.ndarray, window: int, floor: float) -> np.ndarray:
    """``structure``'s columns read off its docstring, one memory at a time."""
    n = len(own)
    out = np.zeros((n, 7))
    turn = [i for i in range(n) if session[i] >= 0 and has_seq[i]]
    order = sorted(turn, key=lambda i: (session[i], seq[i], i))
    where = {i: r for r, i in enumerate(order)}

    def neighbour(i: int, off: int) -> int | None:
        r = where[i] + off
        if not 0 <= r < len(order):
            return None
        j = order[r]
        return j if session[j] == session[i] and seq[j] - seq[i] == off else None

    for i in range(n):
        if i not in where:
            out[i] = [floor, floor, floor, own[i], own[i], 0.0, 0.0]
            continue
        before, after = neighbour(i, -1), neighbour(i, 1)
        near = [own[j] for d in range(2, window + 1) for j in (neighbour(i, d), neighbour(i, -d))
                if j is not None]
        mates = [own[j] for j in order if session[j] == session[i]]
        best = max(mates)
        lse = best + math.log(sum(math.exp(min(max(v - best, -50.0), 0.0)) for v in mates))
        out[i] = [floor if before is None else own[before], floor if after is None else own[after],
                  max(near) if near else floor, best, lse,
                  0.0 if before is None else top[before], 0.0 if after is None else top[after]]
    return out


@st.composite
def _pools(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    n = draw(st.integers(0, 30))
    ints = st.lists(st.integers(-1, 3), min_size=n, max_size=n)
    session = np.array(draw(ints), dtype=np.int64)
    seq = np.array(draw(st.lists(st.integers(0, 8), min_size=n, max_size=n)), dtype=np.int64)
    has_seq = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    own = np.array(draw(st.lists(st.floats(-8, 8), min_size=n, max_size=n)), dtype=np.float64)
    top = np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)), dtype=np.float64)
    keep = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    return session, seq, has_seq, own, top, keep


def _raw(session: np.ndarray, seq: np.ndarray, has_seq: np.ndarray) -> RawPool:
    z = np.zeros(len(session))
    return RawPool(z, z, session, seq, has_seq, z, z, z.astype(bool), z, z)


@settings(max_examples=150, deadline=None)
@given(_pools(), st.integers(0, 3), st.floats(-3, 1))
def test_structure_matches_its_definition_whole_and_part(
        pool: tuple[np.ndarray, ...], window: int, floor: float) -> None:
    session, seq, has_seq, own, top, keep = pool
    want = _reference(session, seq, has_seq, own, top, window, floor)
    turns = Turns.of(session, seq, has_seq)
    raw = _raw(session, seq, has_seq)
    for got in (structure(raw, own, top, window, floor),
                structure(raw, own, top, window, floor, turns),
                structure(raw, own, top, window, floor, turns)):  # the neighbours held now
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # a part of the pool, its turns taken from the whole one's without sorting again
    p = np.flatnonzero(keep)
    part = turns.within(p, len(own), session[p], seq[p])
    np.testing.assert_array_equal(part.idx, Turns.of(session[p], seq[p], has_seq[p]).idx)
    np.testing.assert_allclose(
        structure(_raw(session[p], seq[p], has_seq[p]), own[p], top[p], window, floor, part),
        _reference(session[p], seq[p], has_seq[p], own[p], top[p], window, floor),
        rtol=1e-12, atol=1e-12)


NOW = "2026-06-01T00:00:00Z"
QUERY = "the lighthouse keeper painted the boat"


def _signals(store: ltm.MemoryStore) -> dict[str, tuple[float, ...]]:
    hits = store.search(QUERY, user="u", k=10, now=NOW)
    return {h.memory.text: tuple(h.signals[c] for c in STRUCTURE) for h in hits}


def _fresh(folder: Path) -> dict[str, tuple[float, ...]]:
    with ltm.open(folder, embedder="hash") as fresh:
        return _signals(fresh)


def _same(a: dict[str, tuple[float, ...]], b: dict[str, tuple[float, ...]]) -> None:
    assert list(a) == list(b)
    assert [v for k in a for v in a[k]] == pytest.approx([v for k in b for v in b[k]])


def test_a_write_between_searches_changes_the_neighbours_searched(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    with ltm.open(folder, embedder="hash") as store:
        store.add_many([{"text": t, "user": "u", "session": "s1"} for t in
                        ["the lighthouse keeper waved", "he painted the boat blue",
                         "we had tea"]]
                       + [{"text": "the boat was painted again", "user": "u", "session": "s2"}])
        first = _signals(store)  # the view's turns are kept now
        _same(first, _fresh(folder))
        # a turn after the last of s1: "we had tea" gains a next turn
        store.add("the keeper painted the lighthouse boat", user="u", session="s1")
        second = _signals(store)
        nxt = STRUCTURE.index("next")
        assert second["we had tea"][nxt] != first["we had tea"][nxt]
        _same(second, _fresh(folder))
        # another connection forgets the middle turn of s1: its neighbours part
        with ltm.open(folder, embedder="hash") as other:
            gone = [h.memory.id for h in other.search("painted the boat blue", user="u", k=10)
                    if h.memory.text == "he painted the boat blue"]
            other.forget(gone[0], user="u")
        third = _signals(store)
        assert "he painted the boat blue" not in third
        assert third["the lighthouse keeper waved"][nxt] != \
            second["the lighthouse keeper waved"][nxt]
        _same(third, _fresh(folder))


def _rows(draw: st.DrawFn, start: int, n: int) -> list[tuple[object, ...]]:
    """``ScopeView.from_rows`` rows with row ids from ``start``: sessions of a few names (or
    none), turn numbers set or not."""
    out = []
    for i in range(n):
        s = draw(st.sampled_from([None, "a", "b", "c", "d"]))
        q = draw(st.integers(-1, 6))
        out.append((start + i, f"m{start + i:04d}", s, q, q >= 0, 0.0, 0.5, False, 2**62))
    return out


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_turns_after_appends_are_those_of_a_sort(data: st.DataObject) -> None:
    """The turns of a view made by ``appended`` (or ``changed``) from one whose turns were
    derived, kept without a sort where the new turns come last, are ``Turns.of`` the view;
    and the common case (a turn after the last one, a row with no turn) takes no sort."""
    from ltm.index.scope import ScopeView
    from ltm.retrieval.pipeline import _grown_turns

    first = _rows(data.draw, 1, data.draw(st.integers(0, 12)))
    view = ScopeView.from_rows("u", sorted(first, key=lambda r: (r[2] is not None, r[2] or "")))
    view.name_sessions(sorted({r[2] for r in first if r[2] is not None}))
    n = len(first) + 1
    for _ in range(data.draw(st.integers(1, 4))):
        if data.draw(st.booleans()):
            view.memo["turns"] = _grown_turns(view) or Turns.of(view.session, view.seq,
                                                                view.has_seq)
        if len(view) and data.draw(st.booleans()):
            r = int(data.draw(st.integers(0, len(view) - 1)))
            names = view.session_names or []
            code = int(view.session[r])
            grown = view.changed([(int(view.rowids[r]), view.ids[r],
                                   None if code < 0 else names[code], int(view.seq[r]),
                                   bool(view.has_seq[r]), 5.0, 0.9, True, 2**62)])
            assert grown is not None
            view = grown
        more = _rows(data.draw, n, data.draw(st.integers(1, 3)))
        n += len(more)
        grown = view.appended(more)
        assert grown is not None
        view = grown
        want = Turns.of(view.session, view.seq, view.has_seq)
        got = _grown_turns(view)
        if got is not None:
            np.testing.assert_array_equal(got.idx, want.idx)
            np.testing.assert_array_equal(got.sess, want.sess)
            np.testing.assert_array_equal(got.seqs, want.seqs)
            np.testing.assert_array_equal(got.starts, want.starts)
            np.testing.assert_array_equal(got.run, want.run)
            np.testing.assert_array_equal(got.at(1, -1, 2), want.at(1, -1, 2))


def test_a_turn_appended_last_or_a_row_without_one_takes_no_sort() -> None:
    from ltm.index.scope import ScopeView
    from ltm.retrieval.pipeline import _grown_turns

    row = (1, "m1", "s1", 0, True, 0.0, 0.5, False, 2**62)
    view = ScopeView.from_rows("u", [row])
    view.memo["turns"] = Turns.of(view.session, view.seq, view.has_seq)
    plain = view.appended([(2, "m2", None, -1, False, 0.0, 0.5, False, 2**62)])
    assert plain is not None and _grown_turns(plain) is view.memo["turns"]
    # (nothing derived from ``plain``: the next view extends ``view``'s turns)
    nxt = plain.appended([(3, "m3", "s1", 1, True, 0.0, 0.5, False, 2**62)])
    assert nxt is not None
    got = _grown_turns(nxt)
    assert got is not None and got.idx.tolist() == [0, 2]
    # a turn before the last one: sorted again
    back = nxt.appended([(4, "m4", "s0", 5, True, 0.0, 0.5, False, 2**62)])
    assert back is not None and _grown_turns(back) is None
