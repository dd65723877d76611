"""The KP scheme through the CLI, on a ledger file and against a node (specs/rules.md §3).

Each command a KP authority, the operator or a verifier uses for the scheme's rules:
``param set|list``, ``certificate confirm``, ``kp-status set`` stopping crossings,
``participant revoke --compromised-since`` and what ``verify``, ``trace`` and
``verify-proof`` then say. ``tests/node/test_kp_node.py`` runs them against a node.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.cli.test_cli import EXPIRES, Cli, export, make_cli

TODAY = dt.date.today().isoformat()


def _vkey(c: Cli) -> str:
    return c("key", "vkey", c.pub("op"), "--name", "test.example/ledger").stdout.strip()


def test_rule_parameters(tmp_path: Path) -> None:
    c = make_cli(tmp_path)
    c("param", "set", "cert-validity-days", "30", "--from", TODAY, "--key", c.key("op"))
    rows = {r["name"]: r for r in json.loads(c("param", "list", json_out=True).stdout)}
    assert rows["cert-validity-days"]["value"] == 30
    assert rows["cert-validity-days"]["changes"] == [[TODAY, 30]]
    assert rows["confirm-days"]["value"] == 30 and rows["confirm-days"]["changes"] == []
    assert "cert-validity-days" in c("param", "list").stdout
    c.rejected(
        "param",
        "set",
        "confirm-days",
        "5",
        "--from",
        "2020-01-01",
        "--key",
        c.key("op"),
        contains="R-PA-1",
    )
    # A certificate longer than the parameter allows is refused.
    c("origin", "--key", c.key("mine"), "--parcel", "P1", "--carats", "1.00", "--stones", "2",
      "--mine", "Pit")  # fmt: skip
    c.rejected(
        "certificate", "issue", "--key", c.key("kpbw"), "--number", "BW-1", "--parcels", "P1",
        "--exporter", "Jwaneng", "--importer", "Antwerp", "--value-usd", "10", "--expires",
        (dt.date.today() + dt.timedelta(days=45)).isoformat(),
        contains="cert-validity-days",
    )  # fmt: skip


def test_suspension_stops_the_crossing(tmp_path: Path) -> None:
    c = make_cli(tmp_path)
    c("origin", "--key", c.key("mine"), "--parcel", "P1", "--carats", "1.00", "--stones", "2",
      "--mine", "Pit")  # fmt: skip
    c("certificate", "issue", "--key", c.key("kpbw"), "--number", "BW-1", "--parcels", "P1",
      "--exporter", "Jwaneng", "--importer", "Antwerp", "--value-usd", "10", "--expires",
      EXPIRES)  # fmt: skip
    c("kp-status", "set", "--key", c.key("op"), "--country", "BW", "--status", "suspended",
      "--from", TODAY)  # fmt: skip
    c.rejected(
        "transfer", "--key", c.key("mine"), "--parcels", "P1", "--to", "Antwerp",
        "--certificate", "BW-1", contains="R-KP-5: exporting country BW is suspended",
    )  # fmt: skip


def test_import_confirmation(tmp_path: Path) -> None:
    c = make_cli(tmp_path)
    export(c)
    c.rejected("certificate", "confirm", "BW-0001", "--key", c.key("kpbw"), contains="R-KP-3")
    out = json.loads(
        c("certificate", "confirm", "BW-0001", "--key", c.key("kpbe"), json_out=True).stdout
    )
    assert out["type"] == "certificate.confirm"
    trace = json.loads(c("trace", "P1", json_out=True).stdout)
    assert trace["certificates"][0]["confirmed"] is True
    c("checkpoint", "--key", c.key("op"))
    (c.tmp / "policy").write_text("quorum none\nrequire import-confirmed\n")
    c("prove", "P1", "-o", str(c.tmp / "p1.kpproof"))
    c("verify-proof", str(c.tmp / "p1.kpproof"), "--trust", _vkey(c), "--policy",
      str(c.tmp / "policy"))  # fmt: skip


def test_unconfirmed_import_fails_the_policy(tmp_path: Path) -> None:
    c = make_cli(tmp_path)
    export(c)
    c("checkpoint", "--key", c.key("op"))
    (c.tmp / "policy").write_text("quorum none\nrequire import-confirmed\n")
    c("prove", "P1", "-o", str(c.tmp / "p1.kpproof"))
    c.rejected(
        "verify-proof", str(c.tmp / "p1.kpproof"), "--trust", _vkey(c), "--policy",
        str(c.tmp / "policy"), contains="R-KP-3",
    )  # fmt: skip


def test_a_compromised_key_quarantines_what_it_signed(tmp_path: Path) -> None:
    c = make_cli(tmp_path)
    export(c)  # the BW authority certified P1's export
    c("participant", "revoke", "--key", c.key("op"), "BW Authority", "--reason", "key stolen",
      "--compromised-since", TODAY)  # fmt: skip
    verdict = json.loads(c("verify", json_out=True).stdout)
    assert verdict["valid"] is True
    assert verdict["quarantined"]["P1"]["type"] == "certificate.issue"
    assert "R-ID-2: 1 items quarantined" in c("verify").stdout
    assert "QUARANTINED (R-ID-2)" in c("trace", "P1").stdout
    c("checkpoint", "--key", c.key("op"))
    c("prove", "P1", "-o", str(c.tmp / "p1.kpproof"))
    result = c.rejected(
        "verify-proof", str(c.tmp / "p1.kpproof"), "--trust", _vkey(c), contains="R-ID-2"
    )
    assert "QUARANTINED" in result.stdout
