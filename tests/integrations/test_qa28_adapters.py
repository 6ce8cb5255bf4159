"""Bad input to the adapters that escaped as raw Python errors (session-13 sweep, helper 64):
now ltm's InvalidInput naming the argument, and nothing written."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import ltm
from ltm.integrations.langchain import LtmVectorStore
from ltm.integrations.langgraph import LtmStore
from ltm.integrations.openai_agents import LtmSession


def test_langgraph_put_of_a_value_index_or_ttl_it_cannot_take(tmp_path: Path) -> None:
    """A list as the value was TypeError ('cannot convert dictionary update sequence'), an
    index of 5 TypeError, a ttl of 1e18 minutes OverflowError; NaN or infinity as ttl
    InvalidInput about the metadata, not the ttl."""
    store = LtmStore.open(tmp_path / "s", embedder="hash")
    try:
        store.put(("alice", "m"), "kept", {"a": 1})
        cases: list[tuple[str, dict[str, Any]]] = [
            ("value", {"value": [1, 2]}), ("value", {"value": "text"}),
            ("index", {"value": {"a": 1}, "index": 5}),
            ("index", {"value": {"a": 1}, "index": [5]}),
            ("ttl", {"value": {"a": 1}, "ttl": 1e18}),
            ("ttl", {"value": {"a": 1}, "ttl": float("nan")}),
            ("ttl", {"value": {"a": 1}, "ttl": float("inf")}),
        ]
        for field, args in cases:
            with pytest.raises(ltm.InvalidInput) as got:
                store.put(("alice", "m"), "k", **args)
            assert got.value.field == field, (args, got.value)
        assert [i.key for i in store.search(("alice",))] == ["kept"]
        store.put(("alice", "m"), "k", {"a": 2}, index=["a"], ttl=5)  # what is fine still is
        item = store.get(("alice", "m"), "k")
        assert item is not None and item.value == {"a": 2}
    finally:
        store.close()


def test_langchain_search_by_a_vector_that_is_no_list_of_numbers(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        vs = LtmVectorStore(mem, user="alice")
        vs.add_texts(["green tea"])
        for bad in ("abc", None, [[1.0, 2.0], [3.0]], {"a": 1}):
            with pytest.raises(ltm.InvalidInput, match="the embedding must"):
                vs.similarity_search_by_vector(bad)  # type: ignore[arg-type]


def test_agents_item_that_is_not_json(tmp_path: Path) -> None:
    """An item holding bytes raised TypeError from json.dumps of its text; now the metadata
    check refuses it as it refuses a set (InvalidInput), and nothing of the call is written."""

    async def run() -> None:
        async with await ltm.open_async(tmp_path / "s", embedder="hash") as mem:
            session = LtmSession("s1", mem, user="alice")
            await session.add_items([{"role": "user", "content": "hello"}])
            for item in ({"role": "user", "content": b"abc"}, {"content": {1, 2}}):
                with pytest.raises(ltm.InvalidInput, match="JSON"):
                    await session.add_items([{"role": "user", "content": "fine"}, item])
            assert await session.get_items() == [{"role": "user", "content": "hello"}]

    asyncio.run(run())


def test_langchain_embedder_of_embeddings_that_fail(tmp_path: Path) -> None:
    """``LangChainEmbedder(5)`` raised AttributeError, and Embeddings whose dimension probe
    raised escaped with their own error: now InvalidInput and EmbedderError."""
    from langchain_core.embeddings import Embeddings

    from ltm.errors import EmbedderError
    from ltm.integrations.langchain import LangChainEmbedder

    class Down(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            raise ConnectionError("service down")

        def embed_query(self, text: str) -> list[float]:
            raise ConnectionError("service down")

    with pytest.raises(ltm.InvalidInput, match="LangChain Embeddings"):
        LangChainEmbedder(5)  # type: ignore[arg-type]
    with pytest.raises(EmbedderError, match="ConnectionError: service down"):
        LangChainEmbedder(Down())
