"""QA of the LangChain VectorStore as a new user meets it: documents read from one user's store
can be added to another's (the ids a store hands out are ULIDs, and ULIDs are unique across the
whole ltm store), a document memory that ltm itself wrote is reachable by the id search gives
it, and k=0 asks for nothing rather than raising (as LangChain's InMemoryVectorStore)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

import ltm
from ltm.integrations.langchain import LangChainEmbedder, LtmRetriever, LtmVectorStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ltm.MemoryStore]:
    mem = ltm.open(tmp_path / "s", embedder=LangChainEmbedder(DeterministicFakeEmbedding(
        size=16)))
    try:
        yield mem
    finally:
        mem.close()


def test_documents_copied_to_another_user(store: ltm.MemoryStore) -> None:
    alice, bob = LtmVectorStore(store, user="alice"), LtmVectorStore(store, user="bob")
    ids = alice.add_texts(["Alice moved to Lisbon", "The cat is orange"])
    docs = alice.get_by_ids(ids)
    assert bob.add_documents(docs) == [d.id for d in docs]
    assert sorted(d.page_content for d in bob.get_by_ids(ids)) == [
        "Alice moved to Lisbon", "The cat is orange"]
    bob.delete([ids[0]])  # bob's copy goes; alice's stays
    assert [d.id for d in bob.get_by_ids(ids)] == [ids[1]]
    assert sorted(d.id for d in alice.get_by_ids(ids)) == sorted(ids)


def test_document_id_of_another_memory(store: ltm.MemoryStore) -> None:
    episode = store.add("we talked about tea", user="alice")
    vs = LtmVectorStore(store, user="alice")
    assert vs.add_documents([Document(id=episode.id, page_content="a doc")]) == [episode.id]
    assert [d.page_content for d in vs.get_by_ids([episode.id])] == ["a doc"]
    assert store.get(episode.id, user="alice").text == "we talked about tea"


def test_documents_written_by_ltm_are_found_by_their_id(store: ltm.MemoryStore) -> None:
    mem = store.add("Lisbon is in Portugal", user="alice", kind="document")
    vs = LtmVectorStore(store, user="alice")
    found = vs.similarity_search("Lisbon", k=1)
    assert [d.id for d in found] == [mem.id]
    assert [d.page_content for d in vs.get_by_ids([mem.id])] == ["Lisbon is in Portugal"]
    vs.add_documents([Document(id=mem.id, page_content="Lisbon is the capital")])
    assert [m.text for m in store.list("alice")] == ["Lisbon is the capital"]
    vs.delete([mem.id])
    assert store.list("alice").memories == []


def test_k_zero_asks_for_nothing(store: ltm.MemoryStore) -> None:
    vs = LtmVectorStore(store, user="alice")
    vs.add_texts(["Alice moved to Lisbon"])
    assert vs.similarity_search("Lisbon", k=0) == []
    assert vs.similarity_search_with_score("Lisbon", k=0) == []
    assert vs.similarity_search_with_relevance_scores("Lisbon", k=0) == []
    assert asyncio.run(vs.asimilarity_search("Lisbon", k=0)) == []
    assert LtmRetriever(store=store, user="alice", k=0).invoke("Lisbon") == []
    assert asyncio.run(LtmRetriever(store=store, user="alice").ainvoke("Lisbon", k=0)) == []
    with pytest.raises(ltm.InvalidInput):
        vs.similarity_search("Lisbon", k=-1)


def test_parallel_upserts_of_one_id_leave_one_document(store: ltm.MemoryStore) -> None:
    import threading

    vs = LtmVectorStore(store, user="alice")
    for round_ in range(6):
        doc_id = f"doc-{round_}"
        barrier = threading.Barrier(6)

        def write(i: int, doc_id: str = doc_id, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            vs.add_texts([f"version {i} of the note"], ids=[doc_id])

        threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(vs.get_by_ids([doc_id])) == 1, round_
    assert len(store.list("alice", limit=1000)) == 6


def test_retriever_takes_k_from_search_kwargs(store: ltm.MemoryStore) -> None:
    """As LangChain's VectorStoreRetriever: search_kwargs={"k": n} asks for n documents (it
    was silently replaced by the retriever's default k=4)."""
    for i in range(8):
        store.add(f"note {i} about tea", user="alice")
    assert len(LtmRetriever(store=store, user="alice", search_kwargs={"k": 6}).invoke("tea")) == 6
    assert len(asyncio.run(LtmRetriever(store=store, user="alice", search_kwargs={"k": 6})
                           .ainvoke("tea"))) == 6
    # an explicit k, or k at invoke time, still wins
    assert len(LtmRetriever(store=store, user="alice", k=2).invoke("tea")) == 2
    assert len(LtmRetriever(store=store, user="alice", search_kwargs={"k": 6})
               .invoke("tea", k=3)) == 3


def test_a_refused_document_writes_nothing_of_the_call(store: ltm.MemoryStore) -> None:
    vs = LtmVectorStore(store, user="alice")
    vs.add_texts(["the first version"], ids=["a"])
    bad = [Document(id="a", page_content="the second version"),
           Document(id="b", page_content="fine"),
           Document(id="c\x00", page_content="an id no filter can find")]
    with pytest.raises(ltm.InvalidInput):
        vs.add_documents(bad)
    with pytest.raises(ltm.InvalidInput):
        vs.add_documents(bad[:2] + [Document(id="d", page_content="x",
                                             metadata={"big": "y" * 70_000})])
    assert [d.page_content for d in vs.get_by_ids(["a", "b", "c", "d"])] == ["the first version"]


class _ModelEmbeddings(DeterministicFakeEmbedding):
    """A LangChain Embeddings that names its model, as OpenAIEmbeddings(model=...) does."""

    model: str = "small"


def test_a_store_refuses_another_model_of_the_same_embeddings_class(tmp_path: Path) -> None:
    """Two models of one provider class with one dimension give different vectors; the store
    must tell them apart (it recorded 'langchain:<class>:<dim>' only, so the second model's
    vectors were mixed into the first's without a word)."""
    first = LangChainEmbedder(_ModelEmbeddings(size=16, model="small"))
    ltm.open(tmp_path / "s", embedder=first).close()
    ltm.open(tmp_path / "s", embedder=LangChainEmbedder(_ModelEmbeddings(size=16, model="small"))
             ).close()
    with pytest.raises(ltm.EmbedderMismatch):
        ltm.open(tmp_path / "s",
                 embedder=LangChainEmbedder(_ModelEmbeddings(size=16, model="large")))
    # embeddings that name no model keep the name stores already recorded
    assert LangChainEmbedder(DeterministicFakeEmbedding(size=16)).name == \
        "langchain:DeterministicFakeEmbedding:16"


def test_a_document_id_with_a_nul_is_refused_not_lost(store: ltm.MemoryStore) -> None:
    vs = LtmVectorStore(store, user="alice")
    for _ in range(2):
        with pytest.raises(ltm.InvalidInput):
            vs.add_texts(["some text"], ids=["doc\x00"])
    assert store.list("alice").memories == []
    assert vs.get_by_ids(["doc\x00"]) == []
