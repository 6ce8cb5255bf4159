"""Labelled retrieval data in one shape: conversations to store, questions with their evidence.

LoCoMo, BEAM and the project's own small stores are loaded into this shape, so one collector
can replay any of them through the store (``ltm bench ...``, ``ltm train ranker``). Each
conversation is one user; each item is an ``add_many`` item whose ``metadata`` carries the
data set's own message id under ``MID`` so evidence can be matched to stored memories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MID = "mid"  # metadata key that holds the data set's id of a stored item


@dataclass
class LabelledQuestion:
    qid: str
    text: str
    qtype: str
    evidence: frozenset[str]  # data-set ids (metadata[MID]) of the evidence items
    answerable: bool = True  # False: nothing stored answers it (abstention questions)
    now: str | None = None  # ISO time the question is asked at, when the data gives one
    extra: dict[str, Any] = field(default_factory=dict)  # data-set specific labels


@dataclass
class LabelledConversation:
    name: str  # also the ltm user the items are stored under
    items: list[dict[str, Any]]  # add_many items; item["metadata"][MID] is the data-set id
    questions: list[LabelledQuestion] = field(default_factory=list)
    source: str = ""  # "locomo", "beam", "small", ...
