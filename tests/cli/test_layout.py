"""The shape of ``cli/`` (STYLE.md, "Layout" and "Thin CLI"), checked from the source.

* only ``cli/app.py`` imports the app (``cli.app``, or the old ``cli.main``) and the
  command modules (``cli.commands.*``);
* a command module imports, of ``cli``, only ``cli.context``, ``cli.parse``,
  ``cli.render`` and the report package ``cli.report``, never another command module;
* no ``cli`` module imports a ``ledger`` module other than the façades ``ledger``,
  ``ledger.net`` and ``ledger.sim`` (``from ledger import core`` counts as ``ledger.core``);
* the ``cli`` modules import each other without a cycle;
* every ``cli`` module has a docstring.

Imports are read with ``ast`` from every statement, including those inside functions and
under ``if TYPE_CHECKING:``, so that a late import cannot hide a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FACADES = {"ledger", "ledger.net", "ledger.sim"}
COMMAND_MAY_IMPORT = {"cli.context", "cli.parse", "cli.render", "cli.report"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    """Whether ``name`` is a module or package of this repository."""
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _exported(package: str) -> set[str]:
    """The names in a package's ``__all__`` (a re-exported function may share its name
    with a submodule, as ``ledger.sim.simulate`` does: the import then gets the function)."""
    init = ROOT.joinpath(*package.split("."), "__init__.py")
    if not init.is_file():
        return set()
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return {str(v) for v in ast.literal_eval(node.value)}
    return set()


def imports(source: str, package: str) -> set[str]:
    """Every module ``source`` imports; ``from pkg import name`` counts as ``pkg.name``
    when that is a module the package does not shadow with an exported name. ``package``
    resolves relative imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                submodule = _is_module(full) and alias.name not in _exported(base)
                found.add(full if submodule else base)
    return found


def _cli_modules() -> dict[str, set[str]]:
    out = {}
    for path in sorted((ROOT / "cli").rglob("*.py")):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        out[name] = imports(path.read_text(encoding="utf-8"), package)
    return out


MODULES = _cli_modules()


def test_the_scan_sees_late_and_type_checking_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from ledger.core.policy import Policy\n"
        "def f():\n"
        "    from ledger import core\n"
        "    import cli.app\n"
        "from . import parse\n"
    )
    assert imports(source, "cli.commands") >= {
        "ledger.core.policy",
        "ledger.core",
        "cli.app",
        "cli.commands",
    }
    assert "cli.parse" in imports("from .. import parse\n", "cli.commands")
    assert imports("from ledger.sim import simulate\n", "cli") == {"ledger.sim"}
    assert len(MODULES) >= 15 and "cli.app" in MODULES and "cli.commands.custody" in MODULES


def test_only_the_app_imports_the_app_and_the_commands() -> None:
    bad = [
        f"{name} imports {imp}"
        for name, found in MODULES.items()
        if name != "cli.app"
        for imp in found
        if imp in ("cli.app", "cli.main") or imp.startswith("cli.commands.")
    ]
    assert not bad, bad


def test_command_modules_import_only_the_shared_helpers() -> None:
    bad = [
        f"{name} imports {imp}"
        for name, found in MODULES.items()
        if name.startswith("cli.commands.")
        for imp in found
        if (imp == "cli" or imp.startswith("cli.")) and imp not in COMMAND_MAY_IMPORT
    ]
    assert not bad, bad


def test_the_cli_imports_only_the_library_facades() -> None:
    bad = [
        f"{name} imports {imp}"
        for name, found in MODULES.items()
        for imp in found
        if (imp == "ledger" or imp.startswith("ledger.")) and imp not in FACADES
    ]
    assert not bad, bad


def test_no_import_cycle_among_cli_modules() -> None:
    graph = {
        name: sorted(imp for imp in found if imp in MODULES and imp != name)
        for name, found in MODULES.items()
    }
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for nxt in graph[name]:
            visit(nxt, [*path, name])
        done.add(name)

    for name in graph:
        visit(name, [])


def test_every_cli_module_says_what_it_does() -> None:
    missing = [
        _module_name(path)
        for path in sorted((ROOT / "cli").rglob("*.py"))
        if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not missing, f"modules without a docstring: {missing}"
