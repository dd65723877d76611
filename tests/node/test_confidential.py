"""Confidential trade data, tested as an adversary would (specs/disclosure.md).

A trade is played against a node by parties that keep their openings in files of their
own; then the node's file, the published tiles, a synced mirror and a default bundle are
searched byte for byte for every price and value used: none is found. A bundle made with
``--disclose`` carries exactly the values its maker holds and chose, and verifies.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from ledger.core.encoding import encode
from tests.cli.test_cli import EXPIRES, Cli, make_cli
from tests.node.conftest import NodeCli, Server, Servers, operator_vkey

#: Amounts in cents, chosen so that none is a likely accident in other bytes.
VALUE = 1_310_057  # the KP certificate's declared value
PRICES = {"mine": 9_876_543, "ant": 5_555_521, "ant2": 4_321_987, "shop": 777_731}


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _patterns(cents: int) -> list[bytes]:
    """Every way the amount could appear: msgpack (the wire), decimal and money text."""
    return [
        encode(cents),
        str(cents).encode(),
        _money(cents).encode(),
        f"{cents / 100:,.2f}".encode(),
    ]


def _found(data: bytes, amounts: list[int]) -> list[int]:
    return [a for a in amounts if any(p in data for p in _patterns(a))]


def _file_bytes(path: Path) -> bytes:
    """A SQLite file with its write-ahead log, as an attacker copying it would see it."""
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def _scene(tmp_path: Path, servers: Servers) -> tuple[Cli, Server, NodeCli]:
    """``make_cli``'s ledger with rough parcel P1 at the mine, served by a node."""
    local = make_cli(tmp_path)
    local("origin", "--key", local.key("mine"), "--parcel", "P1", "--carats", "100.00",
          "--stones", "300", "--mine", "Pit 1")  # fmt: skip
    server = servers.node(local.db, key=local.key("op"))
    return local, server, NodeCli(local, server.url)


def test_log_tiles_mirror_and_default_bundle_carry_no_clear_value(
    tmp_path: Path, servers: Servers
) -> None:
    local, server, node = _scene(tmp_path, servers)
    wallet = {who: str(tmp_path / f"{who}-openings.db") for who in ("kpbw", *PRICES)}

    def run(who: str, *args: str) -> str:
        return str(node("--openings", wallet[who], *args).stdout.strip())

    run("kpbw", "certificate", "issue", "--key", local.key("kpbw"), "--number", "BW-0001",
        "--parcels", "P1", "--exporter", "Jwaneng", "--importer", "Antwerp",
        "--value-usd", _money(VALUE), "--expires", EXPIRES)  # fmt: skip
    tid = run("mine", "transfer", "--key", local.key("mine"), "--parcels", "P1", "--to",
              "Antwerp", "--certificate", "BW-0001",
              "--price", _money(PRICES["mine"]), "USD")  # fmt: skip
    run("ant", "accept", "--key", local.key("ant"), tid)
    tid = run("ant", "transfer", "--key", local.key("ant"), "--parcels", "P1", "--to",
              "Antwerp Two", "--price", _money(PRICES["ant"]), "USD")  # fmt: skip
    run("ant2", "accept", "--key", local.key("ant2"), tid)
    run("ant2", "cut", "--key", local.key("ant2"), "--parcels", "P1", "--into", "ST-1:30.00")
    tid = run("ant2", "transfer", "--key", local.key("ant2"), "--parcels", "ST-1", "--to",
              "Shop", "--price", _money(PRICES["ant2"]), "USD")  # fmt: skip
    run("shop", "accept", "--key", local.key("shop"), tid)
    run("shop", "sell", "--key", local.key("shop"), "--stone", "ST-1", "--price",
        _money(PRICES["shop"]), "USD")  # fmt: skip
    # The seller hands the buyer the opening of the price it paid (its --out copy).
    handoff = str(tmp_path / "price.kpe")
    run("ant2", "openings", "export", tid, "-o", handoff)
    run("shop", "openings", "import", handoff)
    everything = [VALUE, *PRICES.values()]

    # Each party keeps exactly its own openings.
    held = json.loads(node("--openings", wallet["shop"], "--json", "openings", "list").stdout)
    assert sorted(o["value"]["amount"] for o in held) == sorted([PRICES["ant2"], PRICES["shop"]])

    # The node's ledger file, the published tiles and a synced mirror: no clear value.
    assert _found(_file_bytes(Path(local.db)), everything) == []
    site = tmp_path / "site"
    local("publish", "--to", str(site), "--key", local.key("op"))
    published = b"".join(p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file())
    assert len(published) > 1000 and _found(published, everything) == []
    mirror = Cli(tmp_path)
    mirror.db = str(tmp_path / "mirror.db")
    mirror("sync", server.url, "--trust", operator_vkey(local))
    mirror("verify")
    assert _found(_file_bytes(Path(mirror.db)), everything) == []

    # A default bundle discloses nothing; its report says what is committed.
    plain = tmp_path / "plain.kpproof"
    node("prove", "ST-1", "-o", str(plain))
    assert _found(plain.read_bytes(), everything) == []
    vkey = operator_vkey(local)
    report = json.loads(local("--json", "verify-proof", str(plain), "--trust", vkey).stdout)
    assert report["commercial"] and not any(c["disclosed"] for c in report["commercial"])
    assert {c["field"] for c in report["commercial"]} == {
        "certificate.issue.value",
        "transfer.price",
        "sell.price",
    }
    assert all(c["value_usd_cents"] is None for c in report["certificates"])
    text = local("verify-proof", str(plain), "--trust", vkey).stdout
    assert "committed, not disclosed" in text and "VERDICT: VALID" in text

    # --disclose price: exactly the prices the shop holds, each verified.
    shown = tmp_path / "shown.kpproof"
    node("--openings", wallet["shop"], "prove", "ST-1", "-o", str(shown), "--disclose", "price")
    assert sorted(_found(shown.read_bytes(), everything)) == sorted(
        [PRICES["ant2"], PRICES["shop"]]
    )
    report = json.loads(local("--json", "verify-proof", str(shown), "--trust", vkey).stdout)
    disclosed = sorted(c["value"]["amount"] for c in report["commercial"] if c["disclosed"])
    assert disclosed == sorted([PRICES["ant2"], PRICES["shop"]])
    sizes = {"plain": plain.stat().st_size, "disclosed": shown.stat().st_size}
    assert sizes["disclosed"] > sizes["plain"]
    # Nothing was disclosed that was not asked for: the shop holds no certificate opening.
    assert all(c["value_usd_cents"] is None for c in report["certificates"])

    # The KP authority hands the importing authority the certificate's opening.
    cert = str(tmp_path / "cert.kpe")
    run("kpbw", "openings", "export", "--certificate", "BW-0001", "-o", cert)
    wallet["kpbe"] = str(tmp_path / "kpbe-openings.db")
    run("kpbe", "openings", "import", cert)
    held = json.loads(node("--openings", wallet["kpbe"], "--json", "openings", "list").stdout)
    assert [o["value"]["amount"] for o in held] == [VALUE]


def test_a_node_refuses_an_opening_and_a_node_user_must_keep_them(
    tmp_path: Path, servers: Servers
) -> None:
    local, server, node = _scene(tmp_path, servers)
    node.openings = None
    signed = tmp_path / "t.kpe"
    local("transfer", "--key", local.key("mine"), "--parcels", "P1", "--to",
          "Gaborone Traders", "--price", "98765.43", "USD", "--out", str(signed))  # fmt: skip
    before = local.snapshot()
    # The entry file carries the opening; a node refuses any request that does.
    answer = httpx.post(
        server.url + "/api/entries",
        content=signed.read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert answer.status_code == 400 and "openings stay with the parties" in answer.text
    # Without --openings the price's opening would be lost: refused before anything is sent.
    bad = node("transfer", "--key", local.key("mine"), "--parcels", "P1", "--to",
               "Gaborone Traders", "--price", "98765.43", "USD", ok=False)  # fmt: skip
    assert bad.exit_code == 2 and "--openings" in bad.stderr
    bad = node("submit", str(signed), ok=False)
    assert bad.exit_code == 2 and "--openings" in bad.stderr
    assert local.snapshot() == before
    # Submitted with somewhere to keep them: the node gets the entry, the party the opening.
    node("--openings", str(tmp_path / "mine.db"), "submit", str(signed))
    assert _found(_file_bytes(Path(local.db)), [9_876_543]) == []
