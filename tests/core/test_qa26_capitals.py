"""A question or a memory written in capitals (caps lock, a log line) with the default
embedder. WordLlama's tokenizer is cased: "PENICILLIN ALLERGY" breaks into rare pieces whose
vector had cosine 0.41 with "I'm allergic to penicillin" (0.87 in lower case), and its
relevance fell from 0.535 to 0.118; "LISBON" got 0.04 against "lisbon"'s 0.254. A text with
no lower-case letter is now embedded with its lower-case form appended."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm
from ltm.bench.corpus import Corpus
from ltm.embed.wordllama import WordLlamaEmbedder

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

MEMORIES = ["I moved to Lisbon in March", "The kids' toys are in the garage",
            "I'm allergic to penicillin", "My daughter started kindergarten in September",
            "ERROR: DISK FULL ON DB-03, WRITES PAUSED", "NASA postponed the launch to Friday"]
ASKED = {"LISBON": 0, "TOYS IN THE GARAGE": 1, "PENICILLIN ALLERGY": 2,
         "WHEN DID MY DAUGHTER START KINDERGARTEN": 3, "disk full": 4,
         "database writes paused": 4, "NASA LAUNCH": 5}


def test_capitals_are_embedded_with_their_lower_case() -> None:
    emb = WordLlamaEmbedder()
    memory, shouted, plain = emb.embed(["I'm allergic to penicillin", "PENICILLIN ALLERGY",
                                        "penicillin allergy"])
    assert float(memory @ shouted) > 0.7 and float(memory @ plain) > 0.8
    # text with a lower-case letter is embedded as before: the vectors WordLlama gives
    mixed = emb.embed(["PENICILLIN allergy", "I moved to Lisbon"])
    assert np.array_equal(mixed[1], emb.embed(["I moved to Lisbon"])[0])
    assert float(mixed[0] @ memory) < float(memory @ shouted)


def test_questions_in_capitals_find_their_memory(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    mem = copen()
    ids = [m.id for m in mem.add_many([{"text": t, "user": "u"} for t in MEMORIES])]
    mem.add_many([{"text": i.text, "user": "u", "session": i.session, "time": i.time}
                  for i in Corpus(200, 1, seed=3).items()])
    for query, want in ASKED.items():
        top = mem.search(query, user="u", k=1)[0]
        assert top.memory.id == ids[want], query
        assert top.relevance > 0.1, (query, top.relevance)  # 0.04-0.09 before
        # near the relevance of the question in lower case (a quarter to a half before)
        low = mem.search(query.lower(), user="u", k=1)[0]
        assert low.memory.id == ids[want] and top.relevance > low.relevance / 3, query
