"""Governance through a node (specs/node.md §2.5): pending proposals gather governor
signatures and are appended at the k-th; bad signatures, duplicates, expired and replayed
proposals are refused with their rule and change nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from ledger.core.keys import PrivateKey
from ledger.core.model import Body, sign_body
from ledger.storage.keyfile import load_private
from tests.cli.test_cli import Cli
from tests.node.conftest import NodeCli, Servers, operator_vkey

DAY = 86_400_000


def governed(tmp_path: Path) -> Cli:
    c = Cli(tmp_path)
    for name in ("op", "g1", "g2", "g3", "g4", "g5", "mine"):
        c("key", "new", name, "--dir", str(c.keys), "--no-passphrase")
    (tmp_path / "gov.txt").write_text("".join(f"keys/g{i}.pub\n" for i in range(1, 6)))
    c(
        "init",
        "--key",
        c.key("op"),
        "--origin",
        "test.example/governed",
        "--governors",
        str(tmp_path / "gov.txt"),
        "--threshold",
        "3",
    )
    return c


def key(c: Cli, name: str) -> PrivateKey:
    return load_private(c.key(name), lambda: "")


def test_a_suspension_gathers_its_signatures_on_the_node(tmp_path: Path, servers: Servers) -> None:
    local = governed(tmp_path)
    server = servers.node(local.db, key=local.key("op"))
    node = NodeCli(local, server.url, vkey=operator_vkey(local, "test.example/governed"))
    suspend = [
        "kp-status",
        "set",
        "--country",
        "CF",
        "--status",
        "suspended",
        "--from",
        "2013-05-23",
    ]
    # The operator alone: refused through the node, nothing written.
    node.rejected(*suspend, "--key", node.key("op"), contains="R-GV-1")
    # A governor proposes: the node keeps it pending.
    before = node.snapshot()
    pid = node(*suspend, "--key", node.key("g1")).stdout.strip()
    assert node.snapshot() == before
    shown = json.loads(node("governance", "show", json_out=True).stdout)
    assert shown["governance"]["threshold"] == 3
    [pending] = shown["pending"]
    assert (pending["proposal"], pending["approvals"], pending["proposer"]) == (pid, 1, "g1")
    node("governance", "sign", pid[:12], "--key", node.key("g2"))
    for who in ("g2", "g1", "mine", "op"):
        node.rejected("governance", "sign", pid[:12], "--key", node.key(who), contains="R-GV-2")
    out = json.loads(node("governance", "sign", pid, "--key", node.key("g4"), json_out=True).stdout)
    assert out["appended"] and out["appended"][0]["type"] == "kp-status.set"
    assert local("kp-status", "list").stdout.strip() == "CF: suspended from 2013-05-23"
    assert json.loads(node("governance", "show", json_out=True).stdout)["pending"] == []
    # Replayed: the same body co-signed offline by other governors.
    prop = str(tmp_path / "again.kpe")
    g1 = key(local, "g1")
    entry = sign_body(
        Body(
            "kp-status.set",
            "test.example/governed",
            g1.kid,
            pending["time"],
            {"country": "CF", "status": "suspended", "from": "2013-05-23"},
        ),
        [g1.seed, key(local, "g3").seed, key(local, "g5").seed],
    )
    assert entry.id.hex() != out["appended"][0]["id"]
    Path(prop).write_bytes(len(entry.raw).to_bytes(4, "big") + entry.raw)
    node.rejected("governance", "submit", prop, contains="R-GV-5")
    node("verify")


def test_node_refuses_bad_proposals(tmp_path: Path, servers: Servers) -> None:
    local = governed(tmp_path)
    server = servers.node(local.db, key=local.key("op"))
    node = NodeCli(local, server.url, vkey=operator_vkey(local, "test.example/governed"))
    before = node.snapshot()
    g1, mine = key(local, "g1"), key(local, "mine")
    now = time.time_ns() // 1_000_000
    fields = {"country": "BW", "status": "participant", "from": "2003-01-01"}

    def post(signer: PrivateKey, claimed: int, *others: PrivateKey) -> httpx.Response:
        body = Body("kp-status.set", "test.example/governed", signer.kid, claimed, fields)
        entry = sign_body(body, [signer.seed, *(k.seed for k in others)])
        return httpx.post(server.url + "/api/proposals", content=entry.raw)

    expired = post(g1, now - 8 * DAY)
    assert expired.status_code == 422 and expired.json()["rule"] == "R-GV-4"
    stranger = post(mine, now)
    assert stranger.status_code == 422 and stranger.json()["rule"] in ("R-GV-2", "R-ID-1")
    cosigned = post(g1, now, mine)
    assert cosigned.status_code == 422 and cosigned.json()["rule"] == "R-GV-2"
    wrong = httpx.post(server.url + "/api/proposals", content=b"\x81\xa1v\x01")
    assert wrong.status_code == 400
    assert node.snapshot() == before
    assert httpx.get(server.url + "/api/proposals").json() == []
    # k = 3 governors at once: appended directly.
    ok = post(g1, now, key(local, "g2"), key(local, "g3"))
    assert ok.status_code == 200 and ok.json()["appended"] is not None
