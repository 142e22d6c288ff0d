"""No import circle in either distribution: the module-level imports of ``svcauth`` and of
``mockmart`` (what runs at import time; imports inside functions and under
``TYPE_CHECKING`` are lazy by design) form a graph without cycles (issue 12: "no import
circle anywhere in src/"). The graph is read with ``ast``, so nothing is imported.

MockMart's layers are checked on every import, lazy ones too: ``system`` runs everything,
``services`` may run a worker in-process (shop-api's outbox dispatcher), ``workers`` use the
core alone, and the core knows no layer above it except that ``security`` builds each
service's guard type."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _modules(root: Path, package: str) -> dict[str, Path]:
    found = {}
    for path in (root / package).rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Try):
            out.extend(_top_level(node.body))
        else:
            out.append(node)
    return out


def _imports(name: str, path: Path, known: dict[str, Path], *, lazy: bool = False) -> set[str]:
    """The known modules ``name`` imports: at import time, or (``lazy``) anywhere in it."""
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree) if lazy else _top_level(tree.body):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            parent = base[: len(base) - node.level + 1] if node.level else []
            module = ".".join([*parent, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in known else module)
    return (found & known.keys()) - {name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize(("root", "package"), [("src", "svcauth"), ("mockmart/src", "mockmart")])
def test_no_import_circle(root: str, package: str) -> None:
    known = _modules(REPO / root, package)
    assert len(known) > 40, known  # the packages were found
    graph = {name: _imports(name, path, known) for name, path in known.items()}
    assert sum(map(len, graph.values())) > 50  # and their imports read
    assert cycles(graph) == []


def _layer(module: str) -> str:
    if module == "mockmart.__main__":
        return "system"  # ``python -m mockmart`` is the command line
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in ("services", "workers", "system") else "core"


ALLOWED = {
    "system": {"system", "services", "workers", "core"},
    "services": {"services", "workers", "core"},
    "workers": {"workers", "core"},
    "core": {"core"},
}
"""Which layers a MockMart module of each layer may import (lazily or not)."""


def test_mockmart_layers_import_downwards_only() -> None:
    known = _modules(REPO / "mockmart/src", "mockmart")
    assert {_layer(m) for m in known} == set(ALLOWED)  # every layer is there
    wrong = set()
    for name, path in known.items():
        for imported in _imports(name, path, known, lazy=True):
            if _layer(imported) in ALLOWED[_layer(name)]:
                continue
            if name == "mockmart.security" and imported.startswith("mockmart.services.") \
                    and imported.endswith(".app"):
                continue  # the guard types security builds
            wrong.add(f"{name} -> {imported}")
    assert wrong == set()
    # A service never builds its own guards: the registry hands them in.
    services = [n for n in known if _layer(n) == "services"]
    assert not [n for n in services if {"mockmart.security", "mockmart.registry"}
                & _imports(n, known[n], known, lazy=True)]


def test_the_layer_check_sees_a_lazy_upward_import(tmp_path: Path) -> None:
    package = tmp_path / "mockmart"
    (package / "workers").mkdir(parents=True)
    (package / "system").mkdir()
    for init in (package, package / "workers", package / "system"):
        (init / "__init__.py").write_text("")
    (package / "system" / "stack.py").write_text("")
    (package / "workers" / "job.py").write_text(
        "def run():\n    from mockmart.system.stack import Stack\n")
    known = _modules(tmp_path, "mockmart")
    job = "mockmart.workers.job"
    assert _imports(job, known[job], known) == set()  # not at import time
    assert _imports(job, known[job], known, lazy=True) == {"mockmart.system.stack"}
