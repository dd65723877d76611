"""The fast inclusion proofs of ``tiles.TileHashReader`` against the generic algorithm.

``merkle.inclusion_proof`` hands a ``TileHashReader`` its own ``inclusion_proof`` (tile by
tile, with cached right-edge tails). Every proof here is compared with the generic
algorithm over the same tiles (a wrapper that only offers ``subtree_hash``) and with
``merkle.ListHashReader``, and verified against the root. One store of 70 123 leaves gives
three tile levels and a partial tile at each; smaller trees are read from it too (a
reader for an older size sees partial tiles longer than it needs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import merkle, tiles
from ledger.errors import ProofError

SIZE = 70_123


class DictTiles(dict[tuple[int, int], bytes]):
    """A dict as a TileReader, counting reads."""

    reads: int = 0

    def read_tiles(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        self.reads += 1
        return {k: self[k] for k in keys if k in self}


class SubtreeOnly:
    """Hides the reader's fast path: merkle then runs its generic algorithm."""

    def __init__(self, reader: merkle.HashReader) -> None:
        self._reader = reader

    def subtree_hash(self, level: int, index: int) -> bytes:
        return self._reader.subtree_hash(level, index)


@cache
def _leaves() -> tuple[bytes, ...]:
    return tuple(merkle.leaf_hash(i.to_bytes(8, "big")) for i in range(SIZE))


@cache
def _store() -> DictTiles:
    leaves = _leaves()
    store = DictTiles()
    size = 0
    for batch in [1, 300, 255, 65_000, 4_000, 257, 310]:
        store.update(tiles.append_to_tiles(size, leaves[size : size + batch], store))
        size += batch
    assert size == SIZE
    return store


@cache
def _lists(size: int) -> merkle.ListHashReader:
    return merkle.ListHashReader(_leaves()[:size])


def _check(size: int, indexes: Sequence[int], cache_: tiles.TileCache | None = None) -> None:
    store = _store()
    root = merkle.root_from_leaf_hashes(_leaves()[:size])
    for i in indexes:
        fast = tiles.TileHashReader(store, size, cache=cache_)
        proof = merkle.inclusion_proof(i, size, fast)
        assert proof == fast.inclusion_proof(i, size)
        generic = merkle.inclusion_proof(i, size, SubtreeOnly(tiles.TileHashReader(store, size)))
        assert proof == generic == merkle.inclusion_proof(i, size, _lists(size))
        assert all(type(h) is bytes and len(h) == 32 for h in proof)
        merkle.verify_inclusion(_leaves()[i], i, size, proof, root)


# Sizes around every tile boundary that exists below SIZE.
EDGE_SIZES = sorted(
    {1, 2, 3, 255, 256, 257, 511, 512, 513, 767, 768, 65_535, 65_536, 65_537, 65_791, 65_792}
    | {65_536 + 256 * 17, 65_536 + 256 * 17 + 5, 70_000, SIZE - 1, SIZE}
)


@pytest.mark.parametrize("size", EDGE_SIZES)
def test_fast_proofs_at_tile_boundaries(size: int) -> None:
    picks = {0, 1, size // 2, size - 2, size - 1, (size - 1) & ~255, ((size - 1) & ~255) - 1}
    picks |= {(size - 1) & ~65_535, ((size - 1) & ~65_535) - 1, 255, 256, 65_535}
    _check(size, sorted(i for i in picks if 0 <= i < size))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_fast_proofs_match_generic(data: st.DataObject) -> None:
    size = data.draw(
        st.one_of(
            st.integers(min_value=1, max_value=600),
            st.integers(min_value=65_000, max_value=SIZE),
            st.integers(min_value=1, max_value=SIZE),
        ),
        label="size",
    )
    indexes = data.draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=4), label="i")
    _check(size, indexes)


def test_one_cache_many_sizes_and_evictions() -> None:
    """A shared cache stays right across sizes, and when tiles and tails are evicted."""
    for cache_ in (tiles.TileCache(), tiles.TileCache(max_tiles=1)):
        for size in [SIZE, 300, 65_537, SIZE, 256, 70_000]:
            _check(size, [0, size // 3, size - 1], cache_)
        assert len(cache_) <= cache_.max_tiles


def test_warm_cache_reads_nothing() -> None:
    store = _store()
    cache_ = tiles.TileCache()
    first = [
        merkle.inclusion_proof(i, SIZE, tiles.TileHashReader(store, SIZE, cache=cache_))
        for i in range(0, SIZE, 97)
    ]
    store.reads = 0
    again = [
        merkle.inclusion_proof(i, SIZE, tiles.TileHashReader(store, SIZE, cache=cache_))
        for i in range(0, SIZE, 97)
    ]
    assert again == first
    assert store.reads == 0


def test_cache_filled_by_append_is_used() -> None:
    """Tiles completed by append_to_tiles(cache=...) serve proofs without a read."""
    leaves = _leaves()[:1024]
    store = DictTiles()
    cache_ = tiles.TileCache()
    store.update(tiles.append_to_tiles(0, leaves, store, cache=cache_))
    store.reads = 0
    reader = tiles.TileHashReader(store, 1024, cache=cache_)
    root = merkle.root_from_leaf_hashes(leaves)
    for i in [0, 300, 1023]:
        merkle.verify_inclusion(leaves[i], i, 1024, merkle.inclusion_proof(i, 1024, reader), root)
    assert store.reads == 1  # only the level-1 tile, which append does not cache


def test_entry_with_fewer_heights_is_completed() -> None:
    """A cache entry put with only the tile itself gets its heights computed, not re-read."""
    full = _store()
    requested: list[tuple[int, int]] = []

    class Recording(DictTiles):
        def read_tiles(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
            requested.extend(keys)
            return super().read_tiles(keys)

    store = Recording(full)
    cache_ = tiles.TileCache()
    cache_.put((0, 3, 256), [full[(0, 3)]])
    cache_.put((0, 273, 235), [full[(0, 273)]])
    reader = tiles.TileHashReader(store, SIZE, cache=cache_)
    levels = reader.tile_levels(0, 3)
    assert len(levels) == 8  # heights 0-7; the tile root lives in the level above
    assert [len(h) for h in levels] == [32 * (256 >> h) for h in range(8)]
    assert levels[7][32:] == merkle.root_from_leaf_hashes(_leaves()[3 * 256 + 128 : 4 * 256])
    cache_.put((0, 3, 256), [full[(0, 3)]])
    requested.clear()
    for i in [3 * 256 + 7, 273 * 256 + 100]:
        assert reader.inclusion_proof(i, SIZE) == merkle.inclusion_proof(i, SIZE, _lists(SIZE))
    assert requested  # the tiles of levels 1 and 2
    assert (0, 3) not in requested
    assert (0, 273) not in requested
    assert len(cache_.get((0, 273, 235)) or []) == 8


def test_other_size_uses_generic_algorithm() -> None:
    """A reader declines a proof for another size; merkle then goes the generic way."""
    store = _store()
    reader = tiles.TileHashReader(store, SIZE)
    assert reader.inclusion_proof(5, 1000) is None
    assert merkle.inclusion_proof(5, 1000, reader) == merkle.inclusion_proof(5, 1000, _lists(1000))
    with pytest.raises(ValueError):
        merkle.inclusion_proof(0, SIZE + 1, tiles.TileHashReader(store, SIZE - 1))


def test_bad_arguments() -> None:
    store = _store()
    reader = tiles.TileHashReader(store, SIZE)
    for index, size in [(SIZE, SIZE), (-1, SIZE), (0, 0)]:
        with pytest.raises(ValueError):
            merkle.inclusion_proof(index, size, reader)
    with pytest.raises(ValueError, match="leaf index 70123 is not in a tree of size 70123"):
        reader.inclusion_proof(SIZE, SIZE)
    with pytest.raises(ValueError, match="size must be >= 0, got -1"):
        merkle.inclusion_proof(0, -1, reader)
    with pytest.raises(TypeError):
        merkle.inclusion_proof(True, SIZE, reader)
    with pytest.raises(TypeError):
        merkle.inclusion_proof(0, float(SIZE), reader)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tiles.TileHashReader(store, True)
    with pytest.raises(ValueError, match="size must be >= 0"):
        tiles.TileHashReader(store, -5)


@pytest.mark.parametrize(
    ("broken", "index", "message"),
    [
        ((0, 5), 5 * 256 + 1, r"tile/0/005 is missing for tree size 70123"),
        ((1, 0), 7, r"tile/1/000 is missing"),
        ((1, 1), 7, r"tile/1/001\.p/17 is missing"),  # folded into the right-edge range
        ((0, 273), SIZE - 1, r"tile/0/273\.p/235 is missing"),
        ((1, 1), SIZE - 1, r"tile/1/001\.p/17 is missing"),
    ],
)
def test_missing_tiles(broken: tuple[int, int], index: int, message: str) -> None:
    store = DictTiles({k: v for k, v in _store().items() if k != broken})
    with pytest.raises(ProofError, match=message):
        merkle.inclusion_proof(index, SIZE, tiles.TileHashReader(store, SIZE))


def test_unneeded_tile_is_not_read() -> None:
    """Tile (2, 0) holds one hash at 70 123 leaves, and no audit path goes through it."""
    store = DictTiles({k: v for k, v in _store().items() if k != (2, 0)})
    proof = merkle.inclusion_proof(7, SIZE, tiles.TileHashReader(store, SIZE))
    assert proof == merkle.inclusion_proof(7, SIZE, _lists(SIZE))


def test_short_and_ragged_tiles() -> None:
    full = _store()
    short = DictTiles({**full, (0, 5): full[(0, 5)][:-32]})
    with pytest.raises(ProofError, match=r"tile/0/005: expected 8192 bytes .* got 8160"):
        merkle.inclusion_proof(5 * 256, SIZE, tiles.TileHashReader(short, SIZE))
    ragged = DictTiles({**full, (0, 273): full[(0, 273)] + b"\x00"})
    with pytest.raises(ProofError, match=r"tile/0/273\.p/235"):
        merkle.inclusion_proof(SIZE - 1, SIZE, tiles.TileHashReader(ragged, SIZE))
    # A failed read caches nothing: the next reader with good tiles succeeds.
    cache_ = tiles.TileCache()
    with pytest.raises(ProofError):
        merkle.inclusion_proof(5 * 256, SIZE, tiles.TileHashReader(short, SIZE, cache=cache_))
    _check(SIZE, [5 * 256], cache_)


def test_next_level_rows() -> None:
    hashes = list(_leaves()[:600])
    for n in [0, 1, 2, 3, 255, 256, 257, 600]:
        row = b"".join(hashes[:n])
        want = b"".join(merkle.node_hash(hashes[i], hashes[i + 1]) for i in range(0, n - 1, 2))
        assert tiles._next_level(row) == want
