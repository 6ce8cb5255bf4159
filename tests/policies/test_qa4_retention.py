"""QA of issue 4's retention promises on real stores: policies checked when the store opens
(a malformed one is ``InvalidInput``, never a raw TypeError or OverflowError, now or at gc),
TTL and ``expires_at`` at their exact boundary, gc's ``now`` with and without an offset, a dry
run that changes nothing and foretells the real run, pinned memories untouched by every rule,
capacity never exceeded after gc, and ``ltm gc`` on the command line."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import ltm
from ltm.errors import InvalidInput
from ltm.retention_rules import US_PER_DAY, policies, strength
from ltm.timeutil import to_us

Open = Callable[..., ltm.MemoryStore]


@pytest.mark.parametrize("rule", [
    {"summary_turns": "3"}, {"consolidate_min_turns": None}, {"summary_turns": 2.5},
    {"consolidate_min_turns": True}, {"summary_turns": 0}, {"ttl_days": 10 ** 400},
    {"decay_half_life_days": -1}, {"capacity": 1.5}, {"min_strength": float("nan")},
    {"dedup_threshold": 1.01}, {"originals": "delete"}, {"ttl_days": "30"},
])
def test_a_malformed_policy_is_refused_when_the_store_opens(tmp_path: Path,
                                                             rule: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        policies({"episode": rule})
    with pytest.raises(InvalidInput):
        ltm.open(tmp_path / "s", embedder="hash", retention={"episode": rule})
    with pytest.raises(InvalidInput):  # the same as JSON text (an env var, ltm.toml)
        ltm.open(tmp_path / "s", embedder="hash",
                 retention=json.dumps({"episode": {k: (str(v) if isinstance(v, float) and v != v
                                                       else v) for k, v in rule.items()}}))


def test_huge_but_finite_policies_keep_everything(hstore: Open) -> None:
    store = hstore(retention={"episode": {"ttl_days": 1e300, "consolidate_after_days": 1e300,
                                          "capacity": 10 ** 30, "decay_half_life_days": 1e300,
                                          "min_strength": 0.5}})
    store.add_conversation([{"role": "user", "content": f"turn {i} about boats"}
                            for i in range(8)], user="u", session="s", time="2001-01-01")
    report = store.gc(now="9999-12-30")
    assert report.count == 0 and not report.consolidated
    assert len(store.list("u").memories) == 8


def test_ttl_and_expires_at_at_their_exact_boundary(hstore: Open) -> None:
    store = hstore(retention={"episode": {"ttl_days": 2}})
    kept = store.add("the parking spot is B12", user="u")
    due = store.add("the gate code is 4471", user="u", kind="note",
                    expires_at="2031-06-01T12:00:00+02:00")
    end = to_us(kept.recorded_at) + 2 * US_PER_DAY
    tick = timedelta(microseconds=1)
    end_dt = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=end)
    assert store.gc(now=end_dt - tick, dry_run=True).expired == []
    assert store.gc(now=end_dt, dry_run=True).expired == [kept.id]
    at = datetime(2031, 6, 1, 10, tzinfo=timezone.utc)
    assert due.id not in store.gc(now=at - tick, dry_run=True).expired
    # the same instant written three ways
    for now in (at, "2031-06-01T12:00:00+02:00", datetime(2031, 6, 1, 10, 0)):
        assert due.id in store.gc(now=now, dry_run=True).expired
    # search hides an expired memory before any gc, as of the search's now
    assert [h.memory.id for h in store.search("gate code", user="u", kinds=["note"],
                                              now="2031-06-01T09:59:59Z")] == [due.id]
    assert store.search("gate code", user="u", kinds=["note"], now=at) == []
    assert store.get(due.id, user="u").id == due.id  # not erased by reading
    for bad in ("tomorrow", 10 ** 20, float("inf"), "2031-02-30"):
        with pytest.raises(InvalidInput):
            store.gc(now=bad)
    for flag in (0, 1, "yes", None):
        with pytest.raises(InvalidInput):
            store.gc(dry_run=flag)  # type: ignore[arg-type]
    assert len(store.list("u", kinds=["episode", "note"]).memories) == 2


def _dump(store: ltm.MemoryStore) -> list[dict[str, Any]]:
    buf = io.StringIO()
    store.export(buf, embeddings=False)
    lines = [json.loads(x) for x in buf.getvalue().splitlines()[1:]]
    return sorted(lines, key=lambda d: d["id"])


def test_dry_run_changes_nothing_and_foretells_the_real_run(hstore: Open) -> None:
    pol = {"episode": {"ttl_days": 400, "capacity": 5, "decay_half_life_days": 30,
                       "min_strength": 0.2, "consolidate_after_days": 100,
                       "consolidate_min_turns": 3, "originals": "remove"},
           "fact": {"dedup_threshold": 0.9, "capacity": 2}}
    store = hstore(retention=pol)
    store.add_conversation([{"role": "user", "content": f"We talked about sailing boats, part {i}"}
                            for i in range(4)], user="u", session="old", time="2025-01-01")
    for i in range(4):
        store.add(f"diary entry {i}: cooked pasta with {i} tomatoes", user="u",
                  session=f"d{i}", importance=i / 4)
    store.add("the cat is called Miso", user="u", kind="fact", pinned=True)
    store.add_many([{"text": f"Fact number {i} about the garden shed", "user": "u",
                     "kind": "fact"} for i in range(3)])
    store.add("pinned diary entry", user="u", pinned=True)
    before = _dump(store)
    history = {d["id"]: [e.event for e in store.history(d["id"], user="u")] for d in before}
    now = "2026-12-07T00:00:00Z"
    dry = store.gc(now=now, dry_run=True)
    assert _dump(store) == before
    assert {d["id"]: [e.event for e in store.history(d["id"], user="u")]
            for d in before} == history
    real = store.gc(now=now)
    assert dry.dry_run and not real.dry_run
    for name in ("expired", "decayed", "evicted", "merged", "archived", "removed"):
        assert getattr(dry, name) == getattr(real, name), name
    assert list(real.consolidated.values()) == list(dry.consolidated.values())
    left = store.list("u", kinds=["episode", "fact", "summary"], limit=100).memories
    pinned = {m.text for m in left if m.pinned}
    assert pinned == {"the cat is called Miso", "pinned diary entry"}
    by_kind: dict[str, int] = {}
    for m in left:
        by_kind[m.kind] = by_kind.get(m.kind, 0) + 1
    assert by_kind["episode"] <= 5 and by_kind["fact"] <= 2


def test_pinned_memories_outlive_every_rule(hstore: Open) -> None:
    store = hstore(retention={"episode": {"ttl_days": 0, "capacity": 0,
                                          "decay_half_life_days": 0.001, "min_strength": 1,
                                          "consolidate_after_days": 0,
                                          "consolidate_min_turns": 1, "originals": "remove"}})
    keep = store.add_conversation([{"role": "user", "content": "my passport number is X1"},
                                   {"role": "user", "content": "my blood type is O-"}],
                                  user="u", session="s", time="2020-01-01")
    for m in keep:
        store.update(m.id, user="u", pinned=True)
    gone = store.add("the weather was grey", user="u", session="t")
    store.gc(now="2030-01-01")
    ids = {m.id for m in store.list("u", kinds=["episode"]).memories}
    assert ids == {m.id for m in keep}
    assert gone.id not in ids


def test_capacity_holds_after_gc_on_both_backends(xstore: Open) -> None:
    store = xstore(retention={"note": {"capacity": 3}})
    store.add_many([{"text": f"note {i}: buy item number {i}", "user": u, "kind": "note",
                     "importance": (i % 5) / 5, "pinned": i == 7}
                    for u in ("a", "b") for i in range(9)])
    store.search("buy item number 8", user="a", k=2)  # used: higher utility
    report = store.gc()
    for u in ("a", "b"):
        notes = store.list(u, kinds=["note"]).memories
        assert len(notes) == 3
        assert "note 7: buy item number 7" in {m.text for m in notes}
    assert len(report.evicted) == 12
    store.close()
    again = xstore(retention={"note": {"capacity": 3}})  # reopened: nothing more to do
    assert again.gc().count == 0


def test_decay_strength_follows_the_documented_formula(hstore: Open) -> None:
    store = hstore(retention={"episode": {"decay_half_life_days": 10}})
    m = store.add("the blue notebook is in the drawer", user="u")
    start = to_us(m.recorded_at)
    assert strength(m, start, 10) == 1.0
    assert strength(m, start + 10 * US_PER_DAY, 10) == pytest.approx(0.5)
    assert strength(m, start - US_PER_DAY, 10) == 1.0  # a now before it was stored
    store.search("blue notebook", user="u")
    store.close()
    used = hstore(retention={"episode": {"decay_half_life_days": 10}}).get(m.id, user="u")
    assert used.access_count == 1
    idle = to_us(used.last_accessed) + 10 * US_PER_DAY  # type: ignore[arg-type]
    # each retrieval stretches the half-life by 1 + ln(1 + access_count)
    assert strength(used, idle, 10) == pytest.approx(0.5 ** (1 / (1 + 0.6931471805599453)))


def _ltm(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ltm", "--store", str(store), *args],
                          capture_output=True, text=True, timeout=120,
                          env={"LTM_EMBEDDER": "hash", "PATH": "/usr/bin:/bin"})


def test_cli_gc_reports_and_refuses_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "s"
    store = ltm.open(path, embedder="hash", retention={"episode": {"ttl_days": 30}})
    old = store.add("a memory from long ago", user="u")
    store.close()
    (path / "ltm.toml").write_text("[ltm.retention.episode]\nttl_days = 30\n")
    dry = _ltm(path, "gc", "--now", "2099-01-01T00:00:00+05:00", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["expired"] == [old.id]
    for args in (["gc", "--now", "next week"], ["gc", "--user", " "],
                 ["gc", "--now", "2099-13-01"]):
        out = _ltm(path, *args)
        assert out.returncode == 2, out
        assert "Traceback" not in out.stderr and out.stderr.startswith("ltm: ")
    (path / "ltm.toml").write_text("[ltm.retention.episode]\nsummary_turns = \"six\"\n")
    out = _ltm(path, "gc", "--dry-run")
    assert out.returncode == 2 and "summary_turns" in out.stderr, out
    assert "Traceback" not in out.stderr
    (path / "ltm.toml").write_text("[ltm.retention.episode]\nttl_days = 30\n")
    real = _ltm(path, "gc", "--now", "2099-01-01", "--json")
    assert real.returncode == 0 and json.loads(real.stdout)["count"] == 1
    with ltm.open(path, embedder="hash") as again:
        assert again.list("u").memories == []


def test_capacity_evicts_what_was_superseded_before_what_is_current(xstore: Open) -> None:
    store = xstore(retention={"fact": {"capacity": 2}})
    old = store.add("Ana works at Acme", user="u", kind="fact", valid_from="2019-01-01",
                    importance=1.0)
    for _ in range(5):  # much read, important: the highest utility
        store.search("Ana works at Acme", user="u")
    new = store.add("Ana works at Initech", user="u", kind="fact", valid_from="2021-03-01",
                    supersedes=old.id, importance=0.1)
    pet = store.add("Ana has a cat called Miso", user="u", kind="fact", importance=0.1)
    report = store.gc()
    assert report.evicted == [old.id]
    assert {m.id for m in store.list("u", kinds=["fact"]).memories} == {new.id, pet.id}
    assert store.search("where does Ana work", user="u", kinds=["fact"])[0].memory.id == new.id
