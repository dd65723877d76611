"""R-TM-4 and back-dating: claimed times cannot escape registry changes."""

from __future__ import annotations

from ledger.core.rules import MAX_AGE_MS
from tests.conftest import World

DAY = 24 * 3600 * 1000


def _origin(world: World, parcel: str, time: int) -> None:
    fields = {"parcel": parcel, "carats": 100, "stones": 10, "mine": "Pit", "hs": "7102.10"}
    world.act("origin", fields, "Jwaneng", time=time)


def test_R_TM_4_claimed_time_older_than_30_days_is_rejected(world: World) -> None:
    now = world.advance(DAY)
    with world.rejected("R-TM-4"):
        _origin(world, "OLD-1", now - MAX_AGE_MS - 1)
    now = world.now
    _origin(world, "OLD-2", now - MAX_AGE_MS + DAY)
    assert world.parcel("OLD-2")["holder"] == "Jwaneng"


def test_backdated_origin_cannot_escape_a_suspension(world: World) -> None:
    before = world.advance(DAY)
    world.advance(DAY)
    world.set_kp_status("BW", "suspended", world.today)
    world.advance(DAY)
    with world.rejected("R-KP-1"):
        _origin(world, "BACK-1", before)
