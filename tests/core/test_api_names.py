"""Every argument the issues name, passed by that name, as a caller who read the issue would
(issues 2, 4, 14, 15, 16): a renamed keyword fails here even where other tests pass it by
position or not at all."""

from __future__ import annotations

import io
from pathlib import Path

import ltm


def test_store_calls_take_the_names_the_issues_give(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash", context_min_relevance=0.0, reranker="none",
                  erase="fast", max_metadata_bytes=4096, max_metadata_depth=4) as mem:
        assert mem.settings.context_min_relevance == 0.0 and mem.settings.erase == "fast"
        m = mem.add("I moved to Lisbon in March", user="alice", agent="planner", session="s1",
                    kind="episode", time="2026-03-02T10:00", metadata={"topic": "home"},
                    importance=0.5, pinned=False, expires_at=None)
        assert isinstance(m, ltm.Memory) and m.agent == "planner" and m.importance == 0.5
        said = mem.add("Mara told me about her job", user="alice")
        old = mem.add("Mara works at Initech", user="alice", kind="fact",
                      valid_from="2021-01-01", sources=[said.id])
        new = mem.add("Mara works at Globex", user="alice", kind="fact",
                      valid_from="2023-01-01", supersedes=old.id, sources=None)
        assert mem.get(old.id, user="alice").superseded_by == new.id
        many = mem.add_many([{"text": "a note", "user": "alice", "session": "s3"},
                             {"text": "another note", "user": "alice", "session": "s3"}])
        assert [x.text for x in many] == ["a note", "another note"]
        turns = mem.add_conversation(
            [{"role": "alice", "content": "I adopted a cat named Miso"},
             {"role": "assistant", "content": "What colour is Miso?"}],
            user="alice", session="s2")
        assert [t.metadata["speaker"] for t in turns] == ["alice", "assistant"]
        assert mem.update(m.id, user="alice", text="I moved to Porto in March").text \
            == "I moved to Porto in March"
        assert [e.event for e in mem.history(m.id, user="alice")] == ["created", "updated"]

        hits = mem.search("where did I move?", user="alice", k=5, agent="planner",
                          session="s1", kinds=["episode"], since="2026-01-01",
                          until="2026-12-31", as_of=None, metadata={"topic": "home"},
                          now="2026-06-01", min_relevance=0.0)
        assert [h.memory.id for h in hits] == [m.id]
        h = hits[0]
        assert isinstance(h.score, float) and isinstance(h.signals, dict)
        assert 0.0 <= h.relevance <= 1.0
        then = mem.search("where does Mara work", user="alice", as_of="2022-06-01")
        assert [x.memory.id for x in then] == [old.id]
        block = mem.context("Miso the cat", user="alice", budget_tokens=200, min_relevance=0.0)
        assert isinstance(block, str) and "Miso" in block
        mem.feedback(query="where did I move?", memory_id=m.id, useful=True, user="alice")

        page = mem.list("alice", kinds=["episode"], session="s3", since="2020-01-01",
                        until=None, limit=1, cursor=None)
        assert len(page) == 1 and page.next_cursor is not None
        rest = mem.list("alice", kinds=["episode"], session="s3", limit=1,
                        cursor=page.next_cursor)
        assert {x.id for x in page} | {x.id for x in rest} == {x.id for x in many}
        assert mem.user_stats("alice").memories == 8
        assert isinstance(mem.stats(), dict)
        report = mem.gc(now="2030-01-01", dry_run=True)
        assert report is not None

        out = io.StringIO()
        assert mem.export(out, user="alice") == 8
        receipt = mem.forget(user="alice", session="s3")
        assert receipt.count == 2 and sorted(receipt.ids_by_kind["episode"]) == \
            sorted(x.id for x in many)
        assert mem.forget(id=turns[0].id, user="alice").count == 1
        assert mem.forget(user="alice", before="2026-03-03").ids == [m.id]
    with ltm.open(tmp_path / "copy", embedder="hash") as copy:
        out.seek(0)
        copy.import_(out)
        assert copy.user_stats("alice").memories == 8
