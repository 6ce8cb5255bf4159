"""``ltm bench fuzz``: schemathesis against the served OpenAPI schema of a live server: no 5xx,
no response that breaks the schema, bad input rejected.

The checks are schemathesis' full set except two, each by design:

- ``positive_data_acceptance``: the schema cannot express every rule of the engine (a time
  must fall in years 1..9999 after conversion to UTC, sources must be the same user's
  memories, an update must change something), so some schema-valid requests are rightly
  refused with 422;
- ``use_after_free``: after a memory is erased its history still answers 200 with the
  content-free ``deleted`` event (the audit trail DESIGN.md asks for), and after a user is
  erased, reading that user's export or stats answers 200 with nothing in it (a user is a
  scope, not a resource).

Only the standard library is imported at module level.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHECKS_EXCLUDED = ("positive_data_acceptance", "use_after_free")


def _schemathesis() -> list[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "schemathesis.cli"]


def run_fuzz(url: str, key: str, *, max_examples: int = 10, phases: str = "examples,fuzzing",
             seed: int = 0, max_time: float | None = None, workers: int = 1,
             timeout: float = 600) -> dict[str, Any]:
    """Run schemathesis against ``url`` (a server base URL); returns a summary dict with
    ``ok``, ``failures`` (the text of each), case counts and the seconds taken."""
    cmd = [*_schemathesis(), "run", f"{url}/openapi.json",
           "-H", f"Authorization: Bearer {key}", "--max-examples", str(max_examples),
           "--phases", phases, "--checks", "all",
           "--exclude-checks", ",".join(CHECKS_EXCLUDED), "--seed", str(seed),
           "--workers", str(workers), "--no-shrink", "--request-timeout", "60"]
    if max_time:
        cmd += ["--max-time", str(int(max_time))]
    env = dict(os.environ, NO_COLOR="1", SCHEMATHESIS_HOOKS="")
    with tempfile.TemporaryDirectory() as tmp:  # keep its cache out of the working tree
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp,
                              env=env, check=False)
        seconds = time.perf_counter() - t0
    out = proc.stdout + proc.stderr
    m = re.search(r"(\d+) generated, (?:(\d+) passed|.*?(\d+) unique failures)", out)
    generated = int(m.group(1)) if m else None
    failures = re.findall(r"^_{3,} (.+?) _{3,}$", out, flags=re.MULTILINE)
    server_errors = len(re.findall(r"Server error", out))
    violations = len(re.findall(r"Response violates schema|Undocumented status code|"
                                r"Undocumented Content-Type|Allow header mismatch", out))
    return {"ok": proc.returncode == 0, "returncode": proc.returncode, "cases": generated,
            "failing_operations": failures, "server_errors": server_errors,
            "schema_violations": violations, "seconds": round(seconds, 1),
            "max_examples": max_examples, "phases": phases, "seed": seed,
            "checks": f"all except {', '.join(CHECKS_EXCLUDED)}",
            "output_tail": out[-6000:] if proc.returncode else out[-1500:]}


def seed_store(store: Any) -> None:
    """A few memories so that reads have something to find."""
    store.add_many([
        {"text": "I moved to Lisbon in March", "user": "alice", "session": "s1"},
        {"text": "Alice likes jasmine tea", "user": "alice", "kind": "fact"},
        {"text": "Bob plays the guitar", "user": "bob", "session": "s2"},
    ])


def fuzz_served(*, max_examples: int = 100, phases: str = "examples,coverage,fuzzing",
                seed: int = 0, max_time: float | None = None) -> dict[str, Any]:
    """``ltm bench fuzz``'s run: a fresh store with a few memories and an admin key, served on
    loopback, fuzzed by ``run_fuzz``; the summary with the date."""
    from ..store import open as open_store
    from .app import create_app
    from .auth import KeyStore
    from .live import LiveServer

    with tempfile.TemporaryDirectory() as tmp:
        mem = open_store(Path(tmp) / "store")
        keys = KeyStore(Path(tmp) / "store")
        key, _ = keys.create(["*"], "read,write,admin", "ltm bench fuzz")
        seed_store(mem)
        try:
            with LiveServer(create_app(mem, keys=keys), log_level="error") as srv:
                summary = run_fuzz(srv.url, key, max_examples=max_examples, phases=phases,
                                   seed=seed, max_time=max_time, timeout=24 * 3600)
        finally:
            mem.close()
            keys.close()
    summary["date"] = time.strftime("%Y-%m-%d")
    return summary
