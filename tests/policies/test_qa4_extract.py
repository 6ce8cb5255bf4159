"""QA of issue 4's fact extraction against a scripted OpenAI-compatible server on loopback:
an LLM that answers 'supersede' twice for one fact in one batch (or 'update' and 'supersede')
must not block the user's extraction for good (the second supersession raised InvalidInput
'already superseded', the batch rolled back, and every later run asked the same and failed
the same way)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from _policy_fake_llm import FakeLLM

import ltm
from ltm.llm import LLMError, LLMUnavailable
from ltm.policies.extract import pending
from ltm.validate import MAX_TEXT_CHARS

Open = Callable[..., ltm.MemoryStore]


def test_two_supersessions_of_one_fact_in_a_batch_do_not_block_extraction(
        xstore: Open, fake_llm: FakeLLM) -> None:
    mem = xstore(llm_url=fake_llm.url, extract_batch=10)
    fact = mem.add("Ana lives in Paris", user="ana", kind="fact", valid_from="2020-01-01")
    e1 = mem.add("We moved to Lisbon in March", user="ana", session="s", time="2023-04-02")
    e2 = mem.add("Actually we live in Porto now", user="ana", session="s",
                 time="2023-05-02")
    fake_llm.on("extract-facts/v1", "Lisbon", {"facts": [
        {"text": "Ana lives in Lisbon", "sources": [e1.id], "valid_from": "2023-03-01"},
        {"text": "Ana lives in Porto", "sources": [e2.id], "valid_from": "2023-05-01"}]})
    fake_llm.on("decide-facts/v1", "Lisbon", {"decisions": [
        {"n": 0, "action": "supersede", "target": fact.id, "text": None},
        {"n": 1, "action": "supersede", "target": fact.id, "text": None}]})
    report = mem.process()
    assert report.episodes == 2 and pending(mem) == {}
    facts = {m.text: m for m in mem.list("ana", kinds=["fact"]).memories}
    assert set(facts) == {"Ana lives in Paris", "Ana lives in Lisbon", "Ana lives in Porto"}
    # one chain: Paris -> Lisbon -> Porto (the second decision supersedes what stands now)
    assert mem.get(fact.id, user="ana").superseded_by == facts["Ana lives in Lisbon"].id
    assert facts["Ana lives in Lisbon"].superseded_by == facts["Ana lives in Porto"].id
    assert facts["Ana lives in Porto"].superseded_by is None
    now = mem.search("where does Ana live", user="ana", kinds=["fact"])
    assert now[0].memory.text == "Ana lives in Porto"


def test_texts_the_store_cannot_hold_do_not_block_extraction(
        xstore: Open, fake_llm: FakeLLM) -> None:
    mem = xstore(llm_url=fake_llm.url, extract_batch=10)
    dog = mem.add("Ana has a dog", user="ana", kind="fact")
    e = mem.add("my dog Rex is a beagle from Zürich", user="ana", session="s")
    fake_llm.on("extract-facts/v1", "Rex", {"facts": [
        {"text": "Rex is a\u0000 beagle", "sources": [e.id]},
        {"text": "Rex comes from \ud800 Zürich", "sources": [e.id]},
        {"text": "Rex " + "barks " * 30_000, "sources": [e.id]},
        {"text": "Ana has a dog named Rex", "sources": [e.id]}]})
    fake_llm.on("decide-facts/v1", "", {"decisions": [
        {"n": 2, "action": "update", "target": dog.id, "text": "  \u200b "}]})
    report = mem.process()
    assert report.episodes == 1 and pending(mem) == {}
    texts = {m.text for m in mem.list("ana", kinds=["fact"]).memories}
    # NUL dropped; the lone surrogate's fact left out; the long one cut; a blank update
    # wording replaced by the extracted one
    assert "Rex is a beagle" in texts
    assert not any("Zürich" in t for t in texts)
    assert any(t.startswith("Rex barks") and len(t) <= MAX_TEXT_CHARS for t in texts)
    assert mem.get(dog.id, user="ana").text == "Ana has a dog named Rex"


def test_one_users_poison_batch_does_not_block_the_others(
        xstore: Open, fake_llm: FakeLLM) -> None:
    mem = xstore(llm_url=fake_llm.url, llm_retries=0)
    mem.add("a transcript far too long for the model " + "blah " * 2000, user="ann")
    e = mem.add("I moved to Lisbon in March", user="bob")
    fake_llm.on("extract-facts/v1", "far too long", status=400)  # context length exceeded
    fake_llm.on("extract-facts/v1", "Lisbon", {"facts": [
        {"text": "Bob lives in Lisbon", "sources": [e.id], "valid_from": "2026-03-01"}]})
    with pytest.raises(LLMError, match="1 user") as info:
        mem.process()
    assert not isinstance(info.value, LLMUnavailable)
    assert pending(mem) == {"ann": 1}  # kept for the next run
    assert [m.text for m in mem.list("bob", kinds=["fact"]).memories] == ["Bob lives in Lisbon"]
