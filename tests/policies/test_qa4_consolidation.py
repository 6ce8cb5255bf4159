"""QA of issue 4's consolidation promises on real stores: a summary spans its turns' times
even when they were stored out of time order; a session whose turns are long still folds (the
summary is cut to what a memory may hold instead of failing every gc); an LLM summary the
store cannot hold falls back to an extractive one; ``consolidate`` names a session; and a
summary survives a reopen, a forget of one source and export -> import with its sources."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from _policy_fake_llm import FakeLLM

import ltm
from ltm.errors import InvalidInput
from ltm.validate import MAX_TEXT_CHARS

Open = Callable[..., ltm.MemoryStore]


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_a_summary_spans_turns_stored_out_of_time_order(xstore: Open) -> None:
    store = xstore()
    store.add_conversation([
        {"role": "user", "content": "we planned the trip to Kyoto", "time": "2024-05-01T10:00Z"},
        {"role": "assistant", "content": "flights booked for June", "time": "2020-01-01T10:00Z"},
        {"role": "user", "content": "the hotel is near the station",
         "time": "2022-01-01T12:00+02:00"},
    ], user="u", session="trip")
    summary = store.consolidate("trip", user="u")
    assert summary is not None
    assert summary.valid_from == _utc(2020, 1, 1, 10)
    assert summary.time == _utc(2024, 5, 1, 10)
    assert "(2020-01-01 to 2024-05-01, 3 turns)" in summary.text
    # as of a moment inside the session's span the summary answers
    hits = store.search("Kyoto trip hotel", user="u", as_of="2023-01-01", kinds=["summary"])
    assert [h.memory.id for h in hits] == [summary.id]
    # a later turn, earlier than all the others, widens the span of the refreshed summary
    store.add_conversation([{"role": "user", "content": "first idea: go to Kyoto",
                             "time": "2019-06-01T00:00Z"}], user="u", session="trip")
    again = store.consolidate("trip", user="u")
    assert again is not None and again.id == summary.id
    assert again.valid_from == _utc(2019, 6, 1) and again.time == _utc(2024, 5, 1, 10)


def test_long_turns_fold_into_a_summary_the_store_can_hold(hstore: Open) -> None:
    store = hstore(retention={"episode": {"consolidate_after_days": 1,
                                          "consolidate_min_turns": 3, "summary_turns": 6}})
    turns = store.add_conversation(
        [{"role": "user", "content": f"part {i} of the saga " + "ü" * 40_000}
         for i in range(6)], user="u", session="long", time="2020-01-01")
    report = store.gc()
    assert list(report.consolidated.values()) == ["long"]
    summary = store.get(next(iter(report.consolidated)), user="u")
    assert len(summary.text) <= MAX_TEXT_CHARS
    assert all(f"user: part {i} of the saga" in summary.text for i in range(6))
    assert summary.sources == tuple(t.id for t in turns)
    assert store.gc().count == 0 and not store.gc().consolidated  # and gc goes on working


@pytest.mark.parametrize("answer", ["ok \u0000 then", "x" * (MAX_TEXT_CHARS + 50)])
def test_an_llm_summary_is_what_the_store_can_hold(hstore: Open, fake_llm: FakeLLM,
                                                   answer: str) -> None:
    fake_llm.on("summarize-session/v1", "Lisbon", {"summary": answer})
    store = hstore(llm_url=fake_llm.url, llm_retries=0)
    store.add_conversation([{"role": "user", "content": f"Lisbon plan, step {i}"}
                            for i in range(4)], user="u", session="s")
    summary = store.consolidate("s", user="u")
    assert summary is not None
    assert "\x00" not in summary.text and len(summary.text) <= MAX_TEXT_CHARS
    if "\x00" in answer:  # refused: the extractive summary instead
        assert summary.metadata["ltm_summary"]["method"] == "extractive"
    else:
        assert summary.metadata["ltm_summary"]["method"] == "llm"
        assert summary.text.endswith("\u2026")


def test_consolidate_needs_a_session(hstore: Open) -> None:
    store = hstore()
    store.add_conversation([{"role": "user", "content": f"turn {i}"} for i in range(3)],
                           user="u", session="s")
    for bad in (None, "", " ", 5, "a\x00b"):
        with pytest.raises(InvalidInput):
            store.consolidate(bad, user="u")  # type: ignore[arg-type]
    assert store.list("u", kinds=["summary"]).memories == []
    assert store.consolidate("no such session", user="u") is None


def test_a_summary_survives_reopen_forget_and_export_import(tmp_path: Path) -> None:
    path = tmp_path / "s"
    store = ltm.open(path, embedder="hash")
    turns = store.add_conversation(
        [{"role": "user", "content": "Ana moved to Porto in 2021"},
         {"role": "user", "content": "Ana's secret PIN is 9931"},
         {"role": "user", "content": "Ana adopted a dog named Feijão"}],
        user="ana", session="s1", time="2023-03-01")
    summary = store.consolidate("s1", user="ana")
    assert summary is not None
    store.close()
    store = ltm.open(path, embedder="hash")  # as a new process would
    store.forget(turns[1].id, user="ana")
    rebuilt = store.get(summary.id, user="ana")
    assert "9931" not in rebuilt.text and "Feijão" in rebuilt.text
    assert rebuilt.sources == (turns[0].id, turns[2].id)
    assert all("9931" not in str(e.data) for e in store.history(summary.id, user="ana"))
    buf = io.StringIO()
    store.export(buf, user="ana")
    store.close()
    copy = ltm.open(tmp_path / "copy", embedder="hash")
    try:
        copy.import_(io.StringIO(buf.getvalue()))
        got = copy.get(summary.id, user="ana")
        assert (got.text, got.sources, got.valid_from, got.time) == \
            (rebuilt.text, rebuilt.sources, rebuilt.valid_from, rebuilt.time)
        # forgetting every source in the copy takes the summary with them
        copy.forget(turns[0].id, user="ana")
        copy.forget(turns[2].id, user="ana")
        assert copy.list("ana", kinds=["summary", "episode"]).memories == []
    finally:
        copy.close()
