"""Fact extraction after the fact: add() never waits, process() extracts in batches against a
scripted OpenAI-compatible server on loopback, and resumes where it stopped."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from _policy_fake_llm import FakeLLM

import ltm
from ltm.ids import new_id
from ltm.llm import LLMUnavailable
from ltm.policies.extract import pending

Open = Callable[..., ltm.MemoryStore]


def test_add_returns_at_once_while_the_llm_is_down(xstore: Open, dead_url: str) -> None:
    mem = xstore(llm_url=dead_url, llm_retries=0)
    t0 = time.perf_counter()
    ep = mem.add("I moved to Lisbon", user="ana", session="s1")
    assert time.perf_counter() - t0 < 0.5
    assert mem.get(ep.id, user="ana").text == "I moved to Lisbon"
    with pytest.raises(LLMUnavailable, match="1 episodes stay queued"):
        mem.process()
    assert pending(mem) == {"ana": 1}
    assert [h.memory.id for h in mem.search("Lisbon", user="ana")] == [ep.id]


def test_process_without_llm_says_how_to_configure(xstore: Open) -> None:
    mem = xstore()
    mem.add("hello", user="ana")
    with pytest.raises(ltm.InvalidInput, match="llm_url"):
        mem.process()


def test_extract_add_then_supersede_and_ignore(xstore: Open, fake_llm: FakeLLM) -> None:
    mem = xstore(llm_url=fake_llm.url, extract_batch=10)
    e1 = mem.add("I live in Paris now", user="ana", session="s1", time="2020-01-05")
    fake_llm.on("extract-facts/v1", "live in Paris", {"facts": [
        {"text": "Ana lives in Paris", "sources": [e1.id], "valid_from": "2020-01-01"}]})
    r1 = mem.process()
    assert r1.episodes == 1 and len(r1.added) == 1 and r1.pending == 0
    fact = mem.get(r1.added[0], user="ana")
    assert fact.kind == "fact" and fact.sources == (e1.id,)
    assert fact.valid_from is not None and fact.valid_from.year == 2020
    assert fact.metadata["prompt"] == "extract-facts/v1"
    assert fake_llm.prompts() == ["extract-facts/v1"]  # nothing similar: no decision asked

    e2 = mem.add("We moved to Lisbon last month", user="ana", session="s2", time="2023-04-02")
    e3 = mem.add("Paris was nice", user="ana", session="s2", time="2023-04-02")
    fake_llm.on("extract-facts/v1", "moved to Lisbon", {"facts": [
        {"text": "Ana lives in Lisbon", "sources": [e2.id], "valid_from": "2023-03-01"},
        {"text": "Ana lives in Paris", "sources": [e3.id, "not-an-id"]}]})
    fake_llm.on("decide-facts/v1", "Lisbon", {"decisions": [
        {"n": 0, "action": "supersede", "target": fact.id, "text": None},
        {"n": 1, "action": "ignore", "target": fact.id}]})
    r2 = mem.process()
    assert r2.episodes == 2 and r2.ignored == 1 and list(r2.superseded) == [fact.id]
    new = mem.get(r2.superseded[fact.id], user="ana")
    old = mem.get(fact.id, user="ana")
    assert old.superseded_by == new.id and old.valid_to == new.valid_from
    assert new.sources == (e2.id,)
    # what was true when
    then = mem.search("where does Ana live", user="ana", kinds=["fact"], as_of="2021-06-01")
    now = mem.search("where does Ana live", user="ana", kinds=["fact"])
    assert [h.memory.id for h in then] == [old.id]
    assert now[0].memory.id == new.id and now[1].memory.id == old.id
    # the decision request carried the similar fact with its id
    decide = [r for r in fake_llm.requests if r["prompt"] == "decide-facts/v1"][0]
    assert fact.id in decide["body"]["messages"][1]["content"]


def test_update_keeps_history(xstore: Open, fake_llm: FakeLLM) -> None:
    mem = xstore(llm_url=fake_llm.url)
    f = mem.add("Ana has a dog", user="ana", kind="fact")
    e = mem.add("my dog Rex is a beagle", user="ana", session="s")
    fake_llm.on("extract-facts/v1", "Rex", {"facts": [
        {"text": "Ana has a dog", "sources": [e.id]}]})
    fake_llm.on("decide-facts/v1", "", {"decisions": [
        {"n": 0, "action": "update", "target": f.id, "text": "Ana has a beagle named Rex"}]})
    r = mem.process()
    assert r.updated == [f.id]
    got = mem.get(f.id, user="ana")
    assert got.text == "Ana has a beagle named Rex" and got.sources == (e.id,)
    hist = mem.history(f.id, user="ana")
    assert hist[-1].event == "updated" and hist[-1].data is not None
    assert hist[-1].data["text"] == "Ana has a dog"


def test_resumes_after_a_failure_midway(xstore: Open, fake_llm: FakeLLM) -> None:
    mem = xstore(llm_url=fake_llm.url, extract_batch=2, llm_retries=0)
    eps = [mem.add(f"turn number {i}", user="ana", session="s") for i in range(5)]
    fake_llm.on("extract-facts/v1", "turn number 0", {"facts": [
        {"text": "fact from turns 0 and 1", "sources": [eps[0].id]}]})
    fake_llm.on("extract-facts/v1", "turn number 2", status=500)  # second batch fails
    with pytest.raises(LLMUnavailable):
        mem.process()
    assert pending(mem) == {"ana": 3}
    facts = [m for m in mem.search("fact from turns", user="ana", kinds=["fact"])]
    assert len(facts) == 1
    # a new process (same store reopened) picks up at the third episode
    mem.close()
    mem = xstore(llm_url=fake_llm.url, extract_batch=2, llm_retries=0)
    fake_llm.rules = [r for r in fake_llm.rules if r.status == 200]
    fake_llm.on("extract-facts/v1", "turn number 2", {"facts": []})
    fake_llm.on("extract-facts/v1", "turn number 4", {"facts": []})
    before = len(fake_llm.requests)
    r = mem.process()
    assert r.episodes == 3 and r.batches == 2 and r.pending == 0
    sent = [x["body"]["messages"][1]["content"] for x in fake_llm.requests[before:]]
    assert "turn number 0" not in "".join(sent) and "turn number 4" in sent[-1]


def test_token_budget_per_user(xstore: Open, fake_llm: FakeLLM) -> None:
    # each call costs 120 tokens (the server's usage); budget 200 allows two batches a day
    mem = xstore(llm_url=fake_llm.url, extract_batch=1, extract_token_budget=200)
    for i in range(4):
        mem.add(f"episode {i}", user="ana", session="s")
    mem.add("other user", user="bob", session="s")
    fake_llm.on("extract-facts/v1", "", {"facts": []})
    r = mem.process()
    assert r.budget_exhausted == ["ana"]
    assert pending(mem) == {"ana": 2}
    assert r.tokens == 3 * 120  # two for ana, one for bob


@pytest.mark.postgres
def test_postgres_extraction_skips_no_row_committed_late(pg_store_url: str,
                                                        fake_llm: FakeLLM) -> None:
    """PostgreSQL draws ``n`` at insert, not at commit: a writer still open while later rows
    commit ends up with a lower ``n`` than they. The extractor must wait for it (its horizon)
    instead of moving its cursor past that row for good."""
    import threading

    fake_llm.on("extract-facts/v1", "", {"facts": []})
    with ltm.open(pg_store_url, embedder="hash", llm_url=fake_llm.url) as mem:
        mem.add("first turn", user="ana", session="a")
        opened, release = threading.Event(), threading.Event()

        def slow_writer() -> None:
            # a row of ana's whose transaction stays open: what a writer that drew its n just
            # before another's, and commits just after, looks like (the race in small)
            backend = mem.backend
            with backend.pool.connection() as conn, conn.transaction():  # type: ignore[attr-defined]
                t = 1_700_000_000_000_000
                conn.execute(f"INSERT INTO {backend._m} (user_id, id, kind, text, time, "  # type: ignore[attr-defined]
                             f"recorded_at, session, seq) VALUES ('ana', %s, 'episode', "
                             f"'turn committed late', %s, %s, 'b', 0)", [new_id(), t, t])
                opened.set()
                release.wait(10)

        writer = threading.Thread(target=slow_writer)
        writer.start()
        assert opened.wait(10)
        mem.add("turn committed early", user="ana", session="c")  # a higher n, visible now
        reports: list[Any] = []
        extractor = threading.Thread(target=lambda: reports.append(mem.process()))
        extractor.start()
        extractor.join(0.5)
        assert extractor.is_alive()  # waiting for the open writer, not skipping its row
        release.set()
        writer.join(10)
        extractor.join(10)
        assert reports and reports[0].episodes == 3 and reports[0].pending == 0
        sent = " ".join(r["body"]["messages"][1]["content"] for r in fake_llm.requests)
        assert "turn committed late" in sent and "turn committed early" in sent
        assert pending(mem) == {}
