"""LangChain: ltm's VectorStore and retriever pass langchain-tests' standard suites unmodified
(sync and async), on a real SQLite store embedding with the suites' own fake embeddings."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import postgres_support
import pytest
import store_locations
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import (
    RetrieversIntegrationTests,
    VectorStoreIntegrationTests,
)

import ltm
from ltm.integrations.langchain import LangChainEmbedder, LtmRetriever, LtmVectorStore

postgres_url = postgres_support.postgres_url  # fixtures: a fresh PostgreSQL schema per test
new_location = store_locations.new_location


class TestLtmVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, tmp_path: Path) -> Iterator[VectorStore]:  # type: ignore[override]
        store = ltm.open(tmp_path / "store", embedder=LangChainEmbedder(self.get_embeddings()))
        try:
            yield LtmVectorStore(store, user="alice")
        finally:
            store.close()


@pytest.mark.postgres
class TestLtmVectorStorePostgres(VectorStoreIntegrationTests):
    """The same suite with the store in PostgreSQL (a fresh schema per test)."""

    @pytest.fixture()
    def vectorstore(self, new_location: Any) -> Iterator[VectorStore]:  # type: ignore[override]
        store = ltm.open(new_location("postgres"),
                         embedder=LangChainEmbedder(self.get_embeddings()))
        try:
            yield LtmVectorStore(store, user="alice")
        finally:
            store.close()


_RETRIEVER_DIR = tempfile.TemporaryDirectory(prefix="ltm-retriever-")


def _retriever_store() -> ltm.MemoryStore:
    store = ltm.open(Path(_RETRIEVER_DIR.name) / "store", embedder="hash")
    if not store.list("alice", limit=1):
        store.add_conversation(
            [{"role": "alice", "content": "I moved to Lisbon in March"},
             {"role": "assistant", "content": "How do you like Lisbon?"},
             {"role": "alice", "content": "The light on the river is lovely"},
             {"role": "alice", "content": "My cat Miso is orange"},
             {"role": "alice", "content": "I work as a nurse at the city hospital"}],
            user="alice", session="s1")
    return store


_STORE: list[ltm.MemoryStore] = []


@pytest.fixture(scope="module", autouse=True)
def _close_retriever_store() -> Iterator[None]:
    yield
    for store in _STORE:
        store.close()
    _STORE.clear()


class TestLtmRetriever(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[LtmRetriever]:
        return LtmRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        if not _STORE:
            _STORE.append(_retriever_store())
        return {"store": _STORE[0], "user": "alice", "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "where does alice live?"


def test_documents_round_trip_with_ltm_fields(tmp_path: Path) -> None:
    store = ltm.open(tmp_path / "s", embedder=LangChainEmbedder(DeterministicFakeEmbedding(
        size=16)))
    try:
        vs = LtmVectorStore(store, user="bob", session="docs")
        ids = vs.add_texts(["Paris is in France", "Lisbon is in Portugal"],
                           [{"topic": "fr"}, {"topic": "pt"}], ids=["a", "b"])
        assert ids == ["a", "b"]
        # the documents are ordinary memories of bob: listed, isolated from other users
        assert {m.text for m in store.list("bob")} == {"Paris is in France",
                                                      "Lisbon is in Portugal"}
        assert LtmVectorStore(store, user="carol").similarity_search("Lisbon") == []
        assert vs.similarity_search("Portugal", k=5, filter={"topic": "fr"}) == [
            Document(id="a", page_content="Paris is in France", metadata={"topic": "fr"})]
        scored = vs.similarity_search_with_relevance_scores("Lisbon Portugal", k=1)
        assert scored[0][0].id == "b" and 0.0 <= scored[0][1] <= 1.0
        docs = LtmRetriever(store=store, user="bob", k=1).invoke("Lisbon Portugal")
        assert docs[0].id == "b" and docs[0].metadata["ltm"]["session"] == "docs"
        adocs = asyncio.run(LtmRetriever(store=store, user="bob").ainvoke("Paris"))
        assert adocs[0].id == "a"
        vs.delete()
        assert len(store.list("bob")) == 0
    finally:
        store.close()


def test_many_ids_upsert_and_delete(tmp_path: Path) -> None:
    store = ltm.open(tmp_path / "s", embedder="hash")
    try:
        vs = LtmVectorStore(store, user="bob")
        ids = [f"doc-{i}" for i in range(40)]
        vs.add_texts([f"first text {i}" for i in range(40)], ids=ids)
        vs.add_texts([f"second text {i}" for i in range(40)], ids=ids)  # replaces all 40
        docs = vs.get_by_ids(ids)
        assert sorted(d.page_content for d in docs) == sorted(f"second text {i}"
                                                              for i in range(40))
        assert len(store.list("bob", limit=1000)) == 40
        vs.delete(ids[:30])
        assert sorted(d.id for d in vs.get_by_ids(ids)) == sorted(ids[30:])
    finally:
        store.close()
