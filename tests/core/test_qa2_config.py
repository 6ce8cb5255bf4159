"""Settings as a new user writes them in ``ltm.toml`` (QA of issue 2): a value of the wrong type,
a misspelt key or an ``LTM_CONFIG`` that names no file is an ``InvalidInput`` naming the
setting, as a bad argument of ``ltm.open`` is; nothing is silently converted or ignored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import ltm
from ltm.config import Settings, load_settings
from ltm.errors import InvalidInput


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("LTM_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(Path(__file__).parent)  # no ltm.toml of the working directory
    return monkeypatch


def _store(tmp_path: Path, toml: str) -> Path:
    store = tmp_path / "store"
    store.mkdir(exist_ok=True)
    (store / "ltm.toml").write_text(toml)
    return store


@pytest.mark.parametrize(("toml", "setting"), [
    ("candidates = 2.9\n", "candidates"),          # was truncated to 2
    ("[ltm]\ncontext_window = 1.5\n", "context_window"),
    ("dense_weight = true\n", "dense_weight"),      # was read as 1.0
    ("candidates = true\n", "candidates"),          # was read as 1
    ("embedder = 5\n", "embedder"),
])
def test_a_toml_value_of_the_wrong_type_names_the_setting(
        tmp_path: Path, clean_env: pytest.MonkeyPatch, toml: str, setting: str) -> None:
    store = _store(tmp_path, toml)
    with pytest.raises(InvalidInput) as err:
        load_settings(store)
    assert err.value.field == setting and setting in str(err.value)
    with pytest.raises(InvalidInput):
        ltm.open(store)  # nothing is created: the settings fail first


def test_a_misspelt_toml_setting_is_refused(tmp_path: Path,
                                            clean_env: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path, "[ltm]\ndense_wieght = 0.3\n")
    with pytest.raises(InvalidInput) as err:
        load_settings(store)
    assert err.value.field == "dense_wieght" and "unknown setting" in str(err.value)


def test_an_ltm_key_that_is_no_table(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInput):  # was AttributeError
        load_settings(_store(tmp_path, "ltm = 5\n"))


def test_ltm_config_naming_no_file_is_an_error(tmp_path: Path,
                                               clean_env: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path, "dense_weight = 0.3\n")
    clean_env.setenv("LTM_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(InvalidInput) as err:  # it fell back to the store folder's file
        load_settings(store)
    assert err.value.field == "LTM_CONFIG"


def test_well_typed_toml_values_still_load(tmp_path: Path,
                                           clean_env: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path, '[ltm]\ncandidates = 300\ndense_weight = 1\ntext_weight = "0.6"\n'
                   'embedder = ""\nerase = "fast"\n[ltm.retention.episode]\nttl_days = 3\n')
    got = load_settings(store)
    assert (got.candidates, got.dense_weight, got.text_weight, got.embedder, got.erase) == \
        (300, 1.0, 0.6, None, "fast")
    assert got.retention == Settings(retention={"episode": {"ttl_days": 3}}).retention
    clean_env.setenv("LTM_CONFIG", str(store / "ltm.toml"))
    assert load_settings(None).candidates == 300


def test_top_level_settings_beside_an_ltm_table_count(tmp_path: Path,
                                                     clean_env: pytest.MonkeyPatch) -> None:
    """docs/time-and-retention.md writes the LLM settings at the top level and the retention
    policies as [ltm.retention.*] tables: in one file the [ltm] table hid the top-level
    settings (llm_url was None, silently)."""
    store = _store(tmp_path, 'llm_url = "http://127.0.0.1:11434/v1"\nllm_model = "llama3.1"\n'
                   'candidates = 500\n\n[ltm]\ncandidates = 600\n\n'
                   '[ltm.retention.episode]\nttl_days = 365\n\n[othertool]\nx = 1\n')
    got = load_settings(store)
    assert (got.llm_url, got.llm_model) == ("http://127.0.0.1:11434/v1", "llama3.1")
    assert got.candidates == 600  # the [ltm] table wins over the top level
    assert got.retention == Settings(retention={"episode": {"ttl_days": 365}}).retention
