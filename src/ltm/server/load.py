"""``ltm bench load``: many concurrent HTTP clients doing mixed add/search against ``ltm serve``
on loopback, then a check that every acknowledged write is stored with its exact text.

The server runs in its own process(es) (``ltm serve``), the clients are threads here, each with
its own keep-alive connection. Only the standard library is imported at module level.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

WORDS = (
    "lisbon", "porto", "tokyo", "flight", "hotel", "sister", "cat", "miso", "tea", "jasmine",
    "coffee", "running", "morning", "meeting", "project", "deadline", "birthday", "gift",
    "book", "guitar", "piano", "garden", "tomato", "recipe", "pasta", "doctor", "dentist",
    "insurance", "car", "bike", "train", "ticket", "concert", "museum", "beach", "mountain",
    "snow", "holiday", "budget", "salary", "bank", "loan", "rent", "apartment", "neighbour",
    "dog", "walk", "park", "swim"
)


@dataclass
class LoadReport:
    clients: int
    requests: int
    server_processes: int
    seconds: float
    throughput_rps: float
    errors: int
    adds: int
    searches: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    add_p50_ms: float
    add_p99_ms: float
    search_p50_ms: float
    search_p99_ms: float
    stored: int
    lost_writes: int
    wrong_content: int
    error_samples: list[str] = field(default_factory=list)


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] * 1000


def run_load(urls: Sequence[str], key: str | None, *, clients: int, requests: int,
             search_ratio: float = 0.5, users: int = 10, seed: int = 0,
             server_processes: int = 1) -> LoadReport:
    """Run the load and verify the writes; ``urls`` are server base URLs (clients spread over
    them round-robin)."""
    import httpx

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    per_client = [requests // clients + (1 if i < requests % clients else 0)
                  for i in range(clients)]
    lat_add: list[list[float]] = [[] for _ in range(clients)]
    lat_search: list[list[float]] = [[] for _ in range(clients)]
    acked: list[dict[str, tuple[str, str]]] = [{} for _ in range(clients)]
    errors: list[list[str]] = [[] for _ in range(clients)]
    start_gate = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        with httpx.Client(base_url=urls[i % len(urls)], headers=headers, timeout=120) as c:
            start_gate.wait()
            for n in range(per_client[i]):
                user = f"load-user-{rng.randrange(users)}"
                try:
                    if rng.random() < search_ratio:
                        q = " ".join(rng.sample(WORDS, 3))
                        t0 = time.perf_counter()
                        r = c.post(f"/v1/users/{user}/search", json={"query": q, "k": 10})
                        lat_search[i].append(time.perf_counter() - t0)
                        if r.status_code != 200:
                            errors[i].append(f"search {r.status_code} {r.text[:200]}")
                    else:
                        text = f"client {i} note {n}: " + " ".join(rng.sample(WORDS, 6))
                        t0 = time.perf_counter()
                        r = c.post(f"/v1/users/{user}/memories",
                                   json={"text": text, "session": f"c{i}"})
                        lat_add[i].append(time.perf_counter() - t0)
                        if r.status_code == 201:
                            acked[i][r.json()["id"]] = (user, text)
                        else:
                            errors[i].append(f"add {r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    errors[i].append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0

    # verification: export every user and compare with what was acknowledged
    want: dict[str, tuple[str, str]] = {}
    for a in acked:
        want.update(a)
    stored: dict[str, tuple[str, str]] = {}
    with httpx.Client(base_url=urls[0], headers=headers, timeout=300) as c:
        for u in range(users):
            user = f"load-user-{u}"
            with c.stream("GET", f"/v1/users/{user}/export") as r:
                r.raise_for_status()
                for line in list(r.iter_lines())[1:]:
                    if line:
                        row = json.loads(line)
                        stored[row["id"]] = (row["user"], row["text"])
    lost = sum(1 for i in want if i not in stored)
    wrong = sum(1 for i, v in want.items() if i in stored and stored[i] != v)
    adds = [x for xs in lat_add for x in xs]
    searches = [x for xs in lat_search for x in xs]
    every = adds + searches
    errs = [e for es in errors for e in es]
    return LoadReport(
        clients=clients, requests=requests, server_processes=server_processes,
        seconds=round(seconds, 3), throughput_rps=round(len(every) / seconds, 1),
        errors=len(errs), adds=len(adds), searches=len(searches),
        p50_ms=round(_pct(every, 0.5), 2), p90_ms=round(_pct(every, 0.9), 2),
        p99_ms=round(_pct(every, 0.99), 2), add_p50_ms=round(_pct(adds, 0.5), 2),
        add_p99_ms=round(_pct(adds, 0.99), 2), search_p50_ms=round(_pct(searches, 0.5), 2),
        search_p99_ms=round(_pct(searches, 0.99), 2), stored=len(stored), lost_writes=lost,
        wrong_content=wrong, error_samples=errs[:5])


@contextmanager
def server_processes(store: str | Path, count: int = 1, *, workers: int = 1,
                     timeout: float = 120.0) -> Iterator[list[str]]:
    """Start ``count`` separate ``ltm serve`` processes on one store (each on its own port;
    ``workers`` uvicorn workers each); yields their base URLs."""
    import httpx

    from .live import free_port

    procs: list[subprocess.Popen[bytes]] = []
    urls = []
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    # the servers' logs go to a file: a pipe nobody reads while they run fills up (64 KiB of
    # logged tracebacks) and blocks the server in its next log call
    logs = tempfile.TemporaryFile()
    try:
        for _ in range(count):
            port = free_port()
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "ltm.cli", "serve", "--store", str(store),
                 "--port", str(port), "--workers", str(workers), "--log-level", "warning",
                 "--no-mcp"], env=env, stdout=subprocess.DEVNULL, stderr=logs))
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + timeout
        for proc, url in zip(procs, urls):
            while True:
                if proc.poll() is not None:
                    logs.seek(0)
                    err = logs.read().decode(errors="replace")
                    raise RuntimeError(f"ltm serve exited with {proc.returncode}: {err[-2000:]}")
                try:
                    if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"ltm serve did not come up on {url}")
                time.sleep(0.1)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        logs.close()


def load_report(*, clients: int = 50, requests: int = 20_000, search_ratio: float = 0.5,
                servers: int = 1, workers: int = 1,
                store: str | None = None) -> tuple[LoadReport, dict[str, Any]]:
    """``ltm bench load``'s run: ``servers`` processes of ``ltm serve`` on ``store`` (default
    a fresh temporary one) with an admin key, loaded by ``run_load``; the report and its JSON
    (with the machine)."""
    from ..store import open as open_store
    from .auth import KeyStore

    with tempfile.TemporaryDirectory() as tmp:
        folder = store or str(Path(tmp) / "store")
        open_store(folder).close()
        ks = KeyStore(folder)
        key, _ = ks.create(["*"], "read,write,admin", "ltm bench load")
        ks.close()
        with server_processes(folder, servers, workers=workers) as urls:
            report = run_load(urls, key, clients=clients, requests=requests,
                              search_ratio=search_ratio, server_processes=servers * workers)
    data = asdict(report)
    data.update({"cpu_count": os.cpu_count(), "python": sys.version.split()[0],
                 "embedder": "wordllama (default)", "date": time.strftime("%Y-%m-%d")})
    return report, data
