"""``ltm bench soak``: many HTTP clients for minutes against ``ltm serve`` on one store, mixing
adds, searches, reads and forgets, and checking that no write is lost and no erased memory
comes back.

Each client is a thread with its own keep-alive connection. The users are shared: a client adds
memories (one, or a batch) to a random user in sessions of its own, searches for the text of a
memory it added or of one it erased, reads one back, lists a user's newest memories, and
forgets one of its memories by id, one of its sessions, and (rarely) a whole user with every
other client's memories of that user. Every forget's receipt names the ids it erased, with the
moment it was acknowledged.

* ``resurrected``: an erased id in the answer to a search, get or list that was sent after the
  forget that erased it was acknowledged, or stored at the end;
* ``lost_writes``: an acknowledged id that no receipt names, missing from the final export (or
  answered 404 by a get);
* ``errors_5xx``: responses with a 5xx status (transport errors count in ``errors_other``).

Only the standard library is imported at module level.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .load import WORDS, _pct, server_processes

# relative weights of the operations a client picks from
MIX = {"add": 22, "add_batch": 3, "search": 16, "get": 5, "list": 2, "forget_id": 48,
       "forget_session": 3, "forget_user": 0.1}


@dataclass
class SoakReport:
    requests: int
    errors_5xx: int
    lost_writes: int
    resurrected: int
    clients: int
    seconds: float
    throughput_rps: float
    forgets: int  # acknowledged forget requests (by id, session or user)
    forgotten_ids: int
    adds: int  # acknowledged memories (single adds and batch items)
    searches: int
    gets: int
    lists: int
    errors_other: int  # unexpected 4xx and transport errors
    not_found_after_ack: int  # a search for a live memory's own text that missed it
    stored: int
    p50_ms: float
    p99_ms: float
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)


class _Shared:
    """What every client knows: acknowledged adds and every receipt, with their times."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.added: dict[str, tuple[str, str]] = {}  # id: (user, text)
        self.forgotten: dict[str, float] = {}  # id: when its receipt arrived (monotonic)
        self.resurrected: set[str] = set()
        self.missing: set[str] = set()  # acknowledged, answered 404 before any receipt named it
        self.missed: set[str] = set()  # live, yet not found by a search for its own text
        self.samples: list[str] = []

    def erased(self, ids: Sequence[str]) -> None:
        now = time.monotonic()
        with self.lock:
            for i in ids:
                self.forgotten.setdefault(i, now)

    def seen(self, ids: Sequence[str], sent: float, what: str) -> None:
        """``ids`` came back from a request sent at ``sent``: none may have been erased
        before."""
        with self.lock:
            for i in ids:
                at = self.forgotten.get(i)
                if at is not None and at < sent and i not in self.resurrected:
                    self.resurrected.add(i)
                    self.note(f"{what} sent {sent - at:.3f} s after {i} was forgotten "
                              "returned it")

    def note(self, message: str) -> None:
        if len(self.samples) < 10:
            self.samples.append(message[:500])


def _receipt_ids(body: dict[str, Any]) -> list[str]:
    return [i for ids in body["ids_by_kind"].values() for i in ids]


def run_soak(urls: Sequence[str], key: str | None, *, clients: int = 20,
             seconds: float = 300.0, users: int = 10, seed: int = 0) -> SoakReport:
    """Run the soak for ``seconds`` and verify (see the module)."""
    import httpx

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    shared = _Shared()
    counts = [dict.fromkeys(("requests", "5xx", "other", "forgets", "searches", "gets",
                             "lists"), 0) for _ in range(clients)]
    latency: list[dict[str, list[float]]] = [{} for _ in range(clients)]
    gate = threading.Barrier(clients + 1)
    stop_at = [0.0]
    names, weights = list(MIX), list(MIX.values())

    def client(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        mine: dict[str, tuple[str, str, str]] = {}  # id: (user, session, text), not erased
        gone: list[tuple[str, str]] = []  # (user, text) of memories this client erased
        c_ = counts[i]
        n = 0

        def call(c: httpx.Client, op: str, method: str, url: str, ok: tuple[int, ...],
                 **kw: Any) -> tuple[httpx.Response | None, float]:
            sent = time.monotonic()
            try:
                r = c.request(method, url, **kw)
            except httpx.HTTPError as exc:
                c_["other"] += 1
                shared.note(f"{op}: {type(exc).__name__}: {exc}")
                return None, sent
            latency[i].setdefault(op, []).append(time.monotonic() - sent)
            c_["requests"] += 1
            if r.status_code >= 500:
                c_["5xx"] += 1
                shared.note(f"{op} {url}: {r.status_code} {r.text[:300]}")
                return None, sent
            if r.status_code not in ok:
                c_["other"] += 1
                shared.note(f"{op} {url}: {r.status_code} {r.text[:300]}")
                return None, sent
            return r, sent

        def drop_erased(ids: Sequence[str]) -> None:
            shared.erased(ids)
            for x in ids:
                if x in mine:
                    gone.append((mine[x][0], mine[x][2]))
                    del mine[x]

        with httpx.Client(base_url=urls[i % len(urls)], headers=headers, timeout=120) as c:
            gate.wait()
            while time.monotonic() < stop_at[0]:
                n += 1
                op = rng.choices(names, weights)[0]
                user = f"soak-user-{rng.randrange(users)}"
                if op in ("add", "add_batch"):
                    session = f"c{i}-s{rng.randrange(6)}"
                    texts = [f"client {i} note {n}-{j}: " + " ".join(rng.sample(WORDS, 5))
                             + f" t{i}x{n}x{j}z"
                             for j in range(1 if op == "add" else rng.randrange(2, 21))]
                    if op == "add":
                        r, _ = call(c, op, "POST", f"/v1/users/{user}/memories", (201,),
                                    json={"text": texts[0], "session": session})
                        made = [r.json()] if r is not None else []
                    else:
                        r, _ = call(c, op, "POST", f"/v1/users/{user}/memories/batch", (201,),
                                    json={"items": [{"text": t, "session": session}
                                                    for t in texts]})
                        made = r.json()["memories"] if r is not None else []
                    with shared.lock:
                        for m in made:
                            shared.added[m["id"]] = (user, m["text"])
                    for m in made:
                        mine[m["id"]] = (user, session, m["text"])
                elif op == "search":
                    c_["searches"] += 1
                    target: tuple[str, str, str | None]
                    if gone and rng.random() < 0.4:  # one it erased must not come back
                        u, t = rng.choice(gone)
                        target = (u, t, None)
                    elif mine:
                        mid = rng.choice(list(mine))
                        target = (mine[mid][0], mine[mid][2], mid)
                    else:
                        target = (user, " ".join(rng.sample(WORDS, 3)), None)
                    r, sent = call(c, op, "POST", f"/v1/users/{target[0]}/search", (200,),
                                   json={"query": target[1], "k": 10})
                    if r is not None:
                        ids = [h["memory"]["id"] for h in r.json()["hits"]]
                        shared.seen(ids, sent, "search")
                        if target[2] is not None and target[2] in mine and target[2] not in ids:
                            with shared.lock:  # unless a user-wide forget erased it meanwhile
                                shared.missed.add(target[2])
                elif op == "get" and mine:
                    c_["gets"] += 1
                    mid = rng.choice(list(mine))
                    r, sent = call(c, op, "GET", f"/v1/users/{mine[mid][0]}/memories/{mid}",
                                   (200, 404))
                    if r is not None and r.status_code == 200:
                        shared.seen([mid], sent, "get")
                    elif r is not None:
                        with shared.lock:
                            shared.missing.add(mid)  # lost unless some receipt names it
                elif op == "list":
                    c_["lists"] += 1
                    r, sent = call(c, op, "GET", f"/v1/users/{user}/memories",
                                   (200,), params={"limit": 100})
                    if r is not None:
                        shared.seen([m["id"] for m in r.json()["memories"]], sent, "list")
                elif op == "forget_id" and mine:
                    mid = rng.choice(list(mine))
                    r, _ = call(c, op, "DELETE", f"/v1/users/{mine[mid][0]}/memories/{mid}",
                                (200, 404))
                    if r is not None and r.status_code == 200:
                        c_["forgets"] += 1
                        drop_erased(_receipt_ids(r.json()))
                    elif r is not None:  # erased by another client's user-wide forget?
                        with shared.lock:
                            shared.missing.add(mid)
                        mine.pop(mid, None)
                elif op == "forget_session" and mine:
                    u, s, _ = mine[rng.choice(list(mine))]
                    r, _ = call(c, op, "POST", f"/v1/users/{u}/forget", (200,),
                                json={"session": s})
                    if r is not None:
                        c_["forgets"] += 1
                        drop_erased(_receipt_ids(r.json()))
                elif op == "forget_user":
                    r, _ = call(c, op, "DELETE", f"/v1/users/{user}", (200,))
                    if r is not None:
                        c_["forgets"] += 1
                        drop_erased(_receipt_ids(r.json()))
                # ids other clients' user-wide forgets erased: not this client's any more
                with shared.lock:
                    erased_here = [x for x in mine if x in shared.forgotten]
                for x in erased_here:
                    del mine[x]

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.monotonic() + seconds
    gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0

    # every user exported: what was acknowledged and not erased is there, nothing erased is
    stored: dict[str, str] = {}
    with httpx.Client(base_url=urls[0], headers=headers, timeout=300) as c:
        for u in range(users):
            with c.stream("GET", f"/v1/users/soak-user-{u}/export") as r:
                r.raise_for_status()
                for line in list(r.iter_lines())[1:]:
                    if line:
                        row = json.loads(line)
                        stored[row["id"]] = row["text"]
    live = {i: v for i, v in shared.added.items() if i not in shared.forgotten}
    lost = {i for i, (_, text) in live.items() if stored.get(i) != text}
    lost |= {i for i in shared.missing if i not in shared.forgotten}
    back = shared.resurrected | {i for i in shared.forgotten if i in stored}
    for i in sorted(lost)[:3]:
        shared.note(f"lost: {i} of {live.get(i, ('?',))[0]}")
    every = {op: [x for lat in latency for x in lat.get(op, [])] for op in MIX}
    flat = [x for xs in every.values() for x in xs]
    total = sum(c_["requests"] for c_ in counts)
    return SoakReport(
        requests=total, errors_5xx=sum(c_["5xx"] for c_ in counts), lost_writes=len(lost),
        resurrected=len(back), clients=clients, seconds=round(elapsed, 1),
        throughput_rps=round(total / elapsed, 1),
        forgets=sum(c_["forgets"] for c_ in counts), forgotten_ids=len(shared.forgotten),
        adds=len(shared.added), searches=sum(c_["searches"] for c_ in counts),
        gets=sum(c_["gets"] for c_ in counts), lists=sum(c_["lists"] for c_ in counts),
        errors_other=sum(c_["other"] for c_ in counts),
        not_found_after_ack=len(shared.missed - set(shared.forgotten)), stored=len(stored),
        p50_ms=round(_pct(flat, 0.5), 1), p99_ms=round(_pct(flat, 0.99), 1),
        latency_ms={op: {"count": len(xs), "p50": round(_pct(xs, 0.5), 1),
                         "p99": round(_pct(xs, 0.99), 1)} for op, xs in every.items() if xs},
        error_samples=shared.samples)


def soak_report(*, clients: int = 20, seconds: float = 300.0, users: int = 10, seed: int = 0,
                store: str | None = None) -> tuple[SoakReport, dict[str, Any]]:
    """``ltm bench soak``'s run: ``ltm serve`` on ``store`` (default a fresh temporary one)
    with an admin key, soaked by ``run_soak``; the report and its JSON (with the machine, the
    embedder and the load average before and after)."""
    from ..store import open as open_store
    from .auth import KeyStore

    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        folder = store or str(Path(tmp) / "store")
        with open_store(folder) as mem:
            embedder = mem.embedder.name
        ks = KeyStore(folder)
        key, _ = ks.create(["*"], "read,write,admin", "ltm bench soak")
        ks.close()
        with server_processes(folder, 1) as urls:
            report = run_soak(urls, key, clients=clients, seconds=seconds, users=users,
                              seed=seed)
    data = asdict(report)
    data.update({"cpu_count": os.cpu_count(), "python": sys.version.split()[0],
                 "embedder": embedder, "load_average_before": load_before,
                 "load_average_after": [round(x, 2) for x in os.getloadavg()],
                 "date": time.strftime("%Y-%m-%d")})
    return report, data
