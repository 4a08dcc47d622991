"""The import graph has one direction: no module imports itself back, however indirectly.

`lint-imports` (the contracts in pyproject.toml) checks the layers; this
checks what layers cannot see, circles inside one layer, counting the
imports made only for type checking as well.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: the circles of the graph (components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        circles.append(sorted(component))
    return circles


def test_the_circle_finder_finds_circles() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_runtime_imports_itself_back() -> None:
    graph = grimp.build_graph("durable", "actors", include_external_packages=False)
    edges = {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    assert strongly_connected(edges) == []


def test_no_package_resolves_names_lazily() -> None:
    """A module-level `__getattr__` hides an import from the graph (and from readers)."""
    lazy = [
        str(path.relative_to(ROOT))
        for folder in ("durable", "actors")
        for path in (ROOT / folder).rglob("*.py")
        if any(
            isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
            for node in ast.parse(path.read_text(encoding="utf-8")).body
        )
    ]
    assert lazy == []


def test_every_lower_layer_module_imports_first_in_a_fresh_interpreter() -> None:
    """A lower-layer module a process imports first (a worker process starts from `actors.worker_process`) loads."""
    graph = grimp.build_graph("durable", "actors", include_external_packages=False)
    lower = ("actors", "durable.core", "durable.stores", "durable.serdes", "durable.exceptions", "durable.clock")
    modules = sorted(m for m in graph.modules if m.startswith(lower))
    script = (
        "import subprocess, sys\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    done = subprocess.run([sys.executable, '-c', f'import {name}'], capture_output=True, text=True)\n"
        "    if done.returncode:\n"
        "        failed.append(name + ': ' + done.stderr.strip().splitlines()[-1])\n"
        "print('\\n'.join(failed))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, *modules], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip() == "", done.stdout
