"""verify(jobs=N): workers check signatures and cached columns, the main process the rules.

The verdict and the reported record must be the same as a one-process replay.
"""

from __future__ import annotations

import pytest

from ledger.errors import LedgerError
from ledger.model import Signature, SignedEntry
from tests.conftest import World
from tests.unit.test_tamper_rules import forge


def _origins(world: World, n: int) -> None:
    for i in range(n):
        fields = {
            "parcel": f"PV{i}",
            "carats": 100 + i,
            "stones": 3,
            "mine": "Pit",
            "hs": "7102.10",
        }
        world.act("origin", fields, "Jwaneng")


def _verdict(world: World, **kw: int) -> tuple[str | None, str]:
    try:
        world.ledger.verify(**kw)
    except LedgerError as exc:
        return exc.rule, exc.message
    return None, "valid"


def test_parallel_verify_matches_serial_on_a_valid_log(world: World) -> None:
    _origins(world, 30)
    serial = world.ledger.verify()
    parallel = world.ledger.verify(jobs=2, chunk=7)
    assert (parallel.size, parallel.root, parallel.warnings) == (
        serial.size,
        serial.root,
        serial.warnings,
    )


@pytest.mark.parametrize("at", [3, 25])
def test_parallel_verify_reports_the_first_bad_signature(world: World, at: int) -> None:
    _origins(world, at)
    good = world.sign(
        "origin",
        {"parcel": "BAD", "carats": 1, "stones": 1, "mine": "x", "hs": "7102.10"},
        "Jwaneng",
    )
    sig = good.sigs[0]
    flipped = Signature(sig.kid, sig.sig[:10] + bytes([sig.sig[10] ^ 1]) + sig.sig[11:])
    bad = SignedEntry.build(good.body_bytes, [flipped])
    index = forge(world, bad)
    serial = _verdict(world)
    parallel = _verdict(world, jobs=2, chunk=4)
    assert serial[0] == parallel[0] == "R-ID-1"
    assert f"record {index}" in serial[1] and f"record {index}" in parallel[1]
