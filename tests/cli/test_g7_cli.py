"""The G7/EU rules and the System of Warranties through the CLI (specs/rules.md §3.6-§3.8,
specs/policy.md §4-§5): ``grow``, ``sanction designate|delist|list``, ``participant
show|list``, ``transfer --warranty --wdc``, ``warranty reconcile``, and ``verify-proof``,
``report`` and ``trace`` showing custody paths, nature and the rule packs' verdicts.
``tests/node/test_g7_node.py`` runs them against a node.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.cli.test_cli import EXPIRES, Cli, make_cli

TODAY = dt.date.today().isoformat()

#: Parties beyond make_cli's: (key file, name, roles, country).
EXTRA = (
    ("kpru", "RU Authority", "authority", "RU"),
    ("msk", "Moscow Trader", "trader", "RU"),
    ("lab", "Surat Lab Growers", "producer", "IN"),
    ("eulist", "EU Consolidated List", "publisher", "BE"),
)


def g7_cli(tmp_path: Path) -> Cli:
    """make_cli's ledger with Russia and India in the KP, a Moscow trader, a producer of
    grown goods and a sanctions-list publisher."""
    c = make_cli(tmp_path)
    for cc in ("RU", "IN"):
        c("kp-status", "set", "--key", c.key("op"), "--country", cc, "--status", "participant",
          "--from", "2003-01-01")  # fmt: skip
    for key, name, roles, cc in EXTRA:
        c("key", "new", key, "--dir", str(c.keys), "--no-passphrase")
        c("participant", "add", "--key", c.key("op"), "--pub", c.pub(key), "--name", name,
          "--role", roles, "--country", cc)  # fmt: skip
    return c


def ship(c: Cli, sender: str, receiver: str, parcel: str, number: str | None, authority: str,
         importer_key: str, exporter: str) -> None:  # fmt: skip
    """Certificate (when ``number``), offer with the 2021 warranty, acceptance."""
    extra: list[str] = []
    if number is not None:
        c("certificate", "issue", "--key", c.key(authority), "--number", number, "--parcels",
          parcel, "--exporter", exporter, "--importer", receiver, "--value-usd", "1000",
          "--expires", EXPIRES)  # fmt: skip
        extra = ["--certificate", number]
    tid = c("transfer", "--key", c.key(sender), "--parcels", parcel, "--to", receiver,
            "--warranty", *extra).stdout.strip()  # fmt: skip
    c("accept", "--key", c.key(importer_key), tid)


def through_moscow(c: Cli) -> str:
    """Botswana rough through a Moscow trader to Antwerp; returns the operator's vkey."""
    c("origin", "--key", c.key("mine"), "--parcel", "P1", "--carats", "100.00", "--stones",
      "300", "--mine", "Pit 1")  # fmt: skip
    ship(c, "mine", "Moscow Trader", "P1", "BW-0001", "kpbw", "msk", "Jwaneng")
    ship(c, "msk", "Antwerp", "P1", "RU-0001", "kpru", "ant", "Moscow Trader")
    c("checkpoint", "--key", c.key("op"))
    vkey = c("key", "vkey", c.pub("op"), "--name", "test.example/ledger").stdout.strip()
    c("prove", "P1", "-o", str(c.tmp / "p1.kpproof"))
    return vkey


def test_transit_through_russia_fails_the_eu_pack(tmp_path: Path) -> None:
    c = g7_cli(tmp_path)
    vkey = through_moscow(c)
    proof = str(c.tmp / "p1.kpproof")
    ok = json.loads(
        c("verify-proof", proof, "--trust", vkey, "--deny-origin", "RU", json_out=True).stdout
    )
    assert ok["policy_ok"] and ok["may_contain"] == ["BW"]
    assert set(ok["custody_path"]) == {"BW", "RU", "BE"} and ok["nature"] == "natural"
    for pack in ("eu-russia", "us-russia"):
        bad = c("verify-proof", proof, "--trust", vkey, "--policy", pack, ok=False)
        assert bad.exit_code == 1 and "R-SA-2" in bad.stderr, bad.output
        assert f"RU {TODAY}" in bad.stdout.split("Custody path (held in or exported from): ")[1]
    # Judged on a date before the ban, the same goods pass the pack.
    c("verify-proof", proof, "--trust", vkey, "--policy", "eu-russia", "--as-of", "2023-12-31")
    c.rejected("verify-proof", proof, "--trust", vkey, "--policy", "eu-russia", "--as-of",
               "2024-13-01", code=2, contains="--as-of")  # fmt: skip
    c.rejected("verify-proof", proof, "--trust", vkey, "--policy", "uk-russia", code=2,
               contains="uk-russia")  # fmt: skip
    trace = c("trace", "P1").stdout
    assert f"RU {TODAY}" in trace.split("custody path: ")[1] and "nature: natural" in trace
    html = c.tmp / "p1.html"
    c("report", "P1", "--policy", "eu-russia", "-o", str(html), "--trust", vkey, ok=False)
    page = html.read_text()
    assert "Held in or exported from" in page and "Russia (RU)" in page
    assert "R-SA-2" in page and "Judged on" in page


def test_a_policy_file_with_custody_and_sanctions(tmp_path: Path) -> None:
    c = g7_cli(tmp_path)
    c("sanction", "designate", "--key", c.key("eulist"), "EU-CONSOLIDATED", "Moscow Trader",
      "--from", TODAY, "--reason", "Reg. 269/2014")  # fmt: skip
    vkey = through_moscow(c)
    policy = c.tmp / "buyer.policy"
    policy.write_text("quorum none\ndeny-listed EU-CONSOLIDATED\n")
    bad = c("verify-proof", str(c.tmp / "p1.kpproof"), "--trust", vkey, "--policy", str(policy),
            json_out=True, ok=False)  # fmt: skip
    out = json.loads(bad.stdout)
    assert bad.exit_code == 1
    assert {f["rule"] for f in out["policy_failures"]} == {"R-SA-4"}
    assert len(out["policy_failures"]) == 2  # the receipt and the export offer
    assert (
        "while designated on sanctions list EU-CONSOLIDATED" in out["policy_failures"][0]["message"]
    )


def test_sanction_commands_and_participant_views(tmp_path: Path) -> None:
    c = g7_cli(tmp_path)
    c.rejected("sanction", "designate", "--key", c.key("ant"), "EU", "Moscow Trader", "--from",
               TODAY, contains="R-ID-1")  # fmt: skip
    c.rejected("sanction", "designate", "--key", c.key("eulist"), "EU", "Nobody", "--from",
               TODAY, contains="no participant")  # fmt: skip
    c.rejected("sanction", "designate", "--key", c.key("eulist"), "EU", "Moscow Trader",
               "--from", "2020-01-01", contains="R-SA-4")  # fmt: skip
    out = json.loads(
        c(
            "sanction",
            "designate",
            "--key",
            c.key("eulist"),
            "EU",
            "Moscow Trader",
            "--from",
            TODAY,
            json_out=True,
        ).stdout
    )
    assert out["type"] == "sanction.designate"
    c.rejected("sanction", "delist", "--key", c.key("eulist"), "EU", "Moscow Trader", "--from",
               TODAY, contains="R-SA-4")  # fmt: skip
    shown = c("participant", "show", "Moscow Trader").stdout
    assert f"designation  EU: listed from {TODAY}" in shown and "country      RU" in shown
    assert "DESIGNATED on EU" in c("participant", "list").stdout
    parties = {p["name"]: p for p in json.loads(c("participant", "list", json_out=True).stdout)}
    assert parties["Moscow Trader"]["designations"] == {"EU": [[TODAY, "listed"]]}
    assert parties["Antwerp"]["designations"] == {}
    assert f"listed from {TODAY}" in c("sanction", "list", "EU").stdout
    assert c("sanction", "list", "OFAC").stdout.strip() == "no designations on OFAC"
    rows = json.loads(c("sanction", "list", json_out=True).stdout)
    assert rows == [{"list": "EU", "party": "Moscow Trader", "periods": [[TODAY, "listed"]]}]
    c.rejected("participant", "show", "Nobody", contains="no participant")


def test_grown_goods_through_the_cli(tmp_path: Path) -> None:
    c = g7_cli(tmp_path)
    c("grow", "--key", c.key("lab"), "--parcel", "LG-1", "--carats", "30.00", "--stones", "90",
      "--facility", "CVD hall 2")  # fmt: skip
    c.rejected("grow", "--key", c.key("mine"), "--parcel", "LG-2", "--carats", "1", "--stones",
               "1", "--facility", "F", contains="R-ID-1")  # fmt: skip
    # Grown goods cross from India to Belgium without a KP certificate.
    tid = c("transfer", "--key", c.key("lab"), "--parcels", "LG-1", "--to", "Antwerp",
            "--warranty").stdout.strip()  # fmt: skip
    c("accept", "--key", c.key("ant"), tid)
    c("origin", "--key", c.key("mine"), "--parcel", "P1", "--carats", "100.00", "--stones",
      "300", "--mine", "Pit 1")  # fmt: skip
    ship(c, "mine", "Antwerp", "P1", "BW-0001", "kpbw", "ant", "Jwaneng")
    c.rejected("merge", "--key", c.key("ant"), "--parcels", "P1,LG-1", "--into", "MIX",
               contains="R-SW-3")  # fmt: skip
    trace = c("trace", "LG-1").stdout
    assert "nature: LABORATORY-GROWN" in trace and "CVD hall 2" in trace
    assert json.loads(c("trace", "LG-1", json_out=True).stdout)["nature"] == "laboratory-grown"


def test_warranty_options_and_reconciliation(tmp_path: Path) -> None:
    c = g7_cli(tmp_path)
    for p in ("P1", "P2"):
        c("origin", "--key", c.key("mine"), "--parcel", p, "--carats", "10.00", "--stones", "3",
          "--mine", "Pit 1")  # fmt: skip
    c.rejected("transfer", "--key", c.key("mine"), "--parcels", "P1", "--to",
               "Gaborone Traders", "--wdc", "WDC-1", code=2, contains="--wdc")  # fmt: skip
    c.rejected("transfer", "--key", c.key("mine"), "--parcels", "P1", "--to",
               "Gaborone Traders", "--warranty", "--legacy-warranty", code=2,
               contains="exclude")  # fmt: skip
    t1 = c("transfer", "--key", c.key("mine"), "--parcels", "P1", "--to", "Gaborone Traders",
           "--warranty", "--wdc", "WDC-BW-0042").stdout.strip()  # fmt: skip
    c("accept", "--key", c.key("bwt"), t1)
    out = json.loads(
        c(
            "transfer",
            "--key",
            c.key("mine"),
            "--parcels",
            "P2",
            "--to",
            "Gaborone Traders",
            json_out=True,
        ).stdout
    )
    assert out["warnings"][0]["rule"] == "R-SW-1"
    c("accept", "--key", c.key("bwt"), out["id"])
    rec = json.loads(
        c(
            "warranty",
            "reconcile",
            "Gaborone Traders",
            "--from",
            "2020-01-01",
            "--to",
            TODAY,
            json_out=True,
        ).stdout
    )
    assert [(r["warranty"], r["wdc"]) for r in rec["received"]] == [
        ("2021", "WDC-BW-0042"),
        (None, None),
    ]
    assert rec["warranted_in_carats"] == "10.00" and len(rec["without_warranty_in"]) == 1
    text = c("warranty", "reconcile", "Jwaneng", "--from", "2020-01-01", "--to", TODAY).stdout
    assert "issued (2)" in text and "NO WARRANTY" in text and "WDC WDC-BW-0042" in text
    assert "1 issued transfer(s) without warranty" in text
    c.rejected("warranty", "reconcile", "Jwaneng", "--from", TODAY, "--to", "2020-01-01",
               code=2, contains="--to")  # fmt: skip
    c.rejected("warranty", "reconcile", "Nobody", "--from", TODAY, "--to", TODAY,
               contains="no participant")  # fmt: skip
