"""Full text from metadata, the same on every backend: the words of a memory's speaker, name,
title and photo caption are searchable beside its text (``ltm.backends.common.extra_from``)."""

from __future__ import annotations

from collections.abc import Callable

import ltm


def _text_scores(store: ltm.MemoryStore, query: str) -> dict[str, float]:
    return {h.memory.text: h.signals["text"] for h in store.search(query, user="u", k=10)}


def test_a_photo_caption_is_found_by_its_words(copen: Callable[..., ltm.MemoryStore]) -> None:
    # the hash embedder and no dense weight: only the full-text signal can find the caption
    store = copen(embedder="hash", dense_weight=0.0)
    store.add_many([
        {"text": "look at what we saw this morning", "user": "u",
         "metadata": {"caption": "a red kayak on a frozen lake"}},
        {"text": "I had pasta for dinner", "user": "u"},
        {"text": "the train was late again", "user": "u", "metadata": {"caption": 7}},
    ])
    scores = _text_scores(store, "kayak")
    assert scores["look at what we saw this morning"] > 0
    assert all(s == 0 for t, s in scores.items() if t != "look at what we saw this morning")
    assert store.search("kayak", user="u", k=1)[0].memory.text == \
        "look at what we saw this morning"


def test_a_caption_added_by_update_is_found(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash", dense_weight=0.0)
    m = store.add("a photo from the trip", user="u")
    store.add("I had pasta for dinner", user="u")
    assert _text_scores(store, "lighthouse").get(m.text, 0.0) == 0
    store.update(m.id, user="u", metadata={"caption": "a white lighthouse at dusk"})
    assert _text_scores(store, "lighthouse")[m.text] > 0
