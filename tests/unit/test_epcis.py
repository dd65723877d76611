"""EPCIS 2.0 export (specs/epcis.md): GS1's schema, the mapping per entry type, event ids.

A ledger with every entry type (``STORY``) is exported whole and item by item; every
document is validated against GS1's own JSON Schema (draft-07, with format checking) and
must give zero errors, as GS1's example documents do under the same validator. Every
``eventID`` must lead back to its entry. One event of each entry type is compared field
by field with what the spec's table says.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ledger as lg
from ledger.core import epcis
from ledger.core.model import ENTRY_TYPES, Body, Record, SignedEntry
from ledger.storage.store import Appended
from tests.conftest import DAY, OPERATOR, ORIGIN, World, fixed_key
from tests.vectors import epcis_schema

# ---------------------------------------------------------------------------
# A ledger with every entry type


def tell(w: World) -> dict[str, Appended]:
    """Append a story that uses every entry type; return its entries by name."""
    e: dict[str, Appended] = {}
    e["param.set"] = w.set_param("confirm-days", 45, w.today)
    e["participant.rotate"] = w.rotate("Dubai Trader", seed=90)
    e["participant.revoke"] = w.revoke("Bangui Trader", reason="left the trade")
    e["origin"] = w.origin("Jwaneng", "P1", carats=10_050, stones=40, site="Pit 3")
    w.origin("Diavik", "D1", carats=5_000, stones=10)
    w.origin("Jwaneng", "P2", carats=2_000, stones=5)
    e["certificate.issue"] = w.certify("Jwaneng", "Antwerp Trader", ["P1"])
    number = e["certificate.issue"].entry.fields["number"]
    e["transfer"] = w.transfer(
        "Jwaneng",
        "Antwerp Trader",
        ["P1"],
        certificate=number,
        warranty="2021",
        price_usd_cents=1_250_000,
    )
    e["accept"] = w.accept("Antwerp Trader", e["transfer"])
    e["certificate.confirm"] = w.confirm("BE KP Authority", number)
    w.ship("Diavik", "Antwerp Trader", ["D1"])
    e["offer.rejected"] = w.transfer("Jwaneng", "Gaborone Trader", ["P2"])
    e["reject"] = w.reject("Gaborone Trader", e["offer.rejected"], reason="wrong assortment")
    e["offer.cancelled"] = w.transfer("Jwaneng", "Gaborone Trader", ["P2"], warranty=None)
    e["cancel"] = w.cancel("Jwaneng", e["offer.cancelled"])
    e["split"] = w.split("Antwerp Trader", "P1", [("A", 6_050, 25), ("B", 4_000)])
    e["merge"] = w.merge("Antwerp Trader", ["A", "D1"], "M1")
    w.ship("Antwerp Trader", "Surat Cutter", ["M1"])
    e["cut"] = w.cut(
        "Surat Cutter", ["M1"], [("S1", 3_000), ("S2", 2_505)], byproducts=[("CH1", 1_000)]
    )
    w.ship("Surat Cutter", "New York Lab", ["S1"], warranty="2021")
    e["grade"] = w.grade("New York Lab", "S1", report="GIA-7731", carats=2_995)
    w.ship("New York Lab", "New York Retailer", ["S1"], warranty="2021")
    e["sell"] = w.sell("New York Retailer", "S1", price_usd_cents=2_500_000)
    add_growers_and_a_list(w)
    fields = {"parcel": "LG1", "carats": 3_000, "stones": 60, "facility": "CVD hall 2"}
    e["grow"] = w.act("grow", fields, "Surat Growers")
    wdc = {"to": "Surat Cutter", "inputs": [w.ref("LG1")], "warranty": "2021", "wdc": "WDC-IN-9"}
    e["transfer.wdc"] = w.act("transfer", wdc, "Surat Growers")
    w.accept("Surat Cutter", e["transfer.wdc"])
    e["split.grown"] = w.split("Surat Cutter", "LG1", [("LG1a", 1_500), ("LG1b", 1_500)])
    listing = {"list": "EU", "party": "Dubai Trader", "from": w.today}
    e["sanction.designate"] = w.act("sanction.designate", listing, "EU List")
    w.advance(DAY)
    e["sanction.delist"] = w.act("sanction.delist", {**listing, "from": w.today}, "EU List")
    governor = fixed_key("Governor", 93)
    gov = {"governors": [{"name": "Governor", "pub": governor.public}], "threshold": 1}
    e["governance.set"] = w.act("governance.set", gov, OPERATOR)
    return e


def add_growers_and_a_list(w: World) -> None:
    """The story's participants beyond the World's cast."""
    w.add_participant("Surat Growers", ["producer"], "IN", seed=91)
    w.add_participant("EU List", ["publisher"], "BE", seed=92)


class Story:
    def __init__(self, path: Path) -> None:
        self.world = World.create(path)
        self.e = tell(self.world)
        self.ledger = self.world.ledger
        self.doc = lg.export_epcis(self.ledger)
        self.events = self.doc["epcisBody"]["eventList"]
        self.by_id = {ev["eventID"]: ev for ev in self.events}
        self.records = [(r, r.entry()) for r in self.ledger.records()]

    def event(self, name: str) -> dict[str, Any]:
        return self.by_id[epcis.event_id(self.e[name].entry.id)]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    s = Story(tmp_path_factory.mktemp("epcis") / "world.kpl")
    try:
        yield s
    finally:
        s.world.close()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access during validation: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def uri(kind: str, ident: str) -> str:
    return f"urn:kpledger:{ORIGIN}:{kind}:{ident}"


def party(name: str) -> str:
    return uri("party", name.replace(" ", "%20"))


def site(name: str) -> str:
    return uri("site", name.replace(" ", "%20"))


def ends(name: str) -> list[tuple[str, str]]:
    return [
        ("owning_party", party(name)),
        ("possessing_party", party(name)),
        ("location", site(name)),
    ]


def lot(pid: str, carats: float) -> dict[str, Any]:
    return {"epcClass": uri("lot", pid), "quantity": carats, "uom": "CTM"}


def rfc3339(ms: int) -> str:
    """An independent rendering of a time in ms: RFC 3339 UTC with milliseconds."""
    stamp = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------
# The validator, proven on GS1's own documents


@pytest.mark.parametrize("path", epcis_schema.EXAMPLES, ids=lambda p: p.name)
def test_gs1_examples_validate(path: Path, offline: None) -> None:
    document = epcis_schema.load(path)
    assert epcis_schema.errors(document) == []
    assert epcis_schema.undefined_terms(document) == []


def test_the_gs1_examples_are_all_there() -> None:
    assert len(epcis_schema.EXAMPLES) == 7
    assert epcis_schema.schema()["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_the_validator_catches_what_the_schema_forbids(story: Story, offline: None) -> None:
    """Bad values in each place the schema checks give errors (so zero means valid)."""
    cases: list[tuple[str, Any]] = [
        ("action", "ADDED"),  # enum
        ("eventTime", "2026-03-02 10:00"),  # date-time format
        ("eventID", "not a uri"),  # uri format
        ("bizStep", "urn:epcglobal:cbv:bizstep:cutting"),  # no CBV URI outside the list
        ("kpledger entry", 1),  # an extension name must be a URI
        ("quantityList", [{"epcClass": "x y", "quantity": "1"}]),  # uri, number
    ]
    for key, value in cases:
        broken = json.loads(json.dumps(story.doc))
        event = broken["epcisBody"]["eventList"][0]
        event[key] = value
        assert epcis_schema.errors(broken), key
    broken = json.loads(json.dumps(story.doc))
    del broken["creationDate"]
    assert epcis_schema.errors(broken)


# ---------------------------------------------------------------------------
# Whole-log and per-item exports are valid and complete


def test_whole_log_validates_with_zero_errors(story: Story, offline: None) -> None:
    assert epcis_schema.errors(story.doc) == []
    assert epcis_schema.undefined_terms(story.doc) == []
    mapped = [e for _, e in story.records if e.type in epcis.ROWS]
    assert len(story.events) == len(mapped) > 20
    assert {e.type for _, e in story.records} == set(ENTRY_TYPES)


def test_one_event_per_entry_and_every_id_round_trips(story: Story) -> None:
    expected = {e.id: (r.index, e.type) for r, e in story.records if e.type in epcis.ROWS}
    found = {}
    for event in story.events:
        entry_id = epcis.entry_id_of(event)
        record, entry = story.ledger.entry(entry_id)
        assert entry.id == entry_id
        assert (record.index, entry.type) == (
            event["kpledger:recordIndex"],
            event["kpledger:entryType"],
        )
        assert event["eventID"] == "ni:///sha-256;" + entry_id.hex()
        found[entry_id] = (record.index, entry.type)
    assert found == expected
    indexes = [ev["kpledger:recordIndex"] for ev in story.events]
    assert indexes == sorted(indexes)


def test_registry_entries_are_left_out_and_nothing_is_skipped(story: Story) -> None:
    kinds = Counter(ev["kpledger:entryType"] for ev in story.events)
    assert set(kinds) == set(epcis.ROWS)
    assert not set(kinds) & set(epcis.OMITTED)
    assert "kpledger:skipped" not in story.doc


def test_every_item_export_validates_and_agrees_with_the_whole(story: Story, offline: None) -> None:
    items = ["P1", "P2", "D1", "A", "B", "M1", "S1", "S2", "CH1", "LG1", "LG1a"]
    total = 0
    for item in items:
        doc = lg.export_epcis(story.ledger, item)
        assert epcis_schema.errors(doc) == [], item
        assert doc["kpledger:item"] == item
        for event in doc["epcisBody"]["eventList"]:
            assert event == story.by_id[event["eventID"]], (item, event["eventID"])
        total += len(doc["epcisBody"]["eventList"])
    assert total > 50
    s1 = {
        ev["kpledger:entryType"]
        for ev in lg.export_epcis(story.ledger, "S1")["epcisBody"]["eventList"]
    }
    # The stone's ancestry reaches both mines, with the certificates its rough travelled under.
    assert s1 == set(epcis.ROWS) - {"reject", "cancel", "grow"}


def test_an_item_export_holds_its_whole_ancestry(story: Story) -> None:
    doc = lg.export_epcis(story.ledger, "S1")
    ids = {epcis.entry_id_of(ev) for ev in doc["epcisBody"]["eventList"]}
    trace = story.ledger.trace("S1")
    traced = {bytes.fromhex(s.entry_id) for s in trace.steps}
    certificates = {story.ledger.certificate(c["number"])["id"] for c in trace.certificates} | {
        story.ledger.certificate(c["number"])["confirmed"]
        for c in trace.certificates
        if c["confirmed"]
    }
    assert ids == traced | certificates
    assert story.e["certificate.confirm"].entry.id in ids


def test_export_is_deterministic(story: Story) -> None:
    again = lg.export_epcis(story.ledger)
    assert json.dumps(again) == json.dumps(story.doc)
    last = list(story.ledger.records())[-1]
    assert story.doc["creationDate"] == rfc3339(last.time)
    assert story.doc["kpledger:logSize"] == story.ledger.size()
    assert story.doc["kpledger:origin"] == ORIGIN


def test_unknown_item_is_not_found(story: Story) -> None:
    with pytest.raises(lg.NotFoundError):
        lg.export_epcis(story.ledger, "NO-SUCH-ITEM")


# ---------------------------------------------------------------------------
# One event per entry type, field by field (specs/epcis.md §3)


def common(story: Story, name: str, event_type: str, action: str | None) -> dict[str, Any]:
    appended = story.e[name]
    record, entry = story.ledger.entry(appended.entry.id)
    head: dict[str, Any] = {
        "type": event_type,
        "eventTime": rfc3339(entry.body.time),
        "eventTimeZoneOffset": "+00:00",
        "recordTime": rfc3339(record.time),
        "eventID": "ni:///sha-256;" + entry.id.hex(),
    }
    if action is not None:
        head["action"] = action
    return head


def tail(story: Story, name: str, signer: str) -> dict[str, Any]:
    record, entry = story.ledger.entry(story.e[name].entry.id)
    return {
        "kpledger:entryType": entry.type,
        "kpledger:recordIndex": record.index,
        "kpledger:signer": party(signer),
    }


def sources(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"type": t, "source": u} for t, u in pairs]


def destinations(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"type": t, "destination": u} for t, u in pairs]


def entry_uri(story: Story, name: str) -> str:
    return uri("entry", story.e[name].entry.id.hex())


def test_origin_is_commissioning(story: Story) -> None:
    mine = uri("site", "Jwaneng/Pit%203")
    assert story.event("origin") == {
        **common(story, "origin", "ObjectEvent", "ADD"),
        "quantityList": [lot("P1", 100.5)],
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": mine},
        "bizLocation": {"id": mine},
        "ilmd": {
            "cbvmda:countryOfOrigin": "BW",
            "kpledger:mine": "Pit 3",
            "kpledger:stones": 40,
            "kpledger:hs": "7102.10",
        },
        **tail(story, "origin", "Jwaneng"),
    }


def committed(money: Any) -> dict[str, Any]:
    """A committed price or value as exported: its commitment, no amount
    (specs/disclosure.md §4)."""
    return {"kpledger:commitment": money["commitment"].hex(), "kpledger:currency": "USD"}


def test_certificate_issue_is_a_business_transaction(story: Story) -> None:
    f = story.e["certificate.issue"].entry.fields
    assert story.event("certificate.issue") == {
        **common(story, "certificate.issue", "TransactionEvent", "ADD"),
        "quantityList": [lot("P1", 100.5)],
        "bizStep": "inspecting",
        "disposition": "conformant",
        "readPoint": {"id": site("BW KP Authority")},
        "bizTransactionList": [{"type": "cert", "bizTransaction": uri("cert", f["number"])}],
        "sourceList": sources([("owning_party", party("Jwaneng"))]),
        "destinationList": destinations([("owning_party", party("Antwerp Trader"))]),
        **tail(story, "certificate.issue", "BW KP Authority"),
        "kpledger:exporterCountry": "BW",
        "kpledger:importerCountry": "BE",
        "kpledger:value": committed(f["value"]),
        "kpledger:expires": f["expires"],
        "kpledger:carats": 100.5,
        "kpledger:count": 1,
        "kpledger:hs": ["7102.10"],
        "kpledger:origins": ["BW"],
    }


def test_transfer_is_shipping(story: Story) -> None:
    number = story.e["transfer"].entry.fields["certificate"]
    own = entry_uri(story, "transfer")
    assert story.event("transfer") == {
        **common(story, "transfer", "ObjectEvent", "OBSERVE"),
        "quantityList": [lot("P1", 100.5)],
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": site("Jwaneng")},
        "bizTransactionList": [
            {"type": "desadv", "bizTransaction": own},
            {"type": "cert", "bizTransaction": uri("cert", number)},
            {"type": "inv", "bizTransaction": own},
        ],
        "sourceList": sources(ends("Jwaneng")),
        "destinationList": destinations(ends("Antwerp Trader")),
        **tail(story, "transfer", "Jwaneng"),
        "kpledger:price": committed(story.e["transfer"].entry.fields["price"]),
        "kpledger:warranty": "2021",
    }


def test_accept_is_receiving(story: Story) -> None:
    number = story.e["transfer"].entry.fields["certificate"]
    assert story.event("accept") == {
        **common(story, "accept", "ObjectEvent", "OBSERVE"),
        "quantityList": [lot("P1", 100.5)],
        "bizStep": "receiving",
        "disposition": "in_progress",
        "readPoint": {"id": site("Antwerp Trader")},
        "bizLocation": {"id": site("Antwerp Trader")},
        "bizTransactionList": [
            {"type": "desadv", "bizTransaction": entry_uri(story, "transfer")},
            {"type": "cert", "bizTransaction": uri("cert", number)},
            {"type": "recadv", "bizTransaction": entry_uri(story, "accept")},
        ],
        "sourceList": sources(ends("Jwaneng")),
        "destinationList": destinations(ends("Antwerp Trader")),
        **tail(story, "accept", "Antwerp Trader"),
    }


def test_certificate_confirm_observes_the_transaction(story: Story) -> None:
    number = story.e["transfer"].entry.fields["certificate"]
    assert story.event("certificate.confirm") == {
        **common(story, "certificate.confirm", "TransactionEvent", "OBSERVE"),
        "quantityList": [lot("P1", 100.5)],
        "bizStep": "inspecting",
        "disposition": "conformant",
        "readPoint": {"id": site("BE KP Authority")},
        "bizTransactionList": [
            {"type": "cert", "bizTransaction": uri("cert", number)},
            {"type": "desadv", "bizTransaction": entry_uri(story, "transfer")},
            {"type": "recadv", "bizTransaction": entry_uri(story, "certificate.confirm")},
        ],
        "sourceList": sources([("owning_party", party("Jwaneng"))]),
        "destinationList": destinations([("owning_party", party("Antwerp Trader"))]),
        **tail(story, "certificate.confirm", "BE KP Authority"),
        "kpledger:carats": 100.5,
        "kpledger:count": 1,
    }


def test_reject_returns_the_goods(story: Story) -> None:
    assert story.event("reject") == {
        **common(story, "reject", "ObjectEvent", "OBSERVE"),
        "quantityList": [lot("P2", 20)],
        "bizStep": "shipping",
        "disposition": "returned",
        "readPoint": {"id": site("Gaborone Trader")},
        "bizLocation": {"id": site("Jwaneng")},
        "bizTransactionList": [
            {"type": "desadv", "bizTransaction": entry_uri(story, "offer.rejected")}
        ],
        "sourceList": sources(ends("Gaborone Trader")[1:]),
        "destinationList": destinations(ends("Jwaneng")),
        **tail(story, "reject", "Gaborone Trader"),
        "kpledger:reason": "wrong assortment",
    }


def test_cancel_voids_the_shipping(story: Story) -> None:
    offer = story.event("offer.cancelled")
    assert offer["bizStep"] == "shipping" and "inv" not in json.dumps(offer)
    assert story.event("cancel") == {
        **common(story, "cancel", "ObjectEvent", "OBSERVE"),
        "quantityList": [lot("P2", 20)],
        "bizStep": "void_shipping",
        "disposition": "in_progress",
        "readPoint": {"id": site("Jwaneng")},
        "bizLocation": {"id": site("Jwaneng")},
        "bizTransactionList": [
            {"type": "desadv", "bizTransaction": entry_uri(story, "offer.cancelled")}
        ],
        **tail(story, "cancel", "Jwaneng"),
    }


def test_split_and_merge_are_repackaging(story: Story) -> None:
    here = site("Antwerp Trader")
    assert story.event("split") == {
        **common(story, "split", "TransformationEvent", None),
        "inputQuantityList": [lot("P1", 100.5)],
        "outputQuantityList": [lot("A", 60.5), lot("B", 40)],
        "bizStep": "repackaging",
        "disposition": "in_progress",
        "readPoint": {"id": here},
        "bizLocation": {"id": here},
        "ilmd": {
            "kpledger:outputs": [
                {"kpledger:item": uri("lot", "A"), "kpledger:carats": 60.5, "kpledger:stones": 25},
                {"kpledger:item": uri("lot", "B"), "kpledger:carats": 40},
            ]
        },
        **tail(story, "split", "Antwerp Trader"),
    }
    assert story.event("merge") == {
        **common(story, "merge", "TransformationEvent", None),
        "inputQuantityList": [lot("A", 60.5), lot("D1", 50)],
        "outputQuantityList": [lot("M1", 110.5)],
        "bizStep": "repackaging",
        "disposition": "in_progress",
        "readPoint": {"id": here},
        "bizLocation": {"id": here},
        "ilmd": {
            "kpledger:outputs": [{"kpledger:item": uri("lot", "M1"), "kpledger:carats": 110.5}]
        },
        **tail(story, "merge", "Antwerp Trader"),
    }


def test_cut_commissions_stones(story: Story) -> None:
    here = site("Surat Cutter")
    assert story.event("cut") == {
        **common(story, "cut", "TransformationEvent", None),
        "inputQuantityList": [lot("M1", 110.5)],
        "outputEPCList": [uri("stone", "S1"), uri("stone", "S2")],
        "outputQuantityList": [lot("CH1", 10)],
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": here},
        "bizLocation": {"id": here},
        "ilmd": {
            "kpledger:outputs": [
                {"kpledger:item": uri("stone", "S1"), "kpledger:carats": 30},
                {"kpledger:item": uri("stone", "S2"), "kpledger:carats": 25.05},
                {"kpledger:item": uri("lot", "CH1"), "kpledger:carats": 10},
            ]
        },
        **tail(story, "cut", "Surat Cutter"),
    }


def test_grade_is_an_inspection_with_a_test_result(story: Story) -> None:
    here = site("New York Lab")
    assert story.event("grade") == {
        **common(story, "grade", "ObjectEvent", "OBSERVE"),
        "epcList": [uri("stone", "S1")],
        "bizStep": "inspecting",
        "disposition": "conformant",
        "readPoint": {"id": here},
        "bizLocation": {"id": here},
        "bizTransactionList": [
            {"type": "testres", "bizTransaction": uri("report", "New%20York%20Lab:GIA-7731")}
        ],
        **tail(story, "grade", "New York Lab"),
        "kpledger:carats": 29.95,
    }


def test_sell_is_retail_selling(story: Story) -> None:
    shop = party("New York Retailer")
    assert story.event("sell") == {
        **common(story, "sell", "ObjectEvent", "OBSERVE"),
        "epcList": [uri("stone", "S1")],
        "bizStep": "retail_selling",
        "disposition": "retail_sold",
        "readPoint": {"id": site("New York Retailer")},
        "sourceList": sources([("owning_party", shop), ("possessing_party", shop)]),
        **tail(story, "sell", "New York Retailer"),
        "kpledger:price": committed(story.e["sell"].entry.fields["price"]),
    }


def test_stones_travel_as_instances(story: Story) -> None:
    """After the cut, every event about S1 names it in epcList, never as a quantity."""
    about_s1 = [ev for ev in story.events if uri("stone", "S1") in json.dumps(ev)]
    assert len(about_s1) == 7  # cut, transfer, accept, grade, transfer, accept, sell
    for ev in about_s1[1:]:
        assert ev["epcList"] == [uri("stone", "S1")] and "quantityList" not in ev


def test_master_data_names_every_party_and_site(story: Story) -> None:
    vocabularies = story.doc["epcisHeader"]["epcisMasterData"]["vocabularyList"]
    by_type = {v["type"]: v["vocabularyElementList"] for v in vocabularies}
    text = json.dumps(story.events)
    used = {u for u in set(text.split('"')) if u.startswith((party(""), site("")))}
    listed = {e["id"] for elements in by_type.values() for e in elements}
    assert used == listed
    parties = {e["id"]: e["attributes"] for e in by_type["urn:epcglobal:epcis:vtype:SourceDest"]}
    assert parties[party("Jwaneng")] == [
        {"id": "urn:epcglobal:cbv:mda#name", "attribute": "Jwaneng"},
        {"id": "urn:epcglobal:cbv:mda#countryCode", "attribute": "BW"},
        {"id": "kpledger:roles", "attribute": "mine"},
    ]
    sites = {
        e["id"]: e["attributes"] for e in by_type["urn:epcglobal:epcis:vtype:BusinessLocation"]
    }
    assert sites[uri("site", "Jwaneng/Pit%203")] == [
        {"id": "urn:epcglobal:cbv:mda#name", "attribute": "Pit 3"},
        {"id": "urn:epcglobal:cbv:mda#countryCode", "attribute": "BW"},
    ]


# ---------------------------------------------------------------------------
# The table, unknown types, identifiers and numbers


def test_every_entry_type_is_mapped_or_left_out_on_purpose() -> None:
    assert set(epcis.ROWS).isdisjoint(epcis.OMITTED)
    assert set(epcis.ROWS) | set(epcis.OMITTED) == set(ENTRY_TYPES)


def future_entry(like: SignedEntry, entry_type: str) -> SignedEntry:
    """An entry of a type this exporter has never heard of (the model would refuse it)."""
    body = Body(entry_type, like.body.ledger, like.body.signer, like.body.time, {"x": 1})
    return SignedEntry(like.body_bytes, body, like.sigs, like.raw, bytes(31) + b"\x07")


def test_an_unknown_entry_type_is_skipped_and_named(story: Story, offline: None) -> None:
    records = list(story.records)
    last = records[-1][0]
    ghost = future_entry(records[-1][1], "lot.seal")
    record = Record.build(last.index + 1, last.hash, last.time, ghost.raw)
    pairs = [*records, (record, ghost)]
    reader = story.ledger.store.state_value
    doc = epcis.to_document(pairs, reader, origin=ORIGIN, size=len(pairs), created=last.time)
    assert epcis_schema.errors(doc) == []
    assert doc["kpledger:skipped"] == [
        {
            "kpledger:entryType": "lot.seal",
            "kpledger:recordIndex": last.index + 1,
            "kpledger:entryId": ghost.id.hex(),
        }
    ]
    assert doc["epcisBody"]["eventList"] == story.events
    # A mapped type missing from the table is skipped the same way, never half-exported.
    rows = {k: v for k, v in epcis.ROWS.items() if k != "grade"}
    doc = epcis.to_document(records, reader, origin=ORIGIN, size=len(records), created=0, rows=rows)
    assert [s["kpledger:entryType"] for s in doc["kpledger:skipped"]] == ["grade"]
    assert len(doc["epcisBody"]["eventList"]) == len(story.events) - 1
    assert epcis_schema.errors(doc) == []


def test_identifiers_are_uris_for_any_origin_and_name() -> None:
    assert epcis.item_uri("kp.example.org/ledger", "lot", "JW-1") == (
        "urn:kpledger:kp.example.org/ledger:lot:JW-1"
    )
    # A colon, a space or a percent sign in the origin is percent-encoded: the kind is
    # always after the first colon that follows "urn:kpledger:".
    odd = epcis.item_uri("a:b c%/d", "stone", "S:1/2")
    assert odd == "urn:kpledger:a%3Ab%20c%25/d:stone:S:1/2"
    checker = epcis_schema.validator().format_checker
    assert checker is not None and checker.conforms(odd, "uri")
    assert epcis.event_id(bytes(range(32))) == "ni:///sha-256;" + bytes(range(32)).hex()


def test_entry_id_of_refuses_other_event_ids() -> None:
    good = {"eventID": "ni:///sha-256;" + "ab" * 32}
    assert epcis.entry_id_of(good) == bytes([0xAB]) * 32
    for bad in (
        "ni:///sha-256;" + "ab" * 31,
        "ni:///sha-256;" + "AB" * 32,
        "ni:///sha-256;" + "ab" * 32 + "?ver=CBV2.0",
        "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8",
        None,
    ):
        with pytest.raises(ValueError):
            epcis.entry_id_of({"eventID": bad})


def test_carats_examples() -> None:
    assert [epcis.carats_number(p) for p in (1, 10, 100, 1_250, 123_456, 10**20)] == [
        0.01,
        0.1,
        1,
        12.5,
        1234.56,
        10**18,
    ]
    assert json.dumps([epcis.carats_number(p) for p in (5, 99, 849_50, 10_001)]) == (
        "[0.05, 0.99, 849.5, 100.01]"
    )


@given(st.integers(min_value=1, max_value=10**15 - 1))
def test_carats_are_exact_with_at_most_two_decimals(points: int) -> None:
    text = json.dumps(epcis.carats_number(points))
    assert "e" not in text.lower() or points % 100 == 0
    value = Decimal(text)
    assert value * 100 == points
    assert -value.as_tuple().exponent <= 2  # type: ignore[operator]


def test_grown_goods_say_so_and_the_wdc_id_travels(story: Story) -> None:
    grow = story.event("grow")
    assert (grow["type"], grow["action"]) == ("ObjectEvent", "ADD")
    assert grow["bizStep"].endswith("commissioning")
    assert grow["ilmd"]["kpledger:nature"] == "laboratory-grown"
    assert grow["ilmd"]["kpledger:facility"] == "CVD hall 2"
    assert story.event("split.grown")["ilmd"]["kpledger:nature"] == "laboratory-grown"
    assert "kpledger:nature" not in story.event("split")["ilmd"]
    assert "kpledger:nature" not in story.event("origin")["ilmd"]
    assert story.event("transfer.wdc")["kpledger:wdc"] == "WDC-IN-9"
    assert epcis.event_id(story.e["sanction.designate"].entry.id) not in story.by_id
