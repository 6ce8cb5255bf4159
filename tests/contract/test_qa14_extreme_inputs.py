"""Extreme values through the Python API (issue 14's bad-input standard: every call returns or
raises an ``ltm.errors`` type), on both backends."""

from __future__ import annotations

from collections.abc import Callable

import ltm

ULID = "01M97X3CVFASMJPYJ4S6GNF64S"


def test_list_cursor_with_a_time_past_64_bits(copen: Callable[..., ltm.MemoryStore]) -> None:
    """A cursor's time may hold 20 digits (what ``list`` accepts); past what a 64-bit
    integer holds it is past every stored time: SQLite raised a raw OverflowError."""
    mem = copen(embedder="hash")
    made = mem.add_many([{"text": f"note {i}", "user": "u", "time": f"2026-01-0{i + 1}"}
                         for i in range(3)])
    ids = [m.id for m in made]
    late, early = f"99999999999999999999.{ULID}", f"-99999999999999999999.{ULID}"
    assert [m.id for m in mem.list("u", cursor=late).memories] == ids[::-1]
    assert mem.list("u", cursor=early).memories == []
    assert [m.id for m in mem.list("u", cursor=early, order="oldest").memories] == ids
    assert mem.list("u", cursor=late, order="oldest").memories == []
