"""Governance through a node (specs/node.md §2.5): pending proposals gather governor
signatures and are appended at the k-th; bad signatures, duplicates, expired and replayed
proposals are refused with their rule and change nothing."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx

from ledger.core.keys import PrivateKey
from ledger.core.model import Body, sign_body
from ledger.storage.keyfile import load_private
from tests.cli.test_cli import Cli
from tests.node.conftest import NodeCli, Servers, file_digest, operator_vkey

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
    before = node.snapshot(log_only=True)
    pid = node(*suspend, "--key", node.key("g1")).stdout.strip()
    assert node.snapshot(log_only=True) == before
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


def test_pending_proposals_survive_a_node_restart(tmp_path: Path, servers: Servers) -> None:
    """A proposal gathers signatures over days: a node restarted in between takes up the
    pending proposals kept in its file, drops those that expired meanwhile, and a proposal
    it appends or refuses leaves the file."""
    local = governed(tmp_path)
    server = servers.node(local.db, key=local.key("op"))
    g1, g2 = key(local, "g1"), key(local, "g2")
    now = time.time_ns() // 1_000_000

    def proposal(country: str, claimed: int, *cosigners: PrivateKey) -> bytes:
        """Proposed by g1, co-signed by ``cosigners`` (as ``governance sign`` does)."""
        fields = {"country": country, "status": "participant", "from": "2003-01-01"}
        body = Body("kp-status.set", "test.example/governed", g1.kid, claimed, fields)
        return sign_body(body, [g1.seed, *(k.seed for k in cosigners)]).raw

    def post(url: str, raw: bytes) -> dict[str, Any]:
        answer = httpx.post(url + "/api/proposals", content=raw)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    post(server.url, proposal("BW", now))
    post(server.url, proposal("BW", now, g2))
    # Close to expiry: still pending when posted, expired by the time the node restarts.
    soon = now - 7 * DAY + 1500
    post(server.url, proposal("NA", soon))
    pending = httpx.get(server.url + "/api/proposals").json()
    assert sorted((p["approvals"], p["expired"]) for p in pending) == [(1, False), (2, False)]
    log_before = file_digest(local.db, log_only=True)
    server.stop()
    time.sleep(1.6)

    again = servers.node(local.db, key=local.key("op"))
    [kept] = httpx.get(again.url + "/api/proposals").json()
    assert (kept["approvals"], kept["signed_by"]) == (2, ["g1", "g2"])
    assert file_digest(local.db, log_only=True) == log_before
    rows = sqlite3.connect(local.db).execute("SELECT COUNT(*) FROM pending_proposals").fetchone()
    assert rows == (1,)  # the expired one left the file at the restart
    done = post(again.url, proposal("BW", now, g2, key(local, "g3")))
    assert [e["type"] for e in done["appended"]["entries"]] == ["kp-status.set"]
    assert httpx.get(again.url + "/api/proposals").json() == []
    rows = sqlite3.connect(local.db).execute("SELECT COUNT(*) FROM pending_proposals").fetchone()
    assert rows == (0,)
    assert "BW: participant from 2003-01-01" in local("kp-status", "list").stdout


def test_restore_drops_what_cannot_be_a_pending_proposal(tmp_path: Path, caplog: Any) -> None:
    """Rows of the pending table that do not read as this ledger's pending registry
    change, or whose proposal was applied meanwhile, leave the file; the rest is taken up
    with its signatures (checked again by the rules when appended)."""
    from ledger import Ledger
    from ledger.core import rules
    from ledger.net.proposals import ProposalPool
    from ledger.storage import pending

    local = governed(tmp_path)
    g1 = key(local, "g1")
    now = time.time_ns() // 1_000_000
    body = Body(
        "kp-status.set",
        "test.example/governed",
        g1.kid,
        now,
        {"country": "BW", "status": "participant", "from": "2003-01-01"},
    )
    good = sign_body(body, [g1.seed])
    led = Ledger.open(local.db)
    try:
        pool = ProposalPool(led)
        pool.merge(good, now)
        pid = rules.proposal_id(good)
        pending.keep(led.store, b"\x01" * 32, good.raw, now)  # not the id of its body
        pending.keep(led.store, b"\x02" * 32, b"\x81\xa1v\x01", now)  # no entry
        pending.keep(led.store, b"\x03" * 32, good.raw[:-1], now)  # truncated
        led.store.conn.execute(  # an altered file: an id that is no blob
            "INSERT INTO pending_proposals (id, envelope, time) VALUES ('text', ?, ?)",
            (good.raw, now + 1),
        )
        restarted = ProposalPool(led)
        with caplog.at_level("WARNING", logger="kpledger.node"):
            assert restarted.restore(now) == 1
        assert [r.getMessage().split(":")[0] for r in caplog.records] == [
            *(
                f"dropping unreadable pending proposal {(bytes([i]) * 32).hex()[:16]}"
                for i in (1, 2, 3)
            ),
            "dropping unreadable pending proposal 'text'",
        ]
        assert [p[0] for p in pending.load(led.store)] == [pid]
        [status] = restarted.pending(now)
        assert status["approvals"] == 1
        # Applied meanwhile (say, k governors signed it offline and the operator appended it).
        applied = sign_body(body, [g1.seed, key(local, "g2").seed, key(local, "g3").seed])
        led.append([applied], now=now)
        assert ProposalPool(led).restore(now) == 0
        assert pending.load(led.store) == []
    finally:
        led.close()
