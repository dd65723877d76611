"""Every rule ID of specs/rules.md: one accepted and at least one rejected case each.

Rejections go through ``World.rejected``, which asserts the ``RuleError.rule`` (or the
``ChainError.rule``) and that the ledger's size, Merkle root and derived state are
unchanged. WARN rules assert the finding on an accepted entry. The verify-time IDs
(R-CH-1, R-EN-1, R-ST-1, R-ST-2 and R-CH-2 for stored tiles) live in
``test_tamper_rules.py``; :func:`test_every_rule_id_is_tested` checks that together the
two files name every ID the code raises.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ledger.core import rules
from ledger.core.keys import PrivateKey
from ledger.core.model import Body, Signature, SignedEntry, sign_body
from ledger.core.rules import MAX_SKEW_MS, OFFER_TTL_MS, PPM
from ledger.errors import ChainError, EncodingError, NotFoundError, RuleError
from tests.conftest import DAY, HOUR, MINUTE, OPERATOR, ORIGIN, World, date_at, fixed_key

BW, BE = "Jwaneng", "Antwerp Trader"


@pytest.fixture
def p1(world: World) -> str:
    """A rough parcel of 100 ct (20 stones) held by the Jwaneng mine in Botswana."""
    world.origin("Jwaneng", "P1", carats=10_000, stones=20)
    return "P1"


@pytest.fixture
def polished(world: World) -> list[str]:
    """Two polished stones S1, S2 (and byproduct B1) held by the cutter in India."""
    world.origin("Jwaneng", "R1", carats=10_000, stones=10)
    world.ship("Jwaneng", "Surat Cutter", ["R1"])
    world.cut("Surat Cutter", ["R1"], [("S1", 2_000), ("S2", 1_500)], byproducts=[("B1", 3_000)])
    return ["S1", "S2"]


def origin_fields(parcel: str, carats: int = 1_000) -> dict[str, object]:
    return {"parcel": parcel, "carats": carats, "stones": 2, "mine": "pit 1", "hs": "7102.10"}


# ---------------------------------------------------------------------------
# R-ID: identity, keys, registry


class TestIdentity:
    def test_R_ID_1_registered_key_with_role_accepted(self, world: World) -> None:
        appended = world.origin("Jwaneng", "P1")
        assert appended.warnings == ()
        assert world.parcel("P1")["holder"] == "Jwaneng"

    def test_R_ID_1_unknown_signer(self, world: World) -> None:
        mallory = PrivateKey("Mallory", bytes([200]) * 32)
        with world.rejected("R-ID-1"):
            world.act("origin", origin_fields("P1"), mallory)

    def test_R_ID_1_cosignature_by_unknown_key(self, world: World) -> None:
        mallory = PrivateKey("Mallory", bytes([200]) * 32)
        with world.rejected("R-ID-1"):
            world.act("origin", origin_fields("P1"), "Jwaneng", cosigners=[mallory])

    def test_R_ID_1_bad_signature(self, world: World) -> None:
        good = world.sign("origin", origin_fields("P1"), "Jwaneng")
        sig = good.sigs[0]
        forged = Signature(sig.kid, sig.sig[:10] + bytes([sig.sig[10] ^ 1]) + sig.sig[11:])
        entry = SignedEntry.build(good.body_bytes, [forged])
        with world.rejected("R-ID-1"):
            world.append(entry)

    def test_signer_must_sign_its_own_entry(self, world: World) -> None:
        # The body names Jwaneng but only Diavik signs: not even a well-formed entry.
        body = Body("origin", ORIGIN, world.keys["Jwaneng"].kid, world.now, origin_fields("P1"))
        with pytest.raises(EncodingError):
            sign_body(body, [world.keys["Diavik"].seed])

    @pytest.mark.parametrize("signer", ["Gaborone Trader", "BW KP Authority", OPERATOR])
    def test_R_ID_1_wrong_role_for_origin(self, world: World, signer: str) -> None:
        with world.rejected("R-ID-1"):
            world.act("origin", origin_fields("P1"), signer)

    def test_R_ID_1_wrong_role_to_cut_grade_sell_certify(self, world: World, p1: str) -> None:
        with world.rejected("R-ID-1"):
            world.cut("Jwaneng", [p1], [("S1", 3_000)])
        world.ship("Jwaneng", "Antwerp Trader", [p1])
        with world.rejected("R-ID-1"):
            world.grade("Antwerp Trader", p1)
        with world.rejected("R-ID-1"):
            world.sell("Antwerp Trader", p1)
        world.origin("Jwaneng", "P2")
        with world.rejected("R-ID-1"):
            world.certify("Jwaneng", "Antwerp Trader", ["P2"], authority="Gaborone Trader")

    @pytest.mark.parametrize("receiver", ["BW KP Authority", "Diavik", OPERATOR])
    def test_R_ID_1_receiver_without_custody_role(
        self, world: World, p1: str, receiver: str
    ) -> None:
        with world.rejected("R-ID-1"):
            world.transfer("Jwaneng", receiver, [p1])

    def test_R_ID_2_revoked_key(self, world: World) -> None:
        world.origin("Jwaneng", "P1")
        world.revoke("Jwaneng", reason="key compromised")
        assert world.ledger.party("Jwaneng")["revoked"] is not None
        with world.rejected("R-ID-2"):
            world.origin("Jwaneng", "P2")
        world.origin("Diavik", "P3")  # others are unaffected

    def test_R_ID_2_revoked_receiver_and_revoking_twice(self, world: World, p1: str) -> None:
        world.revoke("Gaborone Trader")
        with world.rejected("R-ID-2"):
            world.transfer("Jwaneng", "Gaborone Trader", [p1])
        with world.rejected("R-ID-2"):
            world.revoke("Gaborone Trader")
        with world.rejected("R-ID-2"):
            world.rotate("Gaborone Trader", seed=150)

    def test_R_ID_2_cosignature_by_a_key_out_of_force(self, world: World) -> None:
        old = world.keys["Diavik"]
        world.rotate("Diavik", seed=150)
        with world.rejected("R-ID-2"):
            world.act("origin", origin_fields("P1"), "Jwaneng", cosigners=[old])
        world.act("origin", origin_fields("P1"), "Jwaneng", cosigners=["Diavik"])

    def test_R_ID_2_rotated_key(self, world: World) -> None:
        old = world.keys["Jwaneng"]
        world.rotate("Jwaneng", seed=150)
        with world.rejected("R-ID-2") as info:
            world.act("origin", origin_fields("P1"), old)
        assert "rotated out" in info.value.message
        world.origin("Jwaneng", "P1")  # the new key
        assert world.ledger.party("Jwaneng")["kid"] == fixed_key("Jwaneng", 150).kid

    def test_rotation_keeps_custody(self, world: World, p1: str) -> None:
        world.rotate("Jwaneng", seed=150)
        world.split("Jwaneng", p1, [("A", 5_000), ("B", 5_000)])
        assert world.parcel("A")["holder"] == "Jwaneng"

    def test_R_ID_3_registry_change_by_non_operator(self, world: World) -> None:
        key = fixed_key("Newco", 150)
        fields = {"name": "Newco", "pub": key.public, "roles": ["trader"], "country": "BE"}
        with world.rejected("R-ID-3"):
            world.act("participant.add", fields, "BE KP Authority")
        with world.rejected("R-ID-3"):
            world.act(
                "kp-status.set",
                {"country": "RU", "status": "suspended", "from": "2026-01-01"},
                "RU KP Authority",
            )
        with world.rejected("R-ID-3"):
            world.act("participant.revoke", {"name": "Diavik"}, "Jwaneng")
        with world.rejected("R-ID-3"):
            world.act(
                "participant.rotate",
                {"name": "Jwaneng", "pub": key.public},
                "Jwaneng",
            )
        world.act("participant.add", fields, OPERATOR)
        assert world.ledger.party("Newco")["country"] == "BE"

    def test_R_ID_3_operator_cannot_be_revoked_or_rotated(self, world: World) -> None:
        with world.rejected("R-ID-3"):
            world.revoke(OPERATOR)
        with world.rejected("R-ID-3"):
            world.rotate(OPERATOR, seed=150, cosign_old=False)
        world.set_kp_status("RU", "participant", "2026-01-01")  # the operator still works

    def test_R_ID_3_genesis_signed_by_another_key(self) -> None:
        operator, other = fixed_key(OPERATOR, 1), fixed_key("Other", 2)
        body = Body("genesis", ORIGIN, other.kid, 0, {"operator": operator.public, "name": "op"})
        state = rules.State()
        with pytest.raises(RuleError) as info:
            rules.apply(state, sign_body(body, [other.seed]), index=0, now=0)
        assert info.value.rule == "R-ID-3"
        good = Body("genesis", ORIGIN, operator.kid, 0, {"operator": operator.public, "name": "op"})
        rules.apply(state, sign_body(good, [operator.seed]), index=0, now=0)

    def test_R_ID_5_rotation_needs_old_key(self, world: World) -> None:
        with world.rejected("R-ID-5"):
            world.rotate("Jwaneng", seed=150, cosign_old=False)
        with world.rejected("R-ID-5"):  # a co-signature by someone else does not do
            world.act(
                "participant.rotate",
                {"name": "Jwaneng", "pub": fixed_key("Jwaneng", 150).public},
                OPERATOR,
                cosigners=["Diavik"],
            )
        world.rotate("Jwaneng", seed=150)

    def test_R_ID_6_registry_consistency(self, world: World) -> None:
        jwaneng = world.keys["Jwaneng"]
        with world.rejected("R-ID-6"):  # name taken
            world.add_participant("Jwaneng", ["mine"], "BW", seed=150)
        with world.rejected("R-ID-6"):  # key taken
            world.act(
                "participant.add",
                {"name": "Clone", "pub": jwaneng.public, "roles": ["trader"], "country": "BW"},
                OPERATOR,
            )
        with world.rejected("R-ID-6"):  # unknown participant
            world.revoke("Nobody")
        with world.rejected("R-ID-6"):
            world.act(
                "participant.rotate",
                {"name": "Nobody", "pub": fixed_key("x", 150).public},
                OPERATOR,
            )
        with world.rejected("R-ID-6"):  # rotate onto a registered key
            world.act(
                "participant.rotate",
                {"name": "Jwaneng", "pub": world.keys["Diavik"].public},
                OPERATOR,
                cosigners=["Jwaneng"],
            )
        world.add_participant("Orapa", ["mine"], "BW", seed=150)

    def test_R_ID_6_unusable_public_key(self, world: World) -> None:
        identity_point = b"\x01" + b"\x00" * 31  # small order: signs for every message
        fields = {"name": "Weak", "pub": identity_point, "roles": ["trader"], "country": "BE"}
        with world.rejected("R-ID-6"):
            world.act("participant.add", fields, OPERATOR)


# ---------------------------------------------------------------------------
# R-EN, R-CH, R-TM: envelope, chain and time


class TestEnvelopeChainTime:
    def test_R_EN_2_entry_for_another_ledger(self, world: World) -> None:
        entry = world.sign("origin", origin_fields("P1"), "Jwaneng", origin="other.example/log")
        with world.rejected("R-EN-2"):
            world.append(entry)
        world.append(world.sign("origin", origin_fields("P1"), "Jwaneng"))

    def test_R_CH_4_genesis_only_first(self, world: World) -> None:
        op = world.keys[OPERATOR]
        fields = {"operator": op.public, "name": OPERATOR}
        with world.rejected("R-CH-4"):
            world.act("genesis", fields, OPERATOR)
        assert world.ledger.size() > 1  # the first genesis was accepted

    def test_R_CH_4_first_record_must_be_genesis(self) -> None:
        key = fixed_key("Jwaneng", 30)
        entry = sign_body(Body("origin", ORIGIN, key.kid, 0, origin_fields("P1")), [key.seed])
        with pytest.raises(RuleError) as info:
            rules.apply(rules.State(), entry, index=0, now=0)
        assert info.value.rule == "R-CH-4"

    def test_R_CH_3_same_entry_twice(self, world: World) -> None:
        entry = world.sign("origin", origin_fields("P1"), "Jwaneng")
        world.append(entry)
        with world.rejected("R-CH-3", ChainError):
            world.append(entry)
        other = world.sign("origin", origin_fields("P2"), "Jwaneng")
        with world.rejected("R-CH-3", ChainError):
            world.append_all([other, other])
        world.append(other)

    def test_R_TM_1_claimed_time_in_the_future(self, world: World) -> None:
        with world.rejected("R-TM-1"):
            world.act("origin", origin_fields("P1"), "Jwaneng", time=world.now + MAX_SKEW_MS + 1)
        world.act("origin", origin_fields("P1"), "Jwaneng", time=world.now + MAX_SKEW_MS)

    def test_R_TM_2_entry_before_the_parcels_last_event(self, world: World, p1: str) -> None:
        created = world.parcel(p1)["time"]
        world.advance(HOUR)
        outputs = [{"parcel": "A", "carats": 5_000}, {"parcel": "B", "carats": 5_000}]
        fields = {"input": world.ref(p1), "outputs": outputs}
        with world.rejected("R-TM-2"):
            world.act("split", fields, "Jwaneng", time=created - MAX_SKEW_MS - 1)
        world.act("split", fields, "Jwaneng", time=created - MAX_SKEW_MS)  # within the skew
        assert world.parcel("A")["carats"] == 5_000

    def test_R_TM_3_offer_expires_after_30_days(self, world: World, p1: str) -> None:
        offer = world.transfer("Jwaneng", "Gaborone Trader", [p1])
        sent = offer.entry.body.time
        last = sent + OFFER_TTL_MS
        world.advance(OFFER_TTL_MS + DAY)
        with world.rejected("R-TM-3"):
            world.accept("Gaborone Trader", offer)
        with world.rejected("R-TM-4"):  # a back-dated claimed time does not help
            world.accept("Gaborone Trader", offer, time=sent + DAY)
        with world.rejected("R-TM-3"):  # not even within R-TM-4's window: judged at append
            world.accept("Gaborone Trader", offer, time=sent + 2 * DAY)
        world.act("accept", {"transfer": offer.entry.id}, "Gaborone Trader", time=last, now=last)
        assert world.parcel(p1)["holder"] == "Gaborone Trader"

    def test_R_TM_3_answer_must_follow_the_offer(self, world: World, p1: str) -> None:
        offer = world.transfer("Jwaneng", "Gaborone Trader", [p1])
        sent = offer.entry.body.time
        world.advance(HOUR)
        with world.rejected("R-TM-3"):
            world.accept("Gaborone Trader", offer, time=sent - MAX_SKEW_MS - 1)
        with world.rejected("R-TM-3"):
            world.act("cancel", {"transfer": offer.entry.id}, "Jwaneng", time=sent - HOUR)
        world.accept("Gaborone Trader", offer)


# ---------------------------------------------------------------------------
# R-CU: custody and state


class TestCustody:
    def test_R_CU_1_only_the_custodian(self, world: World, p1: str) -> None:
        with world.rejected("R-CU-1"):
            world.split("Diavik", p1, [("A", 5_000), ("B", 5_000)])
        with world.rejected("R-CU-1"):
            world.transfer("Gaborone Trader", "Antwerp Trader", [p1])
        world.ship("Jwaneng", "Gaborone Trader", [p1])
        with world.rejected("R-CU-1"):  # the former holder
            world.split("Jwaneng", p1, [("A", 5_000), ("B", 5_000)])
        world.split("Gaborone Trader", p1, [("A", 5_000), ("B", 5_000)])

    def test_R_CU_2_locked_while_offered(self, world: World, p1: str) -> None:
        offer = world.transfer("Jwaneng", "Gaborone Trader", [p1])
        assert world.parcel(p1)["status"] == "locked"
        with world.rejected("R-CU-2"):
            world.split("Jwaneng", p1, [("A", 5_000), ("B", 5_000)])
        with world.rejected("R-CU-2"):
            world.transfer("Jwaneng", "Gaborone Trader", [p1])
        with world.rejected("R-CU-2"):
            world.accept("Antwerp Trader", offer)  # not the receiver
        with world.rejected("R-CU-2"):
            world.reject("Jwaneng", offer)  # the sender cannot reject
        with world.rejected("R-CU-2"):
            world.cancel("Gaborone Trader", offer)  # the receiver cannot cancel
        world.cancel("Jwaneng", offer)
        with world.rejected("R-CU-2"):
            world.accept("Gaborone Trader", offer)  # already cancelled
        assert world.parcel(p1)["status"] == "live"
        world.split("Jwaneng", p1, [("A", 5_000), ("B", 5_000)])

    def test_R_CU_2_answered_once(self, world: World, p1: str) -> None:
        offer = world.transfer("Jwaneng", "Gaborone Trader", [p1])
        world.reject("Gaborone Trader", offer, reason="wrong goods")
        assert world.parcel(p1)["holder"] == "Jwaneng"
        with world.rejected("R-CU-2"):
            world.accept("Gaborone Trader", offer)
        offer = world.transfer("Jwaneng", "Gaborone Trader", [p1])
        world.accept("Gaborone Trader", offer)
        with world.rejected("R-CU-2"):
            world.accept("Gaborone Trader", offer)
        assert world.parcel(p1)["holder"] == "Gaborone Trader"

    def test_R_CU_3_double_spend(self, world: World, p1: str) -> None:
        ref = world.ref(p1)
        world.split("Jwaneng", p1, [("A", 5_000), ("B", 5_000)], ref=ref)
        assert world.parcel(p1)["status"] == "consumed"
        with world.rejected("R-CU-3"):
            world.split("Jwaneng", p1, [("C", 5_000), ("D", 5_000)], ref=ref)
        with world.rejected("R-CU-3"):
            world.transfer("Jwaneng", "Gaborone Trader", [p1], refs=[ref])

    def test_R_CU_3_stale_head(self, world: World, p1: str) -> None:
        stale = world.ref(p1)
        world.ship("Jwaneng", "Gaborone Trader", [p1])
        with world.rejected("R-CU-3"):
            world.split("Gaborone Trader", p1, [("A", 5_000), ("B", 5_000)], ref=stale)
        world.split("Gaborone Trader", p1, [("A", 5_000), ("B", 5_000)])

    def test_R_CU_3_double_spend_in_one_batch(self, world: World, p1: str) -> None:
        ref = world.ref(p1)
        first = world.sign(
            "split",
            {"input": ref, "outputs": [{"parcel": "A", "carats": 1}, {"parcel": "B", "carats": 1}]},
            "Jwaneng",
        )
        second = world.sign(
            "transfer", {"to": "Gaborone Trader", "inputs": [ref]}, "Jwaneng", time=world.now + 1
        )
        with world.rejected("R-CU-3"):
            world.append_all([first, second])
        world.append_all([first])

    def test_R_CU_3_sold_stone(self, world: World, polished: list[str]) -> None:
        stone = polished[0]
        world.ship("Surat Cutter", "New York Retailer", [stone], warranty="2021")
        ref = world.ref(stone)
        world.sell("New York Retailer", stone, price_usd_cents=500_000)
        with world.rejected("R-CU-3"):
            world.sell("New York Retailer", stone)
        with world.rejected("R-CU-3"):
            world.transfer("New York Retailer", "New York Lab", [stone], refs=[ref])

    def test_R_CU_6_unknown_things(self, world: World, p1: str) -> None:
        ghost = {"parcel": "GHOST", "head": b"\x07" * 32}
        with world.rejected("R-CU-6"):
            world.split("Jwaneng", "GHOST", [("A", 1), ("B", 1)], ref=ghost)
        with world.rejected("R-CU-6"):
            world.accept("Gaborone Trader", b"\x07" * 32)
        fields = world.certificate_fields("Jwaneng", "Antwerp Trader", [p1])
        fields["parcels"] = [p1, "GHOST"]
        with world.rejected("R-CU-6"):
            world.act("certificate.issue", fields, "BW KP Authority")
        with pytest.raises(NotFoundError) as info:
            world.parcel("GHOST")
        assert info.value.rule == "R-CU-6"

    def test_R_CU_7_ids_are_never_reused(self, world: World, p1: str) -> None:
        with world.rejected("R-CU-7"):
            world.origin("Diavik", p1)
        with world.rejected("R-CU-7"):
            world.split("Jwaneng", p1, [("A", 5_000), (p1, 5_000)])
        world.split("Jwaneng", p1, [("A", 5_000), ("B", 5_000)])
        with world.rejected("R-CU-7"):  # not even once the parcel is consumed
            world.origin("Jwaneng", p1)

    def test_R_CU_8_receiver(self, world: World, p1: str) -> None:
        with world.rejected("R-CU-8"):
            world.transfer("Jwaneng", "Nobody Ltd", [p1])
        world.add_participant("Jwaneng Sales", ["mine", "trader"], "BW", seed=150)
        world.ship("Jwaneng", "Jwaneng Sales", [p1])
        with world.rejected("R-CU-8"):
            world.transfer("Jwaneng Sales", "Jwaneng Sales", [p1])
        world.ship("Jwaneng Sales", "Gaborone Trader", [p1])


# ---------------------------------------------------------------------------
# R-MB: mass balance


class TestMassBalance:
    # τ of R-MB-1 at the default parameters: max(1 point per weighed output, 0.05 % of
    # the input). For the 100-ct P1: 5 points.

    def test_R_MB_1_split(self, world: World, p1: str) -> None:
        with world.rejected("R-MB-1"):
            world.split("Jwaneng", p1, [("A", 6_000), ("B", 4_006)])  # 6 points over τ=5
        done = world.split("Jwaneng", p1, [("A", 6_000), ("B", 4_005)])  # within τ
        assert world.parcel("B")["carats"] == 4_005
        assert [w.rule for w in done.warnings] == []

    def test_R_MB_1_split_loss_beyond_tolerance_is_a_warning(self, world: World, p1: str) -> None:
        done = world.split("Jwaneng", p1, [("A", 6_000), ("B", 3_490)])  # 5.10 ct lost
        assert [w.rule for w in done.warnings] == ["R-MB-1"]
        assert "5.10 ct less than the 100.00 ct" in done.warnings[0].message
        stored = [rule for _, rule, _ in world.ledger.store.findings(done.index)]
        assert stored == ["R-MB-1"]
        assert world.verify().warnings["R-MB-1"] == 1

    def test_R_MB_1_split_loss_within_tolerance_is_silent(self, world: World, p1: str) -> None:
        done = world.split("Jwaneng", p1, [("A", 6_000), ("B", 3_995)])
        assert done.warnings == ()

    def test_R_MB_1_merge(self, world: World) -> None:
        world.origin("Jwaneng", "P1", carats=4_000)
        world.origin("Jwaneng", "P2", carats=6_000)
        with world.rejected("R-MB-1"):
            world.merge("Jwaneng", ["P1", "P2"], "M", carats=10_006)
        with world.rejected("R-MB-1"):
            world.merge("Jwaneng", ["P1"], "M")
        world.merge("Jwaneng", ["P1", "P2"], "M", carats=10_005)
        assert world.parcel("M")["carats"] == 10_005

    def test_R_MB_1_merge_declared_loss_is_a_warning(self, world: World) -> None:
        world.origin("Jwaneng", "P1", carats=4_000)
        world.origin("Jwaneng", "P2", carats=6_000)
        done = world.merge("Jwaneng", ["P1", "P2"], "M", carats=9_000)
        assert [w.rule for w in done.warnings] == ["R-MB-1"]

    def test_R_MB_1_grading_cannot_add_weight(self, world: World, polished: list[str]) -> None:
        stone = polished[0]
        world.ship("Surat Cutter", "New York Lab", [stone], warranty="2021")
        with world.rejected("R-MB-1"):
            world.grade("New York Lab", stone, carats=2_002)  # τ = 1 point for one weighing
        done = world.grade("New York Lab", stone, report="GIA-123", carats=1_990)
        assert world.parcel(stone)["carats"] == 1_990
        assert world.parcel(stone)["report"] == "GIA-123"
        assert done.warnings == ()  # the lab's weight replaces the cutter's: no loss

    def test_R_MB_1_tolerance_is_a_rule_parameter(self, world: World, p1: str) -> None:
        world.set_param("mass-tolerance-ppm", 0, world.today)
        world.set_param("mass-tolerance-points", 0, date_at(world.now + 2 * DAY))
        with world.rejected("R-MB-1"):  # τ = 2 points for two outputs, 5 over
            world.split("Jwaneng", p1, [("A", 6_000), ("B", 4_005)])
        world.advance(3 * DAY)
        with world.rejected("R-MB-1"):  # τ = 0 now
            world.split("Jwaneng", p1, [("A", 6_000), ("B", 4_001)])
        done = world.split("Jwaneng", p1, [("A", 6_000), ("B", 3_999)])
        assert [w.rule for w in done.warnings] == ["R-MB-1"]

    def test_R_MB_2_cut(self, world: World, p1: str) -> None:
        world.ship("Jwaneng", "Surat Cutter", [p1])
        with world.rejected("R-MB-2"):
            world.cut("Surat Cutter", [p1], [("S1", 4_000)], byproducts=[("B1", 6_006)])
        world.cut("Surat Cutter", [p1], [("S1", 4_000)], byproducts=[("B1", 6_005)])
        assert world.parcel("B1")["kind"] == "byproduct"
        assert world.parcel("B1")["hs"] == "7102.21"

    def test_R_MB_3_split_and_merge_stone_counts(self, world: World) -> None:
        world.origin("Jwaneng", "P1", carats=10_000, stones=4)
        with world.rejected("R-MB-3"):
            world.split("Jwaneng", "P1", [("A", 5_000, 3), ("B", 5_000, 2)])
        with world.rejected("R-MB-3"):  # stated counts alone already exceed the input
            world.split("Jwaneng", "P1", [("A", 5_000, 5), ("B", 5_000)])
        world.split("Jwaneng", "P1", [("A", 5_000, 2), ("B", 5_000, 2)])
        with world.rejected("R-MB-3"):
            world.merge("Jwaneng", ["A", "B"], "M", stones=5)
        world.merge("Jwaneng", ["A", "B"], "M", stones=3)
        assert world.parcel("M")["stones"] == 3

    def test_R_MB_3_three_polished_per_rough_stone(self, world: World) -> None:
        world.origin("Jwaneng", "R1", carats=10_000, stones=1)
        world.origin("Jwaneng", "R2", carats=10_000, stones=1)
        world.ship("Jwaneng", "Surat Cutter", ["R1", "R2"])
        four = [(f"S{i}", 800) for i in range(4)]
        with world.rejected("R-MB-3"):
            world.cut("Surat Cutter", ["R1"], four)
        with world.rejected("R-MB-3"):
            world.cut("Surat Cutter", ["R1"], [("S0", 3_000, 2)])
        world.cut("Surat Cutter", ["R1"], four[:3])
        world.cut("Surat Cutter", ["R2"], [("T0", 3_000, 1)])

    def test_R_MB_6_kind_of_goods(self, world: World, polished: list[str]) -> None:
        s1, s2 = polished
        with world.rejected("R-MB-6"):
            world.split("Surat Cutter", s1, [("A", 1_000), ("B", 1_000)])
        with world.rejected("R-MB-6"):
            world.merge("Surat Cutter", [s1, s2], "M")
        with world.rejected("R-MB-6"):
            world.cut("Surat Cutter", [s1], [("X", 500)])
        with world.rejected("R-MB-6"):  # byproducts are not re-cut
            world.cut("Surat Cutter", ["B1"], [("X", 500)])
        world.split("Surat Cutter", "B1", [("B2", 1_500), ("B3", 1_500)])

    @pytest.mark.parametrize(
        ("polished_points", "flagged"),
        [(1_499, True), (1_500, False), (7_000, False), (7_100, True), (9_000, True)],
    )
    def test_R_MB_5_yield_window(
        self, world: World, p1: str, polished_points: int, flagged: bool
    ) -> None:
        world.ship("Jwaneng", "Surat Cutter", [p1])
        appended = world.cut("Surat Cutter", [p1], [("S1", polished_points)])
        assert ("R-MB-5" in [w.rule for w in appended.warnings]) is flagged
        stored = [rule for _, rule, _ in world.ledger.store.findings(appended.index)]
        assert stored == (["R-MB-5"] if flagged else [])
        assert world.verify().warnings["R-MB-5"] == int(flagged)


# ---------------------------------------------------------------------------
# R-GR, R-SL: grading and retail


class TestGradeSell:
    def test_R_GR_1_only_polished_is_graded(self, world: World, p1: str) -> None:
        world.ship("Jwaneng", "New York Lab", [p1])
        with world.rejected("R-GR-1"):
            world.grade("New York Lab", p1)

    def test_R_SL_1_only_polished_is_sold(self, world: World, p1: str, polished: list[str]) -> None:
        world.ship("Jwaneng", "New York Retailer", [p1])
        with world.rejected("R-SL-1"):
            world.sell("New York Retailer", p1)
        world.ship("Surat Cutter", "New York Retailer", [polished[0]], warranty="2021")
        world.sell("New York Retailer", polished[0])
        assert world.parcel(polished[0])["status"] == "sold"


# ---------------------------------------------------------------------------
# R-KP: Kimberley Process


class TestKimberley:
    def test_R_KP_1_origin_needs_good_standing(self, world: World) -> None:
        with world.rejected("R-KP-1") as info:
            world.origin("Carnot", "CF1")
        assert "suspended" in info.value.message
        world.add_participant("Zvishavane", ["mine"], "ZW", seed=150)
        with world.rejected("R-KP-1") as info:
            world.origin("Zvishavane", "ZW1")
        assert "not a KP participant" in info.value.message
        world.origin("Jwaneng", "BW1")

    def test_R_KP_1_status_is_read_at_the_entrys_date(self, world: World) -> None:
        world.set_kp_status("CA", "withdrawn", "2026-03-04")
        world.origin("Diavik", "CA1")  # 2 March: still a participant
        world.advance(2 * DAY)
        with world.rejected("R-KP-1"):
            world.origin("Diavik", "CA2")
        world.set_kp_status("CA", "participant", "2026-03-05")
        world.advance(DAY)
        world.origin("Diavik", "CA2")

    def test_R_KP_2_cross_border_rough_needs_a_certificate(self, world: World, p1: str) -> None:
        with world.rejected("R-KP-2"):
            world.transfer("Jwaneng", "Antwerp Trader", [p1])
        cert = world.certify("Jwaneng", "Antwerp Trader", [p1]).entry.fields["number"]
        offer = world.transfer("Jwaneng", "Antwerp Trader", [p1], certificate=cert)
        world.accept("Antwerp Trader", offer)
        assert world.ledger.transfer(offer.entry.id)["certificate"] == cert

    def test_R_KP_2_domestic_rough_needs_none(self, world: World, p1: str) -> None:
        offer = world.transfer("Jwaneng", "Gaborone Trader", [p1])
        assert offer.warnings == ()
        world.accept("Gaborone Trader", offer)

    def test_R_KP_2_polished_needs_none(self, world: World, polished: list[str]) -> None:
        world.ship("Surat Cutter", "New York Lab", polished, warranty="2021")

    def test_R_KP_2_foreign_certificate(self, world: World, p1: str) -> None:
        with world.rejected("R-KP-2"):
            world.transfer("Jwaneng", "Antwerp Trader", [p1], certificate="BW999999")

    def test_R_KP_2_certificate_used_once(self, world: World, p1: str) -> None:
        cert = world.certify("Jwaneng", "Antwerp Trader", [p1]).entry.fields["number"]
        offer = world.transfer("Jwaneng", "Antwerp Trader", [p1], certificate=cert)
        world.cancel("Jwaneng", offer)
        with world.rejected("R-KP-2") as info:
            world.transfer("Jwaneng", "Antwerp Trader", [p1], certificate=cert)
        assert "already used" in info.value.message

    def test_R_KP_2_certificate_of_another_exporter(self, world: World, p1: str) -> None:
        cert = world.certify("Jwaneng", "Antwerp Trader", [p1]).entry.fields["number"]
        world.ship("Jwaneng", "Gaborone Trader", [p1])
        with world.rejected("R-KP-2"):
            world.transfer("Gaborone Trader", "Antwerp Trader", [p1], certificate=cert)

    def test_R_KP_2_certificate_for_another_importer(self, world: World, p1: str) -> None:
        cert = world.certify("Jwaneng", "Antwerp Trader", [p1]).entry.fields["number"]
        with world.rejected("R-KP-2"):
            world.transfer("Jwaneng", "Dubai Trader", [p1], certificate=cert)

    def test_R_KP_2_certificate_for_other_parcels(self, world: World, p1: str) -> None:
        world.origin("Jwaneng", "P2")
        cert = world.certify("Jwaneng", "Antwerp Trader", [p1]).entry.fields["number"]
        with world.rejected("R-KP-2"):
            world.transfer("Jwaneng", "Antwerp Trader", [p1, "P2"], certificate=cert)
        with world.rejected("R-KP-2"):
            world.transfer("Jwaneng", "Antwerp Trader", ["P2"], certificate=cert)

    def test_R_KP_2_domestic_transfer_cannot_cite_a_certificate(
        self, world: World, p1: str
    ) -> None:
        cert = world.certify("Jwaneng", "Antwerp Trader", [p1]).entry.fields["number"]
        with world.rejected("R-KP-2"):
            world.transfer("Jwaneng", "Gaborone Trader", [p1], certificate=cert)

    def test_R_KP_2_expired_certificate(self, world: World, p1: str) -> None:
        expires = world.today
        cert = world.certify("Jwaneng", "Antwerp Trader", [p1], expires=expires)
        number = cert.entry.fields["number"]
        world.advance(DAY)
        with world.rejected("R-KP-2") as info:
            world.transfer("Jwaneng", "Antwerp Trader", [p1], certificate=number)
        assert expires in info.value.message

    def test_R_KP_2_shipped_before_issue(self, world: World, p1: str) -> None:
        shipped = world.now + HOUR
        world.advance(2 * DAY)
        number = world.certify("Jwaneng", "Antwerp Trader", [p1]).entry.fields["number"]
        with world.rejected("R-KP-2"):
            world.transfer("Jwaneng", "Antwerp Trader", [p1], certificate=number, time=shipped)
        world.transfer("Jwaneng", "Antwerp Trader", [p1], certificate=number)

    def test_R_KP_4_origins_must_match(self, world: World, p1: str) -> None:
        with world.rejected("R-KP-4"):
            world.certify("Jwaneng", "Antwerp Trader", [p1], origins=["BW", "CA"])
        with world.rejected("R-KP-4"):
            world.certify("Jwaneng", "Antwerp Trader", [p1], origins=["CA"])
        with world.rejected("R-KP-4"):
            world.certify("Jwaneng", "Antwerp Trader", [p1], origins=["BW", "BW"])
        world.certify("Jwaneng", "Antwerp Trader", [p1], origins=["BW"])

    def test_R_KP_4_mixed_origin_certificate(self, world: World, p1: str) -> None:
        world.origin("Diavik", "C1", carats=5_000)
        world.ship("Diavik", "Gaborone Trader", ["C1"])
        world.ship("Jwaneng", "Gaborone Trader", [p1])
        world.merge("Gaborone Trader", [p1, "C1"], "MIX")
        assert world.parcel("MIX")["may"] == ["BW", "CA"]
        with world.rejected("R-KP-4"):
            world.certify("Gaborone Trader", "Antwerp Trader", ["MIX"], origins=["BW"])
        cert = world.certify("Gaborone Trader", "Antwerp Trader", ["MIX"])
        assert cert.entry.fields["origins"] == ["BW", "CA"]

    def test_R_KP_5_importer_not_in_good_standing(self, world: World, p1: str) -> None:
        with world.rejected("R-KP-5"):
            world.certify("Jwaneng", "Bangui Trader", [p1])  # CF is suspended
        world.set_kp_status("AE", "withdrawn", world.today)
        with world.rejected("R-KP-5"):
            world.certify("Jwaneng", "Dubai Trader", [p1])
        world.certify("Jwaneng", "Antwerp Trader", [p1])

    def test_R_KP_5_exporter_not_in_good_standing(self, world: World, p1: str) -> None:
        world.set_kp_status("BW", "suspended", "2026-03-03")
        world.advance(DAY)
        with world.rejected("R-KP-5"):
            world.certify("Jwaneng", "Antwerp Trader", [p1])

    def test_R_KP_5_status_changed_after_issue(self, world: World, p1: str) -> None:
        number = world.certify("Jwaneng", "Antwerp Trader", [p1]).entry.fields["number"]
        world.set_kp_status("BE", "suspended", world.today)
        with world.rejected("R-KP-5"):
            world.transfer("Jwaneng", "Antwerp Trader", [p1], certificate=number)

    @pytest.mark.parametrize(
        "overrides",
        [
            {"authority": "CA KP Authority"},
            {"number": "CA000001"},
            {"exporter": "Gaborone Trader"},
            {"exporter": "Nobody Ltd"},
            {"importer": "Nobody Ltd"},
            {"exporter_country": "CA"},
            {"importer_country": "AE"},
            {"importer": "Gaborone Trader", "importer_country": "BW"},
            {"expires": "2026-03-01"},
            {"value": {"amount": 100, "currency": "EUR"}},
            {"carats": 9_999},
            {"count": 2},
            {"hs": ["7102.21"]},
        ],
        ids=lambda o: ",".join(o),
    )
    def test_R_KP_6_certificate_contents(
        self, world: World, p1: str, overrides: dict[str, object]
    ) -> None:
        fields = dict(overrides)
        authority = fields.pop("authority", None)
        with world.rejected("R-KP-6"):
            world.certify("Jwaneng", "Antwerp Trader", [p1], authority=authority, override=fields)
        world.certify("Jwaneng", "Antwerp Trader", [p1])

    def test_R_KP_6_number_unique_and_goods_held(
        self, world: World, p1: str, polished: list[str]
    ) -> None:
        world.certify("Jwaneng", "Antwerp Trader", [p1], number="BW000777")
        world.origin("Jwaneng", "P2")
        with world.rejected("R-KP-6"):
            world.certify("Jwaneng", "Antwerp Trader", ["P2"], number="BW000777")
        world.transfer("Jwaneng", "Gaborone Trader", ["P2"])
        with world.rejected("R-KP-6"):  # locked in a pending offer
            world.certify("Jwaneng", "Antwerp Trader", ["P2"])
        with world.rejected("R-KP-6"):  # polished goods are not KP goods
            world.certify("Surat Cutter", "New York Lab", polished, authority="IN KP Authority")

    def test_R_KP_7_status_periods_only_move_forward(self, world: World) -> None:
        with world.rejected("R-KP-7"):
            world.set_kp_status("BW", "suspended", "2003-01-01")
        with world.rejected("R-KP-7"):
            world.set_kp_status("CF", "participant", "2010-01-01")
        world.set_kp_status("CF", "participant", "2024-11-15")
        assert world.ledger.kp_statuses()["CF"][-1] == ["2024-11-15", "participant"]
        world.origin("Carnot", "CF1")


# ---------------------------------------------------------------------------
# R-SW: warranties (WARN)


class TestWarranty:
    def test_R_SW_1_polished_without_warranty_is_flagged(
        self, world: World, polished: list[str]
    ) -> None:
        offer = world.transfer("Surat Cutter", "New York Lab", [polished[0]], warranty=None)
        assert [w.rule for w in offer.warnings] == ["R-SW-1"]
        warranted = world.transfer("Surat Cutter", "New York Lab", [polished[1]], warranty="2021")
        assert warranted.warnings == ()
        assert world.verify().warnings["R-SW-1"] == 1

    def test_R_SW_1_for_every_b2b_transfer(self, world: World, p1: str) -> None:
        bare = world.transfer("Jwaneng", "Gaborone Trader", [p1], warranty=None)
        assert [w.rule for w in bare.warnings] == ["R-SW-1"]


# ---------------------------------------------------------------------------
# Composition (R-OR) and a whole chain


def test_composition_follows_the_goods(world: World) -> None:
    world.origin("Jwaneng", "B1", carats=6_000, stones=6)
    world.origin("Diavik", "C1", carats=4_000, stones=4)
    world.ship("Jwaneng", "Gaborone Trader", ["B1"])
    world.ship("Diavik", "Gaborone Trader", ["C1"])
    world.merge("Gaborone Trader", ["B1", "C1"], "MIX")
    mix = world.parcel("MIX")
    assert mix["comp"] == {"BW": 600_000, "CA": 400_000}
    assert mix["stones"] == 10
    world.split("Gaborone Trader", "MIX", [("M1", 9_000), ("M2", 1_000)])
    for pid in ("M1", "M2"):
        assert world.parcel(pid)["comp"] == mix["comp"]
        assert world.parcel(pid)["may"] == ["BW", "CA"]
    world.origin("Mir", "R1", carats=1_000, stones=1)
    world.ship("Gaborone Trader", "Surat Cutter", ["M2"])
    world.ship("Mir", "Surat Cutter", ["R1"])
    world.cut("Surat Cutter", ["M2", "R1"], [("S1", 700)])
    stone = world.parcel("S1")
    assert stone["comp"] == {"BW": 300_000, "CA": 200_000, "RU": 500_000}
    assert sum(stone["comp"].values()) == PPM
    assert stone["may"] == ["BW", "CA", "RU"]
    assert stone["yield"] == 350


def test_full_chain_verifies(world: World) -> None:
    world.origin("Jwaneng", "P1", carats=50_000, stones=40)
    world.ship("Jwaneng", "Antwerp Trader", ["P1"])
    world.split("Antwerp Trader", "P1", [("P1a", 30_000, 25), ("P1b", 19_980, 15)])
    world.ship("Antwerp Trader", "Dubai Trader", ["P1b"])
    world.ship("Antwerp Trader", "Surat Cutter", ["P1a"])
    world.cut("Surat Cutter", ["P1a"], [("S1", 5_000), ("S2", 4_000)], byproducts=[("BP", 8_000)])
    world.ship("Surat Cutter", "New York Lab", ["S1"], warranty="2021")
    world.grade("New York Lab", "S1", report="GIA-2026-0001", carats=4_990)
    world.ship("New York Lab", "New York Retailer", ["S1"], warranty="2021")
    world.sell("New York Retailer", "S1", price_usd_cents=2_500_000)
    report = world.verify()
    assert report.size == world.ledger.size()
    assert sum(report.warnings.values()) == 0
    history = [entry.type for _, entry in world.ledger.history("S1")]
    assert history == ["cut", "transfer", "accept", "grade", "transfer", "accept", "sell"]


def test_rejections_leave_no_trace_in_verify(world: World, p1: str) -> None:
    with world.rejected("R-MB-1"):
        world.split("Jwaneng", p1, [("A", 9_000), ("B", 9_000)])
    with world.rejected("R-KP-2"):
        world.transfer("Jwaneng", "Antwerp Trader", [p1])
    world.split("Jwaneng", p1, [("A", 5_000), ("B", 5_000)])
    world.verify()


def test_every_rule_id_is_tested() -> None:
    root = Path(__file__).resolve().parents[2]
    raised = set()
    for source in (root / "ledger").rglob("*.py"):
        if "sim" in source.parts:
            continue  # the simulator names the rules its faults target
        raised |= set(re.findall(r'"(R-[A-Z]{2}-\d+)"', source.read_text()))
    tested = "".join(p.read_text() for p in (root / "tests").rglob("test_*.py"))
    missing = sorted(rid for rid in raised if f'"{rid}"' not in tested)
    assert not missing, f"rule IDs raised by the code but never asserted: {missing}"
    spec = (root / "specs" / "rules.md").read_text()
    undocumented = sorted(rid for rid in raised if rid not in spec)
    assert not undocumented, f"rule IDs missing from specs/rules.md: {undocumented}"


def test_rejected_entry_leaves_no_pending_changes() -> None:
    """``State.rollback`` also forgets the writes it undid (what a store would persist)."""
    state = rules.State()
    state.put("parcel", "kept", {"carats": 1})
    state.begin()
    state.put("parcel", "kept", {"carats": 2})
    state.put("parcel", "new", {"carats": 3})
    state.rollback()
    assert state.take_changes() == {("parcel", "kept"): {"carats": 1}}
    state.begin()
    state.put("parcel", "new", {"carats": 3})
    state.rollback()
    assert state.take_changes() == {}
    assert state.get("parcel", "new") is None


def test_constants_match_the_spec() -> None:
    assert MAX_SKEW_MS == 5 * MINUTE
    assert OFFER_TTL_MS == 30 * DAY
    assert (rules.YIELD_MIN_PERMILLE, rules.YIELD_MAX_PERMILLE) == (150, 700)
    assert rules.STONES_PER_ROUGH == 3
