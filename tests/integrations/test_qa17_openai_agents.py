"""QA of the OpenAI Agents Session as a new user meets it: any item the SDK's SQLiteSession keeps
is kept (and given back unchanged) whatever its text holds (a NUL, only zero-width characters,
more than ltm's 100,000 characters of text), and a session that also holds episodes written by
ltm itself (an imported conversation continued by an agent) reads them as messages instead of
failing with KeyError."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from agents import SQLiteSession

import ltm
from ltm.integrations.openai_agents import LtmSession

ODD_ITEMS: list[Any] = [
    {"role": "user", "content": "a\x00b"},
    {"role": "user", "content": "\u200b"},
    {"role": "user", "content": [{"type": "input_text", "text": "\u200b\u200b"}]},
    {"type": "function_call_output", "call_id": "c1", "output": "x" * 150_000},
    {"role": "assistant", "content": "y" * 120_000},
    "\ufeff",
]


def test_items_ltm_cannot_hold_as_text_round_trip(tmp_path: Path) -> None:
    store = ltm.open(tmp_path / "s", embedder="hash", max_metadata_bytes=1_000_000)
    ref = SQLiteSession("chat", tmp_path / "ref.sqlite")

    async def main() -> None:
        ours = LtmSession("chat", store, user="alice")
        for s in (ours, ref):
            await s.add_items(ODD_ITEMS[:3])
            await s.add_items(ODD_ITEMS[3:])
        assert await ours.get_items() == await ref.get_items() == ODD_ITEMS
        assert await ours.get_items(2) == ODD_ITEMS[-2:]
        assert await ours.pop_item() == await ref.pop_item() == ODD_ITEMS[-1]

    try:
        asyncio.run(main())
        # still searchable by what the items say
        hits = store.search("ab", user="alice", k=10)
        assert any(h.memory.metadata["agents_item"] == ODD_ITEMS[0] for h in hits)
    finally:
        ref.close()
        store.close()


def test_an_item_larger_than_the_metadata_limit_is_refused_whole(tmp_path: Path) -> None:
    store = ltm.open(tmp_path / "s", embedder="hash")  # max_metadata_bytes 65,536

    async def main() -> None:
        ours = LtmSession("chat", store, user="alice")
        await ours.add_items([{"role": "user", "content": "hello"}])
        with pytest.raises(ltm.InvalidInput, match="max_metadata_bytes"):
            await ours.add_items([{"role": "user", "content": "ok"},
                                  {"type": "function_call_output", "call_id": "c",
                                   "output": "z" * 70_000}])
        assert await ours.get_items() == [{"role": "user", "content": "hello"}]

    try:
        asyncio.run(main())
    finally:
        store.close()


def test_episodes_written_by_ltm_read_as_messages(tmp_path: Path) -> None:
    store = ltm.open(tmp_path / "s", embedder="hash")
    store.add_conversation([{"role": "alice", "content": "I moved to Lisbon"},
                            {"role": "assistant", "content": "Nice, when?"}],
                           user="alice", session="chat-1")

    async def main() -> None:
        session = LtmSession("chat-1", store, user="alice")
        await session.add_items([{"role": "user", "content": "In March"}])
        assert await session.get_items() == [
            {"role": "user", "content": "I moved to Lisbon"},
            {"role": "assistant", "content": "Nice, when?"},
            {"role": "user", "content": "In March"}]
        assert await session.get_items(limit=2) == [
            {"role": "assistant", "content": "Nice, when?"},
            {"role": "user", "content": "In March"}]
        assert await session.pop_item() == {"role": "user", "content": "In March"}
        assert await session.pop_item() == {"role": "assistant", "content": "Nice, when?"}
        assert len(store.list("alice").memories) == 1

    try:
        asyncio.run(main())
    finally:
        store.close()


@pytest.mark.parametrize("session_id", [None, "", "   ", 5])
def test_a_session_needs_an_id(tmp_path: Path, session_id: Any) -> None:
    """Without a session id, clear_session would have been forget(user=...) with no session:
    every memory of the user erased."""
    store = ltm.open(tmp_path / "s", embedder="hash")
    try:
        store.add("Alice's cat Miso is orange", user="alice", kind="fact")
        with pytest.raises(ltm.InvalidInput):
            session = LtmSession(session_id, store, user="alice")
            asyncio.run(session.clear_session())
        assert len(store.list("alice").memories) == 1
    finally:
        store.close()
