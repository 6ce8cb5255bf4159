"""LangChain VectorStore calls a user meets past similarity_search: search by vector and
maximal marginal relevance (sync, async and as_retriever(search_type="mmr")), compared with
LangChain's own InMemoryVectorStore on the same documents and embeddings (they raised
NotImplementedError)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import postgres_support
import pytest
import store_locations
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_core.vectorstores.utils import maximal_marginal_relevance

import ltm
from ltm.errors import DimensionMismatch
from ltm.integrations.langchain import LangChainEmbedder, LtmRetriever, LtmVectorStore

np = pytest.importorskip("numpy")

postgres_url = postgres_support.postgres_url  # fixtures: a fresh PostgreSQL schema per test
new_location = store_locations.new_location
backend_kind = store_locations.backend_kind
location = store_locations.location

# a table of vectors (3 dims): two near-duplicate teas, a black tea, a river walk
_TABLE = {"green tea": [1.0, 0.1, 0.0], "green tea again": [1.0, 0.12, 0.0],
          "black tea": [0.7, 0.0, 0.7], "a walk by the river": [0.0, 1.0, 0.2],
          "tea": [1.0, 0.0, 0.0]}


class _TableEmbeddings(Embeddings):
    """Fixed vectors for known texts, so the expected picks can be reasoned about."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [_TABLE.get(t, [0.3, 0.3, 0.3]) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return _TABLE.get(text, [0.3, 0.3, 0.3])


_DOCS = [Document(id=t.replace(" ", "-"), page_content=t, metadata={"n": i % 2})
         for i, t in enumerate(["green tea", "green tea again", "black tea",
                                "a walk by the river"])]


@pytest.fixture
def pair(location: Any) -> Iterator[tuple[LtmVectorStore, InMemoryVectorStore]]:
    """The same documents in ltm (SQLite, then PostgreSQL) and in InMemoryVectorStore."""
    emb = _TableEmbeddings()
    store = ltm.open(location, embedder=LangChainEmbedder(emb))
    ours, ref = LtmVectorStore(store, user="alice"), InMemoryVectorStore(emb)
    ours.add_documents(list(_DOCS))
    ref.add_documents(list(_DOCS))
    try:
        yield ours, ref
    finally:
        store.close()


def _ids(docs: list[Document]) -> list[str | None]:
    return [d.id for d in docs]


def test_search_by_vector_as_in_memory_vector_store(
        pair: tuple[LtmVectorStore, InMemoryVectorStore]) -> None:
    ours, ref = pair
    for vec in ([1.0, 0.0, 0.0], [0.1, 1.0, 0.0], [0.5, 0.5, 0.5]):
        for k in (1, 3, 10):
            assert _ids(ours.similarity_search_by_vector(vec, k=k)) == \
                _ids(ref.similarity_search_by_vector(vec, k=k))
        got = ours.similarity_search_with_score_by_vector(vec, k=4)
        want = ref.similarity_search_with_score_by_vector(vec, k=4)
        assert _ids([d for d, _ in got]) == _ids([d for d, _ in want])
        assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-5)
        assert asyncio.run(ours.asimilarity_search_by_vector(vec, k=2)) == \
            ours.similarity_search_by_vector(vec, k=2)
    # filter: ltm's metadata filter (InMemoryVectorStore takes a function of the document)
    got_f = ours.similarity_search_by_vector([1.0, 0.0, 0.0], k=4, filter={"n": 1})
    want_f = ref.similarity_search_by_vector([1.0, 0.0, 0.0], k=4,
                                             filter=lambda d: d.metadata["n"] == 1)
    assert _ids(got_f) == _ids(want_f) == ["green-tea-again", "a-walk-by-the-river"]
    assert ours.similarity_search_by_vector([1.0, 0.0, 0.0], k=0) == []
    assert [d.page_content for d in ours.similarity_search_by_vector([1.0, 0, 0], k=1)] == [
        "green tea"]
    with pytest.raises(ltm.InvalidInput):
        ours.similarity_search_by_vector([float("nan"), 0.0, 0.0])
    with pytest.raises(DimensionMismatch):
        ours.similarity_search_by_vector([1.0, 0.0])


@pytest.mark.parametrize("lambda_mult", [0.0, 0.25, 0.5, 1.0])
def test_mmr_as_in_memory_vector_store(pair: tuple[LtmVectorStore, InMemoryVectorStore],
                                       lambda_mult: float) -> None:
    ours, ref = pair
    for k, fetch_k in ((2, 20), (3, 4), (4, 3), (1, 1)):
        want = _ids(ref.max_marginal_relevance_search("tea", k=k, fetch_k=fetch_k,
                                                      lambda_mult=lambda_mult))
        assert _ids(ours.max_marginal_relevance_search_by_vector(
            [1.0, 0.0, 0.0], k=k, fetch_k=fetch_k, lambda_mult=lambda_mult)) == want
        if fetch_k >= len(_DOCS):  # the same candidates, whatever ranks them
            assert _ids(ours.max_marginal_relevance_search(
                "tea", k=k, fetch_k=fetch_k, lambda_mult=lambda_mult)) == want
            assert _ids(asyncio.run(ours.amax_marginal_relevance_search(
                "tea", k=k, fetch_k=fetch_k, lambda_mult=lambda_mult))) == want
        assert _ids(asyncio.run(ours.amax_marginal_relevance_search_by_vector(
            [1.0, 0.0, 0.0], k=k, fetch_k=fetch_k, lambda_mult=lambda_mult))) == want


def test_mmr_skips_the_near_duplicate(pair: tuple[LtmVectorStore, InMemoryVectorStore]) -> None:
    ours, _ = pair
    assert _ids(ours.similarity_search_by_vector([1.0, 0.0, 0.0], k=2)) == [
        "green-tea", "green-tea-again"]
    picked = _ids(ours.max_marginal_relevance_search("tea", k=2, lambda_mult=0.5))
    assert picked[0] == "green-tea" and "green-tea-again" not in picked
    assert ours.max_marginal_relevance_search("tea", k=0) == []
    # the filter applies to the candidates
    assert _ids(ours.max_marginal_relevance_search("tea", k=4, filter={"n": 0})) == [
        "green-tea", "black-tea"]
    assert _ids(ours.max_marginal_relevance_search_by_vector([1.0, 0.0, 0.0], k=4,
                                                             filter={"n": 0})) == [
        "green-tea", "black-tea"]


def test_as_retriever_mmr(pair: tuple[LtmVectorStore, InMemoryVectorStore]) -> None:
    ours, ref = pair
    for lambda_mult in (0.3, 0.9):
        kwargs = {"k": 2, "fetch_k": 10, "lambda_mult": lambda_mult}
        got = ours.as_retriever(search_type="mmr", search_kwargs=kwargs)
        want = _ids(ref.as_retriever(search_type="mmr", search_kwargs=kwargs).invoke("tea"))
        assert _ids(got.invoke("tea")) == want
        assert _ids(asyncio.run(got.ainvoke("tea"))) == want
        assert _ids(ours.search("tea", "mmr", **kwargs)) == want


def test_mmr_matches_langchains_function() -> None:
    from ltm.integrations.langchain import mmr

    rng = np.random.default_rng(3)
    for _ in range(30):
        vecs = list(rng.normal(size=(12, 5)))
        query = rng.normal(size=5)
        for lam in (0.0, 0.3, 0.7, 1.0):
            assert mmr(vecs, query, 6, lam) == maximal_marginal_relevance(
                query, vecs, lambda_mult=lam, k=6)


def test_by_vector_on_a_store_of_hashing_vectors(tmp_path: Path) -> None:
    """A larger store: the nearest by vector are those InMemoryVectorStore finds."""
    emb = DeterministicFakeEmbedding(size=16)
    with ltm.open(tmp_path / "s", embedder=LangChainEmbedder(emb)) as store:
        ours, ref = LtmVectorStore(store, user="alice"), InMemoryVectorStore(emb)
        texts = [f"note number {i}" for i in range(60)]
        ids = [f"d{i}" for i in range(60)]
        ours.add_texts(texts, ids=ids)
        ref.add_texts(texts, ids=ids)
        LtmVectorStore(store, user="bob").add_texts(texts)  # another user's are not found
        vec = emb.embed_query("something else")
        assert _ids(ours.similarity_search_by_vector(vec, k=7)) == \
            _ids(ref.similarity_search_by_vector(vec, k=7))
        assert _ids(ours.max_marginal_relevance_search_by_vector(vec, k=5, fetch_k=15)) == \
            _ids(ref.max_marginal_relevance_search_by_vector(vec, k=5, fetch_k=15))


@pytest.mark.parametrize("content", ["", "   ", "\n\t", "\u200b", "a\x00b"])
def test_a_document_ltm_text_cannot_hold_is_kept(tmp_path: Path, content: str) -> None:
    """InMemoryVectorStore keeps an empty (or blank) page_content; ltm's text must show
    something, so the memory's text is a placeholder (or the cleaned text) and the document
    comes back with its page_content as given (it was InvalidInput)."""
    emb = DeterministicFakeEmbedding(size=8)
    with ltm.open(tmp_path / "s", embedder=LangChainEmbedder(emb)) as store:
        ours, ref = LtmVectorStore(store, user="alice"), InMemoryVectorStore(emb)
        docs = [Document(id="e", page_content=content, metadata={"src": "x"}),
                Document(id="f", page_content="a full one")]
        assert ours.add_documents(docs) == ref.add_documents(docs) == ["e", "f"]
        for vs in (ours, ref):
            got = vs.get_by_ids(["e"])
            assert [(d.page_content, d.metadata) for d in got] == [(content, {"src": "x"})]
        assert len(ours.similarity_search("something", k=10)) == 2
        found = {d.id: d.page_content for d in ours.similarity_search_by_vector(
            emb.embed_query("x"), k=10)}
        assert found == {"e": content, "f": "a full one"}
        # replaced by a full document, the placeholder goes
        ours.add_documents([Document(id="e", page_content="now full")])
        assert [d.page_content for d in ours.get_by_ids(["e"])] == ["now full"]
        assert "langchain_page_content" not in store.list("alice").memories[0].metadata


def test_k_above_ltms_limit_gives_what_the_store_holds(tmp_path: Path) -> None:
    """InMemoryVectorStore takes any k; ltm's search gives at most 1,000, so a larger k asks
    for 1,000 (it was InvalidInput)."""
    emb = DeterministicFakeEmbedding(size=8)
    with ltm.open(tmp_path / "s", embedder=LangChainEmbedder(emb)) as store:
        ours, ref = LtmVectorStore(store, user="alice"), InMemoryVectorStore(emb)
        texts = [f"note {i}" for i in range(30)]
        ours.add_texts(texts)
        ref.add_texts(texts)
        for k in (1001, 5000):
            assert len(ours.similarity_search("note", k=k)) == len(
                ref.similarity_search("note", k=k)) == 30
            assert len(ours.similarity_search_with_relevance_scores("note", k=k)) == 30
            assert len(asyncio.run(ours.asimilarity_search("note", k=k))) == 30
            assert len(ours.similarity_search_by_vector(emb.embed_query("n"), k=k)) == 30
            assert len(ours.max_marginal_relevance_search("note", k=k, fetch_k=k)) == 30
            assert len(ours.as_retriever(search_kwargs={"k": k}).invoke("note")) == 30
            assert len(LtmRetriever(store=store, user="alice", k=k).invoke("note")) == 30
