"""OpenAI Agents SDK: ltm's Session against the SDK's own SQLiteSession: the same calls give
the same items; the items are also ltm episodes of the user."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from agents import SQLiteSession
from agents.memory import Session

import ltm
from ltm.integrations.openai_agents import LtmSession


def _item(rng: random.Random, n: int) -> dict[str, Any]:
    kind = rng.randrange(5)
    if kind == 0:
        return {"role": "user", "content": f"message {n}: I moved to Lisbon"}
    if kind == 1:
        return {"role": "assistant", "type": "message", "status": "completed", "id": f"msg_{n}",
                "content": [{"type": "output_text", "text": f"reply {n}", "annotations": []}]}
    if kind == 2:
        return {"type": "function_call", "call_id": f"call_{n}", "name": "lookup",
                "arguments": '{"city": "Lisbon"}'}
    if kind == 3:
        return {"type": "function_call_output", "call_id": f"call_{n}", "output": "sunny"}
    return {"role": "user", "content": [{"type": "input_text", "text": f"part {n}"},
                                        {"type": "input_text", "text": "ünïcode ✓"}]}


def test_same_calls_same_items(tmp_path: Path) -> None:
    store = ltm.open(tmp_path / "store", embedder="hash")
    ref_db = tmp_path / "ref.sqlite"
    rng = random.Random(5)

    async def main() -> None:
        pairs: list[tuple[Session, Session]] = []
        for user, sid in (("alice", "chat-1"), ("alice", "chat-2"), ("bob", "chat-1")):
            pairs.append((LtmSession(sid, store, user=user),
                          SQLiteSession(f"{user}/{sid}", ref_db)))
        n = 0
        for step in range(200):
            ours, ref = rng.choice(pairs)
            roll = rng.random()
            if roll < 0.4:
                items = [_item(rng, n + i) for i in range(rng.randrange(0, 4))]
                n += len(items)
                await ours.add_items(items)
                await ref.add_items(items)
            elif roll < 0.55:
                assert await ours.pop_item() == await ref.pop_item(), step
            elif roll < 0.6:
                await ours.clear_session()
                await ref.clear_session()
            else:
                limit = rng.choice([None, 0, 1, 2, 5, 50, -1])
                assert await ours.get_items(limit) == await ref.get_items(limit), (step, limit)
        for ours, ref in pairs:
            assert await ours.get_items() == await ref.get_items()
            ref.close()  # type: ignore[attr-defined]

    asyncio.run(main())
    # the conversation is ordinary ltm memory of its user, in its session
    alice = LtmSession("chat-1", store, user="alice")
    items = asyncio.run(alice.get_items())
    listed = store.list("alice", session="chat-1", limit=1000, order="oldest")
    assert [m.metadata["agents_item"] for m in listed] == items
    store.close()


def test_items_are_searchable_episodes(tmp_path: Path) -> None:
    store = ltm.open(tmp_path / "store", embedder="hash")

    async def main() -> None:
        session = LtmSession("trip", store, user="carol")
        await session.add_items([
            {"role": "user", "content": "Book me a table in Porto for Friday"},
            {"role": "assistant", "content": "Done: Friday 8pm at Cantinho"},
        ])
        hits = store.search("table in Porto", user="carol", k=1)
        assert hits[0].memory.session == "trip" and hits[0].memory.kind == "episode"
        assert hits[0].memory.metadata["speaker"] == "user"
        assert await LtmSession("trip", store, user="dave").get_items() == []
        await session.clear_session()
        assert store.list("carol").memories == []

    asyncio.run(main())
    store.close()
