"""Continual learning on small no-download benchmarks (extra ``ltm[neural]``: PyTorch).

Strategies (fine-tuning, EWC, online EWC, SI, experience replay, DER++, joint)
share one interface (:class:`ltm.continual.strategies.Strategy`); experience
replay uses ``ltm.replay.ReservoirBuffer``. Split-Digits (task-, domain- and
class-incremental) and Permuted-Digits come from scikit-learn's bundled digits.

Names load on first use so that ``ltm train`` (``ltm.cli.train``) imports neither numpy nor torch.
"""

from __future__ import annotations

from typing import Any

from ..errors import MissingDependency

_EXPORTS = {
    "SCENARIOS": "ltm.continual.data",
    "Benchmark": "ltm.continual.data",
    "Task": "ltm.continual.data",
    "make_benchmark": "ltm.continual.data",
    "STRATEGIES": "ltm.continual.strategies",
    "Strategy": "ltm.continual.strategies",
    "StrategyConfig": "ltm.continual.strategies",
    "METHODS": "ltm.continual.train",
    "RunResult": "ltm.continual.train",
    "TrainConfig": "ltm.continual.train",
    "default_config": "ltm.continual.train",
    "metrics": "ltm.continual.train",
    "run": "ltm.continual.train",
    "run_config": "ltm.continual.train",
    "run_grid": "ltm.continual.train",
}

__all__ = [
    "METHODS",
    "SCENARIOS",
    "STRATEGIES",
    "Benchmark",
    "RunResult",
    "Strategy",
    "StrategyConfig",
    "Task",
    "TrainConfig",
    "default_config",
    "make_benchmark",
    "metrics",
    "run",
    "run_config",
    "run_grid",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(MissingDependency.import_module(_EXPORTS[name], "neural"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ltm.continual' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
