"""The CLI against a real node: same arguments, same output; racing submitters."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_cli import export
from tests.node.conftest import KPLEDGER, Scene, run_cli

# Read-only commands whose output must be byte-identical locally and through the node.
QUERIES = [
    ("log",),
    ("history", "P1"),
    ("trace", "A"),
    ("trace", "P1"),
    ("inventory", "Antwerp"),
    ("participant", "list"),
    ("kp-status", "list"),
    ("proof", "inclusion", "3"),
    ("proof", "inclusion", "2", "--size", "9"),
    ("proof", "consistency", "4", "11"),
]


def test_multi_party_flow_through_the_node(scene: Scene) -> None:
    node, local = scene.remote, scene.local
    tid = export(node)  # origin, KP certificate, transfer, accept: four parties
    node("split", "--key", node.key("ant"), "--parcel", "P1", "--into", "A:60:200,B:39.5")
    out = json.loads(
        node(
            "transfer",
            "--key",
            node.key("ant"),
            "--parcels",
            "A",
            "--to",
            "Antwerp Two",
            json_out=True,
        ).stdout
    )
    node("accept", "--key", node.key("ant2"), out["id"][:12])
    node("cut", "--key", node.key("ant2"), "--parcels", "A", "--into", "ST-1:0.5")
    # The node's file holds exactly what a local append would have produced.
    assert json.loads(local("verify", json_out=True).stdout)["valid"] is True
    for args in QUERIES:
        assert node(*args).stdout == local(*args).stdout, args
        assert node(*args, json_out=True).stdout == local(*args, json_out=True).stdout, args
    for args in (("show", tid[:10]), ("show", out["id"])):
        assert node(*args, json_out=True).stdout == local(*args, json_out=True).stdout
    # Verify downloads and replays every record, then checks the node's checkpoint.
    report = json.loads(node("verify", json_out=True).stdout)
    assert report["valid"] is True and report["checkpoints"] == 1
    assert report["root"] == json.loads(local("verify", json_out=True).stdout)["root"]
    # The node signed a checkpoint after the last append; the operator key re-signs it
    # identically; a proof made through the node verifies offline.
    shown = node("checkpoint", "--show").stdout
    assert node("checkpoint", "--key", node.key("op")).stdout == shown
    node.rejected("checkpoint", "--key", node.key("ant"), contains="only the operator")
    # --checkpoint-key through a node: the node appends, the operator re-signs its head.
    grown = json.loads(
        node(
            "origin",
            "--key",
            node.key("mine"),
            "--parcel",
            "P9",
            "--carats",
            "1.00",
            "--stones",
            "2",
            "--mine",
            "Pit 9",
            "--checkpoint-key",
            node.key("op"),
            json_out=True,
        ).stdout
    )
    assert grown["checkpoint"] == node("checkpoint", "--show").stdout
    node.rejected(
        "origin",
        "--key",
        node.key("mine"),
        "--parcel",
        "P10",
        "--carats",
        "1.00",
        "--stones",
        "2",
        "--mine",
        "Pit 9",
        "--checkpoint-key",
        node.key("ant"),
        contains="only the operator",
    )
    bundle = str(node.tmp / "st1.kpproof")
    node("prove", "ST-1", "-o", bundle)
    vkey = node("key", "vkey", node.pub("op"), "--name", "test.example/ledger").stdout.strip()
    verdict = node("verify-proof", bundle, "--trust", vkey, "--deny-origin", "RU")
    assert "BW" in verdict.stdout
    # An operator node attests that the bundle shows the stone's latest state.
    attested = node("verify-proof", bundle, "--trust", vkey, "--require-latest", json_out=True)
    assert json.loads(attested.stdout)["latest_attested"] is True


def test_rejections_are_the_local_ones_and_change_nothing(scene: Scene) -> None:
    node = scene.remote
    export(node)
    node.rejected(
        "split",
        "--key",
        node.key("ant"),
        "--parcel",
        "P1",
        "--into",
        "A:60,B:60",
        contains="R-MB-1",
    )
    node.rejected(
        "split",
        "--key",
        node.key("mine"),
        "--parcel",
        "P1",
        "--into",
        "A:1,B:1",
        contains="R-CU-1",
    )
    node.rejected("history", "NOPE", contains="NOPE")
    node.rejected(
        "transfer",
        "--key",
        node.key("ant"),
        "--parcels",
        "P1",
        "--to",
        "Nobody",
        contains="Nobody",
    )
    one = str(node.tmp / "one.kpe")
    node("transfer", "--key", node.key("ant"), "--parcels", "P1", "--to", "Shop", "--out", one)
    node("submit", one)
    node.rejected("submit", one, contains="R-CH-3")
    node.rejected("accept", "--key", node.key("shop"), "zz", code=2, contains="8 hex digits")


def test_two_submitters_race_for_one_parcel(scene: Scene) -> None:
    node = scene.remote
    export(node)
    offers = []
    for i, to in enumerate(("Antwerp Two", "Shop")):
        path = str(node.tmp / f"offer-{i}.kpe")
        node("transfer", "--key", node.key("ant"), "--parcels", "P1", "--to", to, "--out", path)
        offers.append(path)
    before = len(json.loads(node("log", json_out=True).stdout))
    procs = [
        subprocess.Popen(
            [*KPLEDGER, "--ledger", scene.server.url, "--trust", node.vkey, "submit", path],
            cwd=node.tmp,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in offers
    ]
    results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, _, err in results if code == 1)
    assert loser.startswith("error: R-CU-2") or loser.startswith("error: R-CU-3"), loser
    assert len(json.loads(node("log", json_out=True).stdout)) == before + 1
    assert json.loads(node("--json", "verify").stdout)["valid"] is True


def test_unreachable_node_is_one_line(tmp_path: Path) -> None:
    vkey = "test.example/ledger+f2fa37f7+AVHvV0fygfLCroslMKfd8HWJto9BXWX3jNSwc3n5EQQ2"
    result = run_cli("--ledger", "http://127.0.0.1:9", "--trust", vkey, "log", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: could not reach the node at http://127.0.0.1:9")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_node_without_a_pin_is_refused_before_any_request(tmp_path: Path) -> None:
    result = run_cli("--ledger", "http://127.0.0.1:9", "log", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: no operator key is pinned for http://127.0.0.1:9")
    assert "kpledger trust add" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_demo_through_a_node(tmp_path: Path) -> None:
    result = run_cli("demo", "--node", "--dir", str(tmp_path / "demo"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for text in (
        "now at http://127.0.0.1:",
        "R-CU-3",
        "R-MB-1",
        "VERDICT: VALID",
        "valid:",
        "R-SW-3",
    ):
        assert text in result.stdout, text
    # the node kept the witness's cosignature, so its bundle grandfathers the Mir rough
    assert "Grandfathered (R-SA-3): outside Russia from record" in result.stdout


def test_dry_run_through_the_node_writes_nothing(scene: Scene) -> None:
    node = scene.remote
    export(node)
    before = node.snapshot()
    size = len(json.loads(node("log", json_out=True).stdout))
    split = ["split", "--key", node.key("ant"), "--parcel", "P1", "--into", "A:50,B:49.5"]
    shown = json.loads(node(*split, "--dry-run", json_out=True).stdout)
    assert [(e["index"], e["type"]) for e in shown["entries"]] == [(size, "split")]
    assert node(*split, "--dry-run").stdout.startswith(f"would append record {size}:")
    node.rejected("split", "--key", node.key("ant"), "--parcel", "P1", "--into", "A:90,B:90",
                  "--dry-run", contains="R-MB-1")  # fmt: skip
    node.rejected("trace", "p1", contains="(did you mean 'P1'?)")
    assert node.snapshot() == before
    node(*split)
    assert json.loads(node("log", json_out=True).stdout)[-1]["index"] == size
