"""The Kimberley Process scheme (R-KP-*): participant status over time and certificates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ledger.core.model import SignedEntry
from ledger.core.rules.calendar import date_of
from ledger.core.rules.params import ROUGH_KINDS
from ledger.core.rules.signers import Signer, get_party, require_role
from ledger.core.rules.state import Outcome, State, fail


def kp_status(state: State, country: str, date: str) -> str:
    """KP status of ``country`` on ``date``: participant, suspended, withdrawn or none."""
    periods = state.get("kp", country) or []
    status = "none"
    for start, value in periods:
        if start <= date:
            status = value
        else:
            break
    return str(status)


def require_good_standing(state: State, rule: str, country: str, date: str, what: str) -> None:
    status = kp_status(state, country, date)
    if status != "participant":
        shown = "not a KP participant" if status == "none" else status
        raise fail(rule, f"{what} {country} is {shown} on {date}")


def certificate_issue(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    require_role(signer, "authority", "issue KP certificates")
    f = entry.fields
    rule = "R-KP-6"
    exp_cc, imp_cc = f["exporter_country"], f["importer_country"]
    if signer.country != exp_cc:
        raise fail(rule, f"an authority of {signer.country} cannot certify exports from {exp_cc}")
    if not f["number"].startswith(exp_cc):
        raise fail(rule, f"certificate number {f['number']!r} must start with {exp_cc}")
    if state.get("cert", f["number"]) is not None:
        raise fail(rule, f"certificate number {f['number']!r} is already used")
    exporter = get_party(state, rule, f["exporter"], "exporter")
    importer = get_party(state, rule, f["importer"], "importer")
    if exporter["country"] != exp_cc:
        raise fail(rule, f"exporter {f['exporter']!r} is in {exporter['country']}, not {exp_cc}")
    if importer["country"] != imp_cc:
        raise fail(rule, f"importer {f['importer']!r} is in {importer['country']}, not {imp_cc}")
    if imp_cc == exp_cc:
        raise fail(rule, "a KP certificate covers an export to another country")
    issued = date_of(entry.body.time)
    if f["expires"] < issued:
        raise fail(rule, f"certificate expires {f['expires']}, before its issue date {issued}")
    require_good_standing(state, "R-KP-5", exp_cc, issued, "exporting country")
    require_good_standing(state, "R-KP-5", imp_cc, issued, "importing country")
    for cc, what in ((exp_cc, "exporting country"), (imp_cc, "importing country")):
        require_good_standing(state, "R-KP-5", cc, date_of(now), what)
    if f["value"]["currency"] != "USD":
        raise fail(rule, "the certificate value must be in USD")
    carats = 0
    hs: set[str] = set()
    may: set[str] = set()
    for pid in f["parcels"]:
        parcel = state.get("parcel", pid)
        if parcel is None:
            raise fail("R-CU-6", f"unknown parcel {pid!r}")
        if parcel["status"] != "live" or parcel["holder"] != f["exporter"]:
            raise fail(rule, f"exporter {f['exporter']!r} does not hold parcel {pid!r}")
        if parcel["kind"] not in ROUGH_KINDS:
            raise fail(rule, f"{pid!r} is polished; KP certificates cover rough diamonds only")
        carats += parcel["carats"]
        hs.add(parcel["hs"] or "7102.10")
        may.update(parcel["may"])
    if f["carats"] != carats:
        raise fail(rule, f"certificate states {f['carats']} points, the parcels weigh {carats}")
    if f["count"] != len(f["parcels"]):
        raise fail(rule, f"certificate states {f['count']} parcels, it lists {len(f['parcels'])}")
    if list(f["hs"]) != sorted(hs):
        raise fail(rule, f"certificate HS codes {f['hs']} do not match the parcels {sorted(hs)}")
    if list(f["origins"]) != sorted(may):
        raise fail(
            "R-KP-4",
            f"certificate origins {f['origins']} must list every mining country {sorted(may)}",
        )
    state.put(
        "cert",
        f["number"],
        {
            "number": f["number"],
            "id": entry.id,
            "issued": issued,
            "expires": f["expires"],
            "exporter": f["exporter"],
            "importer": f["importer"],
            "exporter_country": exp_cc,
            "importer_country": imp_cc,
            "parcels": sorted(f["parcels"]),
            "carats": carats,
            "authority": signer.name,
            "used": None,
        },
    )


def check_certificate(
    state: State,
    number: str,
    sender: Signer,
    receiver: Mapping[str, Any],
    parcels: Sequence[Mapping[str, Any]],
    entry: SignedEntry,
) -> None:
    """R-KP-2: the certificate matches this shipment exactly and is used once."""
    cert = state.get("cert", number)
    if cert is None:
        raise fail("R-KP-2", f"no KP certificate {number!r} was issued on this ledger")
    if cert["used"] is not None:
        raise fail("R-KP-2", f"KP certificate {number!r} was already used for another shipment")
    if cert["exporter"] != sender.name or cert["importer"] != receiver["name"]:
        raise fail(
            "R-KP-2",
            f"KP certificate {number!r} is for {cert['exporter']} -> {cert['importer']}, "
            f"not {sender.name} -> {receiver['name']}",
        )
    if (
        cert["exporter_country"] != sender.country
        or cert["importer_country"] != receiver["country"]
    ):
        raise fail("R-KP-2", f"KP certificate {number!r} names other countries")
    if sorted(p["id"] for p in parcels) != cert["parcels"]:
        raise fail("R-KP-2", f"KP certificate {number!r} covers other parcels")
    if sum(p["carats"] for p in parcels) != cert["carats"]:
        raise fail("R-KP-2", f"KP certificate {number!r} states another carat weight")
    day = date_of(entry.body.time)
    if not cert["issued"] <= day <= cert["expires"]:
        raise fail(
            "R-KP-2",
            f"KP certificate {number!r} is valid {cert['issued']} to {cert['expires']}, "
            f"not on {day}",
        )
    require_good_standing(state, "R-KP-5", sender.country, cert["issued"], "exporting country")
    require_good_standing(state, "R-KP-5", receiver["country"], cert["issued"], "importing country")
    cert = dict(cert)
    cert["used"] = entry.id
    state.put("cert", number, cert)
