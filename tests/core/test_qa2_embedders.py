"""Embedder names a new user may mistype (QA of issue 2): each is an ``InvalidInput`` naming
the setting ``embedder``, as an unknown embedder is. ``hash:abc`` raised a raw ValueError
(int()), ``hash:-3`` one from numpy, ``wordllama:xx`` an AttributeError from wordllama."""

from __future__ import annotations

from pathlib import Path

import pytest

import ltm
from ltm.errors import InvalidInput


@pytest.mark.parametrize("name", ["hash:abc", "hash:0", "hash:-3", "hash:1e3",
                                  "wordllama:xx"])
def test_a_malformed_embedder_name_is_invalid_input(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInput) as err:
        ltm.open(tmp_path / "s", embedder=name)
    assert err.value.field == "embedder"


def test_well_formed_names_still_open(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "a", embedder="hash:8") as mem:
        assert (mem.embedder.name, mem.embedder.dim) == ("hash:8", 8)
    with ltm.open(tmp_path / "b", embedder="wordllama:l2_supercat") as mem:
        assert mem.embedder.dim == 256
