"""Both backends (helper 66, thirteenth session): an episode moved in time is found as of its
new time, and context() counts as used only the memories its block holds."""

from __future__ import annotations

from collections.abc import Callable

import ltm


def test_an_episode_moved_in_time_is_found_as_of_its_new_time(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen(embedder="hash")
    e = mem.add("Ana went to the zoo", user="u", time="2024-06-01")
    mem.update(e.id, user="u", time="2020-06-01")
    got = mem.get(e.id, user="u")
    assert got.valid_from == got.time
    assert [h.memory.id for h in mem.search("zoo", user="u", as_of="2022-01-01")] == [e.id]
    # a fact's validity stays where it was given
    f = mem.add("Ana works at Acme", user="u", kind="fact", valid_from="2019-01-01")
    mem.update(f.id, user="u", time="2018-01-01")
    assert mem.get(f.id, user="u").valid_from.year == 2019


def test_context_counts_only_what_its_block_holds(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen(embedder="hash")
    for i in range(20):
        mem.add(f"gardening tomatoes note {i}", user="u")
    block = mem.context("gardening tomatoes", user="u", budget_tokens=30)
    mem.close()
    mem = copen(embedder="hash")  # (counts are written in batches, and on close)
    used = [m for m in mem.list("u", limit=100) if m.access_count]
    assert len(used) == 1 and used[0].text in block
