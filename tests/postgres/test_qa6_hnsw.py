"""QA of issue 6: the per-user HNSW index over its life, with two processes (two stores on one
schema): built when a scope reaches ``hnsw_min_scope``, dropped when another process forgets
the user whole, and built again when the scope grows back, whichever process writes it."""

from __future__ import annotations

import ltm


def _items(user: str, n: int, word: str) -> list[dict[str, str]]:
    return [{"text": f"{word} memory number {i} about the garden", "user": user}
            for i in range(n)]


def test_a_scope_regrown_after_another_process_forgot_it_is_indexed_again(
        pg_store_url: str) -> None:
    with ltm.open(pg_store_url, embedder="hash", hnsw_min_scope=20) as writer, \
            ltm.open(pg_store_url, embedder="hash", hnsw_min_scope=20) as other:
        writer.add_many(_items("u", 25, "first"))
        assert writer.backend.scope_indexed("u")  # type: ignore[attr-defined]
        assert other.stats()["hnsw_scopes"] == 1
        assert other.forget(user="u").count == 25  # drops the index: its name holds the user
        assert not writer.backend.scope_indexed("u")  # type: ignore[attr-defined]
        assert other.stats()["hnsw_scopes"] == 0
        # the writer, which built the first index, takes the scope past the size again
        writer.add_many(_items("u", 25, "second"))
        assert writer.backend.scope_indexed("u")  # type: ignore[attr-defined]
        hits = other.search("second memory number 7", user="u", k=5)
        assert hits and all(h.memory.text.startswith("second") for h in hits)


def test_indexed_and_exact_searches_agree(pg_store_url: str, postgres_url: str) -> None:
    """The same memories searched through a scope's HNSW index and by the exact scan (a store
    whose threshold is never reached) give the same hits in the same order."""
    from postgres_support import drop_schema

    with ltm.open(pg_store_url, embedder="hash", hnsw_min_scope=30) as indexed:
        indexed.add_many(_items("u", 40, "garden") + _items("v", 10, "garden"))
        assert indexed.backend.scope_indexed("u")  # type: ignore[attr-defined]
        exact_url = pg_store_url.replace("schema=", "schema=x")
        try:
            with ltm.open(exact_url, embedder="hash", hnsw_min_scope=10_000) as exact:
                import io

                dump = io.StringIO()
                indexed.export(dump)
                dump.seek(0)
                exact.import_(dump)
                assert not exact.backend.scope_indexed("u")  # type: ignore[attr-defined]
                for q in ("memory number 12", "garden", "number 3 about"):
                    got = [(h.memory.id, round(h.relevance, 6))
                           for h in indexed.search(q, user="u", k=10, now="2030-01-01")]
                    want = [(h.memory.id, round(h.relevance, 6))
                            for h in exact.search(q, user="u", k=10, now="2030-01-01")]
                    assert got == want, q
        finally:
            drop_schema(postgres_url, exact_url.rsplit("schema=", 1)[1])
