"""LangGraph: ltm's BaseStore against LangGraph's own InMemoryStore (the same calls, the same
items; the differences are the documented ones: ranking order, namespaces listed only while
they hold items), TTL, the async forms, and a small graph run end to end on a fake chat
model (no network)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore, Item
from langgraph.store.memory import InMemoryStore

import ltm
from ltm.integrations.langgraph import LtmStore

DIMS = 16


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[LtmStore, InMemoryStore]]:
    index: Any = {"dims": DIMS, "embed": DeterministicFakeEmbedding(size=DIMS),
                  "fields": ["text"]}
    ours = LtmStore.open(tmp_path / "store", index=index)
    try:
        yield ours, InMemoryStore(index=index)
    finally:
        ours.close()


def _key(item: Item) -> tuple[Any, ...]:
    return (item.namespace, item.key, repr(sorted(item.value.items())))


def _items(items: list[Any]) -> list[tuple[Any, ...]]:
    """Search results without their order (ranking differs, as documented)."""
    return sorted(_key(i) for i in items)


def _held(ref: InMemoryStore) -> set[tuple[str, ...]]:
    return {i.namespace for i in ref.search((), limit=10_000)}


@pytest.mark.parametrize("seed", [17, 4, 99])
def test_same_calls_same_items(pair: tuple[LtmStore, InMemoryStore], seed: int) -> None:
    ours, ref = pair
    rng = random.Random(seed)
    users, paths = ["alice", "bob"], [(), ("memories",), ("memories", "food"), ("prefs",)]
    words = ["lisbon", "cat", "orange", "nurse", "river", "coffee", "piano", "rain"]
    for step in range(160):
        ns = (rng.choice(users), *rng.choice(paths))
        key = f"k{rng.randrange(6)}"
        roll = rng.random()
        if roll < 0.45:
            value = {"text": " ".join(rng.sample(words, 3)), "n": rng.randrange(5),
                     "tags": {"color": rng.choice(["red", "blue"])}}
            ours.put(ns, key, value)
            ref.put(ns, key, value)
        elif roll < 0.55:
            ours.delete(ns, key)
            ref.delete(ns, key)
        elif roll < 0.7:
            a, b = ours.get(ns, key), ref.get(ns, key)
            assert (a is None) == (b is None), step
            if a is not None and b is not None:
                assert _key(a) == _key(b), step
        elif roll < 0.9:
            prefix = ns[:rng.randrange(0, len(ns) + 1)]
            flt = rng.choice([None, {"n": 2}, {"n": {"$gte": 3}},
                              {"tags": {"color": "red"}}, {"n": {"$ne": 1}}])
            query = rng.choice([None, "lisbon cat", "coffee"])
            got = ours.search(prefix, query=query, filter=flt, limit=100)
            want = ref.search(prefix, query=query, filter=flt, limit=100)
            assert _items(got) == _items(want), (step, prefix, flt, query)
            if query is None:  # documented order: newest update first
                stamps = [i.updated_at for i in got]
                assert stamps == sorted(stamps, reverse=True)
            else:
                assert all(isinstance(i.score, float) for i in got)
        else:
            kw: dict[str, Any] = rng.choice([{}, {"prefix": (ns[0],)}, {"suffix": ("food",)},
                                             {"prefix": ("*", "memories")}, {"max_depth": 2}])
            held = _held(ref)
            depth = kw.get("max_depth")
            want_ns = [n for n in ref.list_namespaces(**kw)
                       if (n in held if depth is None else any(h[:depth] == n for h in held))]
            assert ours.list_namespaces(**kw) == want_ns, (step, kw)
    # the items are ordinary ltm memories of their users
    assert {m.kind for m in ours.store.list("alice", limit=1000)} <= {"item"}
    assert sum(len(ours.store.list(u, limit=1000)) for u in users) == \
        len(ref.search((), limit=10_000))


def test_batch_reads_before_writes_and_pages(pair: tuple[LtmStore, InMemoryStore]) -> None:
    from langgraph.store.base import GetOp, PutOp, SearchOp

    ours, ref = pair
    ops = [PutOp(("alice", "m"), "a", {"text": "first"}), GetOp(("alice", "m"), "a"),
           PutOp(("alice", "m"), "a", {"text": "second"}),
           SearchOp(("alice",), query="first"), PutOp(("alice", "m"), "b", {"text": "b"})]
    got, want = ours.batch(ops), ref.batch(ops)
    assert got[1] is None and want[1] is None and got[3] == [] and want[3] == []
    assert _key(ours.get(("alice", "m"), "a")) == _key(ref.get(("alice", "m"), "a"))
    for i in range(7):
        ours.put(("alice", "m"), f"p{i}", {"text": f"note {i}"})
    newest = ours.search(("alice", "m"), limit=3)
    rest = ours.search(("alice", "m"), limit=10, offset=3)
    assert [i.key for i in newest] == ["p6", "p5", "p4"]
    assert {i.key for i in newest} | {i.key for i in rest} == \
        {f"p{i}" for i in range(7)} | {"a", "b"}


def test_ttl_sets_expires_at_refreshes_and_hides(tmp_path: Path) -> None:
    store = LtmStore.open(tmp_path / "s", embedder="hash")
    try:
        store.put(("alice", "m"), "long", {"text": "stays"}, ttl=60)
        mem = store.store.list("alice").memories[0]
        assert mem.expires_at is not None
        assert 59 * 60 < (mem.expires_at - mem.recorded_at).total_seconds() < 61 * 60
        # refresh on read, once a hundredth of the TTL has passed since the last refresh
        store.put(("alice", "r"), "read", {"text": "read"}, ttl=0.05)  # 3 s: after 30 ms
        read = store.store.list("alice", metadata={"lg_key": "read"}).memories[0]
        time.sleep(0.05)
        store.get(("alice", "r"), "read", refresh_ttl=False)
        assert store.store.get(read.id, user="alice").expires_at == read.expires_at
        store.get(("alice", "r"), "read")
        later = store.store.get(read.id, user="alice").expires_at
        assert later is not None and read.expires_at is not None and later > read.expires_at
        store.put(("alice", "m"), "short", {"text": "goes"}, ttl=1e-5)  # 0.6 ms
        time.sleep(0.05)
        assert store.get(("alice", "m"), "short") is None
        assert [i.key for i in store.search(("alice", "m"))] == ["long"]
        store.put(("alice", "m"), "long", {"text": "no ttl now"}, ttl=None)
        assert store.store.list("alice").memories[0].expires_at is None
    finally:
        store.close()


def test_async_forms(pair: tuple[LtmStore, InMemoryStore]) -> None:
    ours, ref = pair

    async def run(s: BaseStore) -> list[Any]:
        await s.aput(("bob", "notes"), "x", {"text": "the river at dawn"})
        await s.aput(("bob", "notes"), "y", {"text": "piano lessons"})
        got = await s.aget(("bob", "notes"), "x")
        found = await s.asearch(("bob",), query="river")
        await s.adelete(("bob", "notes"), "y")
        names = await s.alist_namespaces(prefix=("bob",))
        return [_key(got) if got else None, _items(found), names]

    assert asyncio.run(run(ours)) == asyncio.run(run(ref))


def test_namespace_must_name_a_user(tmp_path: Path) -> None:
    store = LtmStore.open(tmp_path / "s", embedder="hash")
    try:
        with pytest.raises(ValueError):
            store.put((), "k", {"a": 1})
        with pytest.raises(ltm.ScopeError):
            store.put((" ",), "k", {"a": 1})
    finally:
        store.close()


class State(TypedDict):
    user: str
    messages: list[BaseMessage]
    prompt: str


def test_graph_end_to_end_on_a_fake_model(tmp_path: Path) -> None:
    """A chat node that recalls the user's memories from the store into its prompt and
    writes what the user said back into it; two turns, the second sees the first."""
    replies = iter([AIMessage(content="Noted: you live in Lisbon."),
                    AIMessage(content="You live in Lisbon.")])
    model = GenericFakeChatModel(messages=replies)
    # the text of each memory is the value's "text" field (default: the whole value as JSON)
    store = LtmStore.open(tmp_path / "s", embedder="hash", index={"fields": ["text"]})

    def chat(state: State, *, store: BaseStore) -> dict[str, Any]:
        ns = (state["user"], "memories")
        question = str(state["messages"][-1].content)
        recalled = [str(i.value["text"]) for i in store.search(ns, query=question, limit=3)]
        prompt = "Known about the user: " + "; ".join(recalled)
        answer = model.invoke([HumanMessage(content=prompt), *state["messages"]])
        store.put(ns, f"m{len(recalled)}", {"text": question})
        return {"messages": [*state["messages"], answer], "prompt": prompt}

    graph = StateGraph(State)
    graph.add_node("chat", chat)
    graph.add_edge(START, "chat")
    graph.add_edge("chat", END)
    app = graph.compile(store=store)
    try:
        first = app.invoke({"user": "alice", "prompt": "",
                            "messages": [HumanMessage(content="I moved to Lisbon in March")]})
        assert first["messages"][-1].content == "Noted: you live in Lisbon."
        second = app.invoke({"user": "alice", "prompt": "",
                             "messages": [HumanMessage(content="Where do I live?")]})
        assert "I moved to Lisbon in March" in second["prompt"]
        assert second["messages"][-1].content == "You live in Lisbon."
        texts = sorted(m.text for m in store.store.list("alice", limit=10))
        assert texts == ["I moved to Lisbon in March", "Where do I live?"]
        assert store.store.list("bob").memories == []
    finally:
        store.close()
