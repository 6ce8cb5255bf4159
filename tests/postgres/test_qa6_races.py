"""QA of issue 6: writes racing another process's forget on PostgreSQL (read committed: a
writer reads what another transaction is about to delete). SQLite's write lock serialises the
two, so these orders cannot happen there."""

from __future__ import annotations

import threading
import time

import ltm


def test_a_duplicate_of_a_fact_being_forgotten_is_stored_not_a_not_found(
        pg_store_url: str) -> None:
    """add() of a near-duplicate fact reinforces the existing one; when another process's
    forget of that fact commits between the duplicate check and the reinforcement, the add
    stores the fact anew instead of raising NotFound for an id the caller never named."""
    with ltm.open(pg_store_url, embedder="hash") as writer, \
            ltm.open(pg_store_url, embedder="hash") as other:
        old = writer.add("Ana works at Acme as an engineer", user="ana", kind="fact")
        deleting = threading.Event()

        def forget_slowly() -> None:
            # the forget's transaction holds the deleted row until it commits
            with other.backend.atomic():  # type: ignore[attr-defined]
                other.forget(old.id, user="ana")
                deleting.set()
                time.sleep(0.5)

        forgetter = threading.Thread(target=forget_slowly)
        forgetter.start()
        try:
            assert deleting.wait(10)
            new = writer.add("Ana works at Acme as an engineer", user="ana", kind="fact")
        finally:
            forgetter.join()
        assert new.id != old.id
        assert [m.id for m in writer.list("ana").memories] == [new.id]
        assert writer.history(new.id, user="ana")[0].event == "created"
