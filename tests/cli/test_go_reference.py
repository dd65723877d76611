"""Checkpoints and proofs printed by the CLI verify with Go's reference implementation.

The checker (tests/go/tlogcheck) uses golang.org/x/mod/sumdb/note and sumdb/tlog from
Debian's golang-golang-x-mod-dev, installed by tools/install-test-deps.sh.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli import Cli, export, make_cli

ROOT = Path(__file__).resolve().parents[2]
GOPATH = Path("/usr/share/gocode")


@pytest.fixture(scope="module")
def checker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None or not (GOPATH / "src/golang.org/x/mod/sumdb/tlog").is_dir():
        if os.environ.get("CI"):
            pytest.fail("go and golang-golang-x-mod-dev are missing: tools/install-test-deps.sh")
        pytest.skip("go or golang-golang-x-mod-dev not installed (tools/install-test-deps.sh)")
    out = tmp_path_factory.mktemp("go") / "tlogcheck"
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": str(GOPATH),
        "GOCACHE": str(out.parent / "cache"),
        "GOFLAGS": "",
    }
    subprocess.run(
        [go, "build", "-o", str(out), "."],
        cwd=ROOT / "tests/go/tlogcheck",
        env=env,
        check=True,
        capture_output=True,
    )
    return out


def run_go(checker: Path, data: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(checker)], input=json.dumps(data), capture_output=True, text=True, check=False
    )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


def test_cli_proofs_verify_with_go(cli: Cli, checker: Path) -> None:
    export(cli, "P1", "BW-0001")
    export(cli, "P2", "BW-0002")
    note = cli("checkpoint", "--key", cli.key("op")).stdout
    vkey = cli("key", "vkey", cli.pub("op"), "--name", "test.example/ledger").stdout.strip()
    size = json.loads(cli("checkpoint", "--show", json_out=True).stdout)["size"]
    inclusion = [
        json.loads(cli("proof", "inclusion", str(i), "--size", str(n), json_out=True).stdout)
        for n in (1, 2, 5, 8, size)
        if n <= size
        for i in range(n)
    ]
    consistency = [
        json.loads(cli("proof", "consistency", str(m), str(n), json_out=True).stdout)
        for n in range(1, size + 1)
        for m in range(1, n + 1)
    ]
    result = run_go(
        checker,
        {"vkey": vkey, "checkpoint": note, "inclusion": inclusion, "consistency": consistency},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    oks = result.stdout.count("OK ")
    assert oks == 1 + len(inclusion) + len(consistency)
    assert f"OK checkpoint origin=test.example/ledger size={size}" in result.stdout

    # The reference implementation also refuses what ours refuses.
    bad = dict(inclusion[-1])
    proof = list(bad["proof"])
    proof[0] = ("A" if proof[0][0] != "A" else "B") + proof[0][1:]
    bad["proof"] = proof
    tampered = note.replace("test.example/ledger\n", "test.example/ledgeR\n", 1)
    result = run_go(checker, {"vkey": vkey, "checkpoint": tampered, "inclusion": [bad]})
    assert result.returncode == 1
    assert "FAIL checkpoint" in result.stdout and "FAIL inclusion" in result.stdout
