"""QA: a damaged buffer folder is a CorruptBufferError naming the folder, never a raw error."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ltm.replay import CorruptBufferError, UniformBuffer, open_buffer

SCHEMA = {"obs": ((3,), "float32"), "tag": object}


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def _edit_manifest(edit: Callable[[dict], object]) -> Callable[[Path], None]:
    def go(folder: Path) -> None:
        m = _manifest(folder)
        edit(m)
        (folder / "manifest.json").write_text(json.dumps(m))
    return go


def _truncate(name: str, size: int) -> Callable[[Path], None]:
    def go(folder: Path) -> None:
        with open(folder / name, "r+b") as fh:
            fh.truncate(size)
    return go


def _other_rows(folder: Path) -> None:
    np.save(folder / "obs.npy", np.zeros((4, 3), dtype=np.float32))  # capacity is 8


def _other_dtype(folder: Path) -> None:
    np.save(folder / "obs.npy", np.zeros((8, 3), dtype=np.int16))


def _garbage_objects(folder: Path) -> None:
    (folder / _manifest(folder)["objects_file"]).write_bytes(b"\x80\x05garbage")


def _objects_not_a_dict(folder: Path) -> None:
    import pickle

    (folder / _manifest(folder)["objects_file"]).write_bytes(pickle.dumps([1, 2]))


DAMAGE = {
    "obs.npy removed": lambda f: os.remove(f / "obs.npy"),
    "_stamp.npy removed": lambda f: os.remove(f / "_stamp.npy"),
    "objects file removed": lambda f: os.remove(f / _manifest(f)["objects_file"]),
    "obs.npy header cut": _truncate("obs.npy", 60),
    "obs.npy data cut": _truncate("obs.npy", 140),
    "obs.npy other rows": _other_rows,
    "obs.npy other dtype": _other_dtype,
    "objects file garbage": _garbage_objects,
    "objects file not a dict": _objects_not_a_dict,
    "manifest a list": lambda f: (f / "manifest.json").write_text("[1, 2]"),
    "manifest without state": _edit_manifest(lambda m: m.pop("state")),
    "manifest without cursor": _edit_manifest(lambda m: m["state"].pop("cursor")),
    "manifest without fields": _edit_manifest(lambda m: m.pop("fields")),
    "manifest capacity text": _edit_manifest(lambda m: m.update(capacity="many")),
    "manifest bad dtype": _edit_manifest(lambda m: m["fields"][0].update(dtype="nope")),
    "manifest unknown kind": _edit_manifest(lambda m: m["state"].update(kind="lifo")),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_folder_is_a_corrupt_buffer_error(tmp_path: Path, damage: str) -> None:
    folder = tmp_path / "buf"
    buf = UniformBuffer(8, SCHEMA, path=folder, seed=0)
    buf.extend({"obs": np.ones((5, 3)), "tag": list("abcde")})
    buf.close()
    DAMAGE[damage](folder)
    with pytest.raises(CorruptBufferError) as e:
        open_buffer(folder)
    assert e.value.path == str(folder)
    # the lock was given back: repairing the folder is possible in the same process
    assert (folder / "manifest.json").exists()
