"""Which build of kpledger runs: the pure core compiled by mypyc, or pure Python.

``setup.py`` compiles the modules of the pure core (``ledger.core``) with mypyc when a C
compiler works; Python then loads each compiled module's extension (``.so``) in place of
its ``.py`` file. Both builds give identical results (the whole suite runs against each).

Pure Python runs, even where extensions are present, when

* ``KPLEDGER_PURE=1`` is set: importing ``ledger`` installs a finder that loads every
  ``ledger.*`` module from its ``.py`` source (``make test-pure`` runs the suite so);
* an extension is older than its source (an in-place build not redone after an edit):
  the sources run, with a warning. All or nothing: compiled modules call each other
  directly, so a compiled caller would never reach an edited pure callee.

This module is imported first by ``ledger/__init__.py``, before any other ``ledger``
module, and is never compiled itself.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import (
    EXTENSION_SUFFIXES,
    SOURCE_SUFFIXES,
    FileFinder,
    ModuleSpec,
    SourceFileLoader,
)
from pathlib import Path
from types import ModuleType

#: The environment variable that selects pure Python at run time ("1") and at build time.
PURE_VARIABLE = "KPLEDGER_PURE"

_PACKAGE = Path(__file__).resolve().parent
#: A module that ``ledger`` always imports and that the build compiles.
_PROBE = "ledger.core.encoding"


class _SourceFinder:
    """A ``sys.meta_path`` finder that loads ``ledger.*`` modules from ``.py`` files only."""

    def __init__(self) -> None:
        self._finders: dict[str, FileFinder] = {}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if not fullname.startswith("ledger.") or path is None:
            return None
        for entry in path:
            finder = self._finders.get(entry)
            if finder is None:
                finder = FileFinder(entry, (SourceFileLoader, SOURCE_SUFFIXES))
                self._finders[entry] = finder
            spec = finder.find_spec(fullname, target)
            if spec is not None:
                return spec
        return None


def _extensions() -> dict[str, Path]:
    """The ``ledger`` modules that have a compiled extension beside them: name -> file."""
    found: dict[str, Path] = {}
    for ending in sorted({suffix.rpartition(".")[2] for suffix in EXTENSION_SUFFIXES}):
        for path in _PACKAGE.rglob("*." + ending):
            suffix = next(s for s in EXTENSION_SUFFIXES if path.name.endswith(s))
            parts = path.relative_to(_PACKAGE).parts
            found[".".join(("ledger", *parts[:-1], path.name[: -len(suffix)]))] = path
    return found


def _stale(extensions: dict[str, Path]) -> list[str]:
    """The compiled modules whose source changed after their extension was built."""
    stale = []
    for name, path in sorted(extensions.items()):
        source = path.with_name(name.rpartition(".")[2] + ".py")
        if source.exists() and source.stat().st_mtime > path.stat().st_mtime:
            stale.append(name)
    return stale


def _choose() -> str | None:
    """Why pure Python must run although extensions may be present, or None."""
    if os.environ.get(PURE_VARIABLE) == "1":
        return f"{PURE_VARIABLE}=1"
    stale = _stale(_extensions())
    if stale:
        warnings.warn(
            f"kpledger: the compiled core is older than its source ({', '.join(stale[:3])}"
            f"{', ...' if len(stale) > 3 else ''}); running pure Python. Rebuild it with "
            "`make` (or `pip install -e .`), or set KPLEDGER_PURE=1.",
            RuntimeWarning,
            stacklevel=2,
        )
        return "stale"
    return None


_PURE_REASON = _choose()
if _PURE_REASON is not None and not any(isinstance(f, _SourceFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _SourceFinder())


def _is_compiled(module: ModuleType) -> bool:
    origin = getattr(getattr(module, "__spec__", None), "origin", None) or ""
    return any(origin.endswith(suffix) for suffix in EXTENSION_SUFFIXES)


def compiled_modules() -> tuple[str, ...]:
    """The ``ledger`` modules that run compiled, sorted: for a module already imported,
    whether it was loaded from an extension; for the others, whether it would be."""
    if _PURE_REASON is not None:
        return tuple(
            n for n, m in sorted(sys.modules.items()) if n.startswith("ledger.") and _is_compiled(m)
        )
    names = set(_extensions())
    loaded = {n for n in names if n in sys.modules and not _is_compiled(sys.modules[n])}
    return tuple(sorted(names - loaded))


def build() -> str:
    """``"compiled"`` when the core runs as mypyc-compiled code, else ``"pure"``."""
    probe = sys.modules.get(_PROBE)
    if probe is not None:
        return "compiled" if _is_compiled(probe) else "pure"
    return "compiled" if _PROBE in compiled_modules() else "pure"
