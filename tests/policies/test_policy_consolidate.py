"""Consolidation into summaries, search from the summary, and forget cascading through it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from _policy_fake_llm import FakeLLM

import ltm
from ltm.policies.worker import BackgroundWorker

Open = Callable[..., ltm.MemoryStore]
TURNS = [("ana", "We finally booked the trip to Kyoto for April"),
         ("bo", "Nice, how long will you stay?"),
         ("ana", "Two weeks, and we will visit the temples in Kyoto"),
         ("bo", "Bring back some matcha from Kyoto"),
         ("ana", "Sure, the Kyoto matcha shops are famous"),
         ("bo", "My cat knocked over a plant today"),
         ("ana", "Ha, cats! Kyoto has cat cafes too")]


def _session(mem: ltm.MemoryStore, session: str = "s1") -> list[ltm.Memory]:
    return mem.add_conversation([{"speaker": s, "content": t} for s, t in TURNS], user="ana",
                                session=session, time="2024-01-10T10:00")


def test_extractive_summary_keeps_sources_and_answers(hstore: Open) -> None:
    mem = hstore(retention='{"episode": {"summary_turns": 3}}')
    eps = _session(mem)
    summary = mem.consolidate("s1", user="ana")
    assert summary is not None and summary.kind == "summary" and summary.session == "s1"
    assert summary.sources == tuple(e.id for e in eps)
    assert summary.metadata["ltm_summary"]["method"] == "extractive"
    assert summary.text.count("\n") == 3 and "Kyoto" in summary.text
    assert "cat knocked" not in summary.text  # the off-topic turn is not central
    assert mem.consolidate("s1", user="ana") is None  # nothing new to fold
    hits = mem.search("Kyoto trip", user="ana", kinds=["summary"])
    assert [h.memory.id for h in hits] == [summary.id]


def test_gc_consolidates_old_sessions_and_removes_originals(hstore: Open) -> None:
    spec = '{"episode": {"consolidate_after_days": 30, "originals": "remove"}}'
    mem = hstore(retention=spec)
    eps = _session(mem)
    mem.add_conversation([{"content": "short"}], user="ana", session="tiny", time="2024-01-01")
    dry = mem.gc(dry_run=True)
    assert len(dry.consolidated) == 1 and len(dry.removed) == len(eps)
    rep = mem.gc()
    (sid, session), = rep.consolidated.items()
    assert session == "s1" and sorted(rep.removed) == sorted(e.id for e in eps)
    hits = mem.search("where is Ana travelling in April", user="ana")
    assert hits[0].memory.id == sid  # search answers from the summary
    assert mem.gc().consolidated == {}  # idempotent


def test_archive_demotes_originals(hstore: Open) -> None:
    mem = hstore(retention='{"episode": {"originals": "archive"}}')
    eps = _session(mem)
    summary = mem.consolidate("s1", user="ana")
    assert summary is not None
    archived = mem.get(eps[0].id, user="ana")
    assert archived.metadata["ltm_archived"] is True
    hits = mem.search("Kyoto", user="ana", k=10)
    ep_hits = [h for h in hits if h.memory.kind == "episode"]
    assert ep_hits and all(h.signals["archived"] < 0 for h in ep_hits)


def test_consolidation_then_forget_of_a_source(hstore: Open) -> None:
    mem = hstore(retention='{"episode": {"summary_turns": 7}}')
    eps = _session(mem)
    fact = mem.add("Ana travels to Kyoto in April", user="ana", kind="fact",
                   sources=[eps[0].id, eps[2].id])
    summary = mem.consolidate("s1", user="ana")
    assert summary is not None and "booked the trip" in summary.text
    r = mem.forget(eps[0].id, user="ana")
    assert r.ids == [eps[0].id]
    s2 = mem.get(summary.id, user="ana")
    assert "booked the trip" not in s2.text  # re-derived from the surviving turns
    assert eps[0].id not in s2.sources and len(s2.sources) == len(eps) - 1
    assert s2.metadata["ltm_summary"]["rederived"] is True
    # the summary's history keeps events, not the forgotten wording
    for ev in mem.history(summary.id, user="ana"):
        assert ev.data is None or "booked the trip" not in str(ev.data)
    f2 = mem.get(fact.id, user="ana")
    assert f2.metadata["ltm_stale"] is True and f2.sources == (eps[2].id,)
    # forgetting the last source of the fact forgets the fact; the summary survives
    r = mem.forget(eps[2].id, user="ana")
    assert sorted(r.ids) == sorted([eps[2].id, fact.id])
    assert mem.history(fact.id, user="ana")[-1].event == "deleted"
    # forgetting the whole session takes the summary with it
    r = mem.forget(user="ana", session="s1")
    assert summary.id in r.ids
    assert mem.search("Kyoto", user="ana") == []


def test_flag_policy_and_keep(hstore: Open) -> None:
    mem = hstore(derived_on_source_loss="flag")
    eps = _session(mem)
    summary = mem.consolidate("s1", user="ana")
    assert summary is not None
    mem.forget(eps[1].id, user="ana")
    s2 = mem.get(summary.id, user="ana")
    assert s2.metadata["ltm_stale"] is True and s2.metadata["ltm_sources_lost"] == 1


def test_llm_summary_via_loopback_server(hstore: Open, fake_llm: FakeLLM) -> None:
    fake_llm.on("summarize-session/v1", "Kyoto",
                {"summary": "Ana booked a two-week April trip to Kyoto; Bo wants matcha."})
    mem = hstore(llm_url=fake_llm.url)
    _session(mem)
    summary = mem.consolidate("s1", user="ana")
    assert summary is not None and summary.text.startswith("Ana booked a two-week")
    assert summary.metadata["ltm_summary"]["method"] == "llm"
    assert summary.metadata["ltm_summary"]["prompt"] == "summarize-session/v1"


def test_llm_failure_falls_back_to_extractive(hstore: Open, dead_url: str) -> None:
    mem = hstore(llm_url=dead_url, llm_retries=0)
    _session(mem)
    summary = mem.consolidate("s1", user="ana")
    assert summary is not None and summary.metadata["ltm_summary"]["method"] == "extractive"


def test_background_worker_processes_and_collects(hstore: Open, fake_llm: FakeLLM) -> None:
    fake_llm.on("extract-facts/v1", "", {"facts": [{"text": "Ana is going to Kyoto",
                                                    "sources": []}]})
    mem = hstore(llm_url=fake_llm.url, retention='{"episode": {"ttl_days": 1}}')
    _session(mem)
    worker = BackgroundWorker(mem, interval_s=0.05, gc_interval_s=0.05)
    worker.start()
    deadline = time.monotonic() + 10
    while (worker.last_process is None or worker.last_gc is None) and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    worker.stop()
    assert not worker.running
    assert worker.last_process is not None and worker.last_gc is not None
    assert mem.search("Kyoto", user="ana", kinds=["fact"])
    later = datetime.now(timezone.utc) + timedelta(days=2)
    rep = mem.gc(now=later)
    assert len(rep.expired) == len(TURNS)
    # the fact loses all its sources with them
    assert len(rep.cascaded) == 1


def test_worker_survives_a_dead_endpoint(hstore: Open, dead_url: str) -> None:
    mem = hstore(llm_url=dead_url, llm_retries=0)
    mem.add("hello", user="ana", session="s")
    worker = BackgroundWorker(mem, interval_s=0.05, gc_interval_s=0)
    worker.start()
    deadline = time.monotonic() + 10
    while worker.last_error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker.running
    worker.stop()
    assert worker.last_error is not None and "unavailable" in worker.last_error


@pytest.mark.parametrize("args", [["--dry-run", "--json"], ["--json"]])
def test_cli_gc(hstore: Open, tmp_path: object, args: list[str]) -> None:
    import json

    from click.testing import CliRunner

    from ltm.cli.policies import gc
    mem = hstore(name="cli")
    mem.add("a", user="ana", expires_at=datetime.now(timezone.utc) + timedelta(seconds=1))
    folder = str(mem.backend.folder)  # type: ignore[attr-defined]
    mem.close()
    later = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    res = CliRunner().invoke(gc, ["--store", folder, "--now", later, *args])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert len(out["expired"]) == 1 and out["dry_run"] == ("--dry-run" in args)


def test_cli_process_without_llm_exits_2(hstore: Open) -> None:
    from click.testing import CliRunner

    from ltm.cli.policies import process
    mem = hstore(name="cli2")
    mem.add("a", user="ana")
    folder = str(mem.backend.folder)  # type: ignore[attr-defined]
    mem.close()
    res = CliRunner().invoke(process, ["--store", folder])
    assert res.exit_code == 2 and "llm_url" in res.output
