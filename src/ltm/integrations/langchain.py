"""LangChain over ltm (extra ``ltm[langchain]``): a ``VectorStore``, a ``BaseRetriever`` and an
embedder adapter.

``LtmVectorStore`` keeps each ``Document`` as one memory of one ltm user (kind ``document``):
the page content is the memory's text (one the text cannot hold, as an empty or blank page or
one with NUL, is kept whole in the metadata under ``langchain_page_content`` and the text is
its cleaned form, or ``(empty)``), the document's metadata its metadata, and the
document's id (any string; a new ULID when it has none) is kept in the metadata under
``langchain_id``, so adding a document again under the same id replaces it (the memory has an
id of its own, so one user's documents can be added to another user's store as they are; a
document memory written by ltm itself goes by its memory id). Search is ltm's hybrid retrieval
(full text + vectors), best first; ``k=0`` gives nothing, a ``k`` above ltm's 1,000 gives at
most 1,000; ``filter`` is an ltm metadata filter
(key -> scalar). Search by vector (``similarity_search_by_vector``, ``..._with_score_by_vector``)
is the vector search alone, cosine similarity as in LangChain's ``InMemoryVectorStore``;
maximal marginal relevance (``max_marginal_relevance_search[_by_vector]``,
``as_retriever(search_type="mmr")``) picks ``k`` of ``fetch_k`` candidates by their vectors, the
candidates of a query being those of ``similarity_search(query, k=fetch_k)``.
``LtmRetriever`` returns a user's memories of any kind for a query.

The async forms use ``ltm.AsyncMemoryStore`` over the same store.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from . import findable, index_key, require, searchable_text

require("langchain_core", "langchain")

from langchain_core.callbacks import (  # noqa: E402
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import Embeddings  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402
from langchain_core.vectorstores import VectorStore  # noqa: E402
from pydantic import ConfigDict  # noqa: E402

from .. import ids as _ids  # noqa: E402
from ..aio import AsyncMemoryStore  # noqa: E402
from ..backends.base import Filters, check_metadata_filter  # noqa: E402
from ..embed import embedded, normalize_rows  # noqa: E402
from ..errors import EmbedderError, InvalidInput  # noqa: E402
from ..model import Hit, Memory  # noqa: E402
from ..store import MemoryStore  # noqa: E402
from ..store import open as open_store  # noqa: E402
from ..timeutil import now_us  # noqa: E402
from ..validate import MAX_K, is_encodable  # noqa: E402
from ..validate import metadata as check_metadata  # noqa: E402
from ..validate import user as check_user  # noqa: E402

#: The metadata key that holds a document's LangChain id.
ID_KEY = "langchain_id"
#: The metadata key that keeps a page_content the memory's text cannot hold as it is (empty,
#: blank, holding NUL, past ``MAX_TEXT_CHARS``); the memory's text is then its searchable form.
CONTENT_KEY = "langchain_page_content"
#: The memory's text for a document whose page_content shows nothing.
EMPTY_TEXT = "(empty)"
KIND = "document"


#: The attributes that name an Embeddings' model, in the classes LangChain ships.
_MODEL_ATTRS = ("model", "model_name", "model_id", "deployment")


class LangChainEmbedder:
    """A LangChain ``Embeddings`` as an ltm embedder (rows normalised to unit length), named
    ``langchain:<class>[:<model>]:<dim>`` for the store to record and check."""

    in_process = False

    def __init__(self, embeddings: Embeddings, name: str | None = None) -> None:
        if not all(callable(getattr(embeddings, m, None))
                   for m in ("embed_query", "embed_documents")):
            raise InvalidInput(f"a LangChain Embeddings (with embed_query and embed_documents) "
                               f"is needed, got {type(embeddings).__name__}", field="embeddings")
        self.embeddings = embeddings
        try:  # (its own error, or an answer without a length, was raw)
            self.dim = len(embeddings.embed_query("dimension probe"))
        except Exception as exc:
            raise EmbedderError(f"the LangChain embeddings {type(embeddings).__name__} failed "
                                f"to embed a probe: {type(exc).__name__}: {exc}",
                                embedder=type(embeddings).__name__) from exc
        # the model is part of the name where the class names one (OpenAIEmbeddings(model=
        # ...), HuggingFaceEmbeddings(model_name=...)): two models of one class and dimension
        # give different vectors, and the store refuses an embedder of another name
        model = next((v for v in (getattr(embeddings, a, None) for a in _MODEL_ATTRS)
                      if isinstance(v, str) and v), None)
        self.name = name or ":".join(["langchain", type(embeddings).__name__,
                                      *([model] if model else []), str(self.dim)])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = np.asarray(self.embeddings.embed_documents(list(texts)), dtype=np.float32)
        return normalize_rows(vecs.reshape(len(texts), self.dim))


def _doc_id(mem: Memory) -> str:
    """A memory's document id: its LangChain id, else (written by ltm itself) its own id."""
    doc_id = mem.metadata.get(ID_KEY)
    return doc_id if isinstance(doc_id, str) else mem.id


def _live(mem: Memory, now: datetime) -> bool:
    return not mem.expired(now)


def _document(mem: Memory) -> Document:
    meta = dict(mem.metadata)
    meta.pop(ID_KEY, None)
    content = meta.pop(CONTENT_KEY, mem.text)
    return Document(page_content=content if isinstance(content, str) else mem.text,
                    metadata=meta, id=_doc_id(mem))


def _memory_text(content: object) -> str:
    """The memory's text for a page_content: itself where ltm's text can hold it, else
    cleaned (NUL, past ``MAX_TEXT_CHARS``), or ``EMPTY_TEXT`` for one that shows nothing."""
    if not isinstance(content, str):
        raise InvalidInput(f"page_content must be a string, not {type(content).__name__}",
                           field="page_content")
    if not is_encodable(content):
        raise InvalidInput("page_content is not valid Unicode (lone surrogate)",
                           field="page_content")
    return searchable_text(content) or EMPTY_TEXT


def _at_most_max_k(k: object) -> object:
    """``k`` where ltm's search can give that many, else ``MAX_K`` (a k beyond it asks for
    everything it can give; other values go on to search's own checks)."""
    return MAX_K if isinstance(k, int) and not isinstance(k, bool) and k > MAX_K else k


class LtmVectorStore(VectorStore):
    """A LangChain ``VectorStore`` over one user's documents in an ltm store."""

    def __init__(self, store: MemoryStore, *, user: str, kind: str = KIND,
                 session: str | None = None) -> None:
        self.store = store
        self.astore = AsyncMemoryStore(store)
        self.user = user
        self.kind = kind
        self.session = session
        # an upsert looks its ids up, then writes: two threads adding the same new id would
        # each add a document, so the writes of one vector store run one at a time
        self._writing = threading.Lock()
        index_key(store, ID_KEY)  # a lookup by document id reads its rows, not the user's

    @property
    def embeddings(self) -> Embeddings | None:
        emb = self.store.embedder
        return emb.embeddings if isinstance(emb, LangChainEmbedder) else None

    # -- writing ----------------------------------------------------------------------------
    def _existing(self, doc_ids: Iterable[str]) -> dict[str, list[str]]:
        """LangChain id -> the ids of the memories that hold it (a document memory written
        without a LangChain id, by ltm itself, goes by its memory id, as ``_document`` says)."""
        out: dict[str, list[str]] = {}
        wanted = [i for i in dict.fromkeys(doc_ids) if findable(i)]
        if len(wanted) > 16:  # many ids: one walk over the user's documents
            keep = set(wanted)
            for mem in self._documents():
                doc_id = _doc_id(mem)
                if doc_id in keep:
                    out.setdefault(doc_id, []).append(mem.id)
            return out
        unnamed = [i for i in wanted if isinstance(i, str) and _ids.is_id(i)]
        for mem in self.store.backend.get_many(unnamed, self.user).values():
            if mem.kind == self.kind and _doc_id(mem) == mem.id:
                out[mem.id] = [mem.id]
        for doc_id in wanted:
            held = out.setdefault(doc_id, [])
            cursor = None
            while True:
                page = self.store.list(self.user, kinds=[self.kind], limit=1000, cursor=cursor,
                                       metadata={ID_KEY: doc_id})
                held += [m.id for m in page if m.id not in held]
                cursor = page.next_cursor
                if cursor is None:
                    break
            if not held:
                del out[doc_id]
        return out

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Add documents, or replace those whose id is already stored; returns their ids."""
        with self._writing:
            return self._add_documents(documents, **kwargs)

    def _add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        given = kwargs.get("ids")
        if given is not None and len(given) != len(documents):
            raise ValueError(f"{len(given)} ids for {len(documents)} documents")
        named = [(given[i] if given is not None else None) or d.id
                 for i, d in enumerate(documents)]
        ids = [n or _ids.new_id() for n in named]
        latest = {doc_id: doc for doc_id, doc in zip(ids, documents, strict=True)}
        # every document is checked before the first write: a refused one writes nothing
        settings = self.store.settings
        metas: dict[str, dict[str, Any]] = {}
        texts: dict[str, str] = {}
        for n, (doc_id, doc) in enumerate(latest.items()):
            try:
                if not findable(doc_id):
                    # such an id could be written but never found again by its metadata filter
                    raise InvalidInput("the id must be a string without NUL characters or "
                                       "lone surrogates", field="id")
                texts[doc_id] = text = _memory_text(doc.page_content)
                # a page_content the memory's text cannot hold as it is, kept whole
                kept = {} if text == doc.page_content else {CONTENT_KEY: doc.page_content}
                metas[doc_id] = check_metadata({**doc.metadata, **kept, ID_KEY: doc_id},
                                               max_bytes=settings.max_metadata_bytes,
                                               max_depth=settings.max_metadata_depth)
            except InvalidInput as exc:
                raise InvalidInput(f"document {n} ({doc_id!r}): {exc}", field=exc.field,
                                   item=n) from None
        existing = self._existing(n for n in named if n)  # new ids need no look-up
        new: list[dict[str, Any]] = []
        for doc_id, doc in latest.items():
            meta = metas[doc_id]
            if doc_id in existing:
                first, *rest = existing[doc_id]
                for extra in rest:
                    self.store.forget(extra, user=self.user)
                self.store.update(first, user=self.user, text=texts[doc_id], metadata=meta)
            else:
                # the memory gets an id of its own: a ULID given as the document's id may be
                # taken by another memory (another user's copy of the document, an episode),
                # and ltm's ids are unique across the store
                new.append({"text": texts[doc_id], "user": self.user, "kind": self.kind,
                            "metadata": meta, "session": self.session})
        if new:
            self.store.add_many(new)
        return ids

    async def aadd_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        return await asyncio.to_thread(self.add_documents, documents, **kwargs)

    def add_texts(self, texts: Iterable[str], metadatas: list[dict[str, Any]] | None = None,
                  *, ids: list[str] | None = None, **kwargs: Any) -> list[str]:
        texts = list(texts)
        metas = metadatas or [{} for _ in texts]
        if len(metas) != len(texts):
            raise ValueError(f"{len(metas)} metadatas for {len(texts)} texts")
        docs = [Document(page_content=t, metadata=m) for t, m in zip(texts, metas, strict=True)]
        return self.add_documents(docs, ids=ids, **kwargs)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Erase the documents with these ids (unknown ids are ignored); with no ids, every
        document of this user's kind."""
        with self._writing:
            if ids is None:
                found = self._all_ids()
            else:
                found = [m for ms in self._existing(ids).values() for m in ms]
            for memory_id in found:
                self.store.forget(memory_id, user=self.user)
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        return await asyncio.to_thread(self.delete, ids, **kwargs)

    def _all_ids(self) -> list[str]:
        return [m.id for m in self._documents()]

    def _documents(self) -> Iterator[Memory]:
        """Every document of this user, newest first."""
        cursor = None
        while True:
            page = self.store.list(self.user, kinds=[self.kind], limit=1000, cursor=cursor)
            yield from page
            cursor = page.next_cursor
            if cursor is None:
                return

    # -- reading ----------------------------------------------------------------------------
    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        found = self._existing(ids)
        mems = self.store.backend.get_many([m for ms in found.values() for m in ms], self.user)
        return [_document(m) for m in mems.values()]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return await asyncio.to_thread(self.get_by_ids, ids)

    def _search_args(self, k: int, filter: dict[str, Any] | None) -> dict[str, Any]:
        return {"user": self.user, "k": _at_most_max_k(k), "kinds": [self.kind],
                "metadata": filter}

    def similarity_search_with_score(self, query: str, k: int = 4,
                                     filter: dict[str, Any] | None = None,
                                     **kwargs: Any) -> list[tuple[Document, float]]:
        if k == 0:
            return []
        hits = self.store.search(query, **self._search_args(k, filter))
        return [(_document(h.memory), float(h.score)) for h in hits]

    async def asimilarity_search_with_score(self, query: str, k: int = 4,
                                            filter: dict[str, Any] | None = None,
                                            **kwargs: Any) -> list[tuple[Document, float]]:
        if k == 0:
            return []
        hits = await self.astore.search(query, **self._search_args(k, filter))
        return [(_document(h.memory), float(h.score)) for h in hits]

    def similarity_search(self, query: str, k: int = 4, filter: dict[str, Any] | None = None,
                          **kwargs: Any) -> list[Document]:
        return [d for d, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    async def asimilarity_search(self, query: str, k: int = 4,
                                 filter: dict[str, Any] | None = None,
                                 **kwargs: Any) -> list[Document]:
        pairs = await self.asimilarity_search_with_score(query, k, filter, **kwargs)
        return [d for d, _ in pairs]

    def _similarity_search_with_relevance_scores(self, query: str, k: int = 4,
                                                 **kwargs: Any) -> list[tuple[Document, float]]:
        if k == 0:
            return []
        hits = self.store.search(query, **self._search_args(k, kwargs.get("filter")))
        return [(_document(h.memory), _relevance(h)) for h in hits]

    async def _asimilarity_search_with_relevance_scores(
            self, query: str, k: int = 4, **kwargs: Any) -> list[tuple[Document, float]]:
        if k == 0:
            return []
        hits = await self.astore.search(query, **self._search_args(k, kwargs.get("filter")))
        return [(_document(h.memory), _relevance(h)) for h in hits]

    # -- by vector, maximal marginal relevance ----------------------------------------------
    def _nearest(self, embedding: Sequence[float] | np.ndarray, k: int,
                 filter: dict[str, Any] | None) -> list[tuple[Memory, float, np.ndarray]]:
        """The ``k`` documents whose vectors are nearest ``embedding`` (cosine, best first),
        with their similarity and unit vector (the vector search alone, as LangChain's
        ``InMemoryVectorStore``; no full text, no time)."""
        self.store.engine.check_open()
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise InvalidInput(f"k must be an integer >= 0, got {k!r}", field="k")
        try:
            vec = np.asarray(embedding, dtype=np.float32).reshape(-1)  # (dim,)
        except (TypeError, ValueError) as exc:  # a string, None, a ragged list: raw before
            raise InvalidInput(f"the embedding must be a list of numbers ({exc})",
                               field="embedding") from None
        if not np.isfinite(vec).all():
            raise InvalidInput("the embedding must hold finite numbers", field="embedding")
        norm = float(np.linalg.norm(vec))
        vec = vec / norm if norm > 0 else vec  # the stored vectors are unit length
        if k == 0:
            return []
        k = min(k, max(1, self.store.backend.scope_count(self.user)))  # no more than held
        flt = Filters(user=check_user(self.user), kinds=(self.kind,),
                      metadata=check_metadata_filter(filter), now=now_us())
        pairs = self.store.backend.dense_search(vec, flt, k)
        mems = self.store.backend.get_many([i for i, _ in pairs], self.user)
        vectors = self.store.backend.vectors([i for i in mems], self.user)
        now = datetime.now(UTC)
        return [(mems[i], score, vectors[i]) for i, score in pairs
                if i in mems and i in vectors and _live(mems[i], now)]

    def similarity_search_with_score_by_vector(
            self, embedding: list[float], k: int = 4, filter: dict[str, Any] | None = None,
            **kwargs: Any) -> list[tuple[Document, float]]:
        """The ``k`` documents nearest ``embedding`` with their cosine similarity."""
        return [(_document(m), score) for m, score, _ in self._nearest(embedding, k, filter)]

    async def asimilarity_search_with_score_by_vector(
            self, embedding: list[float], k: int = 4, filter: dict[str, Any] | None = None,
            **kwargs: Any) -> list[tuple[Document, float]]:
        return await asyncio.to_thread(self.similarity_search_with_score_by_vector,
                                       embedding, k, filter, **kwargs)

    def similarity_search_by_vector(self, embedding: list[float], k: int = 4,
                                    filter: dict[str, Any] | None = None,
                                    **kwargs: Any) -> list[Document]:
        return [d for d, _ in self.similarity_search_with_score_by_vector(embedding, k,
                                                                          filter)]

    async def asimilarity_search_by_vector(self, embedding: list[float], k: int = 4,
                                           filter: dict[str, Any] | None = None,
                                           **kwargs: Any) -> list[Document]:
        return await asyncio.to_thread(self.similarity_search_by_vector, embedding, k, filter)

    def max_marginal_relevance_search_by_vector(
            self, embedding: list[float], k: int = 4, fetch_k: int = 20,
            lambda_mult: float = 0.5, filter: dict[str, Any] | None = None,
            **kwargs: Any) -> list[Document]:
        """``k`` of the ``fetch_k`` documents nearest ``embedding``, picked one at a time by
        maximal marginal relevance: ``lambda_mult`` times the similarity to the query minus
        ``1 - lambda_mult`` times the highest similarity to one already picked."""
        cands = self._nearest(embedding, fetch_k if k > 0 else 0, filter)
        query = np.asarray(embedding, dtype=np.float32).reshape(-1)  # (dim,)
        picked = mmr([v for _, _, v in cands], query, k, lambda_mult)
        return [_document(cands[i][0]) for i in picked]

    async def amax_marginal_relevance_search_by_vector(
            self, embedding: list[float], k: int = 4, fetch_k: int = 20,
            lambda_mult: float = 0.5, filter: dict[str, Any] | None = None,
            **kwargs: Any) -> list[Document]:
        return await asyncio.to_thread(self.max_marginal_relevance_search_by_vector,
                                       embedding, k, fetch_k, lambda_mult, filter)

    def max_marginal_relevance_search(self, query: str, k: int = 4, fetch_k: int = 20,
                                      lambda_mult: float = 0.5,
                                      filter: dict[str, Any] | None = None,
                                      **kwargs: Any) -> list[Document]:
        """``k`` of the ``fetch_k`` best documents for ``query`` (ltm's hybrid search, as
        ``similarity_search(query, k=fetch_k)``), picked by maximal marginal relevance of
        their vectors to the query's (see ``max_marginal_relevance_search_by_vector``)."""
        if k == 0 or fetch_k == 0:
            return []
        hits = self.store.search(query, **self._search_args(fetch_k, filter))
        mems = [h.memory for h in hits]
        vectors = self.store.backend.vectors([m.id for m in mems], self.user)
        mems = [m for m in mems if m.id in vectors]
        qvec = embedded(self.store.embedder, [query])[0]  # (dim,), checked as search checks it
        picked = mmr([vectors[m.id] for m in mems], qvec, k, lambda_mult)
        return [_document(mems[i]) for i in picked]

    async def amax_marginal_relevance_search(self, query: str, k: int = 4, fetch_k: int = 20,
                                             lambda_mult: float = 0.5,
                                             filter: dict[str, Any] | None = None,
                                             **kwargs: Any) -> list[Document]:
        return await asyncio.to_thread(self.max_marginal_relevance_search, query, k, fetch_k,
                                       lambda_mult, filter)

    @classmethod
    def from_texts(cls, texts: list[str], embedding: Embeddings,
                   metadatas: list[dict[str, Any]] | None = None, *,
                   ids: list[str] | None = None, **kwargs: Any) -> LtmVectorStore:
        """A store at ``path`` (an ltm folder or PostgreSQL URL) embedding with
        ``embedding``, for ``user``, holding ``texts``."""
        path, user = kwargs.pop("path", None), kwargs.pop("user", None)
        if path is None or user is None:
            raise ValueError("from_texts needs path=... (the ltm store) and user=...")
        store = open_store(path, embedder=LangChainEmbedder(embedding))
        vs = cls(store, user=user, **kwargs)
        vs.add_texts(texts, metadatas, ids=ids)
        return vs


def mmr(vectors: Sequence[np.ndarray], query: np.ndarray, k: int,
        lambda_mult: float) -> list[int]:
    """The indices of ``k`` of ``vectors`` in the order maximal marginal relevance picks them
    (LangChain's ``maximal_marginal_relevance``: the one most similar to ``query`` first, then
    each time the best ``lambda_mult * sim(query) - (1 - lambda_mult) * max sim(picked)``,
    cosine similarities, the first index on a tie)."""
    n = min(k, len(vectors))
    if n <= 0:
        return []
    mat = np.asarray(vectors, dtype=np.float64)  # (m, dim)
    mat = mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
    q = np.asarray(query, dtype=np.float64).reshape(-1)  # (dim,)
    to_query = mat @ (q / max(float(np.linalg.norm(q)), 1e-12))  # (m,)
    picked = [int(np.argmax(to_query))]
    redundancy = mat @ mat[picked[0]]  # (m,): highest similarity to a picked one
    while len(picked) < n:
        score = lambda_mult * to_query - (1.0 - lambda_mult) * redundancy
        score[picked] = -np.inf
        best = int(np.argmax(score))
        picked.append(best)
        redundancy = np.maximum(redundancy, mat @ mat[best])
    return picked


def _relevance(hit: Hit) -> float:
    """The hit's calibrated relevance where the store computes one, else its score in [0, 1]."""
    value = getattr(hit, "relevance", None)
    score = float(value if value is not None else hit.score)
    return min(1.0, max(0.0, score))


class LtmRetriever(BaseRetriever):
    """A LangChain retriever over one user's memories (any kind): ltm's hybrid search, the
    ``k`` best as ``Document``s with the memory's metadata plus ``ltm`` (id, kind, session,
    time, score). ``search_kwargs`` go to ``MemoryStore.search`` (``k``, ``kinds``,
    ``session``, ``since``, ``until``, ``metadata``, ...); an explicit ``k`` wins over theirs."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Any
    user: str
    k: int = 4
    search_kwargs: dict[str, Any] = {}

    def _hits_args(self, k: int | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        # k at invoke time, else the k given to the retriever, else search_kwargs' k (as in
        # LangChain's VectorStoreRetriever), else the default
        if k is None:
            k = self.k if "k" in self.model_fields_set else self.search_kwargs.get("k", self.k)
        return {**self.search_kwargs, **kwargs, "user": self.user, "k": _at_most_max_k(k)}

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, **kwargs: Any) -> list[Document]:
        args = self._hits_args(k, kwargs)
        if args["k"] == 0:
            return []
        return [_hit_document(h) for h in self.store.search(query, **args)]

    async def _aget_relevant_documents(self, query: str, *,
                                       run_manager: AsyncCallbackManagerForRetrieverRun,
                                       k: int | None = None, **kwargs: Any) -> list[Document]:
        args = self._hits_args(k, kwargs)
        if args["k"] == 0:
            return []
        hits = await AsyncMemoryStore(self.store).search(query, **args)
        return [_hit_document(h) for h in hits]


def _hit_document(hit: Hit) -> Document:
    doc = _document(hit.memory)
    m = hit.memory
    doc.metadata["ltm"] = {"id": m.id, "kind": m.kind, "session": m.session,
                           "time": m.time.isoformat(), "score": float(hit.score)}
    return doc
