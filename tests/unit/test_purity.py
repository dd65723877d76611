"""The pure core does not pull in the I/O layer (STYLE.md, "Layout of ledger/").

Everything below ``store.py`` is pure, so an offline verifier (a buyer checking a proof
bundle, a browser build) can import it without SQLite tooling or the CLI. Each module is
imported in a fresh interpreter, because an earlier import in this process would hide
what a module drags in.

Two checks per module:

* ``test_module_layering``: the module itself and what it imports, with the package's
  ``__init__`` bypassed. A failure names the module that broke the layering.
* ``test_import_through_package``: ``import ledger.X`` as a user writes it, which also
  runs ``ledger/__init__.py``. If only this one fails, the façade's eager re-exports
  (``Ledger``, ``Appended``, ``load_private`` …) are what import ``ledger.store`` and with
  it ``sqlite_utils`` and ``click``; the fix is a lazy ``__getattr__`` (PEP 562) there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PURE = [
    "ledger.core.encoding",
    "ledger.core.keys",
    "ledger.core.model",
    "ledger.core.rules",
    "ledger.core.merkle",
    "ledger.core.tiles",
    "ledger.core.note",
    "ledger.core.proofs",
    "ledger.core.replay",
    "ledger.core.epcis",
]
FORBIDDEN = ["sqlite_utils", "click"]

_PROBE = """
import importlib, json, sys, types
if {bypass!r}:
    pkg = types.ModuleType("ledger")
    pkg.__path__ = [{pkg_dir!r}]
    sys.modules["ledger"] = pkg
importlib.import_module({module!r})
print(json.dumps(sorted(m for m in {forbidden!r} if m in sys.modules)))
"""


def _loaded(module: str, *, bypass: bool, forbidden: list[str]) -> list[str]:
    code = _PROBE.format(
        bypass=bypass, pkg_dir=str(ROOT / "ledger"), module=module, forbidden=forbidden
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("module", PURE)
def test_module_layering(module: str) -> None:
    # sqlite3 too: "no SQL" below store.py.
    assert _loaded(module, bypass=True, forbidden=[*FORBIDDEN, "sqlite3"]) == []


@pytest.mark.parametrize("module", PURE)
def test_import_through_package(module: str) -> None:
    loaded = _loaded(module, bypass=False, forbidden=FORBIDDEN)
    assert loaded == [], (
        f"import {module} loads {loaded}: ledger/__init__.py imports the I/O layer eagerly"
    )
