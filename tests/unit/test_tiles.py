"""Unit tests for ``ledger.tiles``: paths, tile sets, tile-backed proofs and appends.

The tile-backed tree is checked against ``merkle.ListHashReader`` (a different code path
over a plain list) with appends in random batch sizes, and once at a size above 70 000
where three tile levels and partial tiles at every level are in play.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import merkle, tiles
from ledger.errors import ProofError


class DictTiles(dict[tuple[int, int], bytes]):
    """The simplest TileReader: a dict, as a store would hold the tiles."""

    reads: int = 0

    def read_tiles(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        self.reads += 1
        return {k: self[k] for k in keys if k in self}


def _leaves(n: int, start: int = 0) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(8, "big")) for i in range(start, start + n)]


def _build(leaves: Sequence[bytes], batches: Sequence[int]) -> DictTiles:
    store = DictTiles()
    size = 0
    for b in batches:
        store.update(tiles.append_to_tiles(size, leaves[size : size + b], store))
        size += b
    assert size == len(leaves)
    return store


# ------------------------------------------------------------------------------------------
# Paths
# ------------------------------------------------------------------------------------------


def test_tile_path_examples() -> None:
    assert tiles.TILE_HEIGHT == 8
    assert tiles.TILE_WIDTH == 256
    assert tiles.tile_path(0, 1234, 5) == "tile/0/x001/234.p/5"
    assert tiles.tile_path(0, 0) == "tile/0/000"
    assert tiles.tile_path(63, 1234067, 255) == "tile/63/x001/x234/067.p/255"
    assert tiles.tile_path(1, 1000) == "tile/1/x001/000"
    assert tiles.tile_path(2, 999) == "tile/2/999"
    assert tiles.entries_path(0, 3) == "tile/entries/000.p/3"
    assert tiles.entries_path(2**64 - 1) == "tile/entries/x018/x446/x744/x073/x709/x551/615"


def test_tile_path_arguments() -> None:
    for level, index, width in [(64, 0, 1), (-1, 0, 1), (0, -1, 1), (0, 0, 0), (0, 0, 257)]:
        with pytest.raises(ValueError):
            tiles.tile_path(level, index, width)
    with pytest.raises(ValueError):
        tiles.entries_path(2**64)
    with pytest.raises(TypeError):
        tiles.tile_path(0, True)
    with pytest.raises(TypeError):
        tiles.entries_path(0, 1.5)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.none(), st.integers(min_value=0, max_value=63)),
    st.integers(min_value=0, max_value=2**64 - 1),
    st.integers(min_value=1, max_value=256),
)
def test_parse_round_trip(level: int | None, index: int, width: int) -> None:
    path = (
        tiles.entries_path(index, width) if level is None else tiles.tile_path(level, index, width)
    )
    assert tiles.parse_tile_path(path) == (level, index, width)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "tile",
        "tile/",
        "tile//000",
        "/tile/0/000",
        "tile/0/000/",
        "tile/0/000\n",
        " tile/0/000",
        "tile/0/1234",  # group too long
        "tile/0/01",  # group too short
        "tile/0/001/234",  # missing x
        "tile/0/x001/x234",  # x on the last group
        "tile/0/x01/234",
        "tile/0/x0001/234",
        "tile/0/x000/001",  # non-canonical: leading zero group
        "tile/0/X001/234",
        "tile/00/000",
        "tile/01/000",
        "tile/64/000",
        "tile/100/000",
        "tile/-1/000",
        "tile/+1/000",
        "tile/data/000",
        "tile/entry/000",
        "tile/Entries/000",
        "tile/0/000.p/256",
        "tile/0/000.p/0",
        "tile/0/000.p/05",
        "tile/0/000.p/",
        "tile/0/000.p",
        "tile/0/000.p/1/",
        "tile/0/000.p/1000",
        "tile/0/000.P/5",
        "tile/0/000.p/-1",
        "tile/0/\u0660\u0660\u0660",  # Arabic-Indic digits
        "tile/\u0660/000",
        "tile/8/0/001",  # Go sumdb spelling with the height
        "tile/0/x018/x446/x744/x073/x709/x551/616",  # index 2**64
        "tile/0/" + "x999/" * 40 + "999",
    ],
)
def test_parse_rejects(path: str) -> None:
    with pytest.raises(ProofError):
        tiles.parse_tile_path(path)


def test_parse_type_error() -> None:
    with pytest.raises(TypeError):
        tiles.parse_tile_path(b"tile/0/000")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# Tile sets
# ------------------------------------------------------------------------------------------


def test_tiles_for_size_examples() -> None:
    assert tiles.tiles_for_size(0) == []
    assert tiles.tiles_for_size(1) == [(0, 0, 1)]
    assert tiles.tiles_for_size(255) == [(0, 0, 255)]
    assert tiles.tiles_for_size(256) == [(0, 0, 256), (1, 0, 1)]
    assert tiles.tiles_for_size(300) == [(0, 0, 256), (0, 1, 44), (1, 0, 1)]
    got = tiles.tiles_for_size(70000)
    assert got[:273] == [(0, n, 256) for n in range(273)]
    assert got[273:] == [(0, 273, 112), (1, 0, 256), (1, 1, 17), (2, 0, 1)]
    big = tiles.tiles_for_size(256**3)
    assert big[-3:] == [(1, 255, 256), (2, 0, 256), (3, 0, 1)]
    with pytest.raises(ValueError):
        tiles.tiles_for_size(-1)
    with pytest.raises(TypeError):
        tiles.tiles_for_size(1.0)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=2**21))
def test_tiles_for_size_counts(size: int) -> None:
    """Each level l holds size >> 8l hashes, split into 256-wide tiles, partial one last."""
    by_level: dict[int, list[tuple[int, int]]] = {}
    for level, index, width in tiles.tiles_for_size(size):
        by_level.setdefault(level, []).append((index, width))
    assert list(by_level) == [lv for lv in range(9) if size >> (8 * lv)]
    for level, row in by_level.items():
        assert [index for index, _ in row] == list(range(len(row)))  # in order, no gaps
        assert all(width == 256 for _, width in row[:-1])  # only the last may be partial
        assert sum(width for _, width in row) == size >> (8 * level)


# ------------------------------------------------------------------------------------------
# Tile-backed tree vs list
# ------------------------------------------------------------------------------------------

MAX_LEAVES = 2000
ALL_LEAVES = _leaves(MAX_LEAVES)


def _check_against_list(store: DictTiles, size: int, old: int, probes: Sequence[int]) -> None:
    lst = merkle.ListHashReader(ALL_LEAVES[:size])
    tr = tiles.TileHashReader(store, size)
    root = merkle.tree_root(size, tr)
    assert root == merkle.tree_root(size, lst)
    assert root == merkle.root_from_leaf_hashes(ALL_LEAVES[:size])
    for i in probes:
        proof = merkle.inclusion_proof(i, size, tr)
        assert proof == merkle.inclusion_proof(i, size, lst)
        merkle.verify_inclusion(ALL_LEAVES[i], i, size, proof, root)
    cproof = merkle.consistency_proof(old, size, tr)
    assert cproof == merkle.consistency_proof(old, size, lst)
    merkle.verify_consistency(old, size, merkle.tree_root(old, lst), root, cproof)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_tiles_match_list(data: st.DataObject) -> None:
    total = data.draw(st.integers(min_value=1, max_value=MAX_LEAVES), label="total")
    sizes = st.one_of(
        st.integers(min_value=1, max_value=4),
        st.integers(min_value=250, max_value=260),
        st.integers(min_value=1, max_value=700),
    )
    store = DictTiles()
    size = 0
    while size < total:
        batch = min(data.draw(sizes, label="batch"), total - size)
        written = tiles.append_to_tiles(size, ALL_LEAVES[size : size + batch], store)
        # Only tiles on the new right edge or completed by this batch are written.
        assert all(len(v) % 32 == 0 and 0 < len(v) <= 8192 for v in written.values())
        store.update(written)
        old, size = size, size + batch
        probes = {0, size - 1, old, data.draw(st.integers(0, size - 1), label="probe")}
        _check_against_list(store, size, max(old, 1), sorted(p for p in probes if p < size))
    # Storage holds exactly the C2SP tiles for the final size, each with its width.
    assert {k: len(v) for k, v in store.items()} == {
        (lv, n): w * 32 for lv, n, w in tiles.tiles_for_size(size)
    }


def test_tiles_match_list_at_70000_plus() -> None:
    size = 70_123
    leaves = _leaves(size)
    # Single leaves across a tile boundary, a batch that completes many tiles at once, and
    # batches that leave partial tiles at levels 0, 1 and 2.
    batches = [1, 254, 1, 1, 300, 65_000, 4_000, 255, 257, 54]
    store = _build(leaves, batches)
    assert {k: len(v) for k, v in store.items()} == {
        (lv, n): w * 32 for lv, n, w in tiles.tiles_for_size(size)
    }
    lst = merkle.ListHashReader(leaves)
    tr = tiles.TileHashReader(store, size)
    root = merkle.root_from_leaf_hashes(leaves)
    assert merkle.tree_root(size, tr) == root == merkle.tree_root(size, lst)
    for i in [0, 1, 255, 256, 65_535, 65_536, 69_999, 70_000, size - 1, 12_345]:
        proof = merkle.inclusion_proof(i, size, tr)
        assert proof == merkle.inclusion_proof(i, size, lst)
        merkle.verify_inclusion(leaves[i], i, size, proof, root)
    for old in [1, 256, 65_536, 70_000, size - 1]:
        proof = merkle.consistency_proof(old, size, tr)
        assert proof == merkle.consistency_proof(old, size, lst)
        merkle.verify_consistency(
            old, size, merkle.root_from_leaf_hashes(leaves[:old]), root, proof
        )
    # Level-1 hash i is the root of full level-0 tile i (C2SP tlog-tiles).
    assert store[(1, 0)][32:64] == merkle.root_from_leaf_hashes(leaves[256:512])
    # Older sizes read from the grown store: partial tiles are longer than needed.
    for old in [70_000, 65_536, 300]:
        assert merkle.tree_root(old, tiles.TileHashReader(store, old)) == (
            merkle.root_from_leaf_hashes(leaves[:old])
        )


def test_append_reads_once_and_only_edge_tiles() -> None:
    leaves = _leaves(600)
    store = _build(leaves[:300], [300])
    store.reads = 0
    out = tiles.append_to_tiles(300, leaves[300:600], store)
    assert store.reads == 1
    assert sorted(out) == [(0, 1), (0, 2), (1, 0)]
    assert tiles.append_to_tiles(300, [], store) == {}
    # Appending from an empty tree reads nothing.
    empty = DictTiles()
    tiles.append_to_tiles(0, leaves[:5], empty)
    assert empty.reads == 0


def test_shared_cache_across_sizes() -> None:
    leaves = _leaves(1000)
    cache = tiles.TileCache(max_tiles=3)
    store = DictTiles()
    size = 0
    for batch in [300, 1, 255, 444]:
        store.update(tiles.append_to_tiles(size, leaves[size : size + batch], store, cache=cache))
        size += batch
        for s in range(size - 3, size + 1):
            reader = tiles.TileHashReader(store, s, cache=cache)
            assert merkle.tree_root(s, reader) == merkle.root_from_leaf_hashes(leaves[:s])
            proof = merkle.inclusion_proof(s - 1, s, reader)
            merkle.verify_inclusion(leaves[s - 1], s - 1, s, proof, merkle.tree_root(s, reader))
    assert len(cache) <= 3
    with pytest.raises(ValueError):
        tiles.TileCache(0)


# ------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------


def test_tile_hash_reader_errors() -> None:
    leaves = _leaves(300)
    store = _build(leaves, [300])
    reader = tiles.TileHashReader(store, 300)
    for level, index in [(0, 300), (9, 0), (8, 1), (-1, 0), (0, -1), (2, 75)]:
        with pytest.raises(ValueError):
            reader.subtree_hash(level, index)
    with pytest.raises(ValueError):
        tiles.TileHashReader(store, -1)
    with pytest.raises(ValueError):
        reader.tile_levels(0, 2)

    missing = DictTiles({k: v for k, v in store.items() if k != (0, 1)})
    with pytest.raises(ProofError, match="missing"):
        merkle.tree_root(300, tiles.TileHashReader(missing, 300))
    short = DictTiles({**store, (0, 1): store[(0, 1)][:-32]})
    with pytest.raises(ProofError, match=r"tile/0/001\.p/44: expected 1408 bytes"):
        merkle.tree_root(300, tiles.TileHashReader(short, 300))
    ragged = DictTiles({**store, (0, 1): store[(0, 1)] + b"\x00"})
    with pytest.raises(ProofError):
        merkle.tree_root(300, tiles.TileHashReader(ragged, 300))


def test_append_errors() -> None:
    leaves = _leaves(300)
    store = _build(leaves, [300])
    with pytest.raises(ValueError, match="leaf hash 1"):
        tiles.append_to_tiles(300, [leaves[0], b"short"], store)
    with pytest.raises(ValueError):
        tiles.append_to_tiles(-1, leaves[:1], store)
    with pytest.raises(TypeError):
        tiles.append_to_tiles(True, leaves[:1], store)
    with pytest.raises(ProofError, match="missing"):
        tiles.append_to_tiles(300, leaves[:1], DictTiles())
    with pytest.raises(ProofError, match="expected 1408 bytes"):
        tiles.append_to_tiles(300, leaves[:1], DictTiles({(0, 1): store[(0, 1)][:64]}))
    # One leaf at a time takes a shorter path (only the level-0 edge tile changes, unless
    # the leaf completes it): the same checks, and a bytearray leaf is stored as bytes.
    with pytest.raises(ValueError, match="leaf hash 0"):
        tiles.append_to_tiles(300, [b"short"], store)
    out = tiles.append_to_tiles(300, [bytearray(leaves[0])], store)
    assert out == {(0, 1): store[(0, 1)] + leaves[0]}
    assert type(out[(0, 1)]) is bytes


def test_one_leaf_per_call_equals_one_batch() -> None:
    leaves = _leaves(1100)
    one = _build(leaves, [1] * len(leaves))
    assert one == _build(leaves, [len(leaves)])
    # A stored edge tile longer than the size needs (it grew since) is cut to the size.
    grown = DictTiles(one)
    out = tiles.append_to_tiles(1090, [leaves[0]], grown)
    assert out == {(0, 4): one[(0, 4)][: 66 * 32] + leaves[0]}


def test_tiles_imports() -> None:
    """The module is pure (STYLE.md): stdlib, ledger.errors and ledger.merkle only."""
    source = (Path(tiles.__file__).parent / "tiles.py").read_text()  # compiled or not
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    allowed = {"__future__", "hashlib", "re", "collections.abc", "typing"}
    assert imported <= allowed | {"ledger.errors", "ledger.core.merkle"}
