"""Run directories: checkpoints that store their dataclass configs, metrics.json, plots."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import random
from pathlib import Path
from typing import Any

import torch

from ltm.errors import InvalidInput


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    kind: str,
    model: torch.nn.Module,
    model_config: Any,
    train_config: Any,
    step: int,
    optimizer: torch.optim.Optimizer | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Save weights with the dataclass configs (as plain dicts) needed to rebuild the model."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "kind": kind,
        "model_config": dataclasses.asdict(model_config),
        "train_config": dataclasses.asdict(train_config),
        "state_dict": model.state_dict(),
        "step": step,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "extra": extra or {},
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint's payload. Only plain data is read (``weights_only=True``): a file that
    holds anything else (which could run code when unpickled) or is no checkpoint raises
    :class:`~ltm.errors.InvalidInput`."""
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError) as e:
        raise InvalidInput(f"{path} is not a checkpoint ltm can read safely: {str(e).splitlines()[0]}",
                           field="path") from None
    if not isinstance(payload, dict) or not {"kind", "model_config", "state_dict"} <= set(payload):
        raise InvalidInput(f"{path} is not an ltm checkpoint", field="path")
    return dict(payload)


def load_model(path: str | os.PathLike[str]) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild a model (NTM, DNC or MemN2N) from a checkpoint; returns (model, payload)."""
    from .dnc import DNC, DNCConfig
    from .memn2n import MemN2N, MemN2NConfig
    from .ntm import NTM, NTMConfig

    ckpt = load_checkpoint(path)
    kinds: dict[str, tuple[type, type]] = {
        "ntm": (NTM, NTMConfig),
        "dnc": (DNC, DNCConfig),
        "memn2n": (MemN2N, MemN2NConfig),
    }
    if ckpt["kind"] not in kinds:
        raise InvalidInput(f"{path}: unknown model kind {ckpt['kind']!r} (one of {sorted(kinds)})",
                           field="path")
    model_cls, cfg_cls = kinds[ckpt["kind"]]
    try:
        model = model_cls(cfg_cls(**ckpt["model_config"]))
        model.load_state_dict(ckpt["state_dict"])
    except (TypeError, RuntimeError) as e:  # a config or weights of another version
        raise InvalidInput(f"{path}: the checkpoint does not fit {model_cls.__name__}: {e}",
                           field="path") from None
    model.eval()
    return model, ckpt


def write_metrics(out_dir: str | os.PathLike[str], metrics: dict[str, Any]) -> Path:
    path = Path(out_dir) / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, (json.dumps(metrics, indent=2, sort_keys=True) + "\n").encode())
    return path


def plot_curve(
    path: str | os.PathLike[str],
    series: dict[str, tuple[list[float], list[float]]],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    logy: bool = False,
) -> Path:
    """Write a PNG learning curve; ``series`` maps a label to (xs, ys)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, (xs, ys) in series.items():
        if xs:
            ax.plot(xs, ys, label=label, marker="o" if len(xs) < 30 else None, markersize=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logy:
        ax.set_yscale("symlog", linthresh=0.1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
