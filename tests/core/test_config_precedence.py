"""Settings precedence: defaults < ltm.toml < LTM_* environment variables < ltm.open arguments."""

import pytest

import ltm
from ltm.config import Settings, load_settings


@pytest.fixture
def clean_env(monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("LTM_"):
            monkeypatch.delenv(key)
    return monkeypatch


def test_each_layer_overrides_the_one_below(tmp_path, clean_env) -> None:
    store = tmp_path / "store"
    store.mkdir()
    default = Settings().dense_weight
    assert load_settings(store).dense_weight == default
    (store / "ltm.toml").write_text("[ltm]\ndense_weight = 0.3\ntext_weight = 0.6\n")
    assert load_settings(store).dense_weight == 0.3
    clean_env.setenv("LTM_DENSE_WEIGHT", "0.9")
    got = load_settings(store)
    assert (got.dense_weight, got.text_weight) == (0.9, 0.6)   # env over toml, toml kept
    got = load_settings(store, dense_weight=0.2)
    assert (got.dense_weight, got.text_weight) == (0.2, 0.6)   # the caller over env


def test_open_argument_beats_environment(tmp_path, clean_env) -> None:
    clean_env.setenv("LTM_DENSE_WEIGHT", "0.9")
    with ltm.open(tmp_path / "s", embedder="hash", dense_weight=0.2) as mem:
        assert mem.settings.dense_weight == 0.2
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        assert mem.settings.dense_weight == 0.9
