"""The benchmark's own rules: old results are not rendered as current, samples are
classified by what they ran."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bench import native, run


def _results(tmp_path: Path, commit: str) -> Path:
    doc = {
        "header": f"kpledger bench at commit {commit}, quick mode",
        "started": "2026-12-05 00:00:00",
        "mode": "quick",
        "commit": commit,
        "command": "python -m bench.run --quick",
        "loadavg_start": [0.0, 0.0, 0.0],
        "loadavg_end": [0.0, 0.0, 0.0],
        "machine": {},
        "rows": [],
        "extra": {},
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc))
    return path


def test_render_refuses_results_of_another_commit(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    text = "a\n<!-- results-quick:start -->\nold\n<!-- results-quick:end -->\nb\n"
    readme.write_text(text)
    with pytest.raises(SystemExit, match="not at the current"):
        run.render(_results(tmp_path, "0123456789ab"), readme)
    assert readme.read_text() == text  # nothing written
    # Printing them (no README) is allowed; writing the current commit's is too.
    assert run.render(_results(tmp_path, "0123456789ab"), None) == 0
    assert run.render(_results(tmp_path, run.git_commit()), readme) == 0
    assert "at commit " + run.git_commit() in readme.read_text()


@pytest.mark.parametrize(
    ("frame", "area"),
    [
        ("crypto_sign_open (libsodium.so.26)", "Ed25519 verify (libsodium)"),
        ("slide_vartime (ed25519_ref10.c:265)", "Ed25519 verify (libsodium)"),
        ("sqlite3VdbeExec (sqlite3.c:93000)", "SQLite and its reads (C)"),
        ("CPyDef_encoding___decode (build/__native.c:1234)", "compiled kpledger code (mypyc)"),
        ("_PyEval_EvalFrameDefault (ceval.c:5000)", "interpreter (pure-Python code)"),
        ("replay (ledger/core/replay.py:120)", "interpreter (pure-Python code)"),
        ("0x7f5cbcb8b80f (libc.so.6)", "other"),
    ],
)
def test_native_areas(frame: str, area: str) -> None:
    assert native.area_of(frame) == area


def test_native_tables_count_each_sample_once_per_area_and_per_step() -> None:
    stacks = Counter(
        {
            "work (<string>:3);verify (ledger/ledger.py:1);apply (ledger/core/rules/engine.py:48)"
            ";crypto_sign_open (libsodium.so)": 3,
            "work (<string>:3);verify (ledger/ledger.py:1);record (ledger/core/statemap.py:9)"
            ";encode (ledger/core/encoding.py:105);_PyEval_EvalFrameDefault (ceval.c:1)": 1,
        }
    )
    text = native.tables("verify", stacks, 4, "pure")
    assert "| Ed25519 verify (libsodium) | 3 | 75% |" in text
    assert "| interpreter (pure-Python code) | 1 | 25% |" in text
    assert "| rules.apply (the rules, signatures included) | 3 | 75% |" in text
    assert "| MemoryMap.record (state-map key and value hashes) | 1 | 25% |" in text
    assert "| encoding.encode (all canonical encodes) | 1 | 25% |" in text


def test_find_stone_matches_the_bundle_shape(tmp_path: Path) -> None:
    """The proof-cost ratio compares stones of one shape: a plain chain of the same depth
    whose bundle carries the same number of records."""
    from bench import ledgers
    from ledger import Ledger
    from ledger.core import proofs
    from ledger.sim import simulate

    path = tmp_path / "sim.db"
    assert simulate(str(path), parcels=20, seed=1).ok
    ledgers.ensure_checkpoint(path)

    def records(stone: str) -> int:
        led = Ledger.open(str(path))
        try:
            return len(proofs.Bundle.decode(led.prove(stone)).records)
        finally:
            led.close()

    first, dag, count = run.find_stone(path, 11)
    assert dag == 12 and count == records(first)
    other = 26 if count != 26 else 25
    stone, dag, count = run.find_stone(path, 11, records=other)
    assert (dag, count) == (12, other) and records(stone) == other and stone != first
    with pytest.raises(RuntimeError, match=r"11 hops deep \(plain chain, 99 bundle records\)"):
        run.find_stone(path, 11, records=99)
