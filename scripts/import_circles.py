#!/usr/bin/env python3
"""Import circles among the modules below a folder, read from their import lines
(TYPE_CHECKING blocks and imports inside functions excluded: only what runs at import time).

    scripts/import_circles.py src/svcauth     # prints each circle, then "N modules, K circle(s)"
"""
import ast, sys
from pathlib import Path
root = Path(sys.argv[1])
mods = {}
for f in root.rglob("*.py"):
    rel = f.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    is_pkg = parts[-1] == "__init__"
    if is_pkg: parts = parts[:-1]
    mods[".".join(parts)] = (f, is_pkg)
graph = {}
for name, (f, is_pkg) in mods.items():
    tree = ast.parse(f.read_text())
    pkg = name if is_pkg else name.rpartition(".")[0]
    deps = set()
    def visit(body):
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(node, ast.Import):
                for a in node.names: deps.add(a.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module
                deps.add(target)
                for a in node.names:
                    if f"{target}.{a.name}" in mods: deps.add(f"{target}.{a.name}")
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                visit(node.body)
                for h in getattr(node, "handlers", []): visit(h.body)
                visit(getattr(node, "orelse", []))
    visit(tree.body)
    graph[name] = {d for d in deps if d in mods and d != name}
# package __init__ edges from a submodule to its own package are implied by Python; ignore parent-package edges
def parents(n): 
    p = n.split("."); return {".".join(p[:i]) for i in range(1, len(p))}
for n in graph: graph[n] -= parents(n)
index, low, stack, on, sccs, i = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)
def strong(v):
    index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
    for w in graph[v]:
        if w not in index: strong(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(sorted(comp))
for v in graph:
    if v not in index: strong(v)
for c in sccs: print("circle:", " -> ".join(c))
print(f"{len(graph)} modules, {len(sccs)} circle(s)")
