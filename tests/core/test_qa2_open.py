"""``ltm.open``'s path as a new user may give it (QA of issue 2): an empty path, or an empty
``LTM_STORE`` (``LTM_STORE= python app.py``), created the store in the working directory
(memories.db beside the user's files); a bytes path made a folder named "b'...'"; a number
raised TypeError. Now an empty ``LTM_STORE`` counts as unset (./ltm-data, as the CLI reads it),
an empty path or one of another type is ``InvalidInput`` (field ``path``), and bytes name the
folder they spell."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import ltm
from ltm.errors import InvalidInput


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in os.environ if n.startswith("LTM_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_an_empty_ltm_store_means_the_default_folder(workdir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LTM_STORE", "")
    with ltm.open(embedder="hash") as mem:
        mem.add("I moved to Lisbon in March", user="alice")
    assert (workdir / "ltm-data" / "memories.db").is_file()
    assert not (workdir / "memories.db").exists()


@pytest.mark.parametrize("path", ["", "   ", b"", 5])
def test_an_empty_or_mistyped_path_is_invalid_input(workdir: Path, path: object) -> None:
    with pytest.raises(InvalidInput) as err:
        ltm.open(path, embedder="hash")  # type: ignore[arg-type]
    assert err.value.field == "path"
    assert list(workdir.iterdir()) == []


def test_a_bytes_path_names_its_folder(workdir: Path) -> None:
    with ltm.open(b"store", embedder="hash") as mem:
        mem.add("I moved to Lisbon in March", user="alice")
    assert [p.name for p in workdir.iterdir()] == ["store"]


@pytest.mark.parametrize("url", ["postgresq://u@localhost/db", "sqlite:///tmp/x",
                                 "https://example.com/store"])
def test_a_url_no_backend_opens_is_invalid_input(workdir: Path, url: str) -> None:
    """A mistyped URL became nested folders in the working directory ('postgresq:/u@localhost/
    db/memories.db')."""
    with pytest.raises(InvalidInput, match="no backend opens") as err:
        ltm.open(url, embedder="hash")
    assert err.value.field == "path"
    assert list(workdir.iterdir()) == []
