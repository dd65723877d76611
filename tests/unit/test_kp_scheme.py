"""The KP scheme as the KP runs it (specs/rules.md §2, §3.3-§3.5, §6).

The log's clock is the trusted one (R-TM-5 and every date-dependent rule on both the
claimed and the append date), suspensions stop every later crossing (R-KP-5), certificates
are bounded and never self-issued (R-KP-6, R-PA-1), a compromised key voids what it signed
and quarantines what descends from it (R-ID-2), and importing authorities confirm receipt
(R-KP-3). Each test states the fraud it stops.
"""

from __future__ import annotations

import pytest

from ledger.core import proofs, rules
from ledger.core.policy import parse_policy
from ledger.errors import ChainError, PolicyError
from tests.conftest import DAY, HOUR, OPERATOR, World, authority_of, date_at
from tests.unit.test_tamper_rules import expect_verify, forge


def _rough(world: World, pid: str = "P1", carats: int = 10_000) -> str:
    world.origin("Jwaneng", pid, carats=carats)
    return pid


def _certify(world: World, pids: list[str], **kw: object) -> str:
    cert = world.certify("Jwaneng", "Antwerp Trader", pids, **kw)  # type: ignore[arg-type]
    return str(cert.entry.fields["number"])


# ---------------------------------------------------------------------------
# The log's clock (R-TM-5, R-KP-2 at the append date)


def test_append_times_never_go_backwards(world: World) -> None:
    """An operator clock set back twelve days appends at the last record's time."""
    _rough(world)
    last = world.ledger.store.last_time()
    assert last is not None
    entry = world.sign("origin", {**_origin("P2")}, "Jwaneng", time=last - 12 * DAY)
    done = world.ledger.append([entry], now=last - 12 * DAY)
    assert done[0].record.time == last
    world.verify()


def _origin(pid: str) -> dict[str, object]:
    return {"parcel": pid, "carats": 1_000, "stones": 2, "mine": "Jwaneng", "hs": "7102.10"}


def test_verify_refuses_a_log_whose_times_go_backwards(world: World) -> None:
    _rough(world)
    last = world.ledger.store.last_time()
    assert last is not None
    entry = world.sign("origin", _origin("P2"), "Jwaneng", time=last - 2 * DAY)
    forge(world, entry, now=last - DAY)
    info = expect_verify(world, "R-TM-5", ChainError)
    assert "never runs backwards" in info.message


def test_backdated_offer_cannot_use_an_expired_certificate(world: World) -> None:
    """Signed offline "on" the certificate's last day, submitted two weeks later."""
    _rough(world)
    number = _certify(world, ["P1"], expires=date_at(world.now + 5 * DAY))
    signed = world.now + 5 * DAY
    world.advance(19 * DAY)
    with world.rejected("R-KP-2") as info:
        world.transfer("Jwaneng", "Antwerp Trader", ["P1"], certificate=number, time=signed)
    assert "not on " + world.today in info.value.message
    # On time, the same offer is fine.


def test_offer_before_the_issue_date_is_refused(world: World) -> None:
    _rough(world)
    world.advance(3 * DAY)
    number = _certify(world, ["P1"])
    with world.rejected("R-KP-2"):
        world.transfer(
            "Jwaneng", "Antwerp Trader", ["P1"], certificate=number, time=world.now - 2 * DAY
        )


# ---------------------------------------------------------------------------
# Suspension on every crossing (R-KP-5)


def test_suspension_stops_a_crossing_under_an_older_certificate(world: World) -> None:
    _rough(world)
    number = _certify(world, ["P1"])
    world.set_kp_status("BW", "suspended", date_at(world.now + DAY))
    world.advance(2 * DAY)
    with world.rejected("R-KP-5") as info:
        world.transfer("Jwaneng", "Antwerp Trader", ["P1"], certificate=number)
    assert "exporting country BW is suspended" in info.value.message


def test_suspension_of_the_importing_country_stops_the_acceptance(world: World) -> None:
    _rough(world)
    number = _certify(world, ["P1"])
    offer = world.transfer("Jwaneng", "Antwerp Trader", ["P1"], certificate=number)
    world.set_kp_status("BE", "suspended", date_at(world.now + DAY))
    world.advance(2 * DAY)
    with world.rejected("R-KP-5") as info:
        world.accept("Antwerp Trader", offer)
    assert "importing country BE is suspended" in info.value.message
    world.reject("Antwerp Trader", offer)  # the goods go back to the sender


def test_backdating_cannot_escape_a_suspension(world: World) -> None:
    _rough(world)
    number = _certify(world, ["P1"])
    world.set_kp_status("BW", "suspended", date_at(world.now + DAY))
    world.advance(2 * DAY)
    with world.rejected("R-KP-5"):  # claims a day before the suspension, appended after
        world.transfer(
            "Jwaneng", "Antwerp Trader", ["P1"], certificate=number, time=world.now - 2 * DAY
        )


def test_goods_that_left_before_a_suspension_move_on(world: World) -> None:
    _rough(world)
    world.ship("Jwaneng", "Antwerp Trader", ["P1"])
    world.set_kp_status("BW", "suspended", date_at(world.now + DAY))
    world.advance(2 * DAY)
    world.ship("Antwerp Trader", "Dubai Trader", ["P1"])  # BE -> AE: both in good standing
    assert world.parcel("P1")["holder"] == "Dubai Trader"
    report = world.verify()  # the crossing appended before the suspension stays valid
    assert report.size == world.ledger.size()


# ---------------------------------------------------------------------------
# Bounded certificates, never self-issued (R-KP-6, R-PA-1)


def test_certificate_validity_is_bounded(world: World) -> None:
    _rough(world)
    with world.rejected("R-KP-6") as info:
        _certify(world, ["P1"], expires=date_at(world.now + 400 * DAY))
    assert "cert-validity-days" in info.value.message
    _certify(world, ["P1"], expires=date_at(world.now + 60 * DAY))


def test_the_bound_is_a_rule_parameter_with_an_effective_date(world: World) -> None:
    _rough(world)
    _rough(world, "P2")
    world.set_param("cert-validity-days", 90, date_at(world.now + DAY))
    with world.rejected("R-KP-6"):  # not yet in force
        _certify(world, ["P1"], expires=date_at(world.now + 80 * DAY))
    world.advance(2 * DAY)
    _certify(world, ["P2"], expires=date_at(world.now + 80 * DAY))
    params = {p["name"]: p for p in world.ledger.parameters(world.today)}
    assert params["cert-validity-days"]["value"] == 90
    assert params["confirm-days"]["value"] == 30  # the default


def test_parameter_changes_are_never_retroactive_nor_out_of_range(world: World) -> None:
    with world.rejected("R-PA-1"):
        world.set_param("cert-validity-days", 90, date_at(world.now - DAY))
    with world.rejected("R-PA-1"):
        world.set_param("cert-validity-days", 0, world.today)
    with world.rejected("R-PA-1"):
        world.set_param("mass-tolerance-ppm", 10_001, world.today)
    world.set_param("confirm-days", 10, date_at(world.now + 10 * DAY))
    with world.rejected("R-PA-1"):  # not after the last change
        world.set_param("confirm-days", 12, date_at(world.now + 10 * DAY))
    with world.rejected("R-ID-3"):
        world.act("param.set", {"name": "confirm-days", "value": 5, "from": world.today}, "Jwaneng")


def test_an_authority_cannot_certify_its_own_export(world: World) -> None:
    world.add_participant("BW Trading Authority", ("authority", "trader"), "BW", seed=90)
    world.origin("Jwaneng", "P1")
    world.ship("Jwaneng", "BW Trading Authority", ["P1"])
    with world.rejected("R-KP-6") as info:
        world.certify(
            "BW Trading Authority", "Antwerp Trader", ["P1"], authority="BW Trading Authority"
        )
    assert "cannot certify a shipment it exports or imports" in info.value.message
    world.certify("BW Trading Authority", "Antwerp Trader", ["P1"])  # the BW authority may


# ---------------------------------------------------------------------------
# Compromised keys (R-ID-2)


def test_compromise_cannot_postdate_the_revocation(world: World) -> None:
    with world.rejected("R-ID-2"):
        world.revoke("Dubai Trader", compromised_since=world.now + HOUR)


def test_certificates_of_a_revoked_authority_are_unusable(world: World) -> None:
    _rough(world)
    number = _certify(world, ["P1"])
    world.revoke(authority_of("BW"), reason="key stolen", compromised_since=world.now - DAY)
    with world.rejected("R-ID-2") as info:
        world.transfer("Jwaneng", "Antwerp Trader", ["P1"], certificate=number)
    assert "cannot be used for a crossing" in info.value.message


def test_an_offer_of_a_revoked_participant_cannot_be_accepted(world: World) -> None:
    _rough(world)
    world.ship("Jwaneng", "Antwerp Trader", ["P1"])
    cert = world.certify("Antwerp Trader", "Dubai Trader", ["P1"])
    number = str(cert.entry.fields["number"])
    offer = world.transfer("Antwerp Trader", "Dubai Trader", ["P1"], certificate=number)
    world.revoke("Antwerp Trader", reason="left the trade")
    with world.rejected("R-ID-2") as info:
        world.accept("Dubai Trader", offer)
    assert "can no longer be accepted" in info.value.message


def _stolen_key_story(world: World) -> tuple[int, str]:
    """Antwerp Trader's key is stolen at T; the thief splits and sells on; a clean parcel
    stays clean. Returns T and the certificate the thief's goods never needed."""
    _rough(world, "P1")
    _rough(world, "P2")
    world.ship("Jwaneng", "Antwerp Trader", ["P1", "P2"])
    world.advance(DAY)
    stolen = world.now
    world.advance(HOUR)
    world.split("Antwerp Trader", "P1", [("P1a", 5_000), ("P1b", 5_000)])  # by the thief
    world.ship("Antwerp Trader", "Dubai Trader", ["P1a"])
    world.advance(DAY)
    world.revoke("Antwerp Trader", reason="key stolen", compromised_since=stolen)
    return stolen, "P1a"


def test_compromise_quarantines_every_descendant(world: World) -> None:
    _stolen_key_story(world)
    report = world.verify()
    assert set(report.quarantined) == {"P1", "P1a", "P1b"}
    void = report.quarantined["P1a"]
    assert void.type == "split" and void.signer == "Antwerp Trader"
    trace = world.ledger.trace("P1a")
    assert [v.type for v in trace.quarantine] == ["split", "transfer"]
    assert world.ledger.trace("P2").quarantine == []  # received before the theft


def test_a_parcel_merged_with_a_quarantined_one_shares_its_verdict(world: World) -> None:
    """A merge consumes its inputs together: the state each input ends in is made by the
    merge, whose ancestry holds the void offer (specs/proof-bundle.md §3). ``verify`` (one
    forward pass) and each item's own ancestry (``trace``) agree; a parcel left out of the
    merge stays clean."""
    for pid in ("P1", "P3", "P4"):
        _rough(world, pid)
    world.ship("Jwaneng", "Antwerp Trader", ["P1"])
    world.ship("Jwaneng", "Dubai Trader", ["P3", "P4"])
    world.advance(DAY)
    stolen = world.now
    world.advance(HOUR)
    world.ship("Antwerp Trader", "Dubai Trader", ["P1"])  # offered by the thief
    world.advance(DAY)
    world.revoke("Antwerp Trader", reason="key stolen", compromised_since=stolen)
    world.merge("Dubai Trader", ["P1", "P3"], "M")
    report = world.verify()
    assert set(report.quarantined) == {"P1", "P3", "M"}
    for pid in ("P1", "P3", "M"):
        assert [v.type for v in world.ledger.trace(pid).quarantine] == ["transfer"], pid
    assert world.ledger.trace("P4").quarantine == []


def test_a_quarantined_item_fails_verify_proof_with_the_rule(world: World) -> None:
    _stolen_key_story(world)
    world.ledger.checkpoint(world.keys[OPERATOR])
    data = world.ledger.prove("P1a")
    report = proofs.inspect_bundle(data, world.ledger.verifier())
    assert {f.rule for f in report.policy_failures} == {"R-ID-2"}
    assert len(report.policy_failures) == len(report.quarantine) == 2  # the split, the offer
    assert report.quarantine and report.quarantine[0].signer == "Antwerp Trader"
    with pytest.raises(PolicyError) as info:
        proofs.verify_bundle(data, world.ledger.verifier())
    assert info.value.rule == "R-ID-2" and "quarantined" in info.value.message
    clean = proofs.verify_bundle(world.ledger.prove("P2"), world.ledger.verifier())
    assert clean.quarantine == []


def test_backdating_does_not_hide_a_forged_entry(world: World) -> None:
    """The thief claims a time before the compromise; the append time gives it away."""
    _rough(world)
    world.ship("Jwaneng", "Antwerp Trader", ["P1"])
    world.advance(DAY)
    stolen = world.now
    world.advance(HOUR)
    world.act(
        "split",
        {
            "input": world.ref("P1"),
            "outputs": [{"parcel": "X", "carats": 5_000}, {"parcel": "Y", "carats": 5_000}],
        },
        "Antwerp Trader",
        time=stolen - DAY,
    )
    world.revoke("Antwerp Trader", compromised_since=stolen)
    assert set(world.verify().quarantined) == {"P1", "X", "Y"}


def test_a_forged_certificate_quarantines_the_goods_it_moved(world: World) -> None:
    """The stolen authority key certifies a shipment before anyone notices."""
    _rough(world)
    world.advance(DAY)
    stolen = world.now
    number = _certify(world, ["P1"])
    offer = world.transfer("Jwaneng", "Antwerp Trader", ["P1"], certificate=number)
    world.accept("Antwerp Trader", offer)
    world.revoke(authority_of("BW"), reason="key stolen", compromised_since=stolen)
    report = world.verify()
    assert report.quarantined["P1"].type == "certificate.issue"
    assert [v.type for v in world.ledger.trace("P1").quarantine] == ["certificate.issue"]


# ---------------------------------------------------------------------------
# Import confirmation (R-KP-3)


def _crossed(world: World) -> str:
    _rough(world)
    number = _certify(world, ["P1"])
    offer = world.transfer("Jwaneng", "Antwerp Trader", ["P1"], certificate=number)
    world.accept("Antwerp Trader", offer)
    return number


def test_the_importing_authority_confirms_receipt(world: World) -> None:
    number = _crossed(world)
    world.confirm(authority_of("BE"), number, carats=9_996)  # within τ = 5 points
    assert "confirmed" in world.ledger.certificate(number)
    history = [e.type for _, e in world.ledger.history("P1")]
    assert history[-1] == "certificate.confirm"


def test_a_confirmation_that_contradicts_the_shipment_is_refused(world: World) -> None:
    number = _crossed(world)
    with world.rejected("R-KP-3") as info:
        world.confirm(authority_of("BW"), number)  # the exporting side
    assert "only an authority of BE" in info.value.message
    with world.rejected("R-KP-3"):
        world.confirm(authority_of("BE"), number, carats=9_000)  # mass missing
    with world.rejected("R-KP-3"):
        world.confirm(authority_of("BE"), number, count=2)
    with world.rejected("R-KP-3"):
        world.confirm(authority_of("BE"), number, shipment=b"\x01" * 32)
    with world.rejected("R-ID-1"):
        world.confirm("Antwerp Trader", number)
    world.confirm(authority_of("BE"), number)
    with world.rejected("R-KP-3"):
        world.confirm(authority_of("BE"), number)  # once


def test_no_confirmation_before_the_shipment_is_accepted(world: World) -> None:
    _rough(world)
    number = _certify(world, ["P1"])
    with world.rejected("R-KP-3"):
        world.confirm(authority_of("BE"), number, shipment=b"\x02" * 32)
    world.transfer("Jwaneng", "Antwerp Trader", ["P1"], certificate=number)
    with world.rejected("R-KP-3") as info:
        world.confirm(authority_of("BE"), number)
    assert "pending, not accepted" in info.value.message


def test_verify_warns_on_overdue_confirmations(world: World) -> None:
    number = _crossed(world)
    assert world.verify().unconfirmed == []
    world.advance(31 * DAY)
    world.origin("Diavik", "C1")  # the log's clock moves on
    report = world.verify()
    assert report.unconfirmed == [(number, 31)] and report.warnings["R-KP-3"] == 1
    world.confirm(authority_of("BE"), number)
    assert world.verify().unconfirmed == []


def test_policy_can_require_every_import_confirmed(world: World) -> None:
    number = _crossed(world)
    policy = parse_policy("quorum none\nrequire import-confirmed\n")
    world.ledger.checkpoint(world.keys[OPERATOR])
    with pytest.raises(PolicyError) as info:
        proofs.verify_bundle(world.ledger.prove("P1"), world.ledger.verifier(), buyer_policy=policy)
    assert info.value.rule == "R-KP-3" and number in info.value.message
    world.confirm(authority_of("BE"), number)
    world.ledger.checkpoint(world.keys[OPERATOR])
    report = proofs.verify_bundle(
        world.ledger.prove("P1"), world.ledger.verifier(), buyer_policy=policy
    )
    assert report.certificates[0]["confirmed"] is True


def test_overdue_confirmations_follow_the_parameter(world: World) -> None:
    state = rules.State()
    state.put("param", "confirm-days", [["2026-01-01", 10]])
    cert = {"number": "BW1", "accepted": 1_767_225_600_000}  # 2026-01-01
    late = rules.overdue_confirmations([cert], state, 1_767_225_600_000 + 11 * DAY)  # type: ignore[list-item]
    assert late == [("BW1", 11)]
    assert rules.overdue_confirmations([cert], state, 1_767_225_600_000 + 10 * DAY) == []  # type: ignore[list-item]
