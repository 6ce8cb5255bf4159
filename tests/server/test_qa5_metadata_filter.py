"""A metadata filter tells true from 1 on both backends (REST's search body takes metadata
filters). SQLite compared json_extract values, where true is 1: {"flag": true} also found
{"flag": 1} and {"flag": 1.0}, and {"flag": 1} found {"flag": true}; PostgreSQL (jsonb) told
them apart."""

from __future__ import annotations

from collections.abc import Callable

from postgres_support import postgres_url
from server_support import Served
from store_locations import backend_kind, copen, location, new_location

import ltm

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]  # fixtures

ROWS = [("flag bool", True), ("flag int", 1), ("flag str", "1"), ("flag float", 1.5),
        ("flag false", False), ("flag zero", 0)]
# (a list: in a dict True and 1 are one key): each value finds its own row only
EXPECT = [(value, {text}) for text, value in ROWS]


def test_metadata_filters_tell_booleans_from_numbers(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen(embedder="hash")
    for text, value in ROWS:
        mem.add(f"zebra {text}", user="u", metadata={"flag": value})
    for value, texts in EXPECT:
        want = {f"zebra {t}" for t in texts}
        got = {h.memory.text for h in mem.search("zebra", user="u", k=20,
                                                 metadata={"flag": value})}
        assert got == want, (value, got)
        listed = {m.text for m in mem.list("u", metadata={"flag": value}).memories}
        assert listed == want, (value, listed)


def test_rest_search_filter_true_is_not_1(served: Served) -> None:
    with served.client("root") as c:
        for text, value in ROWS:
            r = c.post("/v1/users/qa5-meta/memories", json={"text": f"zebra {text}",
                                                            "metadata": {"flag": value}})
            assert r.status_code == 201, r.text
        for value, texts in EXPECT:
            hits = c.post("/v1/users/qa5-meta/search", json={
                "query": "zebra", "k": 20, "metadata": {"flag": value}}).json()["hits"]
            assert {h["memory"]["text"] for h in hits} == {f"zebra {t}" for t in texts}, value
