"""Choosing the regularization strengths (EWC, online EWC, SI) on validation data.

The test split is never looked at: every candidate trains on 80% of the training
images of each task and is scored on the other 20% (``make_benchmark(...,
split="validation")``), with its own seeds (100, 101, 102 by default), so the
permutations of Permuted-Digits are also ones the reported runs (seeds 0-2) never
see. The chosen value is the one with the highest mean validation average
accuracy (the smaller strength on a tie); the benchmark then trains on the full
training split with it and reports the test split.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ltm.continual.data import SCENARIOS
from ltm.continual.train import default_config, run_config, with_overrides
from ltm.errors import InvalidInput

log = logging.getLogger(__name__)

# method -> (StrategyConfig field it reads, candidate values)
SWEEPS: dict[str, tuple[str, tuple[float, ...]]] = {
    "ewc": ("ewc_lambda", (1e2, 1e3, 1e4, 1e5, 1e6)),
    "online-ewc": ("online_ewc_lambda", (1e2, 1e3, 1e4, 1e5, 1e6)),
    "si": ("si_c", (0.1, 1.0, 10.0, 100.0, 1000.0)),
}
SELECTION_SEEDS = (100, 101, 102)


def select_strengths(
    scenarios: tuple[str, ...] = SCENARIOS,
    methods: tuple[str, ...] = tuple(SWEEPS),
    seeds: tuple[int, ...] = SELECTION_SEEDS,
    sweeps: dict[str, tuple[str, tuple[float, ...]]] | None = None,
) -> dict[str, Any]:
    """Sweep each method's strength per scenario on the validation split.

    Returns ``{"results": {"<scenario>/<method>": {"param", "candidates": [{value,
    average_accuracy, forgetting, ...}], "chosen"}}, "seeds", "split", "machine"}``.
    """
    sweeps = sweeps if sweeps is not None else SWEEPS
    for m in methods:
        if m not in sweeps:
            raise InvalidInput(f"no strength to sweep for method {m!r}; one of {tuple(sweeps)}", field="method")
    load_start = os.getloadavg()
    out: dict[str, Any] = {}
    for scn in scenarios:
        base = default_config(scn)
        for m in methods:
            param, values = sweeps[m]
            cands = []
            for v in values:
                cfg = with_overrides(base, **{param: v})
                r = run_config(scn, m, list(seeds), cfg, split="validation")
                cands.append({
                    "value": v,
                    "average_accuracy": r["average_accuracy"],
                    "forgetting": r["forgetting"],
                    "backward_transfer": r["backward_transfer"],
                    "seconds_all_seeds": r["seconds_all_seeds"],
                })
                log.info("%s/%s %s=%g: validation acc %.3f, forgetting %.3f", scn, m, param, v,
                         r["average_accuracy"]["mean"], r["forgetting"]["mean"])
            best = max(cands, key=lambda c: (c["average_accuracy"]["mean"], -c["value"]))
            out[f"{scn}/{m}"] = {"param": param, "candidates": cands, "chosen": best["value"]}
    machine = {"cpus": os.cpu_count(), "load_average_1m_start": load_start[0],
               "load_average_1m_end": os.getloadavg()[0], "torch_threads": 1}
    return {"results": out, "seeds": list(seeds), "split": "validation", "machine": machine}
