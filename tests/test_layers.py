"""The import-layer contract of taskmix: no import cycles, and every layer imports only the
layers below it. `make test` runs this file (and ruff) before the rest of the suite.

Every ``import``/``from ... import`` of every module counts, at module level or inside a
function; imports by name string (``importlib.import_module``: the catalogue's task families,
the CLI's command modules) are not seen. A *component* is a top-level module
(``taskmix/records.py``) or a subpackage (``taskmix/evaluation/``). The root package
(``taskmix/__init__.py``: the version and re-exported records) may be imported by every
module and itself imports only the bottom two layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Bottom to top. Components of one layer do not import one another.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("records", "seeding", "fileio", "paths", "progress", "versions"),
    ("config", "symbols", "data"),
    ("loaders",),
    ("catalogue",),
    ("prompts",),
    ("models", "selection"),
    ("evaluation",),
    ("mixture",),  # refuses the evaluation suites' tasks
    ("training", "export"),
    ("report",),
    ("pipeline",),
    ("commands",),
    ("cli",),
    ("__main__",),
)
ROOT_MAY_IMPORT = 2  # the root package imports only the first two layers


def module_files(src: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` under ``src``."""
    out = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The first-party modules ``name`` imports (a package's ``__init__`` when a name is not a submodule)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = {f"{target}.{a.name}" for a in node.names} & modules.keys()
            out |= subs
            if len(subs) < len(node.names) and target in modules:
                out.add(target)
    out.discard(name)
    return out


def import_graph(src: Path, package: str) -> dict[str, set[str]]:
    modules = module_files(src, package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def component(module: str) -> str:
    """``taskmix.evaluation.runner`` -> ``evaluation``; the root package is ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_violations(graph: dict[str, set[str]], layers: tuple[tuple[str, ...], ...]) -> list[str]:
    """One line per import that is not from a lower layer (or is from a component with no layer)."""
    level = {c: i for i, layer in enumerate(layers) for c in layer}
    out = []
    for src_mod, targets in sorted(graph.items()):
        a = component(src_mod)
        if a and a not in level:
            out.append(f"{src_mod}: component {a!r} has no layer")
            continue
        for dst in sorted(targets):
            b = component(dst)
            if a == b:
                continue
            if b == "":  # the root package: anyone may import it
                continue
            if b not in level:
                out.append(f"{src_mod} imports {dst}: component {b!r} has no layer")
            elif a == "" and level[b] >= ROOT_MAY_IMPORT:
                out.append(f"{src_mod} imports {dst}: the root package imports only {layers[:ROOT_MAY_IMPORT]}")
            elif a and level[b] >= level[a]:
                out.append(f"{src_mod} imports {dst}: {b!r} is not in a layer below {a!r}")
    return out


def test_no_import_cycles():
    assert cycles(import_graph(SRC, "taskmix")) == []


def test_each_package_imports_only_packages_below_it():
    assert layer_violations(import_graph(SRC, "taskmix"), LAYERS) == []


def test_every_component_has_exactly_one_layer():
    named = [c for layer in LAYERS for c in layer]
    assert len(named) == len(set(named))
    present = {component(m) for m in module_files(SRC, "taskmix")} - {""}
    assert present <= set(named), present - set(named)


# ------------------------------------------------------------------ the checker itself

@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A tiny package ``toy``: low.py, high/ (a, b), root __init__ importing low."""
    files = {
        "toy/__init__.py": "from .low import X\n",
        "toy/low.py": "X = 1\n",
        "toy/high/__init__.py": "",
        "toy/high/a.py": "from ..low import X\nfrom . import b\n",
        "toy/high/b.py": "import json\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_graph_resolves_relative_and_submodule_imports(toy):
    graph = import_graph(toy, "toy")
    assert graph == {"toy": {"toy.low"}, "toy.low": set(), "toy.high": set(),
                     "toy.high.a": {"toy.low", "toy.high.b"}, "toy.high.b": set()}


def test_a_function_local_cycle_is_found(toy):
    (toy / "toy/high/b.py").write_text("def f():\n    from .a import g\n    return g\n")
    assert cycles(import_graph(toy, "toy")) == [["toy.high.a", "toy.high.b"]]


def test_an_upward_import_is_a_violation(toy):
    layers = (("low",), ("high",))
    assert layer_violations(import_graph(toy, "toy"), layers) == []
    (toy / "toy/low.py").write_text("def f():\n    from .high.b import json\n")
    assert layer_violations(import_graph(toy, "toy"), layers) == [
        "toy.low imports toy.high.b: 'high' is not in a layer below 'low'"
    ]
    assert layer_violations(import_graph(toy, "toy"), (("low", "high"),)) == [
        "toy.high.a imports toy.low: 'low' is not in a layer below 'high'",
        "toy.low imports toy.high.b: 'high' is not in a layer below 'low'",
    ]
