"""Replay-buffer benchmark: insert rate, prioritized sample+update rate, sampling accuracy.

Run through ``ltm bench replay`` (or ``python -m ltm.cli bench replay``). Everything
runs in one process on one thread; the peer (TorchRL's prioritized buffer when
it is importable, else a Python list sampled with ``random.choices``) runs the
same workload in the same run so the ratios are like for like.
"""

from __future__ import annotations

import logging
import os
import platform
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ltm.replay.buffers import PrioritizedBuffer

log = logging.getLogger(__name__)

SCHEMA = {
    "obs": ((8,), "float32"),
    "action": ((), "int64"),
    "reward": ((), "float32"),
    "next_obs": ((8,), "float32"),
    "done": ((), "bool"),
}


@dataclass
class BenchConfig:
    capacity: int = 1_000_000
    insert_batch: int = 1_000  # items per extend() call
    sample_batch: int = 256  # items per prioritized sample (and priority update)
    per_batches: int = 2_000  # sample+update rounds timed
    freq_groups: int = 10  # priority levels 1..groups for the frequency check
    freq_samples: int = 10_000_000  # items drawn for the frequency check
    baseline_batches: int = 200  # rounds timed for the (slow) list baseline
    seed: int = 0


def _transitions(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "obs": rng.random((n, 8), dtype=np.float32),
        "action": rng.integers(0, 4, n),
        "reward": rng.random(n, dtype=np.float32),
        "next_obs": rng.random((n, 8), dtype=np.float32),
        "done": rng.random(n) < 0.01,
    }


def _timed(fn: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) taken by ``fn``."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def bench_inserts(cfg: BenchConfig, path: Path | None) -> tuple[float, float]:
    """Items per second (wall, CPU) written by ``extend`` in batches, filling the buffer ~1.5 times."""
    rng = np.random.default_rng(cfg.seed)
    buf = PrioritizedBuffer(cfg.capacity, SCHEMA, path=path, seed=cfg.seed)
    batches = [_transitions(cfg.insert_batch, rng) for _ in range(8)]
    rounds = (cfg.capacity * 3 // 2) // cfg.insert_batch
    if path is not None:  # steady state: after a checkpoint every overwrite is journaled
        for i in range(cfg.capacity // cfg.insert_batch):
            buf.extend(batches[i % 8])
        buf.checkpoint()
        rounds = cfg.capacity // cfg.insert_batch

    def run() -> None:
        for i in range(rounds):
            buf.extend(batches[i % 8])

    wall, cpu = _timed(run)
    buf.close()
    return rounds * cfg.insert_batch / wall, rounds * cfg.insert_batch / cpu


def _full_per_buffer(cfg: BenchConfig, path: Path | None) -> PrioritizedBuffer:
    rng = np.random.default_rng(cfg.seed)
    buf = PrioritizedBuffer(cfg.capacity, SCHEMA, path=path, seed=cfg.seed, alpha=0.6, beta=0.4)
    chunk = 50_000
    for start in range(0, cfg.capacity, chunk):
        buf.extend(_transitions(min(chunk, cfg.capacity - start), rng))
    all_idx = np.arange(cfg.capacity)
    buf.update_priorities(all_idx, rng.random(cfg.capacity) * 10)
    if path is not None:
        buf.checkpoint()
    return buf


def bench_per(cfg: BenchConfig, path: Path | None) -> tuple[float, float]:
    """Prioritized sample(256) + update_priorities(256) rounds per second (wall, CPU), full buffer."""
    buf = _full_per_buffer(cfg, path)
    rng = np.random.default_rng(cfg.seed + 1)
    td = [rng.random(cfg.sample_batch) * 10 for _ in range(16)]
    for i in range(50):  # warm-up
        b = buf.sample(cfg.sample_batch, rng)
        buf.update_priorities(b.indices, td[i % 16], b.stamps)

    def run() -> None:
        for i in range(cfg.per_batches):
            b = buf.sample(cfg.sample_batch, rng)
            buf.update_priorities(b.indices, td[i % 16], b.stamps)

    wall, cpu = _timed(run)
    buf.close()
    return cfg.per_batches / wall, cfg.per_batches / cpu


def frequency_error(cfg: BenchConfig) -> dict[str, Any]:
    """Largest relative gap between measured and expected sampling frequency.

    The full buffer's slots get priorities 1..G by ``slot % G`` (alpha = 1), so each
    group of ``capacity / G`` items should be drawn with probability
    ``mass_g / total``; ``freq_samples`` items are drawn in batches of 256.
    """
    g = cfg.freq_groups
    buf = PrioritizedBuffer(cfg.capacity, {"x": ((), "int32")}, seed=cfg.seed, alpha=1.0)
    buf.extend({"x": np.zeros(cfg.capacity, dtype=np.int32)})
    slots = np.arange(cfg.capacity)
    buf.update_priorities(slots, (slots % g + 1).astype(np.float64) - buf.eps)
    leaf = buf.probabilities()
    expected = np.bincount(slots % g, weights=leaf, minlength=g)
    counts = np.zeros(g, dtype=np.int64)
    rng = np.random.default_rng(cfg.seed + 2)
    rounds = cfg.freq_samples // cfg.sample_batch
    for _ in range(rounds):
        s, _, _ = buf._draw(cfg.sample_batch, rng)
        counts += np.bincount(s % g, minlength=g)
    measured = counts / counts.sum()
    rel = np.abs(measured - expected) / expected
    return {
        "max_frequency_error": float(rel.max()),
        "frequency_groups": g,
        "frequency_samples": int(counts.sum()),
        "expected_min_group_share": float(expected.min()),
    }


# -- peers -------------------------------------------------------------------
def torchrl_available() -> bool:
    try:
        import torchrl.data  # noqa: F401
    except (ImportError, OSError, RuntimeError):  # absent, or built against another torch
        return False
    return True


def bench_torchrl(cfg: BenchConfig) -> dict[str, float]:
    """TorchRL's PrioritizedReplayBuffer on the same workload (only if importable)."""
    import torch
    from tensordict import TensorDict
    from torchrl.data import LazyTensorStorage, PrioritizedReplayBuffer

    torch.manual_seed(cfg.seed)
    rb = PrioritizedReplayBuffer(
        alpha=0.6, beta=0.4, storage=LazyTensorStorage(cfg.capacity), batch_size=cfg.sample_batch
    )
    rng = np.random.default_rng(cfg.seed)

    def td(n: int) -> Any:
        t = _transitions(n, rng)
        return TensorDict({k: torch.from_numpy(np.asarray(v)) for k, v in t.items()}, batch_size=[n])

    batches = [td(cfg.insert_batch) for _ in range(8)]
    rounds = (cfg.capacity * 3 // 2) // cfg.insert_batch
    t0 = time.perf_counter()
    for i in range(rounds):
        rb.extend(batches[i % 8])
    inserts = rounds * cfg.insert_batch / (time.perf_counter() - t0)
    prio = [torch.from_numpy(rng.random(cfg.sample_batch) * 10) for _ in range(16)]
    n = max(cfg.per_batches // 4, 50)
    t0 = time.perf_counter()
    for i in range(n):
        _sample, info = rb.sample(return_info=True)
        rb.update_priority(info["index"], prio[i % 16])
    per = n / (time.perf_counter() - t0)
    return {"inserts_per_s": inserts, "per_batches_per_s": per}


def bench_list_baseline(cfg: BenchConfig) -> dict[str, float]:
    """A plain Python list of tuples with ``random.choices`` by weight."""
    rnd = random.Random(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    data: list[tuple[Any, ...]] = []
    prio: list[float] = []
    pos = 0
    batches = [_transitions(cfg.insert_batch, rng) for _ in range(8)]
    rounds = (cfg.capacity * 3 // 2) // cfg.insert_batch
    t0 = time.perf_counter()
    for r in range(rounds):
        # same input as the ltm buffer gets (a dict of arrays), one tuple per item
        t = batches[r % 8]
        for row in zip(*(t[k] for k in SCHEMA)):
            if len(data) < cfg.capacity:
                data.append(row)
                prio.append(1.0)
            else:
                data[pos] = row
                prio[pos] = 1.0
            pos = (pos + 1) % cfg.capacity
    inserts = rounds * cfg.insert_batch / (time.perf_counter() - t0)
    idx_all = range(len(data))
    new_p = [rnd.random() * 10 for _ in range(cfg.sample_batch)]
    n = cfg.baseline_batches
    t0 = time.perf_counter()
    for _ in range(n):
        idx = rnd.choices(idx_all, weights=prio, k=cfg.sample_batch)
        _batch = [data[i] for i in idx]
        for i, p in zip(idx, new_p):
            prio[i] = p**0.6
    per = n / (time.perf_counter() - t0)
    return {"inserts_per_s": inserts, "per_batches_per_s": per}


def run_benchmark(cfg: BenchConfig) -> dict[str, Any]:
    """Run every measurement; returns the JSON-ready result."""
    out: dict[str, Any] = {"config": asdict(cfg), "load_average_1m": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="ltm-replay-bench-") as tmp:
        log.info("inserts (memory)")
        out["inserts_per_s"], out["inserts_per_cpu_s"] = bench_inserts(cfg, None)
        log.info("inserts (folder)")
        out["inserts_per_s_persistent"], out["inserts_per_cpu_s_persistent"] = bench_inserts(cfg, Path(tmp) / "ins")
        log.info("prioritized sample+update (memory)")
        out["per_batches_per_s"], out["per_batches_per_cpu_s"] = bench_per(cfg, None)
        log.info("prioritized sample+update (folder)")
        out["per_batches_per_s_persistent"], out["per_batches_per_cpu_s_persistent"] = bench_per(
            cfg, Path(tmp) / "per"
        )
    log.info("sampling frequencies")
    out.update(frequency_error(cfg))
    if torchrl_available():
        log.info("peer: torchrl")
        peer_name = "torchrl.PrioritizedReplayBuffer"
        peer = bench_torchrl(cfg)
    else:
        log.info("peer: list + random.choices (torchrl not importable)")
        peer_name = "python list + random.choices"
        peer = bench_list_baseline(cfg)
    out["peer"] = {"name": peer_name, **peer}
    out["ratios"] = {
        "inserts": out["inserts_per_s"] / peer["inserts_per_s"],
        "per_batches": out["per_batches_per_s"] / peer["per_batches_per_s"],
    }
    out["targets"] = {
        "inserts_per_s>=100000": out["inserts_per_s"] >= 100_000,
        "per_batches_per_s>=1000": out["per_batches_per_s"] >= 1_000,
        "per_batches_per_cpu_s>=1000": out["per_batches_per_cpu_s"] >= 1_000,
        "max_frequency_error<=0.01": out["max_frequency_error"] <= 0.01,
    }
    out["machine"] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "threads": 1,
        "load_average_1m_end": os.getloadavg()[0],
    }
    return out


