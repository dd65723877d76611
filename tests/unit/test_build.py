"""Which build runs, and that both builds give the same results (setup.py, ledger/_build.py).

The pure core may run compiled by mypyc or as pure Python. ``make test`` runs the suite
against the build installed (compiled where a C compiler worked), ``make test-pure`` runs it
with ``KPLEDGER_PURE=1``. These tests check

* that ``KPLEDGER_PURE=1`` loads every ``ledger`` module from its ``.py`` source;
* that otherwise the compiled modules, where built, are the ones loaded, and that they
  are exactly the modules ``setup.py`` compiles (all in the pure core);
* that a small workload gives identical results in a pure and in a default interpreter:
  canonical encoding and its refusals, Merkle roots, a simulated ledger with rejected
  faults (rules, signatures, tiles, state map) and its verify.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import ledger
from cli.app import main
from ledger import _build

ROOT = Path(__file__).resolve().parents[2]
PURE_RUN = os.environ.get("KPLEDGER_PURE") == "1"


def setup_compiled() -> list[str]:
    """The module names setup.py compiles (its ``COMPILED`` list of paths)."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "COMPILED" for t in targets):
                assert node.value is not None
                paths: list[str] = ast.literal_eval(node.value)
                return sorted(p.removesuffix(".py").replace("/", ".") for p in paths)
    raise AssertionError("setup.py has no COMPILED list")


def python(code: str, *args: str, pure: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KPLEDGER_PURE"}
    if pure:
        env["KPLEDGER_PURE"] = "1"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


_LOADED = """
import importlib, json, sys
import ledger, ledger.api, ledger.ledger, ledger.verify, ledger.net, ledger.sim
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps({
    "build": ledger.build(),
    "compiled": list(ledger.compiled_modules()),
    "origins": {n: m.__spec__.origin for n, m in sys.modules.items()
                if n == "ledger" or n.startswith("ledger.")},
    "shared": "kpledger_core__mypyc" in sys.modules,
}))
"""


def loaded(*, pure: bool) -> dict[str, Any]:
    result = python(_LOADED, *setup_compiled(), pure=pure)
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_setup_compiles_only_modules_of_the_pure_core() -> None:
    names = setup_compiled()
    assert names and all(n.startswith("ledger.core.") for n in names)
    for name in names:
        assert ROOT.joinpath(*name.split(".")).with_suffix(".py").is_file(), name


def test_kpledger_pure_loads_every_ledger_module_from_source() -> None:
    out = loaded(pure=True)
    not_source = {n: o for n, o in out["origins"].items() if not str(o).endswith(".py")}
    assert not not_source
    assert len(out["origins"]) > len(setup_compiled())
    assert out["build"] == "pure" and out["compiled"] == [] and not out["shared"]


def test_the_compiled_modules_are_loaded_where_built() -> None:
    built = _build._extensions()
    if PURE_RUN:
        assert ledger.build() == "pure" and ledger.compiled_modules() == ()
    if not built:
        pytest.skip("no compiled core here (pure install: no C compiler, or KPLEDGER_PURE=1)")
    assert sorted(built) == setup_compiled()
    out = loaded(pure=False)
    origins = out["origins"]
    assert {n for n, o in origins.items() if not o.endswith(".py")} == set(setup_compiled())
    assert all(origins[n] == str(built[n]) for n in setup_compiled())
    assert out["build"] == "compiled" and out["compiled"] == setup_compiled() and out["shared"]
    if not PURE_RUN:
        assert ledger.build() == "compiled"
        assert list(ledger.compiled_modules()) == setup_compiled()


def test_version_names_the_build() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    if ledger.build() == "compiled":
        n = len(ledger.compiled_modules())
        assert result.output == f"kpledger {ledger.__version__} (compiled: {n} core modules)\n"
    else:
        assert result.output == f"kpledger {ledger.__version__} (pure Python)\n"


_WORKLOAD = """
import json, os, sys
import ledger
from ledger.core import encoding, merkle
from ledger.errors import LedgerError
from ledger.ledger import Ledger
from ledger.sim import simulate

out = {"build": ledger.build()}
samples = [
    0, 1, -1, 127, 128, -33, 2**32, 2**63 - 1, -(2**63), b"", bytes(range(40)), "", "ct",
    "é" * 40, True, False, None, [], [1, [2, b"x"]], {}, {"b": 1, "a": [True, None]},
    {"parcel": "BW-1", "carats": 12345, "stones": 3, "hs": "7102.10"},
]
out["encoded"] = [encoding.encode(v).hex() for v in samples]
out["decoded"] = [repr(encoding.decode(encoding.encode(v))) for v in samples]
bad = ["c1", "cc01", "cb3ff0000000000000", "82a16101a16102", "82a16201a16102", "a2ff",
       "dc0001c0", "c4", "92", "d0ff", "c0c0", "cd00ff"]
refusals = []
for data in bad:
    try:
        refusals.append("accepted " + repr(encoding.decode(bytes.fromhex(data))))
    except LedgerError as exc:
        refusals.append(f"{type(exc).__name__}: {exc}")
out["refusals"] = refusals
leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(1000)]
out["roots"] = [merkle.root_from_leaf_hashes(leaves[:n]).hex() for n in (0, 1, 3, 256, 1000)]
path = os.path.join(sys.argv[1], "sim.db")
report = simulate(path, parcels=4, seed=3, faults=0.2)
out["simulate"] = repr(sorted((k, v) for k, v in vars(report).items()
                              if k not in ("path", "seconds")))
led = Ledger.open(path)
try:
    v = led.verify()
finally:
    led.close()
out["verify"] = repr((v.size, v.root.hex(), sorted(v.warnings.items()), v.checkpoints,
                      sorted(v.quarantined.items()), v.unconfirmed))
print(json.dumps(out))
"""


def test_pure_and_compiled_builds_give_identical_results(tmp_path: Path) -> None:
    runs = {}
    for pure in (True, False):
        folder = tmp_path / ("pure" if pure else "default")
        folder.mkdir()
        result = python(_WORKLOAD, str(folder), pure=pure)
        assert result.returncode == 0, result.stderr
        runs[pure] = json.loads(result.stdout)
    assert runs[True].pop("build") == "pure"
    assert runs[False].pop("build") == ("compiled" if _build._extensions() else "pure")
    assert "R-ID-2" in runs[True]["simulate"]  # faults were refused, by the rules engine
    for key in runs[True]:
        assert runs[True][key] == runs[False][key], key
