"""``verify_bundle`` decides; ``inspect_bundle`` shows (a policy failure is never silent)."""

from __future__ import annotations

import hashlib

import pytest

from ledger.core import proofs
from ledger.core.note import Verifier
from ledger.errors import PolicyError
from tests.conftest import OPERATOR, World


def _russian_parcel_bundle(world: World) -> tuple[bytes, Verifier]:
    world.origin("Mir", "RU-1")
    world.ledger.checkpoint(world.keys[OPERATOR])
    return world.ledger.prove("RU-1"), world.ledger.verifier()


def test_verify_bundle_raises_on_a_denied_origin(world: World) -> None:
    data, verifier = _russian_parcel_bundle(world)
    with pytest.raises(PolicyError) as info:
        proofs.verify_bundle(data, verifier, deny_origins=["RU"])
    assert info.value.rule == "R-SA-1"
    assert "denied origin RU" in info.value.message


def test_inspect_bundle_reports_the_same_failure_without_raising(world: World) -> None:
    data, verifier = _russian_parcel_bundle(world)
    report = proofs.inspect_bundle(data, verifier, deny_origins=["RU"])
    assert not report.ok
    assert any("denied origin RU" in f.message for f in report.policy_failures)
    assert [f.rule for f in report.policy_failures] == ["R-SA-1"]


def test_a_passing_policy_returns_the_report(world: World) -> None:
    data, verifier = _russian_parcel_bundle(world)
    report = proofs.verify_bundle(data, verifier, deny_origins=["CF"])
    assert report.ok and report.item == "RU-1" and report.may_contain == ["RU"]
    assert [s.type for s in report.journey] == ["origin"]
    assert report.journey[0].summary == "mined RU-1 at Mir: 100.00 ct, 20 stones"


def test_every_bundle_proves_the_latest_state_attested_or_not(world: World) -> None:
    """The state map proves the latest state: --require-latest holds without the operator's
    attestation, which stays extra information (specs/proof-bundle.md §2.1, §2.3)."""
    data, verifier = _russian_parcel_bundle(world)  # proved without the operator key
    report = proofs.inspect_bundle(data, verifier, require_latest=True)
    assert not report.latest_attested and report.ok
    assert report.latest_index >= 0 and report.checkpoint_time is None
    attested = world.ledger.prove("RU-1", world.keys[OPERATOR])
    assert proofs.verify_bundle(attested, verifier, require_latest=True).latest_attested


def test_the_report_names_the_roles_of_the_journeys_participants(world: World) -> None:
    data, verifier = _russian_parcel_bundle(world)
    assert proofs.inspect_bundle(data, verifier).roles == {"Mir": ["mine"]}


def test_a_bundle_is_named_by_its_sha256(world: World) -> None:
    data, _ = _russian_parcel_bundle(world)
    assert proofs.bundle_digest(data) == hashlib.sha256(data).hexdigest()
