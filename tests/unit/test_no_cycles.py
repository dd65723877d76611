"""No import circle anywhere in ``ledger/`` or ``cli/`` (the restructure's contract).

import-linter's layer contracts (``make layers``) forbid imports upwards between layers;
this closes the gap inside a layer: the modules of ``ledger/`` and ``cli/`` import each
other without a cycle, counting every import statement (function-level ones too, so a
late import cannot hide a circle) except those under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.cli.test_layout import _module_name, imports

ROOT = Path(__file__).resolve().parents[2]


def _without_type_checking(source: str) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = [ast.Pass()]
    return ast.unparse(tree)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for top in ("ledger", "cli"):
        for path in sorted((ROOT / top).rglob("*.py")):
            name = _module_name(path)
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            found = imports(_without_type_checking(path.read_text(encoding="utf-8")), package)
            graph[name] = {m for m in found if m.split(".")[0] in ("ledger", "cli")}
    for name in graph:
        graph[name] = {m for m in graph[name] if m in graph and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_ledger_or_cli() -> None:
    graph = _graph()
    assert len(graph) > 60 and "ledger.core.rules.engine" in graph
    assert cycles(graph) == []
