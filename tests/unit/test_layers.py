"""Imports run one way: from the command line down to errors, with no cycle anywhere.

The layers, top to bottom (a module may import from its own layer or any below it):

    cli, _lazy                         the command line, and its lazily loaded commands
    compare                            claims against the runs of a suite or a store
    suite                              many runs, each with an expectation
    claims                             what systems promise, and stored runs judged by it
    harness, report, _check,           run orchestration, and what shows its results
    _stored_run
    targets, workloads, nemesis        the parts a run drives
    control, checkers, generator,      nodes; verdicts; the types clients and
    client, options                    generators share
    history, models
    errors, _tomlfile

Read from the source with `ast`, so the test sees every import, including those inside
functions (a lazy import is still an arrow).
"""

from __future__ import annotations

import ast
from pathlib import Path

import labrys

LAYERS = (
    ("errors", "_tomlfile"),
    ("history", "models"),
    ("control", "checkers", "generator", "client", "options"),
    ("targets", "workloads", "nemesis"),
    ("harness", "report", "_check", "_stored_run"),
    ("claims",),
    ("suite",),
    ("compare",),
    ("cli", "_lazy"),
)
ROOT = Path(labrys.__file__).parent
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The labrys modules ``path`` imports (``from pkg import submodule`` included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("labrys")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("labrys"):
            assert node.module is not None
            submodules = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
            # ``from pkg import _sub`` needs only the submodule; any other name, the package.
            found |= submodules if len(submodules) == len(node.names) else {node.module}
            found |= submodules
    return {name for name in found if name in modules and name != "labrys"}


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else module
    assert top in LAYER_OF, f"{module} is in no layer: add its package to LAYERS"
    return LAYER_OF[top]


def test_no_module_imports_from_a_layer_above_its_own():
    modules = _modules()
    upward = []
    for name, path in sorted(modules.items()):
        if name == "labrys":
            continue
        for imported in sorted(_imports(path, modules)):
            if _layer(imported) > _layer(name):
                upward.append(f"{name} -> {imported}")
    assert upward == []


def test_there_is_no_import_cycle_between_modules():
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    # A package's __init__ importing its own submodules is how a package is made; a
    # submodule importing its package back is a cycle, and counts.
    state: dict[str, int] = {}
    cycles = []

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(graph[name]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []
