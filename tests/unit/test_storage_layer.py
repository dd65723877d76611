"""Every table and every written file belongs to ``ledger/storage/`` (STYLE.md, layout).

Read with ``ast`` (not imported), so a test fails on the line that breaks the layering:

* no module of ``ledger/`` or ``cli/`` outside ``ledger/storage/`` imports ``sqlite3`` or
  ``sqlite_utils``, or runs SQL through an ``execute``/``executemany``/``executescript``
  call;
* no module of ``ledger/net/`` or ``ledger/core/`` opens, replaces, removes or locks a
  file (best effort: the calls and modules a file write goes through).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ROOT / "ledger" / "storage"

DATABASE_MODULES = {"sqlite3", "sqlite_utils"}
SQL_CALLS = {"execute", "executemany", "executescript"}
FILE_MODULES = {"fcntl", "tempfile", "shutil"}
#: ``os.<name>(...)`` calls that create, write, replace, remove or sync a file.
OS_FILE_CALLS = {
    "open",
    "fdopen",
    "replace",
    "rename",
    "unlink",
    "remove",
    "fsync",
    "mkdir",
    "makedirs",
    "truncate",
}
#: ``<path>.<name>(...)`` calls of pathlib that write (not ``replace``: str has one too).
PATH_WRITES = {"write_text", "write_bytes", "mkdir", "touch"}


def _modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module.split(".")[0]


def _calls(tree: ast.AST) -> Iterator[tuple[int, str | None, str]]:
    """``(line, owner, function name)`` of every call: ``owner`` is None for ``f(...)``,
    the name for ``name.f(...)`` and ``"."`` for ``a.b.f(...)`` and the like."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            yield node.lineno, None, func.id
        elif isinstance(func, ast.Attribute):
            owner = func.value.id if isinstance(func.value, ast.Name) else "."
            yield node.lineno, owner, func.attr


OUTSIDE_STORAGE = [p for p in _modules("ledger", "cli") if STORAGE not in p.parents]


def test_the_scan_sees_the_modules() -> None:
    names = {_name(p) for p in OUTSIDE_STORAGE}
    assert {"ledger/net/mirror.py", "ledger/net/witness.py", "ledger/ledger.py"} <= names
    assert not any(n.startswith("ledger/storage/") for n in names)


@pytest.mark.parametrize("path", OUTSIDE_STORAGE, ids=_name)
def test_no_database_access_outside_storage(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [f"line {n}: import {m}" for n, m in _imports(tree) if m in DATABASE_MODULES]
    found += [
        f"line {n}: .{f}(...)"
        for n, owner, f in _calls(tree)
        if owner is not None and f in SQL_CALLS
    ]
    assert not found, f"{_name(path)} touches SQLite; move it to ledger/storage/: {found}"


@pytest.mark.parametrize("path", _modules("ledger/net", "ledger/core"), ids=_name)
def test_no_file_writes_in_net_or_core(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [f"line {n}: import {m}" for n, m in _imports(tree) if m in FILE_MODULES]
    for n, owner, func in _calls(tree):
        if owner is None and func == "open":
            found.append(f"line {n}: open(...)")
        elif owner in ("os", "io") and func in OS_FILE_CALLS:
            found.append(f"line {n}: {owner}.{func}(...)")
        elif owner is not None and func in PATH_WRITES:
            found.append(f"line {n}: .{func}(...)")
    assert not found, f"{_name(path)} writes files; ledger/storage/ does that: {found}"


def _offending(source: str) -> list[str]:
    tree = ast.parse(source)
    found = [m for _, m in _imports(tree) if m in DATABASE_MODULES | FILE_MODULES]
    found += [f for _, owner, f in _calls(tree) if owner is not None and f in SQL_CALLS]
    found += [f for _, owner, f in _calls(tree) if owner == "os" and f in OS_FILE_CALLS]
    found += [f for _, owner, f in _calls(tree) if owner is None and f == "open"]
    return found


def test_the_scan_finds_what_it_looks_for() -> None:
    source = (
        "import sqlite3\n"
        "from sqlite_utils import Database\n"
        "import fcntl, tempfile\n"
        "def f(store, p):\n"
        "    import os\n"
        "    store.conn.execute('SELECT 1')\n"
        "    with open(p, 'w'):\n"
        "        os.replace(p, p)\n"
    )
    assert _offending(source) == [
        "sqlite3",
        "sqlite_utils",
        "fcntl",
        "tempfile",
        "execute",
        "replace",
        "open",
    ]
