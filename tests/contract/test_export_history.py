"""An export keeps each memory's history (what ``history`` shows: created, updated with the
previous values, superseded, ...) and an import into a fresh store restores it, on both
backends. Before, an export held the memories only, and a restore began every history anew
with one 'created' event. An export without history (made before) still imports as it did."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest

import ltm


def _events(mem: ltm.MemoryStore, ids: list[str]) -> dict[str, list[tuple[object, ...]]]:
    return {i: [(e.event, e.at, e.data) for e in mem.history(i, user="u")] for i in ids}


def _filled(mem: ltm.MemoryStore) -> list[str]:
    a = mem.add("I live in Porto", user="u", kind="fact", time="2024-01-01",
                metadata={"src": "chat"})
    mem.update(a.id, user="u", text="I live in Lisbon", metadata={"src": "form", "n": [1, 2]})
    b = mem.add("I work at Acme", user="u", kind="fact", time="2024-02-01")
    c = mem.add("I work at Globex", user="u", kind="fact", time="2025-02-01", supersedes=b.id)
    mem.update(c.id, user="u", pinned=True, importance=0.9)
    return [a.id, b.id, c.id]


def test_history_survives_an_export_and_an_import(copen: Callable[..., ltm.MemoryStore],
                                                  backend_kind: str,
                                                  new_location: Callable[[str], object]
                                                  ) -> None:
    mem = copen(embedder="hash")
    ids = _filled(mem)
    before = _events(mem, ids)
    assert [e[0] for e in before[ids[0]]] == ["created", "updated"]
    assert before[ids[0]][1][2]["text"] == "I live in Porto"
    out = io.StringIO()
    mem.export(out)
    with ltm.open(new_location(backend_kind), embedder="hash") as fresh:
        assert fresh.import_(io.StringIO(out.getvalue())).imported == 3
        assert _events(fresh, ids) == before
        again = io.StringIO()
        fresh.export(again)
    assert again.getvalue() == out.getvalue()  # a second round trip changes nothing


def test_an_export_without_history_still_imports(copen: Callable[..., ltm.MemoryStore],
                                                 backend_kind: str,
                                                 new_location: Callable[[str], object]
                                                 ) -> None:
    mem = copen(embedder="hash")
    ids = _filled(mem)
    out = io.StringIO()
    mem.export(out, embeddings=False)
    lines = out.getvalue().splitlines()
    old = [lines[0]] + [json.dumps({k: v for k, v in json.loads(x).items() if k != "history"})
                        for x in lines[1:]]
    with ltm.open(new_location(backend_kind), embedder="hash") as target:
        assert target.import_(io.StringIO("\n".join(old) + "\n")).imported == 3
        for i in ids:  # history begins with the import, as before: created when recorded
            got = target.history(i, user="u")
            assert [e.event for e in got] == ["created"]
            assert got[0].at == target.get(i, user="u").recorded_at


@pytest.mark.parametrize("history", [
    "not a list", [{"event": "created"}], [{"event": "", "at": "2024-01-01T00:00:00Z"}],
    [{"event": "updated", "at": "2024-01-01T00:00:00Z", "data": "text"}],
    [{"event": "created", "at": "2024-01-01T00:00:00Z", "extra": 1}],
])
def test_a_malformed_history_is_refused_naming_its_line(
        copen: Callable[..., ltm.MemoryStore], history: object) -> None:
    mem = copen(embedder="hash")
    line = {"id": "01M97X3CVFASMJPYJ4S6GNF64S", "user": "u", "kind": "episode", "text": "hi",
            "time": "2026-01-01T00:00:00Z", "recorded_at": "2026-01-01T00:00:00Z",
            "history": history}
    header = {"ltm_export": 1, "embedder": "hash:256", "dim": 256}
    with pytest.raises(ltm.errors.InvalidInput) as err:
        mem.import_(io.StringIO(json.dumps(header) + "\n" + json.dumps(line) + "\n"))
    assert err.value.item == 2
    assert mem.stats()["memories"] == 0
