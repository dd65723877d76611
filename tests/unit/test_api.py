"""A ledger file and a node are one interface (``ledger.api.LedgerAPI``).

mypy checks the conformance statically (``_conforms`` in ``ledger/ledger.py`` and
``ledger/net/client.py``); this checks it at run time, and that both classes offer no
public method the protocol lacks, so that the CLI never reaches past it.
"""

from __future__ import annotations

import inspect

import pytest

from ledger.api import LedgerAPI, append_entries, latest_failure, verify_consistency
from ledger.core.model import SignedEntry
from ledger.core.note import open_checkpoint
from ledger.core.proofs import inspect_bundle
from ledger.errors import ProofError
from ledger.ledger import Ledger
from ledger.net.client import RemoteLedger
from tests.conftest import OPERATOR, World


def _public(cls: type) -> set[str]:
    return {n for n, v in inspect.getmembers(cls) if callable(v) and not n.startswith("_")}


def test_a_ledger_file_is_a_ledger_api(world: World) -> None:
    assert isinstance(world.ledger, LedgerAPI)


def test_both_implement_every_protocol_method() -> None:
    wanted = _public(LedgerAPI)
    assert wanted <= _public(Ledger)
    assert wanted <= _public(RemoteLedger)


def test_the_remote_ledger_adds_nothing_the_cli_could_reach_past_the_protocol() -> None:
    # Whatever RemoteLedger offers beyond LedgerAPI is its own plumbing, not CLI surface.
    # (add_cosignatures: what ledger.net.submit_cosignatures hands a node.)
    assert _public(RemoteLedger) - _public(LedgerAPI) <= {"raw_records", "add_cosignatures"}


# ---------------------------------------------------------------------------
# Checks over the protocol (ledger.api): what the CLI calls instead of doing it itself


def _origin_entry(world: World, parcel: str) -> SignedEntry:
    fields = {"parcel": parcel, "carats": 1_000, "stones": 3, "mine": "Pit", "hs": "7102.10"}
    return world.sign("origin", fields, "Jwaneng")


def test_append_entries_without_a_key_signs_no_checkpoint(world: World) -> None:
    done, cp = append_entries(world.ledger, [_origin_entry(world, "A-1")], now=world.now)
    assert cp is None and [a.entry.type for a in done] == ["origin"]


def test_append_entries_checkpoints_a_file_in_the_same_transaction(world: World) -> None:
    seen: list[int] = []
    done, cp = append_entries(
        world.ledger,
        [_origin_entry(world, "A-1"), _origin_entry(world, "A-2")],
        now=world.now,
        checkpoint_key=world.keys[OPERATOR],
        progress=seen.append,
    )
    assert cp is not None and seen
    signed, _ = open_checkpoint(cp, world.ledger.verifier())
    assert signed.size == done[-1].index + 1 == world.ledger.size()
    assert world.ledger.latest_checkpoint() == cp


def test_append_entries_with_a_wrong_checkpoint_key_writes_nothing(world: World) -> None:
    size = world.ledger.size()
    with pytest.raises(ProofError, match="operator"):
        append_entries(
            world.ledger,
            [_origin_entry(world, "A-1")],
            now=world.now,
            checkpoint_key=world.keys["Jwaneng"],
        )
    assert world.ledger.size() == size


def test_verify_consistency_of_two_checkpoints(world: World) -> None:
    operator = world.keys[OPERATOR]
    old = world.ledger.checkpoint(operator)
    world.origin("Jwaneng", "A-1")
    new = world.ledger.checkpoint(operator)
    verifier = world.ledger.verifier()
    sizes = verify_consistency(world.ledger, old, new, verifier)
    assert sizes == (world.ledger.size() - 1, world.ledger.size())
    with pytest.raises(ProofError, match="larger than the new"):
        verify_consistency(world.ledger, new, old, verifier)


def test_latest_failure_names_later_events(world: World) -> None:
    world.origin("Jwaneng", "A-1")
    world.ledger.checkpoint(world.keys[OPERATOR])
    report = inspect_bundle(world.ledger.prove("A-1"), world.ledger.verifier())
    assert latest_failure(world.ledger, report) is None
    world.split("Jwaneng", "A-1", [("A-1a", 500), ("A-1b", 500)])
    assert "later events of A-1" in str(latest_failure(world.ledger, report))
