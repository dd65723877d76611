"""A ledger file and a node are one interface (``ledger.api.LedgerAPI``).

mypy checks the conformance statically (``_conforms`` in ``ledger/ledger.py`` and
``ledger/net/client.py``); this checks it at run time, and that both classes offer no
public method the protocol lacks, so that the CLI never reaches past it.
"""

from __future__ import annotations

import inspect

from ledger.api import LedgerAPI
from ledger.ledger import Ledger
from ledger.net.client import RemoteLedger
from tests.conftest import World


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
    assert _public(RemoteLedger) - _public(LedgerAPI) <= {"raw_records"}
