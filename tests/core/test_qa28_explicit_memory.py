"""An agent builder's walk through explicit memory (thirteenth session, helper 66): what broke,
each with a real store."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import ltm


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def test_an_episode_moved_in_time_is_found_as_of_its_new_time(tmp_path: Path) -> None:
    # as_of reads an episode by its time; update(time=...) left valid_from at the old time,
    # so the episode moved to 2020 was missing as of 2022 and present as of 2025 before 2024
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        e = mem.add("Ana went to the zoo", user="u", time="2024-06-01")
        mem.update(e.id, user="u", time="2020-06-01")
        got = mem.get(e.id, user="u")
        assert got.time == got.valid_from == _utc("2020-06-01")
        assert [h.memory.id for h in mem.search("zoo", user="u", as_of="2022-01-01")] == [e.id]
        # and later again (time moved forward): not yet as of before it
        mem.update(e.id, user="u", time="2025-01-01")
        assert mem.search("zoo", user="u", as_of="2024-12-31") == []
        assert [h.memory.id for h in mem.search("zoo", user="u", as_of="2025-01-01")] == [e.id]
        # the history keeps the earlier validity with the earlier time
        events = mem.history(e.id, user="u")
        assert events[-1].event == "updated" and set(events[-1].data or {}) == {"time",
                                                                                "valid_from"}


def test_context_counts_as_used_only_the_memories_it_gives_back(tmp_path: Path) -> None:
    # decay and capacity read access counts as use ("halves per 90 days unused"); context()
    # searched 50 candidates and counted every one retrieved, also those left out of its
    # block (over the budget), so memories never shown to a model were kept alive
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        for i in range(30):
            mem.add(f"gardening tomatoes note {i}", user="u")
        block = mem.context("gardening tomatoes", user="u", budget_tokens=30)
    with ltm.open(tmp_path / "s", embedder="hash") as mem:  # (counts are written in batches)
        given = [m for m in mem.list("u", limit=100)
                 if any(line.endswith("] " + m.text) for line in block.splitlines())]
        assert len(given) == 1
        assert {m.id for m in mem.list("u", limit=100) if m.access_count} == {given[0].id}
        assert mem.get(given[0].id, user="u").last_accessed is not None
        # a search still counts every hit it returns
        assert len(mem.search("gardening tomatoes", user="u", k=5)) == 5
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        assert sum(1 for m in mem.list("u", limit=100) if m.access_count) >= 5


def test_cli_lines_say_until_when_a_fact_held(tmp_path: Path) -> None:
    # ltm search/list/get printed a superseded fact as '[fact]  Ana works at Acme', beside
    # its successor, with nothing telling the outdated one (context() says 'until ...')
    from click.testing import CliRunner

    from ltm.cli import main

    store = tmp_path / "s"
    with ltm.open(store, embedder="hash") as mem:
        old = mem.add("Ana works at Acme", user="ana", kind="fact", valid_from="2019-01-01")
        new = mem.add("Ana works at Initech", user="ana", kind="fact",
                      valid_from="2021-03-01", supersedes=old.id)
    runner = CliRunner()
    for args in (["search", "Ana works", "-u", "ana"], ["list", "-u", "ana"]):
        out = runner.invoke(main, ["--store", str(store), *args])
        assert out.exit_code == 0, out.output
        lines = {line.split()[-1]: line for line in out.stdout.splitlines()}
        assert "[fact until 2021-03-01 00:00]  Ana works at Acme" in lines["Acme"]
        assert "until" not in lines["Initech"]
    got = runner.invoke(main, ["--store", str(store), "get", old.id, "-u", "ana"]).stdout
    assert got.strip().endswith("[fact until 2021-03-01 00:00]  Ana works at Acme")
    assert new.id not in got


def test_a_summary_rebuilt_from_sessionless_sources_names_no_session(tmp_path: Path) -> None:
    # forget() rebuilds a summary from its surviving sources; when they had no session the
    # rebuilt text began "Session None (...)"
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        a = mem.add("Dana's sister lives in Porto", user="d", time="2026-03-20T12:00:00Z")
        b = mem.add("Dana runs every morning", user="d", time="2026-04-03T07:00:00Z")
        c = mem.add("Dana swims on Sundays", user="d", session="health",
                    time="2026-04-05T07:00:00Z")
        s = mem.add("Dana has family in Porto and a sporty routine", user="d", kind="summary",
                    sources=[a.id, b.id, c.id])
        mem.forget(b.id, user="d")
        text = mem.get(s.id, user="d").text
        assert "None" not in text and not text.startswith("Session")
        assert text.splitlines()[1:] == ["Dana's sister lives in Porto", "Dana swims on Sundays"]
        # a consolidated session still says which
        mem.add_conversation([{"content": f"turn {i} about swimming"} for i in range(3)],
                             user="d", session="pool")
        folded = mem.consolidate("pool", user="d")
        assert folded is not None and folded.text.startswith("Session pool (")


def test_cli_history_shows_previous_values_readably(tmp_path: Path) -> None:
    # ltm history printed an update's previous values as JSON with ASCII escapes and times
    # as microseconds since 1970: {"text": "Zo\u00eb ...", "time": 1546682400000000}
    from click.testing import CliRunner

    from ltm.cli import main

    store = tmp_path / "s"
    with ltm.open(store, embedder="hash") as mem:
        m = mem.add("Zoë works at 北京大学", user="z", time="2019-01-05T10:00:00Z")
        mem.update(m.id, user="z", text="Zoë works in Porto", time="2020-02-01T00:00:00Z")
    out = CliRunner().invoke(main, ["--store", str(store), "history", m.id, "-u", "z"])
    assert out.exit_code == 0, out.output
    updated = out.stdout.splitlines()[-1]
    assert '"text": "Zoë works at 北京大学"' in updated
    assert '"time": "2019-01-05 10:00:00"' in updated
    assert '"valid_from": "2019-01-05 10:00:00"' in updated
    raw = CliRunner().invoke(main, ["--store", str(store), "history", m.id, "-u", "z",
                                    "--json"])
    assert raw.exit_code == 0 and "1546682400000000" in raw.stdout  # scripts: as stored
