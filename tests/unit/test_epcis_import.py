"""EPCIS import (specs/epcis.md §6): events back to signed entries, appended all or none.

The strongest check is the round trip: every event of the export of a ledger with every
entry type, imported into a fresh ledger with the same participants (each signed by the
participant the event names as its signer, at the event's record time), gives back the
very same signed entries, byte for byte, and so the same export.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

import ledger as lg
from ledger.core import epcis
from tests.conftest import ORIGIN, World
from tests.unit.test_epcis import Story, add_growers_and_a_list
from tests.vectors import epcis_schema


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    s = Story(tmp_path_factory.mktemp("epcis-import") / "world.kpl")
    try:
        yield s
    finally:
        s.world.close()


def document(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [epcis.EPCIS_CONTEXT, {"kpledger": epcis.VOCAB}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-02T10:00:00.000Z",
        "epcisBody": {"eventList": list(events)},
    }


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


def signer_of(event: dict[str, Any]) -> str:
    return unquote(event["kpledger:signer"].rsplit(":party:", 1)[1])


def test_import_of_the_export_gives_back_the_same_entries(story: Story, tmp_path: Path) -> None:
    fresh = World.create(tmp_path / "fresh.kpl")
    add_growers_and_a_list(fresh)
    try:
        for event in story.events:
            key = fresh.keys[signer_of(event)]
            [entry] = lg.entries_from_epcis(fresh.ledger, document(event), key)
            assert entry.id == epcis.entry_id_of(event), event["kpledger:entryType"]
            fresh.ledger.append([entry], now=ms(event["recordTime"]))
        fresh.verify()
        again = lg.export_epcis(fresh.ledger)["epcisBody"]["eventList"]
        # The fresh ledger lacks the story's registry changes, so only record indexes move.
        for ev in [*again, *(expected := copy.deepcopy(story.events))]:
            del ev["kpledger:recordIndex"]
        assert again == expected
    finally:
        fresh.close()


def test_one_document_may_build_on_its_own_events(world: World) -> None:
    """A mine's document: a commissioning, a shipping of that lot and its cancellation
    naming the shipping's eventID; the heads and the offer are the new entries."""
    world.origin("Jwaneng", "OLD", carats=100)
    source = lg.export_epcis(world.ledger)["epcisBody"]["eventList"][0]
    made = copy.deepcopy(source)
    made["quantityList"] = [
        {"epcClass": "urn:kpledger:elsewhere.example/log:lot:N1", "quantity": 12.34, "uom": "CTM"}
    ]
    made["eventID"] = "ni:///sha-256;" + "11" * 32
    shipping = {
        "type": "ObjectEvent",
        "eventTime": made["eventTime"],
        "eventTimeZoneOffset": "+00:00",
        "eventID": "ni:///sha-256;" + "22" * 32,
        "action": "OBSERVE",
        "quantityList": made["quantityList"],
        "bizStep": "shipping",
        "disposition": "in_transit",
        "destinationList": [
            {
                "type": "owning_party",
                "destination": f"urn:kpledger:{ORIGIN}:party:Gaborone%20Trader",
            }
        ],
    }
    voiding = {
        "type": "ObjectEvent",
        "eventTime": made["eventTime"],
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "quantityList": made["quantityList"],
        "bizStep": "void_shipping",
        "disposition": "in_progress",
        "bizTransactionList": [
            {"type": "desadv", "bizTransaction": f"urn:kpledger:{ORIGIN}:entry:" + "22" * 32}
        ],
    }
    doc = document(made, shipping, voiding)
    assert epcis_schema.errors(doc) == []
    entries = lg.entries_from_epcis(world.ledger, doc, world.keys["Jwaneng"])
    assert [e.type for e in entries] == ["origin", "transfer", "cancel"]
    origin, transfer, cancel = entries
    assert dict(origin.fields) == {
        "parcel": "N1",
        "carats": 1234,
        "stones": 20,
        "mine": "Jwaneng",
        "hs": "7102.10",
    }
    assert transfer.fields["inputs"] == [{"parcel": "N1", "head": origin.id}]
    assert transfer.fields["to"] == "Gaborone Trader"
    assert cancel.fields["transfer"] == transfer.id
    done = world.append_all(entries)
    assert [a.entry.id for a in done] == [e.id for e in entries]
    assert world.parcel("N1")["holder"] == "Jwaneng" and world.parcel("N1")["head"] == cancel.id


def test_a_refused_event_refuses_the_whole_document(story: Story, world: World) -> None:
    events = story.events
    origin = next(e for e in events if e["kpledger:entryType"] == "origin")
    transfer = next(e for e in events if e["kpledger:entryType"] == "transfer")
    # In a fresh world the mine can register P1, but the shipping names a certificate
    # that was never issued here: R-KP-2 refuses it, and with it the origin.
    entries = lg.entries_from_epcis(world.ledger, document(origin, transfer), world.keys["Jwaneng"])
    with world.rejected("R-KP-2"):
        world.append_all(entries, now=ms(transfer["recordTime"]))
    with pytest.raises(lg.NotFoundError):
        world.parcel("P1")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.update(bizStep="packing"), "event 0: no ledger entry type"),
        (lambda e: e.update(type="AggregationEvent"), "event 0: no ledger entry type"),
        (lambda e: e["ilmd"].pop("kpledger:stones"), "event 0: ilmd: kpledger:stones is missing"),
        (lambda e: e["quantityList"][0].update(quantity=1.005), "hundredths"),
        (lambda e: e["quantityList"][0].update(uom="KGM"), "uom CTM"),
        (
            lambda e: e["quantityList"][0].update(epcClass="urn:epc:class:lgtin:4012345.0.1"),
            "urn:kpledger",
        ),
        (lambda e: e.update(eventTime="yesterday"), "eventTime"),
        (lambda e: e["ilmd"].update({"kpledger:hs": "9999.99"}), "field fields.hs"),
    ],
)
def test_events_that_cannot_be_entries_are_named(
    story: Story, world: World, change: Any, message: str
) -> None:
    event = copy.deepcopy(next(e for e in story.events if e["kpledger:entryType"] == "origin"))
    change(event)
    with pytest.raises(lg.EncodingError) as info:
        lg.entries_from_epcis(world.ledger, document(event), world.keys["Jwaneng"])
    assert message in str(info.value)


def test_gs1_examples_do_not_map_and_say_why(world: World) -> None:
    for path in epcis_schema.EXAMPLES:
        with pytest.raises(lg.EncodingError, match="event 0: "):
            lg.entries_from_epcis(world.ledger, epcis_schema.load(path), world.keys["Jwaneng"])
    for bad in ({}, {"epcisBody": {"eventList": []}}, [1, 2]):
        with pytest.raises(lg.EncodingError, match="not an EPCIS document"):
            lg.entries_from_epcis(world.ledger, bad, world.keys["Jwaneng"])


def test_unknown_parcels_and_offers_are_not_found(story: Story, world: World) -> None:
    transfer = next(e for e in story.events if e["kpledger:entryType"] == "transfer")
    accept = next(e for e in story.events if e["kpledger:entryType"] == "accept")
    with pytest.raises(lg.NotFoundError, match=r"event 0: .*P1"):
        lg.entries_from_epcis(world.ledger, document(transfer), world.keys["Jwaneng"])
    with pytest.raises(lg.NotFoundError, match="event 0: no transfer"):
        lg.entries_from_epcis(world.ledger, document(accept), world.keys["Antwerp Trader"])


def test_points_of_reads_carats_exactly() -> None:
    assert [epcis.points_of(v, "q") for v in (0.01, 12.5, 849.5, 100, 1234.56)] == [
        1,
        1250,
        84950,
        10000,
        123456,
    ]
    for bad in (0, -1, 0.001, True, "1.00", float("nan"), float("inf"), None):
        with pytest.raises(lg.EncodingError):
            epcis.points_of(bad, "q")
    assert json.dumps(epcis.carats_number(epcis.points_of(849.5, "q"))) == "849.5"
