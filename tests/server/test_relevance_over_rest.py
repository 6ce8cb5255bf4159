"""Relevance on the faces (issue 15, item 4): REST search hits carry ``relevance`` in [0, 1],
best first, and ``min_relevance`` keeps exactly the hits at or above it; REST context takes
``min_relevance``; MCP ``recall`` hits carry ``relevance`` too."""

from __future__ import annotations

import json

from server_support import Served, mcp_tool_texts

FACTS = ["Priya has been vegetarian since 2019 and avoids eggs",
         "Priya works as a nurse at the city hospital",
         "I moved to Lisbon in March",
         "The weekly team meeting is on Tuesdays at ten"]
ASKED = "what does Priya eat?"


def test_rest_search_and_context_answer_with_relevance(served: Served) -> None:
    with served.client("alice") as c:
        for text in FACTS:
            assert c.post("/v1/users/alice/memories", json={"text": text}).status_code == 201
        r = c.post("/v1/users/alice/search", json={"query": ASKED, "k": 10,
                                                   "min_relevance": 0})
        assert r.status_code == 200, r.text
        hits = r.json()["hits"]
        assert len(hits) >= 2 and "vegetarian" in hits[0]["memory"]["text"]
        rel = [h["relevance"] for h in hits]
        assert all(0.0 <= x <= 1.0 for x in rel) and rel == sorted(rel, reverse=True)
        # a floor in the widest gap between neighbours keeps the hits above it, no others
        # (a search moves the relevances a little: recency and access counts)
        cut = max(range(len(rel) - 1), key=lambda i: rel[i] - rel[i + 1])
        assert rel[cut] - rel[cut + 1] > 1e-3
        floor = (rel[cut] + rel[cut + 1]) / 2
        r = c.post("/v1/users/alice/search", json={"query": ASKED, "k": 10,
                                                   "min_relevance": floor})
        assert r.status_code == 200, r.text
        kept = r.json()["hits"]
        assert [h["memory"]["id"] for h in kept] == [h["memory"]["id"] for h in hits[:cut + 1]]
        assert all(h["relevance"] >= floor for h in kept)
        r = c.post("/v1/users/alice/search", json={"query": ASKED, "min_relevance": 1.5})
        assert r.status_code == 422 and "min_relevance" in r.text

        r = c.post("/v1/users/alice/context", json={"query": ASKED, "min_relevance": 0})
        assert r.status_code == 200 and "vegetarian" in r.json()["context"], r.text
        above = min(1.0, rel[0] + 1e-6)
        r = c.post("/v1/users/alice/context", json={"query": ASKED, "min_relevance": above})
        assert r.status_code == 200 and "vegetarian" not in r.json()["context"], r.text


def test_mcp_recall_hits_carry_relevance(served: Served) -> None:
    got = mcp_tool_texts(served.store, "alice", {
        "recall": ("recall", {"query": ASKED, "k": 1, "min_relevance": 0})})
    error, text = got["recall"]
    hit = json.loads(text)
    assert not error and "vegetarian" in hit["text"] and 0.0 <= hit["relevance"] <= 1.0
