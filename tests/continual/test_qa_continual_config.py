"""QA: continual-learning settings are checked when made, not silently replaced or crashed on."""

from __future__ import annotations

import pytest

from ltm.continual import StrategyConfig, TrainConfig, default_config, run_config
from ltm.continual.train import with_overrides
from ltm.errors import InvalidInput

BAD_TRAIN = [
    {"optimizer": "sgdd"},  # a typo silently trained with Adam
    {"optimizer": "SGD"},
    {"batch_size": 0},  # raw ValueError from range()
    {"epochs": -1},  # trained nothing, reported as a run
    {"epochs": 1.5},
    {"lr": float("nan")},  # raw ValueError from the optimizer
    {"lr": 0.0},
    {"hidden": 0},  # a network of zero width, accuracy at chance
    {"threads": 0},
]

BAD_STRATEGY = [
    {"buffer_size": 0},
    {"replay_batch": 0},
    {"fisher_samples": 0},
    {"ewc_lambda": -1.0},
    {"online_ewc_lambda": float("inf")},
    {"si_c": float("nan")},
    {"si_xi": -0.1},
    {"online_gamma": -0.5},
    {"derpp_alpha": -1.0},
]


@pytest.mark.parametrize("kw", BAD_TRAIN, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_bad_train_settings_are_invalid_input(kw: dict) -> None:
    with pytest.raises(InvalidInput):
        TrainConfig(**kw)
    with pytest.raises(InvalidInput):
        with_overrides(default_config("class"), **kw)


@pytest.mark.parametrize("kw", BAD_STRATEGY, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_bad_strategy_settings_are_invalid_input(kw: dict) -> None:
    with pytest.raises(InvalidInput):
        StrategyConfig(**kw)


def test_an_unknown_override_is_invalid_input_not_ignored() -> None:
    with pytest.raises(InvalidInput, match="epoch"):
        with_overrides(default_config("task"), epoch=3)  # typo of epochs: was silently ignored
    cfg = with_overrides(default_config("task"), epochs=2, buffer_size=7, si_c=None)
    assert (cfg.epochs, cfg.strategy.buffer_size) == (2, 7)


def test_good_settings_still_build() -> None:
    TrainConfig(optimizer="sgd", epochs=0)  # 0 epochs: evaluate the untrained network
    StrategyConfig(online_ewc_lambda=None, ewc_lambda=0.0)
    for scenario in ("task", "domain", "class", "permuted"):
        default_config(scenario)


def test_run_config_without_seeds_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="seed"):
        run_config("class", "finetune", [])  # raw IndexError after no run
