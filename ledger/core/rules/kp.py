"""The Kimberley Process scheme (R-KP-*): participant status over time, certificates on
every border crossing of rough, and import confirmation.

Every date-dependent check holds on the claimed date **and** on the append date of the
entry (specs/rules.md §2): a back-dated entry can neither extend a certificate nor escape
a suspension.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ledger.core.rules.act import Act
from ledger.core.rules.calendar import date_of, days_between
from ledger.core.rules.params import ROUGH_KINDS, param, tolerance
from ledger.core.rules.signers import get_party, require_role
from ledger.core.rules.state import Certificate, Parcel, Party, State, Transfer, fail


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
    """``country`` is a KP participant (not suspended, withdrawn or unknown) on ``date``."""
    status = kp_status(state, country, date)
    if status != "participant":
        shown = "not a KP participant" if status == "none" else status
        raise fail(rule, f"{what} {country} is {shown} on {date}")


def require_standing(
    state: State, rule: str, countries: Iterable[tuple[str, str]], days: Sequence[str]
) -> None:
    """Each ``(country, what)`` is in good standing on each of ``days``."""
    for country, what in countries:
        for day in days:
            require_good_standing(state, rule, country, day, what)


def require_authority_in_force(state: State, cert: Certificate, when: str) -> None:
    """R-ID-2: a certificate of a revoked (or compromised) authority is unusable for a
    crossing appended after the revocation."""
    authority = state.party(cert["authority"])
    if authority is not None and authority["revoked"] is not None:
        raise fail(
            "R-ID-2",
            f"KP certificate {cert['number']!r} was issued by {cert['authority']!r}, revoked "
            f"at record {authority['revoked']}: it cannot be used for a crossing {when}",
        )


# ---------------------------------------------------------------------------
# Issuance


def certificate_issue(a: Act) -> None:
    require_role(a.signer, "authority", "issue KP certificates")
    state, f = a.state, a.fields
    rule = "R-KP-6"
    exp_cc, imp_cc = f["exporter_country"], f["importer_country"]
    if a.signer.country != exp_cc:
        raise fail(rule, f"an authority of {a.signer.country} cannot certify exports from {exp_cc}")
    if not f["number"].startswith(exp_cc):
        raise fail(rule, f"certificate number {f['number']!r} must start with {exp_cc}")
    if state.get("cert", f["number"]) is not None:
        raise fail(rule, f"certificate number {f['number']!r} is already used")
    if a.signer.name in (f["exporter"], f["importer"]):
        raise fail(rule, f"{a.signer.name!r} cannot certify a shipment it exports or imports")
    exporter = get_party(state, rule, f["exporter"], "exporter")
    importer = get_party(state, rule, f["importer"], "importer")
    if exporter["country"] != exp_cc:
        raise fail(rule, f"exporter {f['exporter']!r} is in {exporter['country']}, not {exp_cc}")
    if importer["country"] != imp_cc:
        raise fail(rule, f"importer {f['importer']!r} is in {importer['country']}, not {imp_cc}")
    if imp_cc == exp_cc:
        raise fail(rule, "a KP certificate covers an export to another country")
    issued = date_of(a.time)
    if f["expires"] < issued:
        raise fail(rule, f"certificate expires {f['expires']}, before its issue date {issued}")
    longest = param(state, "cert-validity-days", a.day)
    if days_between(issued, f["expires"]) > longest:
        raise fail(
            rule,
            f"certificate valid {issued} to {f['expires']}: longer than the {longest} days "
            "this ledger allows (rule parameter cert-validity-days)",
        )
    require_standing(
        state,
        "R-KP-5",
        ((exp_cc, "exporting country"), (imp_cc, "importing country")),
        a.days,
    )
    if f["value"]["currency"] != "USD":
        raise fail(rule, "the certificate value must be in USD")
    carats = 0
    hs: set[str] = set()
    may: set[str] = set()
    for pid in f["parcels"]:
        parcel = state.parcel(pid)
        if parcel is None:
            raise fail("R-CU-6", f"unknown parcel {pid!r}")
        if parcel["status"] != "live" or parcel["holder"] != f["exporter"]:
            raise fail(rule, f"exporter {f['exporter']!r} does not hold parcel {pid!r}")
        if parcel["kind"] not in ROUGH_KINDS:
            raise fail(rule, f"{pid!r} is polished; KP certificates cover rough diamonds only")
        if parcel.get("grown"):
            raise fail(rule, f"{pid!r} is laboratory-grown; KP certificates cover natural rough")
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
    state.put_cert(
        {
            "number": f["number"],
            "id": a.entry.id,
            "issued": issued,
            "expires": f["expires"],
            "exporter": f["exporter"],
            "importer": f["importer"],
            "exporter_country": exp_cc,
            "importer_country": imp_cc,
            "parcels": sorted(f["parcels"]),
            "carats": carats,
            "authority": a.signer.name,
            "used": None,
        }
    )


# ---------------------------------------------------------------------------
# Crossings


def check_certificate(a: Act, number: str, receiver: Party, parcels: Sequence[Parcel]) -> None:
    """R-KP-2: the certificate matches this shipment exactly, is used once, and is valid on
    the offer's claimed date and on its append date; its authority is in force (R-ID-2)."""
    state, sender = a.state, a.signer
    cert = state.cert(number)
    if cert is None:
        raise fail("R-KP-2", f"no KP certificate {number!r} was issued on this ledger")
    if cert["used"] is not None:
        raise fail("R-KP-2", f"KP certificate {number!r} was already used for another shipment")
    require_authority_in_force(state, cert, "offered after the revocation")
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
    for day in a.days:
        if not cert["issued"] <= day <= cert["expires"]:
            raise fail(
                "R-KP-2",
                f"KP certificate {number!r} is valid {cert['issued']} to {cert['expires']}, "
                f"not on {day}",
            )
    cert = cert.copy()
    cert["used"] = a.entry.id
    state.put_cert(cert)


def require_crossing_standing(a: Act, countries: Sequence[str]) -> None:
    """R-KP-5: both countries of a crossing of rough are KP participants in good standing on
    the entry's claimed and append dates, whatever the certificate's issue date."""
    exp_cc, imp_cc = countries
    require_standing(
        a.state,
        "R-KP-5",
        ((exp_cc, "exporting country"), (imp_cc, "importing country")),
        a.days,
    )


# ---------------------------------------------------------------------------
# Import confirmation (R-KP-3)


def certificate_confirm(a: Act) -> None:
    """The importing authority confirms receipt of an accepted shipment (Annex I)."""
    require_role(a.signer, "authority", "confirm KP imports")
    state, f = a.state, a.fields
    number = f["number"]
    cert = state.cert(number)
    if cert is None:
        raise fail("R-KP-3", f"no KP certificate {number!r} was issued on this ledger")
    if a.signer.country != cert["importer_country"]:
        raise fail(
            "R-KP-3",
            f"only an authority of {cert['importer_country']} confirms the import under "
            f"{number!r}; {a.signer.name!r} is of {a.signer.country}",
        )
    if "confirmed" in cert:
        raise fail("R-KP-3", f"the import under {number!r} was already confirmed")
    if cert["used"] is None or cert["used"] != f["shipment"]:
        raise fail(
            "R-KP-3",
            f"KP certificate {number!r} was not used for shipment {f['shipment'].hex()[:16]}",
        )
    offer: Transfer | None = state.transfer(f["shipment"])
    if offer is None or offer["status"] != "accepted":
        status = "unknown" if offer is None else offer["status"]
        raise fail("R-KP-3", f"the shipment under {number!r} is {status}, not accepted")
    if f["count"] != len(cert["parcels"]):
        raise fail(
            "R-KP-3",
            f"confirmation states {f['count']} parcels, the certificate {len(cert['parcels'])}",
        )
    tau = tolerance(state, a.day, cert["carats"], len(cert["parcels"]))
    if abs(f["carats"] - cert["carats"]) > tau:
        raise fail(
            "R-KP-3",
            f"confirmation states {f['carats']} points received, the shipment was "
            f"{cert['carats']} (tolerance {tau})",
        )
    cert = cert.copy()
    cert["confirmed"] = a.entry.id
    state.put_cert(cert)
    for pid in cert["parcels"]:
        a.affect(pid)


def overdue_confirmations(
    certs: Iterable[Certificate], state: State, last_time: int
) -> list[tuple[str, int]]:
    """R-KP-3 (WARN): accepted crossings whose import is still unconfirmed more than
    ``confirm-days`` after acceptance, as of ``last_time`` (the log's last append time).

    Returns ``(certificate number, days since acceptance)`` in number order.
    """
    today = date_of(last_time)
    out = []
    for cert in certs:
        accepted = cert.get("accepted")
        if accepted is None or "confirmed" in cert:
            continue
        age = days_between(date_of(accepted), today)
        if age > param(state, "confirm-days", today):
            out.append((cert["number"], age))
    return sorted(out)
