"""QA sweep 19's open items, each reproduced on a real store (both backends where the behaviour
is shared):

1. a pinned memory whose ``expires_at`` has passed was stored but hidden from every read,
   while gc kept it: pinning exempts a memory from expiry (docs/time-and-retention.md,
   "Pinned memories are exempt from everything"), so reads, search, stats and gc agree;
2. ``time_phrases="filter"`` kept only memories whose ``time`` fell in the query's window, so a
   fact valid since before the window (no ``valid_to``, or one after the window's start) was
   dropped though it held during the window: a fact or summary now passes when its validity
   interval meets the window (as the "boost" time fit reads it), an episode by its time;
3. ``update(id, expires_at=None)`` could not clear an expiry (None means "not given"):
   ``update(id, clear_expiry=True)``, REST ``PATCH`` with ``"expires_at": null`` and
   ``ltm update --no-expiry`` clear it (history keeps the old value);
4. retention rules that nothing applies were accepted and silently ignored (``min_strength``
   without a decay, a half-life of 0, consolidation keys on a kind gc never consolidates,
   ``consolidate_min_turns`` without ``consolidate_after_days``, a policy for a name no memory
   can have as its kind): each is now refused when the store opens (``InvalidInput`` naming
   the setting and the key), wherever the setting comes from;
5. the user ``'*'`` (every user, in API keys) was refused by REST and MCP but accepted by the
   library and the CLI, which stored memories no server face could reach: every call that
   names a user refuses it (``ScopeError``, REST's 422 message; CLI exit 2), except those
   that let a store written before keep its data out of reach no longer: ``forget`` and
   ``export`` (and gc) still take it.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from postgres_support import postgres_url
from store_locations import backend_kind, copen, location, new_location

import ltm

__all__ = ["backend_kind", "copen", "location", "new_location", "postgres_url"]

Open = Callable[..., ltm.MemoryStore]


# -- 1. pinned wins over expiry -----------------------------------------------------------
def _expired_pins(mem: ltm.MemoryStore) -> tuple[ltm.Memory, ltm.Memory, ltm.Memory]:
    pinned = mem.add("Alice keeps her passport in the blue drawer", user="alice",
                     pinned=True, expires_at="2020-01-01T00:00Z", time="2019-06-01T10:00Z")
    gone = mem.add("Alice keeps her umbrella in the blue drawer", user="alice",
                   expires_at="2020-01-01T00:00Z", time="2019-06-01T11:00Z")
    plain = mem.add("Alice likes green tea", user="alice", time="2019-06-02T10:00Z")
    return pinned, gone, plain


def test_a_pinned_memory_past_its_expiry_stays_visible(copen: Open) -> None:
    mem = copen(embedder="hash")
    pinned, gone, plain = _expired_pins(mem)
    assert mem.get(pinned.id, user="alice").pinned
    listed = [m.id for m in mem.list("alice").memories]
    assert pinned.id in listed and gone.id not in listed and plain.id in listed
    found = [h.memory.id for h in mem.search("blue drawer passport", user="alice",
                                             min_relevance=0)]
    assert pinned.id in found and gone.id not in found
    # the general path (a filter) and the time filter agree with the scope fast path
    found = [h.memory.id for h in mem.search("blue drawer passport", user="alice",
                                             kinds=["episode"], since="2019-01-01")]
    assert pinned.id in found and gone.id not in found
    assert mem.user_stats("alice").memories == 2
    report = mem.gc(dry_run=True)
    assert report.expired == [gone.id]
    mem.gc()
    assert [m.id for m in mem.list("alice", order="oldest").memories] == [pinned.id, plain.id]
    # unpinned, its own expiry applies again
    mem.update(pinned.id, user="alice", pinned=False)
    assert pinned.id not in [m.id for m in mem.list("alice").memories]
    assert pinned.id not in [h.memory.id for h in mem.search("passport", user="alice")]
    mem.update(pinned.id, user="alice", pinned=True)
    assert pinned.id in [h.memory.id for h in mem.search("passport", user="alice")]


def test_a_large_scope_sees_a_pinned_memory_past_its_expiry(copen: Open) -> None:
    """The scope view (snapshots on SQLite, from 64 memories) carries the same rule."""
    mem = copen(embedder="hash")
    mem.add_many([{"text": f"note {i} about the garden", "user": "alice",
                   "time": "2024-01-01T10:00Z"} for i in range(300)])
    pinned, gone, _ = _expired_pins(mem)
    found = [h.memory.id for h in mem.search("passport umbrella drawer", user="alice")]
    assert pinned.id in found and gone.id not in found
    mem.close()
    again = copen(embedder="hash")  # a fresh process: the view read back from the store
    found = [h.memory.id for h in again.search("passport umbrella drawer", user="alice")]
    assert pinned.id in found and gone.id not in found
    again.update(pinned.id, user="alice", pinned=False)
    assert pinned.id not in [h.memory.id for h in again.search("passport", user="alice")]


def test_a_pinned_fact_past_its_expiry_is_reinforced_not_duplicated(copen: Open) -> None:
    """Near-duplicate detection sees what reads see: the pinned fact is current."""
    mem = copen(embedder="hash")
    fact = mem.add("Alice is allergic to peanuts", user="alice", kind="fact", pinned=True,
                   expires_at="2020-01-01T00:00Z")
    again = mem.add("Alice is allergic to peanuts", user="alice", kind="fact")
    assert again.id == fact.id
    assert [m.id for m in mem.list("alice").memories] == [fact.id]


def test_rest_lists_and_finds_a_pinned_memory_past_its_expiry(tmp_path: Path) -> None:
    from ltm.server.app import create_app
    from ltm.server.live import LiveServer

    with ltm.open(tmp_path / "store", embedder="hash") as mem:
        pinned, gone, _ = _expired_pins(mem)
        with LiveServer(create_app(mem, require_keys=False)) as srv:
            base = f"{srv.url}/v1/users/alice"
            listed = httpx.get(f"{base}/memories", timeout=30)
            assert listed.status_code == 200, listed.text
            ids = [m["id"] for m in listed.json()["memories"]]
            assert pinned.id in ids and gone.id not in ids
            hits = httpx.post(f"{base}/search", timeout=30,
                              json={"query": "blue drawer passport", "min_relevance": 0})
            assert hits.status_code == 200, hits.text
            ids = [h["memory"]["id"] for h in hits.json()["hits"]]
            assert pinned.id in ids and gone.id not in ids


# -- 2. the time filter keeps what held during the window ---------------------------------
NOW = "2026-03-12T12:00:00Z"  # "last week": Mon 2026-03-02 to Mon 2026-03-09


def test_the_time_filter_keeps_facts_valid_during_the_window(copen: Open) -> None:
    mem = copen(embedder="hash", time_phrases="filter")
    current = mem.add("Ana works at the Acme bakery", user="ana", kind="fact",
                      valid_from="2019-01-01T00:00Z")
    ended = mem.add("Ana works at the Initech office", user="ana", kind="fact",
                    valid_from="2020-01-01T00:00Z")
    after = mem.add("Ana works at the Globex lab", user="ana", kind="fact",
                    valid_from="2026-03-04T00:00Z", supersedes=ended.id)
    long_ago = mem.add("Ana works at the old mill", user="ana", kind="fact",
                       valid_from="2015-01-01T00:00Z")
    mem.add("Ana works at the new mill", user="ana", kind="fact",
            valid_from="2018-01-01T00:00Z", supersedes=long_ago.id)
    later = mem.add("Ana works at the Hooli campus", user="ana", kind="fact",
                    valid_from="2026-03-10T00:00Z")
    told = mem.add("Ana said work at the bakery was busy", user="ana",
                   time="2026-03-05T18:00Z")
    before = mem.add("Ana said work at the office was dull", user="ana",
                     time="2026-02-01T18:00Z")
    spans = mem.add("Ana talked about work at the bakery all week", user="ana",
                    kind="summary", valid_from="2026-02-25T10:00Z", time="2026-03-03T10:00Z")
    old = mem.add("Ana talked about work at the mill", user="ana", kind="summary",
                  valid_from="2025-01-01T10:00Z", time="2025-01-02T10:00Z")
    got = {h.memory.id for h in mem.search("where did Ana work last week?", user="ana",
                                           now=NOW, k=50)}
    # held, happened, or (a summary) spanned part of the week
    assert {current.id, ended.id, after.id, told.id, spans.id} <= got
    assert not got & {long_ago.id, later.id, before.id, old.id}
    # explicit since/until still bound the memories' own time (the facts were recorded now)
    got = {h.memory.id for h in mem.search("where did Ana work last week?", user="ana",
                                           now=NOW, k=50, until="2026-06-01T00:00Z")}
    assert got == {told.id, spans.id}


# -- 3. clearing an expiry ----------------------------------------------------------------
def test_update_clears_an_expiry(copen: Open) -> None:
    mem = copen(embedder="hash")
    soon = mem.add("Dentist appointment on Friday", user="ana", expires_at="2999-01-01T00:00Z")
    past = mem.add("Parking permit for March", user="ana", expires_at="2020-01-01T00:00Z")
    assert past.id not in [m.id for m in mem.list("ana").memories]
    cleared = mem.update(soon.id, user="ana", clear_expiry=True)
    assert cleared.expires_at is None and mem.get(soon.id, user="ana").expires_at is None
    assert mem.history(soon.id, user="ana")[-1].data == {
        "expires_at": 32472144000000000}  # the previous value, as history keeps it
    mem.update(past.id, user="ana", clear_expiry=True, importance=0.9)
    back = mem.get(past.id, user="ana")
    assert back.expires_at is None and back.importance == 0.9
    assert past.id in [m.id for m in mem.list("ana").memories]  # no longer expired
    mem.gc()
    assert mem.get(past.id, user="ana").text == "Parking permit for March"
    with pytest.raises(ltm.errors.InvalidInput) as both:
        mem.update(soon.id, user="ana", clear_expiry=True, expires_at="2999-01-01T00:00Z")
    assert both.value.field == "clear_expiry"
    with pytest.raises(ltm.errors.InvalidInput):
        mem.update(soon.id, user="ana", clear_expiry="yes")  # type: ignore[arg-type]
    assert mem.get(soon.id, user="ana").expires_at is None  # the refused calls wrote nothing


def test_rest_patch_with_a_null_expiry_clears_it(tmp_path: Path) -> None:
    from ltm.server.app import create_app
    from ltm.server.live import LiveServer

    with ltm.open(tmp_path / "store", embedder="hash") as mem:
        m = mem.add("Dentist appointment on Friday", user="ana",
                    expires_at="2999-01-01T00:00Z")
        with LiveServer(create_app(mem, require_keys=False)) as srv:
            url = f"{srv.url}/v1/users/ana/memories/{m.id}"
            got = httpx.patch(url, json={"importance": 0.7}, timeout=30)  # key absent: kept
            assert got.status_code == 200 and got.json()["expires_at"] is not None, got.text
            got = httpx.patch(url, json={"expires_at": None}, timeout=30)
            assert got.status_code == 200, got.text
            assert got.json()["expires_at"] is None and got.json()["importance"] == 0.7
            assert mem.get(m.id, user="ana").expires_at is None
            got = httpx.patch(url, json={}, timeout=30)  # still: at least one field
            assert got.status_code == 422, got.text


def test_cli_update_no_expiry(tmp_path: Path) -> None:
    from test_core_cli import ltm_cli

    store = tmp_path / "store"
    with ltm.open(store, embedder="hash") as mem:
        m = mem.add("Dentist appointment on Friday", user="ana",
                    expires_at="2999-01-01T00:00Z")
    both = ltm_cli(store, "update", "--user", "ana", m.id, "--no-expiry", "--expires-at",
                   "2999-02-01")
    assert both.returncode == 2 and "expires" in both.stderr, both.stderr
    done = ltm_cli(store, "update", "--user", "ana", m.id, "--no-expiry", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["expires_at"] is None
    with ltm.open(store, embedder="hash") as mem:
        assert mem.get(m.id, user="ana").expires_at is None


def test_langgraph_taking_a_ttl_away_keeps_the_item(tmp_path: Path) -> None:
    """The LangGraph store wrote the item anew when a put dropped its TTL (update could not
    clear an expiry), so its created_at ("when the item was first put") moved."""
    from ltm.integrations.langgraph import LtmStore

    store = LtmStore.open(tmp_path / "s", embedder="hash")
    try:
        store.put(("alice", "m"), "plan", {"text": "trip to Porto"}, ttl=60)
        first = store.get(("alice", "m"), "plan")
        (mem,) = store.store.list("alice").memories
        store.put(("alice", "m"), "plan", {"text": "trip to Porto, no rush"}, ttl=None)
        again = store.get(("alice", "m"), "plan")
        assert first is not None and again is not None
        assert again.created_at == first.created_at and again.value["text"].endswith("rush")
        (now,) = store.store.list("alice").memories
        assert now.id == mem.id and now.expires_at is None
    finally:
        store.close()


# -- 4. every retention rule takes effect or is refused -------------------------------------
@pytest.mark.parametrize(("spec", "names"), [
    ({"episode": {"min_strength": 0.2}}, "min_strength"),  # gc evicts nothing without decay
    ({"fact": {"ttl_days": 30, "min_strength": 0.5}}, "min_strength"),
    ({"episode": {"decay_half_life_days": 0}}, "decay_half_life_days"),  # read as "no decay"
    ({"episode": {"decay_half_life_days": 0, "min_strength": 0.5}}, "decay_half_life_days"),
    ({"fact": {"consolidate_after_days": 7}}, "consolidate_after_days"),  # episodes only
    ({"summary": {"originals": "remove"}}, "originals"),
    ({"note": {"summary_turns": 3}}, "summary_turns"),
    ({"fact": {"consolidate_min_turns": 2}}, "consolidate_min_turns"),
    ({"episode": {"consolidate_min_turns": 2}}, "consolidate_min_turns"),  # gc's rule only
    ({"Episode": {"ttl_days": 30}}, "'Episode'"),  # kinds are lowercase words
    ({"fact ": {"ttl_days": 30}}, "'fact '"),
])
def test_a_retention_rule_nothing_applies_is_refused(tmp_path: Path, spec: dict[str, Any],
                                                     names: str) -> None:
    with pytest.raises(ltm.errors.InvalidInput) as got:
        ltm.open(tmp_path / "s", embedder="hash", retention=spec)
    assert got.value.field in ("retention", names) and names in str(got.value), got.value
    assert str(got.value).startswith("retention ")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "ltm.toml").write_text(f"retention = {json.dumps(json.dumps(spec))}\n")
    with pytest.raises(ltm.errors.InvalidInput):  # the same from the store's ltm.toml
        ltm.open(tmp_path / "t", embedder="hash")


def test_the_rules_that_apply_still_open_and_act(tmp_path: Path) -> None:
    spec = {"episode": {"decay_half_life_days": 1, "min_strength": 0.5, "originals": "archive",
                        "summary_turns": 2, "consolidate_after_days": 10,
                        "consolidate_min_turns": 2},
            "fact": {"ttl_days": 1, "capacity": 5, "dedup_threshold": 0.9},
            "note": {"decay_half_life_days": 2, "min_strength": 0.1}}
    with ltm.open(tmp_path / "s", embedder="hash", retention=spec) as mem:
        old = mem.add("a note about the harbour", user="u", kind="note",
                      time="2024-01-01T00:00Z")
        report = mem.gc(now="2099-01-01")
        assert old.id in report.decayed


# -- 5. '*' is not a user name on any face ---------------------------------------------------
def _star_from_an_older_store(mem: ltm.MemoryStore) -> None:
    """Memories an earlier ltm stored under '*' (its row check let the name through): the
    store's own write path, with the user the old check accepted."""
    from ltm.timeutil import now_us

    rows = [dataclasses.replace(mem.engine.row(text, user="someone", session="s1",
                                               now=now_us()), user="*")
            for text in ("a note stored for everyone", "another note for all")]
    mem.engine.write(rows)


def _as_star(mem: ltm.MemoryStore) -> str:
    """An export of alice's memories, moved to the user '*' under new ids."""
    from ltm.ids import new_id

    out = io.StringIO()
    mem.export(out, user="alice")
    header, *lines = out.getvalue().splitlines()
    moved = [json.dumps({**json.loads(line), "user": "*", "id": new_id()}) for line in lines]
    return "\n".join([header, *moved]) + "\n"


def test_the_library_refuses_star_as_a_user(copen: Open) -> None:
    mem = copen(embedder="hash")
    ok = mem.add("Alice's cat Miso is orange", user="alice")
    calls = {
        "add": lambda: mem.add("a note for everyone", user="*"),
        "add_many": lambda: mem.add_many([{"text": "a note", "user": "*"}]),
        "add_conversation": lambda: mem.add_conversation(
            [{"role": "user", "content": "hi"}], user="*", session="s"),
        "search": lambda: mem.search("cat", user="*"),
        "context": lambda: mem.context("cat", user="*"),
        "list": lambda: mem.list("*"),
        "get": lambda: mem.get(ok.id, user="*"),
        "update": lambda: mem.update(ok.id, user="*", importance=0.3),
        "history": lambda: mem.history(ok.id, user="*"),
        "user_stats": lambda: mem.user_stats("*"),
        "feedback": lambda: mem.feedback("cat", ok.id, True, user="*"),
    }
    for name, call in calls.items():
        with pytest.raises(ltm.errors.ScopeError) as got:
            call()
        assert "'*' is not a user name" in str(got.value), name
    with pytest.raises(ltm.errors.InvalidInput) as bad:  # an import names the line
        mem.import_(io.StringIO(_as_star(mem)))
    assert "line 2: '*' is not a user name" in str(bad.value)
    assert mem.users() == ["alice"] and mem.get(ok.id, user="alice").importance is None


def test_a_store_holding_star_can_still_export_and_forget_it(copen: Open) -> None:
    mem = copen(embedder="hash")
    mem.add("Alice's cat Miso is orange", user="alice")
    _star_from_an_older_store(mem)
    assert mem.users() == ["*", "alice"]
    out = io.StringIO()
    assert mem.export(out, user="*") == 2
    assert {json.loads(line)["text"] for line in out.getvalue().splitlines()[1:]} == {
        "a note stored for everyone", "another note for all"}
    whole = io.StringIO()
    assert mem.export(whole) == 3
    assert mem.gc(user="*", dry_run=True).count == 0
    receipt = mem.forget(user="*")
    assert receipt.count == 2 and mem.users() == ["alice"]


def test_the_cli_refuses_star_and_still_forgets_it(tmp_path: Path) -> None:
    from test_core_cli import ltm_cli

    store = tmp_path / "store"
    with ltm.open(store, embedder="hash") as mem:
        _star_from_an_older_store(mem)
    added = ltm_cli(store, "add", "--user", "*", "a note for everyone")
    assert added.returncode == 2 and "'*' is not a user name" in added.stderr, added.stderr
    listed = ltm_cli(store, "list", "--user", "*")
    assert listed.returncode == 2, listed.stderr
    gone = ltm_cli(store, "forget", "--user", "*", "--all", "--yes", "--json")
    assert gone.returncode == 0 and json.loads(gone.stdout)["count"] == 2, gone.stderr
    with ltm.open(store, embedder="hash") as mem:
        assert mem.users() == []
