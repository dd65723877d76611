"""The G7/EU rules on Russian diamonds and the System of Warranties (specs/rules.md §3.6-§3.8,
§4; specs/policy.md §4-§5; specs/proof-bundle.md §2.2).

Each test tells the fraud or the legal case it decides: rough that only transited Russia,
the EU and US packs at their boundary dates, sanctioned parties, grandfathering proven by
witness timestamps (never by a claimed time), laboratory-grown goods mixed into natural
ones, and broken chains of warranties.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.core import ed25519, note, proofs, sanctions
from ledger.core.journey import Step
from ledger.core.model import Record
from ledger.core.policy import named_policy, parse_policy
from ledger.errors import PolicyError, ProofError
from ledger.net.witness import attach_cosignatures
from tests.conftest import DAY, HOUR, OPERATOR, PARTIES, Party, World, authority_of

MOSCOW = Party("Moscow Trader", ("trader",), "RU", 60)
PRODUCER = Party("Surat Lab Growers", ("producer",), "IN", 61)
EU_LIST = Party("EU Consolidated List", ("publisher",), "BE", 62)
OFAC = Party("OFAC SDN", ("publisher",), "US", 63)
CAST = (*PARTIES, MOSCOW, PRODUCER, EU_LIST, OFAC)

WITNESS_NAME = "witness.example/w1"
WITNESS_SEED = bytes([90]) * 32
WITNESS_VKEY = note.format_vkey(
    WITNESS_NAME, ed25519.public_key(WITNESS_SEED), sig_type=note.SIG_TYPE_COSIGNATURE_V1
)


def at(day: str, hour: int = 10) -> int:
    """Milliseconds of ``day`` at ``hour``:00 UTC."""
    return int(dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00").timestamp()) * 1000


@pytest.fixture
def g7(tmp_path: Path) -> Iterator[World]:
    """The test world, with a Moscow trader, a producer of grown goods and two list
    publishers, on 2026-03-02."""
    w = World.create(tmp_path / "g7.kpl", parties=CAST)
    try:
        yield w
    finally:
        w.close()


def make_world(tmp_path: Path, day: str) -> World:
    return World.create(tmp_path / f"w-{day}.kpl", parties=CAST, now=at(day))


def bundle_of(world: World, item: str) -> bytes:
    world.ledger.checkpoint(world.keys[OPERATOR])
    return world.ledger.prove(item)


def failures(report: proofs.BundleReport) -> dict[str, str]:
    return {f.rule: f.message for f in report.policy_failures}


def cut_one(world: World, cutter: str, parcel: str, stones: list[tuple[str, int]]) -> None:
    world.cut(cutter, [parcel], stones, byproducts=[(f"{parcel}-BY", 1_000)])


# ---------------------------------------------------------------------------
# 1. The custody path (R-SA-2)


def _through_moscow(world: World) -> None:
    """Botswana rough to a Moscow trader, re-exported through Dubai to India, cut, sold to
    a US retailer: it never had a Russian mine, only Russian hands."""
    world.origin("Jwaneng", "BW-1", carats=10_000)
    world.ship("Jwaneng", "Moscow Trader", ["BW-1"])
    world.advance(2 * DAY)
    world.ship("Moscow Trader", "Dubai Trader", ["BW-1"])
    world.advance(DAY)
    world.ship("Dubai Trader", "Surat Cutter", ["BW-1"])
    cut_one(world, "Surat Cutter", "BW-1", [("ST-1", 60), ("ST-2", 120)])
    world.ship("Surat Cutter", "New York Retailer", ["ST-1"])


def test_the_custody_path_keeps_every_country_with_its_dates(g7: World) -> None:
    _through_moscow(g7)
    stone = g7.parcel("ST-1")
    assert stone["may"] == ["BW"]  # the mines: Botswana only
    assert set(stone["path"]) == {"BW", "RU", "AE", "IN", "US"}
    assert stone["path"]["RU"] == ["2026-03-02", "2026-03-04"]  # received, then exported
    assert g7.ledger.trace("ST-1").item["path"] == stone["path"]


def test_transit_through_russia_passes_deny_origin_but_fails_deny_custody(g7: World) -> None:
    """The hole a deny-origin policy leaves: may-contain says BW; the path says RU."""
    _through_moscow(g7)
    data = bundle_of(g7, "ST-1")
    verifier = g7.ledger.verifier()
    report = proofs.verify_bundle(data, verifier, deny_origins=["RU"])
    assert report.path["RU"] == ["2026-03-02", "2026-03-04"]
    custody = proofs.inspect_bundle(
        data, verifier, buyer_policy=parse_policy("quorum none\ndeny-custody RU")
    )
    assert set(failures(custody)) == {"R-SA-2"}
    assert "RU (2026-03-02 to 2026-03-04)" in failures(custody)["R-SA-2"]
    with pytest.raises(PolicyError) as info:
        proofs.verify_bundle(data, verifier, buyer_policy=named_policy("eu-russia"))
    assert info.value.rule == "R-SA-2"
    # Other custody countries are not denied.
    assert proofs.inspect_bundle(
        data, verifier, buyer_policy=parse_policy("quorum none\ndeny-custody CF")
    ).ok


def test_the_us_pack_denies_only_rough_exported_from_russia(g7: World) -> None:
    """US: "unsorted diamonds ... exported from Russia"; a stone substantially transformed
    in India from Botswana rough is not covered (specs/policy.md §5.2)."""
    _through_moscow(g7)
    us = named_policy("us-russia")
    verifier = g7.ledger.verifier()
    assert proofs.inspect_bundle(bundle_of(g7, "ST-1"), verifier, buyer_policy=us).ok
    g7.origin("Jwaneng", "BW-2", carats=5_000)
    g7.ship("Jwaneng", "Moscow Trader", ["BW-2"])
    g7.ship("Moscow Trader", "Dubai Trader", ["BW-2"])
    rough = proofs.inspect_bundle(bundle_of(g7, "BW-2"), verifier, buyer_policy=us)
    assert set(failures(rough)) == {"R-SA-2"}


def test_merging_carries_the_path_of_every_input(g7: World) -> None:
    g7.origin("Jwaneng", "A", carats=5_000)
    g7.origin("Jwaneng", "B", carats=5_000)
    g7.ship("Jwaneng", "Moscow Trader", ["A"])
    g7.ship("Moscow Trader", "Dubai Trader", ["A"])
    g7.ship("Jwaneng", "Dubai Trader", ["B"])
    g7.merge("Dubai Trader", ["A", "B"], "AB")
    assert "RU" in g7.parcel("AB")["path"] and "RU" not in g7.parcel("B")["path"]
    report = proofs.inspect_bundle(
        bundle_of(g7, "AB"),
        g7.ledger.verifier(),
        buyer_policy=parse_policy("quorum none\ndeny-custody RU"),
    )
    assert set(failures(report)) == {"R-SA-2"}


# ---------------------------------------------------------------------------
# 2. The rule packs at their boundary dates (R-SA-1, R-SA-2): pure judgements


def facts(
    *,
    kind: str = "polished",
    carats: int = 100,
    may: tuple[str, ...] = ("RU",),
    path: dict[str, list[str]] | None = None,
    hs: str | None = None,
    cut_in: str = "IN",
) -> sanctions.Facts:
    journey = [
        Step(0, 0, 0, "origin", "Mir", "RU", "00", "mined"),
        Step(5, 0, 0, "cut", "Cutter", cut_in, "05", "cut"),
    ]
    return sanctions.Facts(
        item="X",
        kind=kind,
        carats=carats,
        hs=hs,
        may=may,
        path=path if path is not None else {"RU": ["2023-06-01", "2023-06-02"], "IN": []},
        grown=False,
        journey=journey if kind == "polished" else journey[:1],
    )


def rules_of(f: sanctions.Facts, pack: str, as_of: str) -> list[str]:
    judged = sanctions.judge(f, as_of=as_of, packs=[pack])
    return [rule for rule, _ in judged.failures + judged.russian]


@pytest.mark.parametrize(
    ("carats", "as_of", "denied"),
    [
        (100, "2024-02-29", False),  # before the third-country rule
        (100, "2024-03-01", True),  # 1.00 ct and up from 1 March 2024
        (99, "2024-03-01", False),
        (99, "2024-08-31", False),
        (50, "2024-08-31", False),
        (50, "2024-09-01", True),  # 0.50 ct and up from 1 September 2024
        (49, "2026-12-04", False),  # below the law's threshold: no de minimis beyond it
    ],
)
@pytest.mark.parametrize("pack", ["eu-russia", "us-russia"])
def test_russian_mined_stones_cut_elsewhere_by_size_and_date(
    pack: str, carats: int, as_of: str, denied: bool
) -> None:
    assert rules_of(facts(carats=carats), pack, as_of) == (["R-SA-1"] if denied else [])


@pytest.mark.parametrize(
    ("pack", "as_of", "denied"),
    [
        ("eu-russia", "2023-12-31", False),
        ("eu-russia", "2024-01-01", True),  # EU direct ban
        ("us-russia", "2022-03-10", False),
        ("us-russia", "2022-03-11", True),  # US direct ban (EO 14068)
    ],
)
def test_russian_rough_and_stones_cut_in_russia_by_date(
    pack: str, as_of: str, denied: bool
) -> None:
    assert rules_of(facts(kind="rough", carats=10), pack, as_of) == (["R-SA-1"] if denied else [])
    assert rules_of(facts(carats=10, cut_in="RU"), pack, as_of) == (["R-SA-1"] if denied else [])


@pytest.mark.parametrize(
    ("last", "as_of", "denied"),
    [
        ("2023-12-31", "2026-01-01", False),  # left Russia before the ban: judged by origin
        ("2024-01-01", "2023-12-31", False),  # judged before the ban
        ("2024-01-01", "2024-01-01", True),
    ],
)
def test_the_eu_custody_rule_by_append_date(last: str, as_of: str, denied: bool) -> None:
    """Custody in, or export from, Russia on or after 1 January 2024 is denied whatever the
    size; the origin rows then decide nothing (one failure, R-SA-2)."""
    f = facts(carats=1, may=("BW",), path={"RU": ["2023-06-01", last]})
    assert rules_of(f, "eu-russia", as_of) == (["R-SA-2"] if denied else [])


def test_the_us_custody_rule_starts_on_1_march_2024_for_rough() -> None:
    rough = facts(kind="rough", carats=1, may=("BW",), path={"RU": ["2024-01-05", "2024-01-05"]})
    assert rules_of(rough, "us-russia", "2024-02-29") == []
    assert rules_of(rough, "us-russia", "2024-03-01") == []  # held there before the date
    later = facts(kind="rough", carats=1, may=("BW",), path={"RU": ["2024-03-01", "2024-03-01"]})
    assert rules_of(later, "us-russia", "2024-03-01") == ["R-SA-2"]


def test_industrial_goods_are_out_of_scope() -> None:
    f = facts(kind="byproduct", carats=5_000, hs=sanctions.INDUSTRIAL_HS)
    for pack in sanctions.PACKS:
        assert rules_of(f, pack, "2026-01-01") == []


def test_a_pack_judged_on_a_ledger_built_in_2023(tmp_path: Path) -> None:
    """Russian-mined rough exported to Antwerp in November 2023, cut in India in 2024:
    the EU pack allows every stone until 29 February 2024, then the stones of 1.00 ct and
    up, and from 1 September 2024 those of 0.50 ct and up, are denied."""
    w = make_world(tmp_path, "2023-11-06")
    w.origin("Mir", "RU-1", carats=10_000)
    w.ship("Mir", "Antwerp Trader", ["RU-1"])
    w.advance(90 * DAY)
    w.ship("Antwerp Trader", "Surat Cutter", ["RU-1"])
    cut_one(w, "Surat Cutter", "RU-1", [("BIG", 120), ("MID", 60), ("SMALL", 40)])
    verifier, eu = w.ledger.verifier(), named_policy("eu-russia")
    bundles = {s: bundle_of(w, s) for s in ("BIG", "MID", "SMALL")}

    def denied(stone: str, as_of: str) -> bool:
        report = proofs.inspect_bundle(bundles[stone], verifier, buyer_policy=eu, as_of=as_of)
        assert report.as_of == as_of
        return not report.ok

    assert [denied(s, "2024-02-29") for s in bundles] == [False, False, False]
    assert [denied(s, "2024-03-01") for s in bundles] == [True, False, False]
    assert [denied(s, "2024-09-01") for s in bundles] == [True, True, False]
    # By default the pack is judged on the date of the bundle's last record.
    assert proofs.inspect_bundle(bundles["BIG"], verifier, buyer_policy=eu).as_of == "2024-02-04"


# ---------------------------------------------------------------------------
# 3. Sanctions lists as signed data (R-SA-4)


def designate(world: World, publisher: str, party: str, start: str, list_id: str = "EU") -> None:
    world.act("sanction.designate", {"list": list_id, "party": party, "from": start}, publisher)


def delist(world: World, publisher: str, party: str, start: str, list_id: str = "EU") -> None:
    world.act("sanction.delist", {"list": list_id, "party": party, "from": start}, publisher)


def test_a_list_publisher_designates_and_delists(g7: World) -> None:
    designate(g7, "EU Consolidated List", "Dubai Trader", g7.today)
    party = g7.ledger.party("Dubai Trader")
    assert party["lists"] == {"EU": [[g7.today, "listed"]]}
    g7.advance(3 * DAY)
    delist(g7, "EU Consolidated List", "Dubai Trader", g7.today)
    assert [status for _, status in g7.ledger.party("Dubai Trader")["lists"]["EU"]] == [
        "listed",
        "delisted",
    ]
    g7.verify()


def test_designations_are_refused_when_they_rewrite_the_list(g7: World) -> None:
    with g7.rejected("R-ID-1"):  # a trader is no list publisher
        designate(g7, "Antwerp Trader", "Dubai Trader", g7.today)
    designate(g7, "EU Consolidated List", "Dubai Trader", g7.today)
    with g7.rejected("R-SA-4"):  # the EU list is the EU publisher's
        designate(g7, "OFAC SDN", "Moscow Trader", g7.today)
    with g7.rejected("R-SA-4"):  # already listed
        designate(g7, "EU Consolidated List", "Dubai Trader", "2026-03-05")
    with g7.rejected("R-SA-4"):  # not after the last change
        delist(g7, "EU Consolidated List", "Dubai Trader", g7.today)
    with g7.rejected("R-SA-4"):  # more than 30 days back
        designate(g7, "EU Consolidated List", "Moscow Trader", "2026-01-30")
    with g7.rejected("R-SA-4"):  # not a participant
        designate(g7, "EU Consolidated List", "Nobody", g7.today)
    designate(g7, "EU Consolidated List", "Moscow Trader", "2026-01-31")  # 30 days: allowed
    designate(g7, "OFAC SDN", "Moscow Trader", g7.today, list_id="OFAC-SDN")


def test_deny_listed_fails_goods_a_designated_party_acted_on(g7: World) -> None:
    """The Moscow trader is designated on the EU list from the day it re-exports."""
    g7.origin("Jwaneng", "BW-1", carats=10_000)
    g7.ship("Jwaneng", "Moscow Trader", ["BW-1"])  # 2026-03-02: not yet designated
    g7.advance(DAY)
    designate(g7, "EU Consolidated List", "Moscow Trader", g7.today)
    g7.ship("Moscow Trader", "Dubai Trader", ["BW-1"])  # 2026-03-03: designated
    data = bundle_of(g7, "BW-1")
    verifier = g7.ledger.verifier()
    report = proofs.inspect_bundle(
        data, verifier, buyer_policy=parse_policy("quorum none\ndeny-listed EU")
    )
    assert set(failures(report)) == {"R-SA-4"}
    assert "'Moscow Trader'" in failures(report)["R-SA-4"]
    assert len(report.policy_failures) == 1  # the export offer; the receipt came before
    # Another list says nothing about it.
    assert proofs.inspect_bundle(
        data, verifier, buyer_policy=parse_policy("quorum none\ndeny-listed OFAC")
    ).ok


def test_acting_before_the_designation_or_after_delisting_passes(g7: World) -> None:
    g7.origin("Jwaneng", "BW-1", carats=10_000)
    g7.ship("Jwaneng", "Moscow Trader", ["BW-1"])
    g7.advance(DAY)
    designate(g7, "EU Consolidated List", "Moscow Trader", "2026-03-10")  # from a later day
    g7.ship("Moscow Trader", "Dubai Trader", ["BW-1"])
    g7.origin("Jwaneng", "BW-2", carats=10_000)
    g7.advance(10 * DAY)  # 2026-03-13: designated
    g7.ship("Jwaneng", "Moscow Trader", ["BW-2"])
    g7.advance(10 * DAY)
    delist(g7, "EU Consolidated List", "Moscow Trader", g7.today)
    g7.ship("Moscow Trader", "Dubai Trader", ["BW-2"])
    verifier, policy = g7.ledger.verifier(), parse_policy("quorum none\ndeny-listed EU")
    assert proofs.inspect_bundle(bundle_of(g7, "BW-1"), verifier, buyer_policy=policy).ok
    late = proofs.inspect_bundle(bundle_of(g7, "BW-2"), verifier, buyer_policy=policy)
    assert set(failures(late)) == {"R-SA-4"}  # the receipt on 2026-03-13, not the export


def test_the_bundle_carries_the_designations_and_their_publisher(g7: World) -> None:
    g7.origin("Jwaneng", "BW-1", carats=10_000)
    designate(g7, "EU Consolidated List", "Jwaneng", g7.today)
    g7.ship("Jwaneng", "Antwerp Trader", ["BW-1"])
    bundle = proofs.Bundle.decode(bundle_of(g7, "BW-1"))
    types = [Record.from_wire(rec.record).entry().type for rec in bundle.records]
    assert "sanction.designate" in types
    report = proofs.inspect_bundle(
        bundle.encode(),
        g7.ledger.verifier(),
        buyer_policy=parse_policy("quorum none\ndeny-listed EU"),
    )
    added = [
        e.fields["name"]
        for e in (Record.from_wire(r.record).entry() for r in bundle.records)
        if e.type == "participant.add"
    ]
    assert "EU Consolidated List" in added  # the publisher's registration came along
    assert set(failures(report)) == {"R-SA-4"}


# ---------------------------------------------------------------------------
# 4. Grandfathering with time a witness proves (R-SA-3)


def cosign_latest(world: World, timestamp: int) -> str:
    """Sign a checkpoint now and have the witness cosign it at ``timestamp`` (seconds)."""
    text = world.ledger.checkpoint(world.keys[OPERATOR])
    line = note.cosign(text, WITNESS_NAME, WITNESS_SEED, timestamp)
    cosigned = note.add_signature(text, line)
    witness = note.parse_vkey(WITNESS_VKEY)
    attach_cosignatures(world.ledger.store, cosigned, world.ledger.verifier(), [witness])
    return cosigned


def _left_russia_in_2023(tmp_path: Path, witnessed: int | None) -> World:
    """Russian-mined rough that reached Antwerp on 6 November 2023; a witness cosigned a
    checkpoint holding that receipt at ``witnessed`` (seconds), if not None. Cut in India
    in 2024 into a 1.20 ct stone."""
    w = make_world(tmp_path, "2023-11-06")
    w.origin("Mir", "RU-1", carats=10_000)
    w.ship("Mir", "Antwerp Trader", ["RU-1"])
    if witnessed is not None:
        cosign_latest(w, witnessed)
    w.advance(150 * DAY)
    w.ship("Antwerp Trader", "Surat Cutter", ["RU-1"])
    cut_one(w, "Surat Cutter", "RU-1", [("BIG", 120)])
    return w


GRANDFATHER = f"""witness w1 {WITNESS_VKEY}
quorum none
pack eu-russia
grandfather-before 2024-03-01
"""


def test_a_witness_timestamp_grandfathers_the_stone(tmp_path: Path) -> None:
    stamp = at("2023-11-07") // 1000
    w = _left_russia_in_2023(tmp_path, stamp)
    data = bundle_of(w, "BIG")
    assert len(proofs.Bundle.decode(data).evidence) == 1
    report = proofs.verify_bundle(
        data, w.ledger.verifier(), buyer_policy=parse_policy(GRANDFATHER), as_of="2026-12-04"
    )
    assert report.grandfathered is not None and "before 2024-03-01" in report.grandfathered
    assert [(t.witness, t.timestamp) for t in report.time_evidence] == [(WITNESS_NAME, stamp)]
    # Without the grandfathering line the EU pack denies the stone.
    plain = parse_policy(GRANDFATHER.replace("grandfather-before 2024-03-01\n", ""))
    denied = proofs.inspect_bundle(data, w.ledger.verifier(), buyer_policy=plain)
    assert set(failures(denied)) == {"R-SA-1"}


def test_a_cosignature_after_the_cutoff_grandfathers_nothing(tmp_path: Path) -> None:
    w = _left_russia_in_2023(tmp_path, at("2024-03-01", 0) // 1000)  # at midnight: too late
    report = proofs.inspect_bundle(
        bundle_of(w, "BIG"), w.ledger.verifier(), buyer_policy=parse_policy(GRANDFATHER)
    )
    assert report.grandfathered is None
    assert "no witness-cosigned checkpoint older than 2024-03-01" in failures(report)["R-SA-1"]


def test_claimed_times_never_grandfather(tmp_path: Path) -> None:
    """No witness cosigned anything: the entries' own dates (November 2023) prove nothing."""
    w = _left_russia_in_2023(tmp_path, None)
    data = bundle_of(w, "BIG")
    assert proofs.Bundle.decode(data).evidence == ()
    report = proofs.inspect_bundle(
        data, w.ledger.verifier(), buyer_policy=parse_policy(GRANDFATHER)
    )
    assert set(failures(report)) == {"R-SA-1"}


def test_an_unknown_witness_grandfathers_nothing(tmp_path: Path) -> None:
    w = _left_russia_in_2023(tmp_path, at("2023-11-07") // 1000)
    other = note.format_vkey("other.example/w", ed25519.public_key(bytes([91]) * 32), sig_type=4)
    policy = parse_policy(GRANDFATHER.replace(WITNESS_VKEY, other).replace("w1", "w9"))
    report = proofs.inspect_bundle(bundle_of(w, "BIG"), w.ledger.verifier(), buyer_policy=policy)
    assert report.time_evidence == [] and "R-SA-1" in failures(report)


def test_forged_time_evidence_fails_the_bundle(tmp_path: Path) -> None:
    w = _left_russia_in_2023(tmp_path, at("2023-11-07") // 1000)
    bundle = proofs.Bundle.decode(bundle_of(w, "BIG"))
    ev = bundle.evidence[0]
    flipped = bytes([ev.proof[0][0] ^ 1]) + ev.proof[0][1:]
    forged = proofs.Bundle(
        bundle.origin,
        bundle.item,
        bundle.checkpoint,
        bundle.records,
        bundle.map_proofs,
        bundle.attestation,
        (proofs.Evidence(ev.checkpoint, (flipped, *ev.proof[1:])),),
    )
    with pytest.raises(ProofError, match="time evidence"):
        proofs.inspect_bundle(forged.encode(), w.ledger.verifier())
    # A checkpoint the operator never signed fails too.
    other = note.sign_checkpoint(
        note.parse_checkpoint(note.parse_note(ev.checkpoint).text), "forger", bytes([92]) * 32
    )
    foreign = proofs.Bundle(
        bundle.origin,
        bundle.item,
        bundle.checkpoint,
        bundle.records,
        bundle.map_proofs,
        bundle.attestation,
        (proofs.Evidence(other, ev.proof),),
    )
    with pytest.raises(ProofError):
        proofs.inspect_bundle(foreign.encode(), w.ledger.verifier())


def test_goods_still_in_russia_are_never_grandfathered(tmp_path: Path) -> None:
    w = make_world(tmp_path, "2023-11-06")
    w.origin("Mir", "RU-1", carats=10_000)
    cosign_latest(w, at("2023-11-07") // 1000)
    report = proofs.inspect_bundle(
        bundle_of(w, "RU-1"),
        w.ledger.verifier(),
        buyer_policy=parse_policy(GRANDFATHER),
        as_of="2026-01-01",
    )
    assert report.grandfathered is None and set(failures(report)) == {"R-SA-1"}


# ---------------------------------------------------------------------------
# 5. Natural versus laboratory-grown (R-SW-3)


def grow(world: World, parcel: str, carats: int = 3_000) -> None:
    fields = {"parcel": parcel, "carats": carats, "stones": 40, "facility": "CVD hall 2"}
    world.act("grow", fields, "Surat Lab Growers")


def test_grown_goods_need_no_certificate_and_stay_grown(g7: World) -> None:
    grow(g7, "LG-1")
    assert g7.parcel("LG-1")["grown"] is True and g7.parcel("LG-1")["hs"] == "7104.21"
    g7.ship("Surat Lab Growers", "Antwerp Trader", ["LG-1"])  # IN -> BE, no KP certificate
    g7.ship("Antwerp Trader", "Surat Cutter", ["LG-1"])
    g7.cut("Surat Cutter", ["LG-1"], [("LG-ST", 100)], byproducts=[("LG-BY", 1_500)])
    assert g7.parcel("LG-ST")["grown"] is True
    assert g7.parcel("LG-BY")["hs"] == "7104.21"
    trace = g7.ledger.trace("LG-ST")
    assert trace.origins[0]["grown"] is True and trace.certificates == []
    report = proofs.inspect_bundle(
        bundle_of(g7, "LG-ST"),
        g7.ledger.verifier(),
        buyer_policy=parse_policy("quorum none\nrequire natural"),
    )
    assert report.grown and set(failures(report)) == {"R-SW-3"}
    assert "laboratory-grown" in report.journey[0].summary


def test_grown_goods_never_enter_a_natural_parcel(g7: World) -> None:
    """The commonest fraud: synthetic melee mixed into a natural parcel."""
    grow(g7, "LG-1")
    g7.origin("Jwaneng", "BW-1", carats=10_000)
    g7.ship("Jwaneng", "Antwerp Trader", ["BW-1"])
    g7.ship("Surat Lab Growers", "Antwerp Trader", ["LG-1"])
    with g7.rejected("R-SW-3") as info:
        g7.merge("Antwerp Trader", ["BW-1", "LG-1"], "MIX")
    assert "LG-1" in info.value.message
    g7.ship("Antwerp Trader", "Surat Cutter", ["BW-1"])
    g7.ship("Antwerp Trader", "Surat Cutter", ["LG-1"])
    with g7.rejected("R-SW-3"):
        g7.cut("Surat Cutter", ["BW-1", "LG-1"], [("ST", 100)])


def test_no_kp_certificate_names_grown_goods(g7: World) -> None:
    grow(g7, "LG-1")
    g7.ship("Surat Lab Growers", "Surat Cutter", ["LG-1"])
    with g7.rejected("R-KP-6") as info:
        g7.certify("Surat Cutter", "Antwerp Trader", ["LG-1"], hs=["7102.10"])
    assert "laboratory-grown" in info.value.message


def test_only_a_producer_grows(g7: World) -> None:
    with g7.rejected("R-ID-1"):
        g7.act("grow", {"parcel": "X", "carats": 1, "stones": 1, "facility": "F"}, "Jwaneng")


# ---------------------------------------------------------------------------
# 6. The System of Warranties (R-SW-1, R-SW-2)


def test_a_broken_chain_of_warranties_cannot_be_warranted_again(g7: World) -> None:
    g7.origin("Jwaneng", "BW-1", carats=10_000)
    accepted = g7.ship("Jwaneng", "Antwerp Trader", ["BW-1"], warranty=None)
    assert "warranty" not in g7.ledger.transfer(accepted.entry.fields["transfer"])
    assert g7.parcel("BW-1")["unwarranted"] is True
    g7.split("Antwerp Trader", "BW-1", [("A", 5_000), ("B", 5_000)])
    number = g7.certify("Antwerp Trader", "Surat Cutter", ["A"]).entry.fields["number"]
    with g7.rejected("R-SW-2") as info:
        g7.transfer("Antwerp Trader", "Surat Cutter", ["A"], certificate=number)
    assert "chain of warranties is broken" in info.value.message
    g7.ship("Antwerp Trader", "Surat Cutter", ["A"], warranty=None)  # honest: no warranty


def test_every_transfer_without_a_statement_is_a_warning(g7: World) -> None:
    g7.origin("Jwaneng", "BW-1", carats=10_000)
    cert = g7.certify("Jwaneng", "Antwerp Trader", ["BW-1"]).entry.fields["number"]
    offer = g7.transfer("Jwaneng", "Antwerp Trader", ["BW-1"], certificate=cert, warranty=None)
    assert [w.rule for w in offer.warnings] == ["R-SW-1"]


def test_a_wdc_id_needs_a_warranty(g7: World) -> None:
    g7.origin("Jwaneng", "BW-1", carats=10_000)
    fields = {"to": "Gaborone Trader", "inputs": [g7.ref("BW-1")], "wdc": "WDC-BW-1"}
    with g7.rejected("R-SW-1"):
        g7.act("transfer", fields, "Jwaneng")
    offer = g7.act("transfer", {**fields, "warranty": "2021"}, "Jwaneng")
    assert not offer.warnings
    assert "WDC WDC-BW-1" in g7.ledger.trace("BW-1").steps[-1].summary


def test_the_2002_statement_expired_for_rough_on_30_september_2024(g7: World) -> None:
    g7.origin("Jwaneng", "BW-1", carats=10_000)
    offer = g7.transfer("Jwaneng", "Gaborone Trader", ["BW-1"], warranty="2002")
    assert [w.rule for w in offer.warnings] == ["R-SW-1"]
    assert "expired on 2024-09-30" in offer.warnings[0].message


def test_require_warranty_names_every_bare_transfer(g7: World) -> None:
    g7.origin("Jwaneng", "BW-1", carats=10_000)
    g7.ship("Jwaneng", "Antwerp Trader", ["BW-1"])
    g7.ship("Antwerp Trader", "Surat Cutter", ["BW-1"], warranty=None)
    report = proofs.inspect_bundle(
        bundle_of(g7, "BW-1"),
        g7.ledger.verifier(),
        buyer_policy=parse_policy("quorum none\nrequire warranty"),
    )
    assert set(failures(report)) == {"R-SW-1"} and "1 B2B transfer" in failures(report)["R-SW-1"]
    assert report.unwarranted


def test_warranty_reconciliation(g7: World) -> None:
    g7.origin("Jwaneng", "BW-1", carats=10_000)
    g7.origin("Jwaneng", "BW-2", carats=4_000)
    g7.ship("Jwaneng", "Antwerp Trader", ["BW-1"])
    g7.ship("Jwaneng", "Antwerp Trader", ["BW-2"], warranty=None)
    g7.split("Antwerp Trader", "BW-1", [("A", 6_000), ("B", 4_000)])
    g7.ship("Antwerp Trader", "Surat Cutter", ["A"])
    g7.ship("Antwerp Trader", "Surat Cutter", ["BW-2"], warranty=None)
    out = g7.ledger.warranties("Antwerp Trader", "2026-03-01", "2026-03-31")
    assert [r["carats"] for r in out["received"]] == [10_000, 4_000]
    assert [r["warranty"] for r in out["issued"]] == ["2021", None]
    assert (out["warranted_in"], out["warranted_out"], out["unbacked"]) == (10_000, 6_000, 0)
    assert len(out["without_warranty_in"]) == len(out["without_warranty_out"]) == 1
    mine = g7.ledger.warranties("Jwaneng", "2026-03-01", "2026-03-31")
    assert mine["produced"] == 14_000 and mine["warranted_out"] == 10_000
    assert g7.ledger.warranties("Jwaneng", "2026-04-01", "2026-04-30")["issued"] == []


# ---------------------------------------------------------------------------
# 7. Quarantine reaches grown goods too (R-ID-2)


def test_a_stolen_producer_key_quarantines_what_it_grew(g7: World) -> None:
    g7.advance(HOUR)
    stolen = g7.now
    grow(g7, "LG-1")
    g7.revoke("Surat Lab Growers", reason="key stolen", compromised_since=stolen)
    report = g7.verify()
    assert "LG-1" in report.quarantined
    assert authority_of("IN") not in report.quarantined
