"""QA of issue 4's extraction side: retention keeps running in the background worker while the
LLM endpoint is down (the failed extraction skipped every gc pass: with the endpoint down for
good, nothing ever expired), a malformed ``llm_url`` is a typed ``LLMError`` and
``process(max_batches=...)`` a checked integer, and ``add()`` stays fast with the endpoint down."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _policy_fake_llm import FakeLLM

import ltm
from ltm.errors import InvalidInput
from ltm.llm import LLMClient, LLMError, LLMUnavailable
from ltm.policies.worker import BackgroundWorker

Open = Callable[..., ltm.MemoryStore]


def test_the_worker_collects_while_the_llm_is_down(hstore: Open, dead_url: str) -> None:
    store = hstore(llm_url=dead_url, llm_retries=0, llm_timeout_s=1)
    gone = store.add("the door code is 1234", user="u", expires_at="2001-01-01")
    kept = store.add("the door is blue", user="u")
    worker = BackgroundWorker(store, interval_s=0.05, gc_interval_s=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and worker.last_gc is None:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert worker.last_gc is not None and worker.last_gc.expired == [gone.id]
    assert worker.last_error is not None and "unavailable" in worker.last_error
    assert [m.id for m in store.list("u").memories] == [kept.id]
    # the episode stays queued for extraction
    with pytest.raises(LLMUnavailable, match="1 episodes stay queued"):
        store.process()


def test_run_once_gcs_then_reports_the_extraction_failure(hstore: Open, dead_url: str) -> None:
    store = hstore(llm_url=dead_url, llm_retries=0, llm_timeout_s=1)
    store.add("an old note", user="u", expires_at="2001-01-01")
    worker = BackgroundWorker(store)
    with pytest.raises(LLMUnavailable):
        worker.run_once(do_gc=True)
    assert worker.last_gc is not None and len(worker.last_gc.expired) == 1
    assert store.list("u").memories == []


@pytest.mark.parametrize("url", ["not a url", "ftp://host/v1", "http://", "http://[::1",
                                 "https://:80/v1"])
def test_a_malformed_llm_url_is_an_llm_error(hstore: Open, url: str) -> None:
    store = hstore(llm_url=url)
    started = time.perf_counter()
    m = store.add("I moved to Lisbon", user="u")  # stored whatever the endpoint
    assert time.perf_counter() - started < 2.0
    with pytest.raises(LLMError):
        store.process()
    assert store.get(m.id, user="u").text == "I moved to Lisbon"


@pytest.mark.parametrize("bad", [-1, "2", 1.5, True])
def test_max_batches_is_checked(hstore: Open, dead_url: str, bad: object) -> None:
    store = hstore(llm_url=dead_url, llm_retries=0)
    store.add("I moved to Lisbon", user="u")
    with pytest.raises(InvalidInput, match="max_batches"):
        store.process(max_batches=bad)  # type: ignore[arg-type]
    # 0 batches is a valid request: nothing done, the endpoint not even asked
    report = store.process(max_batches=0)
    assert report.batches == 0 and report.pending == 1


def test_cli_process_with_a_bad_max_batches_exits_2(tmp_path: Path, dead_url: str) -> None:
    path = tmp_path / "s"
    with ltm.open(path, embedder="hash") as store:
        store.add("I moved to Lisbon", user="u")
    out = subprocess.run([sys.executable, "-m", "ltm", "--store", str(path), "process",
                          "--max-batches", "-3"], capture_output=True, text=True, timeout=120,
                         env={"LTM_EMBEDDER": "hash", "LTM_LLM_URL": dead_url,
                              "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2, out
    assert "max_batches" in out.stderr and "Traceback" not in out.stderr


def test_retries_wait_no_longer_than_a_request_may_take(fake_llm: FakeLLM) -> None:
    fake_llm.on("*", "", status=503)
    # 14 retries doubling from 10 ms would wait 164 s; each wait is capped at the timeout
    started = time.monotonic()
    with LLMClient(fake_llm.url, "m", timeout=0.2, retries=14, backoff=0.01) as llm:
        with pytest.raises(LLMUnavailable, match="15 attempts"):
            llm.complete([{"role": "user", "content": "hello"}])
    assert time.monotonic() - started < 10
    assert len(fake_llm.requests) == 15
