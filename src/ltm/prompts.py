"""Every prompt ltm sends to an LLM, in one place, versioned.

Each prompt has a name and a version; the first line of its system message is
``ltm-prompt: <name>/v<version>`` so that logs, caches and test servers can tell them apart, and
memories made with a prompt record ``prompt`` = ``<name>/v<version>`` in their metadata. Change a
prompt's text only together with its version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    system: str
    schema: Mapping[str, Any]

    @property
    def id(self) -> str:
        return f"{self.name}/v{self.version}"

    def messages(self, payload: Any) -> list[dict[str, str]]:
        """The chat messages for ``payload`` (sent as JSON in the user message)."""
        return [{"role": "system", "content": f"ltm-prompt: {self.id}\n{self.system}"},
                {"role": "user", "content": json.dumps(payload, ensure_ascii=False,
                                                       indent=1)}]


EXTRACT_FACTS = Prompt(
    name="extract-facts", version=1,
    system="""You turn conversation turns into atomic facts worth remembering about the people
in them. The user message is JSON: {"turns": [{"id", "time", "speaker", "text"}]}.
Rules:
- One fact per statement, self-contained: name the person, no pronouns, no "he said".
- Resolve relative dates against the turn's time ("yesterday" said on 2023-05-08 -> 7 May 2023)
  and put the date in the text.
- Keep preferences, plans, relations, events, possessions, opinions; skip greetings and filler.
- "sources" lists the ids of the turns the fact comes from.
- "valid_from" is the ISO date from which the fact holds when the turns say so, else null.
Answer with only a JSON object: {"facts": [{"text": str, "sources": [str], "valid_from": str|null}]}.
An empty list is a fine answer.""",
    schema={"type": "object", "required": ["facts"], "properties": {
        "facts": {"type": "array", "items": {
            "type": "object", "required": ["text", "sources"], "properties": {
                "text": {"type": "string"},
                "sources": {"type": "array", "items": {"type": "string"}},
                "valid_from": {"type": ["string", "null"]}}}}}},
)

DECIDE = Prompt(
    name="decide-facts", version=1,
    system="""You keep a person's memory consistent. The user message is JSON:
{"candidates": [{"n": int, "text": str, "similar": [{"id": str, "text": str, "since": str}]}]}.
For each candidate decide against its similar existing facts:
- "add": new information, no conflict.
- "update": the same fact, better or more complete; "target" is the existing id and "text" the
  merged wording (the old wording is kept in history).
- "supersede": the candidate replaces an existing fact that is no longer true (moved, changed
  job, ended a relation); "target" is the id of the fact it replaces.
- "ignore": already known, nothing new.
Answer with only a JSON object: {"decisions": [{"n": int, "action": "add"|"update"|"supersede"|
"ignore", "target": str|null, "text": str|null}]}.""",
    schema={"type": "object", "required": ["decisions"], "properties": {
        "decisions": {"type": "array", "items": {
            "type": "object", "required": ["n", "action"], "properties": {
                "n": {"type": "integer", "minimum": 0},
                "action": {"enum": ["add", "update", "supersede", "ignore"]},
                "target": {"type": ["string", "null"]},
                "text": {"type": ["string", "null"]}}}}}},
)

SUMMARIZE = Prompt(
    name="summarize-session", version=1,
    system="""You write the long-term memory of one conversation session. The user message is
JSON: {"session": str, "turns": [{"time", "speaker", "text"}]}. Write a dense, factual summary
in the third person (at most 8 sentences): who said, did, planned or felt what, with dates
resolved against the turn times. Keep names, places, numbers. No commentary.
Answer with only a JSON object: {"summary": str}.""",
    schema={"type": "object", "required": ["summary"],
            "properties": {"summary": {"type": "string"}}},
)

ALL: tuple[Prompt, ...] = (EXTRACT_FACTS, DECIDE, SUMMARIZE)


def by_id(prompt_id: str) -> Prompt:
    for p in ALL:
        if p.id == prompt_id:
            return p
    raise KeyError(prompt_id)


def turns_payload(turns: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"turns": [dict(t) for t in turns]}
