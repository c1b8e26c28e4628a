"""The house reads one way: no module imports a module of a higher layer, not even inside a
function, and the modules import each other in no cycle.

Imports under ``if TYPE_CHECKING:`` are left out: they are annotations, never run. The layers,
lowest first, are the README's layout; a new module must be placed in one here (the test fails
for a module it does not know), which is how the layout stays true.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "simlib"

#: Layers, lowest first: module name prefixes (a module belongs to its longest prefix).
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "simlib.errors",
        "simlib.registry",
        "simlib.io",
        "simlib.paths",
        "simlib.stats",
        "simlib.formatting",
    ),
    ("simlib.distributions", "simlib.rng"),
    ("simlib.config", "simlib.scenario"),
    ("simlib.account", "simlib.ledger", "simlib.engine", "simlib.churn_odds"),
    ("simlib.tiers", "simlib.model", "simlib.plugins"),
    ("simlib.metrics",),
    ("simlib.executors", "simlib.cache", "simlib.results", "simlib.run_options"),
    ("simlib.experiment",),
    ("simlib.compare", "simlib.sweep", "simlib.survival", "simlib.calibration"),
    (
        "simlib.sensitivity",
        "simlib.calibrate",
        "simlib.lab",
        "simlib.lab.cohort",
        "simlib.lab.metrics",
        "simlib.lab.decomposition",
        "simlib.lab.narrative",
        "simlib.lab.designs",
        "simlib.lab.churn_floor",
        "simlib.lab.roi",
        "simlib.lab.causal",
        "simlib.lab.robustness",
        "simlib.lab.answer",
    ),
    ("simlib.plots", "simlib.reports", "simlib.report_tables"),
    ("simlib.batch",),
    ("simlib.cli", "simlib.bench", "simlib.__main__", "simlib"),
)


def _modules() -> dict[str, Path]:
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def layer(module: str) -> int:
    best, found = -1, None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), i
    if found is None:
        raise AssertionError(f"{module} is in no layer of tests/test_layers.py")
    return found


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(n) for b in node.body for n in ast.walk(b))
    return [n for n in ast.walk(tree) if id(n) not in typing_only]


def imports(module: str) -> set[str]:
    """The simlib modules ``module`` imports at run time (anywhere in its code)."""
    path = MODULES[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            for alias in node.names:
                sub = f"{name}.{alias.name}"
                target = sub if sub in MODULES else name
                if target in MODULES and target != module:
                    out.add(target)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in MODULES and a.name != module)
    return out


GRAPH = {m: imports(m) for m in MODULES}


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_higher_layer(module: str) -> None:
    upward = sorted(t for t in GRAPH[module] if layer(t) > layer(module))
    assert not upward, f"{module} (layer {layer(module)}) imports higher: {upward}"


def test_no_import_cycles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_sees_imports_inside_functions() -> None:
    # simlib/batch/index.py imports the plots inside the function that draws the charts
    assert "simlib.plots" in GRAPH["simlib.batch.index"]
