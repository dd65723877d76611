"""``kpledger export --epcis`` (specs/epcis.md): GS1-valid documents, ids that ``show`` finds.

Two ledgers: one built through the CLI (``make_cli``) and the demo's (``kpledger demo``,
built once for the module). Every document written is validated against GS1's EPCIS 2.0
JSON Schema with zero errors, and every event's ``eventID`` is looked up with
``kpledger show``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.app import main
from tests.cli.test_cli import Cli, make_cli
from tests.cli.test_cli import export as ship
from tests.vectors import epcis_schema

NI = "ni:///sha-256;"
#: Entry types that are not events (specs/epcis.md §5.1).
REGISTRY = {
    "genesis",
    "participant.add",
    "participant.revoke",
    "participant.rotate",
    "kp-status.set",
    "param.set",
}


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


def events(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["epcisBody"]["eventList"])


def check_ids(cli: Cli, document: dict[str, Any]) -> None:
    """Every eventID, stripped of its prefix, is an entry ``show`` finds, of the same type
    and record index."""
    for event in events(document):
        assert event["eventID"].startswith(NI)
        hex_id = event["eventID"][len(NI) :]
        shown = json.loads(cli("show", hex_id, json_out=True).stdout)
        assert shown["id"] == hex_id
        assert shown["type"] == event["kpledger:entryType"]
        assert shown["index"] == event["kpledger:recordIndex"]


def log_types(cli: Cli) -> Counter[str]:
    rows = json.loads(cli("log", json_out=True).stdout)
    return Counter(r["type"] for r in rows if r["type"] not in REGISTRY)


def test_export_all_writes_a_valid_document(cli: Cli) -> None:
    ship(cli)  # origin, KP certificate, transfer, accept
    cli("split", "--key", cli.key("ant"), "--parcel", "P1", "--into", "A:60:200,B:39.5")
    out = cli.tmp / "ledger.jsonld"
    result = cli("export", "--epcis", "--all", "-o", str(out))
    assert result.stdout == ""  # data goes to the file; what was written is a diagnostic
    assert result.stderr == f"wrote {out} (5 events)\n"
    document = json.loads(out.read_text(encoding="utf-8"))
    assert epcis_schema.errors(document) == []
    assert [e["kpledger:entryType"] for e in events(document)] == [
        "origin",
        "certificate.issue",
        "transfer",
        "accept",
        "split",
    ]
    assert Counter(e["kpledger:entryType"] for e in events(document)) == log_types(cli)
    check_ids(cli, document)
    split = events(document)[-1]
    assert split["outputQuantityList"] == [
        {"epcClass": "urn:kpledger:test.example/ledger:lot:A", "quantity": 60, "uom": "CTM"},
        {"epcClass": "urn:kpledger:test.example/ledger:lot:B", "quantity": 39.5, "uom": "CTM"},
    ]


def test_export_item_to_stdout_and_json_summary(cli: Cli) -> None:
    ship(cli)
    result = cli("export", "--epcis", "P1", "-o", "-")
    document = json.loads(result.stdout)
    assert result.stderr == f"wrote {len(result.stdout_bytes)} bytes to stdout (4 events)\n"
    assert document["kpledger:item"] == "P1"
    assert epcis_schema.errors(document) == []
    check_ids(cli, document)
    out = cli.tmp / "p1.jsonld"
    summary = json.loads(cli("export", "--epcis", "P1", "-o", str(out), json_out=True).stdout)
    assert summary == {"file": str(out), "item": "P1", "events": 4, "skipped": 0}
    # Stable bytes: the same log gives the same file, and stdout holds the same text.
    assert out.read_text(encoding="utf-8") == result.stdout
    again = cli.tmp / "again.jsonld"
    cli("export", "--epcis", "P1", "-o", str(again))
    assert again.read_bytes() == out.read_bytes()
    quiet = cli("--quiet", "export", "--epcis", "P1", "-o", "-")
    assert quiet.stdout == result.stdout and quiet.stderr == ""
    # a global option after the command, and the summary on stderr when stdout holds data
    piped = cli("export", "--epcis", "P1", "-o", "-", "--json")
    assert piped.stdout == result.stdout
    assert json.loads(piped.stderr) == {"item": "P1", "events": 4, "skipped": 0}


def test_bad_export_options_are_one_line_and_change_nothing(cli: Cli) -> None:
    ship(cli)
    out = str(cli.tmp / "x.jsonld")
    cli.rejected("export", "P1", "-o", out, code=2, contains="--epcis")
    cli.rejected("export", "--epcis", "-o", out, code=2, contains="ITEM or --all")
    cli.rejected("export", "--epcis", "P1", "--all", "-o", out, code=2, contains="ITEM or --all")
    cli.rejected("export", "--epcis", "P1", code=2, contains="-o")
    cli.rejected("export", "--epcis", "NOPE", "-o", out, code=1, contains="NOPE")
    missing = str(cli.tmp / "no-such-dir" / "x.jsonld")
    cli.rejected("export", "--epcis", "--all", "-o", missing, code=2, contains="cannot write")
    assert not Path(out).exists()


# ---------------------------------------------------------------------------
# The demo ledger: every entry id round-trips


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """The demo's ledger (``kpledger demo``), built once for this module."""
    where = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(main, ["demo", "--dir", str(where / "run")])
    assert result.exit_code == 0, result.output[-3000:]
    c = Cli(where)
    c.db = str(where / "run" / "kpledger.db")
    yield c


def test_demo_export_validates_and_round_trips_every_entry_id(demo: Cli) -> None:
    out = demo.tmp / "demo.jsonld"
    demo("export", "--epcis", "--all", "-o", str(out))
    document = json.loads(out.read_text(encoding="utf-8"))
    assert epcis_schema.errors(document) == []
    assert epcis_schema.undefined_terms(document) == []
    rows = json.loads(demo("log", json_out=True).stdout)
    expected = {r["id"] for r in rows if r["type"] not in REGISTRY}
    found = {e["eventID"][len(NI) :] for e in events(document)}
    assert found == expected and len(found) > 40
    assert "kpledger:skipped" not in document
    check_ids(demo, document)


@pytest.mark.parametrize("item", ["ST-0001", "ST-0002", "ANT-JW-B"])
def test_demo_item_exports_validate(demo: Cli, item: str) -> None:
    document = json.loads(demo("export", "--epcis", item, "-o", "-").stdout)
    assert epcis_schema.errors(document) == []
    kinds = {e["kpledger:entryType"] for e in events(document)}
    assert {"origin", "certificate.issue", "transfer", "accept"} <= kinds
    check_ids(demo, document)


# ---------------------------------------------------------------------------
# kpledger import --epcis


def test_import_appends_a_participants_events_all_or_none(cli: Cli) -> None:
    ship(cli)
    exported = json.loads(cli("export", "--epcis", "P1", "-o", "-").stdout)
    origin = dict(events(exported)[0])
    assert origin["kpledger:entryType"] == "origin"
    lot = "urn:kpledger:test.example/ledger:lot:P7"
    origin["quantityList"] = [{"epcClass": lot, "quantity": 25.5, "uom": "CTM"}]
    origin["eventID"] = NI + "77" * 32
    shipping = {
        "type": "ObjectEvent",
        "eventTime": origin["eventTime"],
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "quantityList": origin["quantityList"],
        "bizStep": "shipping",
        "disposition": "in_transit",
        "destinationList": [
            {
                "type": "owning_party",
                "destination": "urn:kpledger:test.example/ledger:party:Gaborone%20Traders",
            }
        ],
    }
    document = {**exported, "epcisBody": {"eventList": [origin, shipping]}}
    assert epcis_schema.errors(document) == []
    path = cli.tmp / "mine.jsonld"
    path.write_text(json.dumps(document), encoding="utf-8")
    # A document's events must be the signer's: the receiver cannot register the origin.
    cli.rejected("import", "--epcis", str(path), "--key", cli.key("bwt"), code=1, contains="R-ID")
    ids = cli("import", "--epcis", str(path), "--key", cli.key("mine")).stdout.split()
    assert [json.loads(cli("show", i, json_out=True).stdout)["type"] for i in ids] == [
        "origin",
        "transfer",
    ]
    # The same document again signs the same entries (Ed25519 is deterministic): refused
    # whole as a replay, nothing changes.
    cli.rejected(
        "import", "--epcis", str(path), "--key", cli.key("mine"), code=1, contains="R-CH-3"
    )
    # The receiver answers with a receiving event naming the offer's eventID.
    offer = events(json.loads(cli("export", "--epcis", "P7", "-o", "-").stdout))[-1]
    assert offer["eventID"] == NI + ids[1]
    receiving = {
        "type": "ObjectEvent",
        "eventTime": offer["eventTime"],
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "quantityList": offer["quantityList"],
        "bizStep": "receiving",
        "disposition": "in_progress",
        "bizTransactionList": [
            {"type": "desadv", "bizTransaction": f"urn:kpledger:test.example/ledger:entry:{ids[1]}"}
        ],
    }
    receipt = cli.tmp / "receipt.jsonld"
    receipt.write_text(json.dumps({**exported, "epcisBody": {"eventList": [receiving]}}))
    signed = cli.tmp / "receipt.kpe"
    before = cli.snapshot()
    cli("import", "--epcis", str(receipt), "--key", cli.key("bwt"), "--out", str(signed))
    assert cli.snapshot() == before  # --out signs offline, appends nothing
    [accept_id] = cli("submit", str(signed)).stdout.split()
    assert json.loads(cli("show", accept_id, json_out=True).stdout)["type"] == "accept"
    held = json.loads(cli("inventory", "Gaborone Traders", json_out=True).stdout)
    assert [(p["id"], p["carats"]) for p in held] == [("P7", "25.50")]
