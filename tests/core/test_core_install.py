"""Install: `python -m build` makes a wheel and an sdist of this tree; the wheel installs into a
clean virtual environment with no extras, where `ltm add` / `ltm search` work with the default
embedder (its weights come inside the wordllama wheel: nothing is downloaded at run time).

The dependencies' wheels are fetched once through pip's configured registry into a wheelhouse
kept across runs (~/.cache/ltm/wheelhouse/<hash of the dependency list>, or
$LTM_WHEELHOUSE), and the clean venv installs from it with --no-index: the first run takes
about a minute, later ones a few seconds."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.install


def _sh(*cmd: str | Path, timeout: float = 600, **kw: object) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                       **kw)  # type: ignore[call-overload]
    assert r.returncode == 0, f"{cmd}: {r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    return r  # type: ignore[no-any-return]


def _tree_copy(dest: Path) -> Path:
    """The project's files as a fresh clone would have them (tracked and new, not ignored)."""
    files = _sh("git", "-C", ROOT, "ls-files", "-z", "--cached", "--others",
                "--exclude-standard").stdout.split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _wheelhouse(wheel: Path) -> Path:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    key = hashlib.sha256(json.dumps([sorted(deps), sys.version_info[:2]]).encode()).hexdigest()
    base = Path(os.environ.get("LTM_WHEELHOUSE", Path.home() / ".cache" / "ltm" / "wheelhouse"))
    house = base / key[:16]
    if not (house / ".complete").exists():
        house.mkdir(parents=True, exist_ok=True)
        _sh(sys.executable, "-m", "pip", "download", "-q", "--dest", house, wheel)
        (house / ".complete").write_text("\n".join(deps))
    return house


@pytest.mark.timeout(900)
def test_wheel_installs_without_extras_and_runs(tmp_path: Path) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout to know the project's files")
    src = _tree_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    # --no-isolation: the build backend (setuptools) is already in the test venv
    _sh(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, src)
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(dist.iterdir())
    assert wheels[0].name.startswith("ltm-") and sdists[0].name.startswith("ltm-")
    # the wheel carries the data files the library reads at run time
    listing = _sh(sys.executable, "-m", "zipfile", "-l", wheels[0]).stdout
    data = [f.relative_to(src / "src").as_posix() for f in (src / "src" / "ltm").rglob("*")
            if f.is_file() and f.suffix not in (".py", ".pyc")]
    assert "ltm/py.typed" in data and "ltm/server/openapi.json" in data
    for name in data:
        assert name in listing, f"{name} is not in the wheel (package-data)"

    venv = tmp_path / "venv"
    # no pip inside (bootstrapping one is the slowest step): this pip installs into it
    _sh(sys.executable, "-m", "venv", "--without-pip", venv)
    pip = (sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"))
    _sh(*pip, "install", "-q", "--no-compile", "--no-index", "--find-links",
        _wheelhouse(wheels[0]), wheels[0])
    installed = {p["name"].lower() for p in json.loads(
        _sh(*pip, "list", "--format=json").stdout)}
    assert "ltm" in installed and "wordllama" in installed
    for extra in ("fastapi", "torch", "psycopg", "langchain-core", "langgraph", "openai-agents",
                  "pytest"):
        assert extra not in installed, extra

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LTM_", "PYTHON"))}
    env["HF_HUB_OFFLINE"] = "1"  # the default embedder must not need the network
    store = tmp_path / "store"
    ltm_bin = venv / "bin" / "ltm"
    added = _sh(ltm_bin, "add", "--store", store, "--user", "alice",
                "I moved to Lisbon in March", "--json", env=env, cwd=tmp_path)
    mid = json.loads(added.stdout)["id"]
    _sh(ltm_bin, "add", "--store", store, "--user", "alice", "My cat Miso is orange",
        env=env, cwd=tmp_path)
    found = _sh(ltm_bin, "search", "--store", store, "--user", "alice", "where do I live",
                "--json", env=env, cwd=tmp_path)
    hits = json.loads(found.stdout)
    assert hits[0]["memory"]["id"] == mid
    assert "wordllama" in json.loads(_sh(ltm_bin, "stats", "--store", store, "--json",
                                         env=env, cwd=tmp_path).stdout)["embedder"]
