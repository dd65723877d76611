"""Witnesses: tlog-witness add-checkpoint rules, offline cosigning, and a node whose
bundles carry cosignatures that meet a buyer's k-of-n policy."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import cast

import httpx
import pytest

import ledger as lg
from ledger.api import LedgerAPI
from ledger.core import note
from ledger.net.witness import (
    Witness,
    WitnessError,
    format_request,
    parse_request,
    submit_cosignatures,
)
from tests.cli.test_cli import Cli, export, make_cli
from tests.conftest import OPERATOR, World, fixed_key
from tests.node.conftest import NodeCli, Servers, file_digest
from tests.node.test_mirror import copy_ledger, origin

ORIGIN = "test.example/ledger"


def checkpoint(cli: Cli) -> str:
    return str(cli("checkpoint", "--key", cli.key("op")).stdout)


def consistency(cli: Cli, old: int, new: int) -> list[bytes]:
    led = lg.Ledger.open(cli.db)
    try:
        return list(led.consistency_proof(old, new)["proof"])
    finally:
        led.close()


def size_of(text: str) -> int:
    return lg.parse_checkpoint(lg.parse_note(text).text).size


def test_add_checkpoint_rules(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    operator = lg.parse_vkey(cli("key", "vkey", cli.pub("op"), "--name", ORIGIN).stdout.strip())
    cli("key", "new", "w1", "--dir", str(cli.keys), "--no-passphrase")
    w = Witness(lg.load_private(cli.key("w1"), None), tmp_path / "w1.json", [operator])
    first = checkpoint(cli)
    n = size_of(first)

    line = w.add_checkpoint(0, [], first)
    assert note.verify_cosignatures(note.add_signature(first, line), [w.verifier]) == {
        "w1": pytest.approx(time.time(), abs=5)
    }
    state = json.loads((tmp_path / "w1.json").read_text())  # persisted before the reply
    assert state["logs"][ORIGIN]["size"] == n

    with pytest.raises(WitnessError) as info:
        w.add_checkpoint(0, [], first)  # the witness has moved on: 409 and its size
    assert info.value.status == 409 and info.value.size == n
    assert w.add_checkpoint(n, [], first)  # same size, same root: cosigned again

    fork = str(tmp_path / "fork.db")
    copy_ledger(cli.db, fork)
    forked = Cli(tmp_path)
    forked.db = fork
    export(cli)  # four records
    for i in range(5):
        origin(forked, f"F-{i}")
    second, other = checkpoint(cli), checkpoint(forked)
    m = size_of(second)
    with pytest.raises(WitnessError) as info:
        w.add_checkpoint(n, [], second)  # a proof is needed
    assert info.value.status == 422
    w.add_checkpoint(n, consistency(cli, n, m), second)
    with pytest.raises(WitnessError) as info:  # the fork, with its own valid-looking proof
        w.add_checkpoint(m, consistency(forked, m, size_of(other)), other)
    assert info.value.status in (409, 422)
    assert json.loads((tmp_path / "w1.json").read_text())["logs"][ORIGIN]["size"] == m

    cases = [
        (m + 1, [], second, 400),  # old > size
        (m, [], second.replace(ORIGIN, "other.example/log"), 404),  # unknown origin
        (m, [], "not a checkpoint", 400),
    ]
    cli("key", "new", "rogue", "--dir", str(cli.keys), "--no-passphrase")
    rogue = lg.load_private(cli.key("rogue"), None)
    body = lg.parse_note(second).text
    cases.append((m, [], note.sign_note(body, ORIGIN, rogue.seed), 403))  # not the log's key
    for old, proof, text, status in cases:
        with pytest.raises(WitnessError) as info:
            w.add_checkpoint(old, proof, text)
        assert info.value.status == status, (status, info.value)

    # The request body round-trips.
    proof = consistency(cli, n, m)
    assert parse_request(format_request(n, proof, second)) == (n, proof, second)
    with pytest.raises(WitnessError):
        parse_request(b"old 01\n\n" + second.encode())


def test_offline_witness_cli(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    cli("key", "new", "w1", "--dir", str(cli.keys), "--no-passphrase")
    operator = cli("key", "vkey", cli.pub("op"), "--name", ORIGIN).stdout.strip()
    state = str(tmp_path / "w1.json")
    cp1 = tmp_path / "cp1.txt"
    cp1.write_text(checkpoint(cli))
    args = ("witness", "cosign", "--key", cli.key("w1"), "--state", state, "--trust", operator)
    cosigned = cli(*args, str(cp1)).stdout
    w1 = cli("witness", "vkey", cli.pub("w1")).stdout.strip()
    assert note.verify_cosignatures(cosigned, [lg.parse_vkey(w1)]).keys() == {"w1"}
    export(cli)
    cp2 = tmp_path / "cp2.txt"
    cp2.write_text(checkpoint(cli))
    cli.rejected(*args, str(cp2), code=2, contains="--proof")
    n, m = size_of(cp1.read_text()), size_of(cp2.read_text())
    proof = tmp_path / "proof.txt"
    proof.write_text(cli("proof", "consistency", str(n), str(m)).stdout)
    cosigned2 = tmp_path / "cosigned2.txt"
    cosigned2.write_text(cli(*args, "--proof", str(proof), str(cp2)).stdout)
    # A ledger file takes the cosignature for its stored checkpoint of that size.
    stored = cli("witness", "submit", str(cosigned2), "--vkey", w1).stdout
    assert stored == cosigned2.read_text()
    assert cli("checkpoint", "--show").stdout == stored


def wait_for_cosigners(url: str, vkeys: list[lg.Verifier], size: int) -> str:
    deadline = time.monotonic() + 15
    while True:
        text = httpx.get(url + "/checkpoint").text
        if size_of(text) >= size and len(note.verify_cosignatures(text, vkeys)) == len(vkeys):
            return text
        assert time.monotonic() < deadline, text
        time.sleep(0.05)


def test_node_gets_cosignatures_and_bundles_meet_the_quorum(
    tmp_path: Path, servers: Servers
) -> None:
    local = make_cli(tmp_path)
    for w in ("w1", "w2"):
        local("key", "new", w, "--dir", str(local.keys), "--no-passphrase")
    operator = local("key", "vkey", local.pub("op"), "--name", ORIGIN).stdout.strip()
    (tmp_path / "operator.vkey").write_text(operator + "\n")
    w1 = local("witness", "vkey", local.pub("w1")).stdout.strip()
    w2 = local("witness", "vkey", local.pub("w2")).stdout.strip()
    witness = servers.start(
        "witness",
        "serve",
        "--key",
        local.key("w1"),
        "--state",
        str(tmp_path / "w1.json"),
        "--trust",
        str(tmp_path / "operator.vkey"),
        "--listen",
        "127.0.0.1:0",
        probe="/0/checkpoint",
    )
    policy = tmp_path / "node.policy"
    policy.write_text(f"witness w1 {w1} {witness.url}\nwitness w2 {w2}\nquorum none\n")
    server = servers.node(local.db, "--policy", str(policy), key=local.key("op"))
    node = NodeCli(local, server.url)
    export(node)
    cp = wait_for_cosigners(server.url, [lg.parse_vkey(w1)], 0)
    n = size_of(cp)

    # w2 witnesses offline and hands its cosignature to the node.
    cp_file = tmp_path / "cp.txt"
    cp_file.write_text(cp)
    cosigned = tmp_path / "cosigned.txt"
    cosigned.write_text(
        local(
            "witness",
            "cosign",
            "--key",
            local.key("w2"),
            "--state",
            str(tmp_path / "w2.json"),
            "--trust",
            operator,
            str(cp_file),
        ).stdout
    )
    stored = node("witness", "submit", str(cosigned)).stdout
    assert note.verify_cosignatures(stored, [lg.parse_vkey(w1), lg.parse_vkey(w2)]).keys() == {
        "w1",
        "w2",
    }
    # A cosignature by a witness the node does not know is refused, and nothing changes.
    local("key", "new", "w3", "--dir", str(local.keys), "--no-passphrase")
    w3 = tmp_path / "w3.txt"
    by_w3 = note.parse_note(
        local(
            "witness",
            "cosign",
            "--key",
            local.key("w3"),
            "--state",
            str(tmp_path / "w3.json"),
            "--trust",
            operator,
            str(cp_file),
        ).stdout
    )
    only = tuple(s for s in by_w3.signatures if s.name not in ("w1", "w2"))
    w3.write_text(note.format_note(note.Note(by_w3.text, only)))
    before = file_digest(local.db)
    node.rejected("witness", "submit", str(w3), contains="no cosignature by a known witness")
    assert file_digest(local.db) == before

    # The bundle carries both cosignatures: a 2-of-2 buyer policy holds.
    bundle = str(tmp_path / "p1.kpproof")
    node("prove", "P1", "-o", bundle)
    buyer = tmp_path / "buyer.policy"
    buyer.write_text(
        f"log {operator}\nwitness w1 {w1}\nwitness w2 {w2}\ngroup both 2 w1 w2\nquorum both\n"
    )
    ok = node("verify-proof", bundle, "--trust", operator, "--policy", str(buyer))
    assert ok.exit_code == 0
    # After one more append the newest checkpoint has only w1's (pushed) cosignature.
    origin(node, "P9")
    wait_for_cosigners(server.url, [lg.parse_vkey(w1)], n + 1)
    node("prove", "P9", "-o", bundle)
    failed = node("verify-proof", bundle, "--trust", operator, "--policy", str(buyer), ok=False)
    assert failed.exit_code == 1 and "quorum" in failed.stderr


def test_submit_cosignatures_to_a_ledger_file(world: World, tmp_path: Path) -> None:
    text = world.ledger.checkpoint(world.keys[OPERATOR])
    w = Witness(fixed_key("w1", 101), tmp_path / "w1.json", [world.ledger.verifier()])
    cosigned = note.add_signature(text, w.add_checkpoint(0, [], text))
    stored = submit_cosignatures(world.ledger, cosigned, [w.verifier])
    assert stored == cosigned == world.ledger.latest_checkpoint()
    with pytest.raises(lg.ProofError, match="no cosignature by a known witness"):
        submit_cosignatures(world.ledger, text, [w.verifier])
    with pytest.raises(lg.UsageError):
        submit_cosignatures(cast(LedgerAPI, object()), cosigned, [w.verifier])
