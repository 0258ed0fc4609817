"""The package's layers: imports flow down only, no import cycles, old homes fail clearly."""

import ast
import importlib
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "dnt"

#: Layer of each part of the package, lowest first; a module may import its own layer or lower.
LAYERS = {
    "dnt._io": 0,
    "dnt.sim": 1,
    "dnt.rl": 2,
    "dnt.baselines": 3,
    "dnt.repro": 4,
    "dnt.studies": 4,
    "dnt.book": 5,
    "dnt.cli": 5,
    "dnt.__main__": 6,
}


def _module(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(mod: str) -> int | None:
    best = None
    for prefix, layer in LAYERS.items():
        if mod == prefix or mod.startswith(prefix + "."):
            best = layer
    return best


def _imports() -> dict[str, set[str]]:
    """Every dnt module and the dnt modules it imports (anywhere in its body)."""
    out: dict[str, set[str]] = {}
    for f in sorted(PKG.rglob("*.py")):
        mod = _module(f)
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dnt"):
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("dnt")}
        out[mod] = {d for d in deps if d != mod}
    return out


def test_imports_only_flow_down_the_layers():
    bad = []
    for mod, deps in _imports().items():
        if mod == "dnt":
            continue
        here = _layer(mod)
        assert here is not None, f"{mod} belongs to no layer: add it to LAYERS"
        for d in deps:
            there = _layer(d)
            if there is None or there > here:
                bad.append(f"{mod} -> {d}")
    assert not bad, bad


def test_no_import_cycles():
    graph = _imports()
    state: dict[str, int] = {}

    def visit(mod: str, stack: list[str]) -> None:
        state[mod] = 1
        for d in graph.get(mod, ()):
            if state.get(d) == 1:
                pytest.fail(f"import cycle: {' -> '.join([*stack, mod, d])}")
            if d in graph and not state.get(d):
                visit(d, [*stack, mod])
        state[mod] = 2

    for mod in graph:
        if not state.get(mod):
            visit(mod, [])


@pytest.mark.parametrize("old", ["dnt.config", "dnt.env", "dnt.experiments", "dnt.plots"])
def test_old_module_homes_fail_with_their_new_home(old):
    from dnt import MOVED

    with pytest.raises(ImportError, match="has moved to dnt"):
        importlib.import_module(old)
    assert MOVED[old].startswith("dnt.")


def test_no_module_is_over_450_lines():
    long = {
        str(f.relative_to(PKG)): n
        for f in PKG.rglob("*.py")
        if (n := len(f.read_text().splitlines())) > 450
    }
    assert not long, long
