"""Custody (R-CU-1, R-CU-2, R-TM-3): offers of goods and their acceptance, rejection or
cancellation; the KP checks of a crossing of rough at both ends (R-KP-2, R-KP-5)."""

from __future__ import annotations

from ledger.core.rules.act import Act
from ledger.core.rules.kp import (
    check_certificate,
    require_authority_in_force,
    require_crossing_standing,
)
from ledger.core.rules.params import MAX_SKEW_MS, OFFER_TTL_MS, RECEIVER_ROLES, ROUGH_KINDS
from ledger.core.rules.parcels import held, live_input
from ledger.core.rules.signers import get_party
from ledger.core.rules.state import Parcel, Transfer, fail


def transfer(a: Act) -> None:
    f = a.fields
    receiver = get_party(a.state, "R-CU-8", f["to"], "receiver")
    if receiver["name"] == a.signer.name:
        raise fail("R-CU-8", "a transfer needs a different receiver")
    if not set(receiver["roles"]) & set(RECEIVER_ROLES):
        raise fail("R-ID-1", f"receiver {f['to']!r} has no role that can take custody")
    parcels = [live_input(a, i) for i in f["inputs"]]
    # Laboratory-grown goods are outside the KP (R-SW-3): no certificate for them.
    rough = [p for p in parcels if p["kind"] in ROUGH_KINDS and not p.get("grown")]
    cross_border = receiver["country"] != a.signer.country
    number = f.get("certificate")
    if rough and cross_border and number is None:
        raise fail(
            "R-KP-2",
            f"rough crossing from {a.signer.country} to {receiver['country']} needs a KP "
            "certificate",
        )
    crossing = [a.signer.country, receiver["country"]] if rough and cross_border else None
    if crossing is not None:
        require_crossing_standing(a, crossing)
    if number is not None:
        check_certificate(a, number, receiver, parcels)
    warranty = f.get("warranty")
    check_warranty(a, parcels, warranty)
    for p in parcels:
        p.update({"status": "locked", "transfer": a.entry.id, "head": a.entry.id, "time": a.time})
        held(p, a.signer.country, a.day)
        a.state.put_parcel(p)
        a.affect(p["id"])
    offer: Transfer = {
        "from": a.signer.name,
        "to": receiver["name"],
        "parcels": [p["id"] for p in parcels],
        "status": "pending",
        "time": a.time,
        "certificate": number,
    }
    if crossing is not None:
        offer["cross"] = crossing
    if warranty is not None:
        offer["warranty"] = warranty
    a.state.put_transfer(a.entry.id, offer)


#: The last day a System of Warranties statement of 2002 is accepted (the 2021 upgrade's
#: transition: three years for rough, five for other goods; domain.md §2).
LEGACY_WARRANTY_UNTIL = {"rough": "2024-09-30", "other": "2026-09-30"}


def check_warranty(a: Act, parcels: list[Parcel], warranty: str | None) -> None:
    """R-SW-2 (ERROR): goods are warranted only if every B2B transfer they descend from was;
    R-SW-1 (WARN): a B2B transfer without a statement, or with the 2002 statement after its
    transition ended."""
    if warranty is None:
        if "wdc" in a.fields:
            raise fail(
                "R-SW-1",
                "a WDC registration id (wdc) names the registration of a warranty statement: "
                "the transfer carries none",
            )
        a.warn("R-SW-1", "B2B transfer without a System of Warranties statement")
        return
    broken = [p["id"] for p in parcels if p.get("unwarranted")]
    if broken:
        raise fail(
            "R-SW-2",
            f"{a.signer.name!r} cannot warrant {', '.join(broken)}: a transfer they descend "
            "from carried no warranty (the chain of warranties is broken)",
        )
    if warranty == "2002":
        rough = all(p["kind"] in ROUGH_KINDS for p in parcels)
        until = LEGACY_WARRANTY_UNTIL["rough" if rough else "other"]
        if a.day > until:
            a.warn("R-SW-1", f"the 2002 System of Warranties statement expired on {until}")


def _pending(a: Act) -> Transfer:
    tid = a.fields["transfer"].hex()
    offer = a.state.transfer(a.fields["transfer"])
    if offer is None:
        raise fail("R-CU-6", f"no transfer offer {tid[:16]}")
    if offer["status"] != "pending":
        raise fail("R-CU-2", f"transfer {tid[:16]} is already {offer['status']}")
    return offer.copy()


def _settle(a: Act, offer: Transfer, status: str, holder: str | None, country: str) -> None:
    for pid in offer["parcels"]:
        parcel = a.state.parcel(pid)
        if parcel is None:  # pragma: no cover - an offer's parcels always exist
            raise fail("R-CU-6", f"unknown parcel {pid!r}")
        if a.time + MAX_SKEW_MS < parcel["time"]:
            raise fail("R-TM-3", "the answer to a transfer must follow the offer")
        parcel = parcel.copy()
        parcel.update({"status": "live", "transfer": None, "head": a.entry.id})
        parcel["time"] = max(parcel["time"], a.time)
        if holder is not None:
            parcel["holder"] = holder
            if "warranty" not in offer:
                parcel["unwarranted"] = True  # the chain of warranties broke here (R-SW-2)
        held(parcel, country, a.day)
        a.state.put_parcel(parcel)
        a.affect(pid)
    offer["status"] = status
    a.state.put_transfer(a.fields["transfer"], offer)


def accept(a: Act) -> None:
    offer = _pending(a)
    if offer["to"] != a.signer.name:
        raise fail("R-CU-2", f"only {offer['to']!r} can accept this transfer")
    sender = a.state.party(offer["from"])
    if sender is not None and sender["revoked"] is not None:
        raise fail(
            "R-ID-2",
            f"the offer is from {offer['from']!r}, revoked at record {sender['revoked']}: it "
            "can no longer be accepted",
        )
    # Judged at the append time too: a back-dated claimed time must not revive an expired
    # offer.
    if max(a.time, a.now) > offer["time"] + OFFER_TTL_MS:
        raise fail("R-TM-3", "the offer expired (30 days) before it was accepted")
    crossing = offer.get("cross")
    if crossing is not None:
        require_crossing_standing(a, crossing)
    number = offer["certificate"]
    if number is not None:
        cert = a.state.cert(number)
        if cert is not None:
            require_authority_in_force(a.state, cert, "accepted after the revocation")
            cert = cert.copy()
            cert["accepted"] = a.now
            a.state.put_cert(cert)
    _settle(a, offer, "accepted", a.signer.name, a.signer.country)


def reject(a: Act) -> None:
    offer = _pending(a)
    if offer["to"] != a.signer.name:
        raise fail("R-CU-2", f"only {offer['to']!r} can reject this transfer")
    sender = a.state.party(offer["from"])
    _settle(a, offer, "rejected", None, sender["country"] if sender else a.signer.country)


def cancel(a: Act) -> None:
    offer = _pending(a)
    if offer["from"] != a.signer.name:
        raise fail("R-CU-2", f"only {offer['from']!r} can cancel this transfer")
    _settle(a, offer, "cancelled", None, a.signer.country)
