"""QA of issue 6: writes racing another process's forget on PostgreSQL (read committed: a
writer reads what another transaction is about to delete). SQLite's write lock serialises the
two, so these orders cannot happen there."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from store_locations import Location, new_location

import ltm
from ltm.errors import InvalidInput

__all__ = ["new_location"]


@contextmanager
def held_open(store: ltm.MemoryStore, step: Callable[[], object]) -> Iterator[None]:
    """Run ``step`` in another thread inside a transaction of ``store`` that stays open for
    0.5 s after it: the body runs while that transaction has not committed yet."""
    done = threading.Event()

    def run() -> None:
        with store.backend.atomic():  # type: ignore[attr-defined]
            step()
            done.set()
            time.sleep(0.5)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert done.wait(10)
        yield
    finally:
        thread.join()


def test_a_duplicate_of_a_fact_being_forgotten_is_stored_not_a_not_found(
        pg_store_url: str) -> None:
    """add() of a near-duplicate fact reinforces the existing one; when another process's
    forget of that fact commits between the duplicate check and the reinforcement, the add
    stores the fact anew instead of raising NotFound for an id the caller never named."""
    with ltm.open(pg_store_url, embedder="hash") as writer, \
            ltm.open(pg_store_url, embedder="hash") as other:
        old = writer.add("Ana works at Acme as an engineer", user="ana", kind="fact")
        # the forget's transaction holds the deleted row until it commits
        with held_open(other, lambda: other.forget(old.id, user="ana")):
            new = writer.add("Ana works at Acme as an engineer", user="ana", kind="fact")
        assert new.id != old.id
        assert [m.id for m in writer.list("ana").memories] == [new.id]
        assert writer.history(new.id, user="ana")[0].event == "created"


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_fact_derived_from_a_memory_being_forgotten_is_not_left_behind(
        new_location: Callable[[str], Location], kind: str) -> None:
    """Another process forgets an episode while a fact naming it as a source is added: the
    forget either runs first (the add is then InvalidInput: its source is gone) or after
    (its cascade then takes the fact); never a fact left naming an erased source."""
    location = new_location(kind)
    # (erase="fast": a forget inside an open transaction cannot compact on SQLite)
    with ltm.open(location, embedder="hash") as writer, \
            ltm.open(location, embedder="hash", erase="fast") as other:
        # the forget first: its transaction is open while the fact is added
        episode = writer.add("I moved to Lisbon in March", user="ana")
        with held_open(other, lambda: other.forget(episode.id, user="ana")):
            with pytest.raises(InvalidInput, match="sources"):
                writer.add("Ana lives in Lisbon", user="ana", kind="fact",
                           sources=[episode.id])
        assert writer.list("ana").memories == []

        # the add first: its transaction is open while the forget runs
        episode = writer.add("I moved to Porto in May", user="ana")
        with held_open(writer, lambda: writer.add("Ana lives in Porto", user="ana", kind="fact",
                                                  sources=[episode.id])):
            receipt = other.forget(episode.id, user="ana")
        assert receipt.count == 2 and sorted(receipt.ids_by_kind) == ["episode", "fact"]
        assert writer.list("ana").memories == []


def test_writers_and_forgets_of_one_user_at_once_neither_fail_nor_leave_orphans(
        pg_store_url: str) -> None:
    """Four stores (processes, as far as the server can tell) add deduplicated facts, facts
    derived from listed memories, and forget sessions and single memories of one user, all
    at once. Each operation succeeds or fails for its own reason (a source or memory another
    one forgot: InvalidInput, NotFound), never on a deadlock; no derived memory is left
    whose every source is gone."""
    import random

    from ltm.errors import LtmError, NotFound

    stores = [ltm.open(pg_store_url, embedder="hash") for _ in range(4)]
    failures: list[str] = []

    def work(store: ltm.MemoryStore, seed: int) -> None:
        rnd = random.Random(seed)
        for _ in range(40):
            op = rnd.random()
            try:
                if op < 0.45:
                    store.add_many([{"text": f"fact {rnd.randint(0, 20)} about the garden",
                                     "user": "u", "kind": "fact", "session": "s"}
                                    for _ in range(3)])
                elif op < 0.65:
                    listed = store.list("u", limit=4).memories
                    if listed:
                        store.add("derived", user="u", kind="fact",
                                  sources=[m.id for m in listed[:2]])
                elif op < 0.8:
                    store.forget(user="u", session="s")
                else:
                    listed = store.list("u", limit=3).memories
                    if listed:
                        store.forget(listed[-1].id, user="u")
            except (InvalidInput, NotFound):
                pass  # what it named was forgotten by another store meanwhile
            except LtmError as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # noqa: BLE001 (a raw error is the failure looked for)
                failures.append(f"raw {type(exc).__name__}: {exc}")

    try:
        threads = [threading.Thread(target=work, args=(s, i)) for i, s in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        alive = {m.id: m for m, _ in stores[0].backend.iter_export("u", with_vectors=False)}
        orphans = [m.id for m in alive.values()
                   if m.sources and not any(s in alive for s in m.sources)]
        assert orphans == []
    finally:
        for store in stores:
            store.close()
