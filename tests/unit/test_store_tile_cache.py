"""A store keeps the levels of the tiles its appends complete, but only once committed.

The levels of a full tile never change, so a long-running node can answer inclusion
proofs for the tiles it completed without reading and hashing them again. A rolled-back
append must leave nothing behind: its tiles may be filled with other leaves later.
"""

from __future__ import annotations

import pytest

from ledger.core import merkle, tiles
from ledger.core.model import SignedEntry
from ledger.errors import LedgerError
from tests.conftest import World

TILE0 = (0, 0, tiles.TILE_WIDTH)


def _origins(world: World, first: int, n: int) -> list[SignedEntry]:
    return [
        world.sign(
            "origin",
            {"parcel": f"TC{i}", "carats": 100, "stones": 1, "mine": "Pit", "hs": "7102.10"},
            "Jwaneng",
        )
        for i in range(first, first + n)
    ]


def _fill_to(world: World, size: int) -> None:
    missing = size - world.ledger.size()
    world.append_all(_origins(world, 0, missing))
    assert world.ledger.size() == size


def test_a_committed_append_caches_the_tile_it_completes(world: World) -> None:
    store = world.ledger.store
    _fill_to(world, tiles.TILE_WIDTH - 1)
    assert store._tile_cache.get(TILE0) is None
    world.append_all(_origins(world, 1000, 2))  # leaf 255 completes tile 0/0
    cached = store._tile_cache.get(TILE0)
    assert cached is not None
    stored = store.tile_reader().read_tiles([(0, 0)])[(0, 0)]
    assert cached[0] == stored
    # The cached levels are the ones a reader computes from the stored tile.
    size = store.size()
    fresh = tiles.TileHashReader(store.tile_reader(), size, cache=tiles.TileCache())
    for index in (0, 17, 200, 255):
        assert merkle.inclusion_proof(index, size, store.hash_reader(size)) == (
            merkle.inclusion_proof(index, size, fresh)
        )


def test_a_rolled_back_append_caches_nothing(world: World) -> None:
    store = world.ledger.store
    _fill_to(world, tiles.TILE_WIDTH - 1)

    def boom(size: int, root: bytes, map_root: bytes) -> str:
        raise LedgerError("signing failed", rule="R-TEST")

    with pytest.raises(LedgerError, match="signing failed"):
        store.append(_origins(world, 1000, 2), now=world.now, checkpoint=boom)
    assert store.size() == tiles.TILE_WIDTH - 1
    assert store._tile_cache.get(TILE0) is None
    # Other leaves complete the tile afterwards; the cache holds theirs.
    world.append_all(_origins(world, 2000, 1))
    cached = store._tile_cache.get(TILE0)
    assert cached is not None
    assert cached[0] == store.tile_reader().read_tiles([(0, 0)])[(0, 0)]
