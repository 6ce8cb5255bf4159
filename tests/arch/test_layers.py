"""Dependencies point downward (DESIGN.md, docs/architecture.md): a module never imports one
from a higher layer, lazily inside a function or not, and the package has no import cycles.

Layers, lowest first (a module may import its own layer and those below):
  0 base       errors, model, timeutil, timeparse, ids, progress, prompts, config,
               retention_rules (the per-kind policy data)
  1 parts      backends, index, embed, llm, validate (argument checks), registry (opening a
               store's backend and embedder)
  2 policy     retrieval, policies
  3 engine     engine
  4 facade     store, aio, transfer (export/import)
  5 faces      cli (every command), server, integrations, bench, __main__, the package root
Beside the store: replay, neural, continual, rl (layer 2: they may use index/embed and each
other's lower parts, never the store's faces).

``bench`` is a face by nature: its runners drive the whole library from the outside (they open
stores through ``ltm.open``, serve them, kill writers, compare peers) exactly as a user would,
and only the commands (``ltm.cli``) call them. A module's layer is its room's: none sits above
it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "ltm"

LAYERS: dict[str, int] = {
    "errors": 0, "model": 0, "timeutil": 0, "timeparse": 0, "ids": 0, "progress": 0,
    "prompts": 0, "config": 0, "retention_rules": 0,
    "backends": 1, "index": 1, "embed": 1, "llm": 1, "validate": 1, "registry": 1,
    "retrieval": 2, "policies": 2, "replay": 2, "neural": 2, "continual": 2, "rl": 2,
    "engine": 3,
    "store": 4, "aio": 4, "transfer": 4, "reindex": 4,
    "server": 5, "cli": 5, "integrations": 5, "bench": 5, "__main__": 5, "__init__": 5,
}


def _layer_of(module: str) -> int | None:
    """The layer of a module (or of the module a name is imported from); None outside ltm."""
    return LAYERS.get(_room(module))


def _room(module: str) -> str:
    """ltm.backends.sqlite -> backends; ltm -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every ltm import in the file, at any depth."""
    mod = _module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            out += [(node.lineno, t) for t in names if t == "ltm" or t.startswith("ltm.")]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("ltm")]
    return out


def _violations() -> list[str]:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        mod = _module_name(path)
        room = _room(mod)
        if room not in LAYERS:
            bad.append(f"{mod}: room {room!r} has no layer (add it to LAYERS and the docs)")
            continue
        own = LAYERS[room]
        for line, target in _imports(path):
            layer = _layer_of(target)
            if layer is not None and layer > own:
                bad.append(f"{mod}:{line} imports {target} (layer {layer} > {own})")
    return bad


def test_no_module_imports_a_higher_layer() -> None:
    assert _violations() == []


def test_no_import_cycles_between_rooms_below_the_faces() -> None:
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        mod = _module_name(path)
        room = _room(mod)
        if LAYERS.get(room, 5) >= 5:
            continue
        for _, target in _imports(path):
            troom = _room(target)
            if troom != room and LAYERS.get(troom, 5) < 5:
                graph.setdefault(room, set()).add(troom)
    seen: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        seen[node] = 1
        for nxt in graph.get(node, ()):
            if seen.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in seen:
                visit(nxt, stack + [nxt])
        seen[node] = 2

    for room in list(graph):
        if room not in seen:
            visit(room, [room])


def test_the_checker_sees_lazy_imports(tmp_path: Path) -> None:
    probe = SRC / "policies" / "retention.py"
    assert any(t.startswith("ltm.") for _, t in _imports(probe))


MAX_MODULE_LINES = 800  # issue 16's acceptance: no module over 800 lines


def test_no_module_is_over_800_lines() -> None:
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}
