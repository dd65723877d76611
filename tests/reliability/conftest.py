"""Shared fixtures of the reliability tests: one small ledger with a provenance bundle.

``bundle_scene`` (module scope) builds, with the ``World`` helper of ``tests/conftest.py``:
a Botswana parcel shipped to Antwerp (KP certificate, offer, accept), split, shipped to
Surat, cut into two stones; ``STONE-0001`` goes to a New York lab (graded) and retailer,
``STONE-0002`` is sold. Checkpoints are signed before the stone's last moves (``cp_old``),
after them (``cp_main``, the one ``bundle`` carries) and after the sale (``cp_new``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ledger.core import note, proofs
from ledger.core.model import Record
from ledger.ledger import Ledger
from tests.conftest import OPERATOR, ORIGIN, World


@dataclass(frozen=True, repr=False)
class Scene:
    bundle: bytes  # STONE-0001 against cp_main
    decoded: proofs.Bundle
    verifier: note.Verifier
    head_index: int  # record index of the entry that produced STONE-0001's state
    cp_old: str
    cp_main: str
    cp_new: str
    cp_forked: str  # signed by the operator, same size as cp_main, another root
    sold_bundle: bytes  # STONE-0002 (sold) against cp_new
    sell_index: int
    types: dict[int, str]  # record index -> entry type, for the bundle's records
    seed: bytes  # the operator's signing seed
    log: tuple[bytes, ...]  # every record of the ledger, in order
    seeds_by_kid: dict[bytes, bytes]  # every participant's key id -> signing seed
    items: tuple[str, ...]  # every parcel and stone id

    def __repr__(self) -> str:  # short: hypothesis prints strategy arguments
        return f"Scene(<{len(self.log)} records, bundle of {len(self.bundle)} bytes>)"


def build_scene(path: str) -> Scene:
    w = World.create(path)
    try:
        w.origin("Jwaneng", "ROUGH-A", carats=10_000)
        w.ship("Jwaneng", "Antwerp Trader", ["ROUGH-A"])
        w.split("Antwerp Trader", "ROUGH-A", [("LOT-B1", 6_000), ("LOT-B2", 4_000)])
        w.ship("Antwerp Trader", "Surat Cutter", ["LOT-B1"])
        w.cut("Surat Cutter", ["LOT-B1"], [("STONE-0001", 2_500), ("STONE-0002", 1_200)])
        op = w.keys[OPERATOR]
        cp_old = w.ledger.checkpoint(op)
        w.ship("Surat Cutter", "New York Lab", ["STONE-0001"], warranty="2021")
        w.grade("New York Lab", "STONE-0001")
        head = w.ship("New York Lab", "New York Retailer", ["STONE-0001"], warranty="2021")
        cp_main = w.ledger.checkpoint(op)
        bundle = w.ledger.prove("STONE-0001")
        w.ship("Surat Cutter", "New York Retailer", ["STONE-0002"], warranty="2021")
        sold = w.sell("New York Retailer", "STONE-0002", price_usd_cents=500_000)
        cp_new = w.ledger.checkpoint(op)
        sold_bundle = w.ledger.prove("STONE-0002")
        main = note.parse_checkpoint(note.parse_note(cp_main).text)
        forked = note.kpledger_checkpoint(main.origin, main.size, bytes(32), note.map_root(main))
        cp_forked = note.sign_checkpoint(forked, ORIGIN, op.seed)
        decoded = proofs.Bundle.decode(bundle)
        types = {r.index: Record.from_wire(r.record).entry().type for r in decoded.records}
        return Scene(
            bundle=bundle,
            decoded=decoded,
            verifier=w.ledger.verifier(),
            head_index=head.index,
            cp_old=cp_old,
            cp_main=cp_main,
            cp_new=cp_new,
            cp_forked=cp_forked,
            sold_bundle=sold_bundle,
            sell_index=sold.index,
            types=types,
            seed=op.seed,
            log=tuple(w.ledger.store.iter_records()),
            seeds_by_kid={k.kid: k.seed for k in w.keys.values()},
            items=("ROUGH-A", "LOT-B1", "LOT-B2", "STONE-0001", "STONE-0002"),
        )
    finally:
        w.close()


def fingerprint(ledger: Ledger) -> tuple[int, bytes, list[tuple[Any, ...]]]:
    """Size, Merkle root and every derived-state row: equal iff nothing was written."""
    rows = ledger.store.conn.execute("SELECT kind, key, value FROM state ORDER BY kind, key")
    return ledger.size(), ledger.store.root(), [tuple(r) for r in rows]


@pytest.fixture(scope="module")
def bundle_scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    yield build_scene(str(tmp_path_factory.mktemp("scene") / "scene.kpl"))
