"""C2SP tlog-tiles layout (tile height 8) on top of :mod:`ledger.merkle`.

What this module does (specs/merkle.md §4):

* encodes and parses tile paths (``tile/<L>/<N>[.p/<W>]``, ``tile/entries/<N>[.p/<W>]``,
  with ``<N>`` split into ``x001/234`` groups), rejecting every non-canonical spelling;
* lists the tiles that exist for a tree size (:func:`tiles_for_size`);
* reads perfect-subtree hashes from stored tiles (:class:`TileHashReader`, a
  :class:`ledger.merkle.HashReader`), so that roots and proofs come straight from tiles;
* computes the tiles to write after appending leaf hashes (:func:`append_to_tiles`).

What it deliberately does not do: any I/O. Tiles arrive through a :class:`TileReader`
callback and the tiles to write are returned, never written. It does not build or parse
entry bundles, checkpoints or notes, and it does not verify anything beyond the shape of
the tile data it is given (proof verification is :mod:`ledger.merkle`).

Storage holds exactly the C2SP tile contents for ``(level, index)``: the concatenated
32-byte hashes, ``width * 32`` bytes, where a partial tile is a shorter blob that is
rewritten as it grows and a full tile is 8192 bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

from ledger.core.merkle import HASH_SIZE
from ledger.errors import ProofError

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TileCache",
    "TileHashReader",
    "TileReader",
    "append_to_tiles",
    "entries_path",
    "parse_tile_path",
    "tile_path",
    "tiles_for_size",
]

#: Tile height, fixed by C2SP tlog-tiles ("Merkle Tree" section).
TILE_HEIGHT = 8
#: Hashes in a full tile (2 ** TILE_HEIGHT).
TILE_WIDTH = 256

_FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE  # 8192
#: Highest tile level C2SP allows (levels are 0-63).
_MAX_LEVEL = 63
#: Tile indexes are bounded by 64-bit tree sizes (2**64 leaves at most).
_INDEX_LIMIT = 1 << 64

_sha256 = hashlib.sha256
_K = TypeVar("_K")
_V = TypeVar("_V")
_NODE_PREFIX = b"\x01"  # RFC 6962 §2.1 interior-node prefix

# tile/<L or entries>/<N groups>[.p/<W>]; every part is re-checked by re-formatting.
_TILE_PATH_RE = re.compile(
    r"tile/(entries|0|[1-9][0-9]?)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?",
    re.ASCII,
)
_MAX_PATH_LEN = 128


# --------------------------------------------------------------------------------------------
# Paths (C2SP tlog-tiles "Merkle Tree" / "Log Entries"; specs/merkle.md §4.2)
# --------------------------------------------------------------------------------------------


def _check_index(index: int | bool) -> None:
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"tile index must be an int, not {type(index).__name__}")
    if not 0 <= index < _INDEX_LIMIT:
        raise ValueError(f"tile index must be in [0, 2**64), got {index}")


def _check_width(width: int | bool) -> None:
    if isinstance(width, bool) or not isinstance(width, int):
        raise TypeError(f"tile width must be an int, not {type(width).__name__}")
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width must be in [1, {TILE_WIDTH}], got {width}")


def _format_n(index: int, width: int) -> str:
    """``<N>[.p/<W>]``: 3-digit groups, every group but the last prefixed with ``x``."""
    path = f"{index % 1000:03d}"
    index //= 1000
    while index:
        path = f"x{index % 1000:03d}/{path}"
        index //= 1000
    if width < TILE_WIDTH:
        path += f".p/{width}"
    return path


def tile_path(level: int | bool, index: int | bool, width: int | bool = TILE_WIDTH) -> str:
    """Return the C2SP path of a hash tile, e.g. ``tile/0/x001/234.p/5``.

    Args:
        level: Tile level, 0-63 (level 0 holds leaf hashes).
        index: Tile index within the level.
        width: Number of hashes, 1-256; below 256 the path gets a ``.p/<W>`` suffix.

    Returns:
        The path, relative to the log prefix.

    Raises:
        ValueError: If an argument is out of range.
        TypeError: If an argument is not an int.
    """
    if isinstance(level, bool) or not isinstance(level, int):
        raise TypeError(f"tile level must be an int, not {type(level).__name__}")
    if not 0 <= level <= _MAX_LEVEL:
        raise ValueError(f"tile level must be in [0, {_MAX_LEVEL}], got {level}")
    _check_index(index)
    _check_width(width)
    return f"tile/{level}/{_format_n(index, width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """Return the C2SP path of an entry bundle, e.g. ``tile/entries/000.p/3``.

    Args:
        index: Bundle index (the same as the matching level-0 tile).
        width: Number of entries, 1-256.

    Returns:
        The path, relative to the log prefix.

    Raises:
        ValueError: If an argument is out of range.
        TypeError: If an argument is not an int.
    """
    _check_index(index)
    _check_width(width)
    return f"tile/entries/{_format_n(index, width)}"


def parse_tile_path(path: str) -> tuple[int | None, int, int]:
    """Parse a C2SP tile or entry-bundle path.

    Only the one canonical spelling is accepted (the path must re-format to itself, as in
    Go ``tlog.ParseTilePath``): no leading zeros in the level or width, exactly three
    digits per group, ``x`` on every group but the last, no ``.p/256``.

    Args:
        path: A path such as ``tile/1/x001/234.p/17`` or ``tile/entries/000``.

    Returns:
        ``(level, index, width)``, with ``level`` ``None`` for an entry bundle.

    Raises:
        ProofError: If the path is not a canonical C2SP tile path.
        TypeError: If ``path`` is not a str.
    """
    if not isinstance(path, str):
        raise TypeError(f"tile path must be a str, not {type(path).__name__}")
    m = _TILE_PATH_RE.fullmatch(path) if len(path) <= _MAX_PATH_LEN else None
    if m is None:
        raise ProofError(f"malformed tile path {path!r}: expected tile/<L>/<N>[.p/<W>]")
    level_s, n_s, width_s = m.groups()
    level = None if level_s == "entries" else int(level_s)
    index = 0
    for group in n_s.split("/"):
        index = index * 1000 + int(group.removeprefix("x"))
    width = TILE_WIDTH if width_s is None else int(width_s)
    if level is not None and level > _MAX_LEVEL:
        raise ProofError(f"malformed tile path {path!r}: level {level} > {_MAX_LEVEL}")
    if width >= TILE_WIDTH and width_s is not None:
        raise ProofError(f"malformed tile path {path!r}: partial width must be 1-255")
    if index >= _INDEX_LIMIT:
        raise ProofError(f"malformed tile path {path!r}: index {index} >= 2**64")
    canonical = entries_path(index, width) if level is None else tile_path(level, index, width)
    if canonical != path:
        raise ProofError(f"non-canonical tile path {path!r}: expected {canonical!r}")
    return level, index, width


# --------------------------------------------------------------------------------------------
# Which tiles exist (C2SP tlog-tiles "Partial Tiles"; specs/merkle.md §4.3)
# --------------------------------------------------------------------------------------------


def _tile_width(size: int, level: int, index: int) -> int:
    """Width of tile ``(level, index)`` in the tree of ``size``; 0 if it does not exist."""
    row = size >> (TILE_HEIGHT * level)  # hashes in the row of this tile level
    full = row >> TILE_HEIGHT
    if index < full:
        return TILE_WIDTH
    if index == full:
        return row & (TILE_WIDTH - 1)
    return 0


def tiles_for_size(size: int | bool) -> list[tuple[int, int, int]]:
    """Return every tile that exists for a tree of ``size`` leaves.

    At level ``l`` the row holds ``size >> 8l`` hashes: that many // 256 full tiles and,
    if the remainder is not zero, one partial tile of that width. Entry bundles match the
    level-0 tiles one to one.

    Args:
        size: The tree size.

    Returns:
        ``(level, index, width)`` tuples, by level then index. For 70000 this is 273 full
        level-0 tiles, ``(0, 273, 112)``, ``(1, 0, 256)``, ``(1, 1, 17)``, ``(2, 0, 1)``.

    Raises:
        ValueError: If ``size`` is negative.
        TypeError: If ``size`` is not an int.
    """
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size must be an int, not {type(size).__name__}")
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    out: list[tuple[int, int, int]] = []
    level = 0
    row = size
    while row:
        full, partial = divmod(row, TILE_WIDTH)
        out.extend((level, n, TILE_WIDTH) for n in range(full))
        if partial:
            out.append((level, full, partial))
        row >>= TILE_HEIGHT
        level += 1
    return out


# --------------------------------------------------------------------------------------------
# Reading hashes from tiles (specs/merkle.md §4.4)
# --------------------------------------------------------------------------------------------


class TileReader(Protocol):
    """Storage callback: returns stored tile contents."""

    def read_tiles(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        """Return ``(level, index) -> tile bytes`` for the requested tiles.

        The bytes are what ``tile/<L>/<N>`` would serve: concatenated 32-byte hashes, a
        full tile being 8192 bytes. A stored partial tile may be longer than the width a
        smaller tree needs (it grew since); a missing tile is left out of the mapping.
        """
        ...


#: ``_SIBLINGS[x][r]`` slices, out of height ``r`` of a tile, the sibling of the height-``r``
#: ancestor of the hash at position ``x`` (the audit-path node at that height).
_SIBLINGS = [
    tuple(
        slice(((x >> r) ^ 1) * HASH_SIZE, (((x >> r) ^ 1) + 1) * HASH_SIZE)
        for r in range(TILE_HEIGHT)
    )
    for x in range(TILE_WIDTH)
]

#: Right-edge audit-path tails a :class:`TileCache` keeps (tuples of at most 64 hashes).
_MAX_EDGES = 4096

_slice_bytes = bytes.__getitem__


def _next_level(prev: bytes) -> bytes:
    """Hash adjacent pairs of a concatenated hash row (RFC 6962 §2.1 interior nodes).

    An unpaired last hash is dropped: it is not a complete node at the next height.
    """
    step = 2 * HASH_SIZE
    end = len(prev) - len(prev) % step
    sha256, prefix = _sha256, _NODE_PREFIX
    # The hot loop of a cold proof: one SHA-256 per node, nothing else per iteration.
    # (Integer offsets, not prebuilt slice objects: compiled by mypyc, bytes[slice] of a
    # slice object held in a list is taken for an index.)
    return b"".join([sha256(prefix + prev[i : i + step]).digest() for i in range(0, end, step)])


def _tile_levels(data: bytes) -> list[bytes]:
    """All heights of a tile: ``levels[h]`` holds its complete height-``h`` nodes."""
    levels = [data]
    while len(data) > HASH_SIZE:
        data = _next_level(data)
        levels.append(data)
    return levels


def _tile_heights(data: bytes) -> list[bytes]:
    """Heights 0-7 of a tile, as far as they have a complete node.

    Height 8 (the tile's root) is left out: it is a stored hash of the level above, and
    no proof or subtree lookup reads it from this tile. A full tile costs 254 hashes.
    """
    levels = [data]
    while len(data) >= 2 * HASH_SIZE and len(levels) < TILE_HEIGHT:
        data = _next_level(data)
        levels.append(data)
    return levels


def _evict_oldest(entries: dict[_K, _V]) -> None:
    """Drop the oldest entry of a FIFO dict; a no-op if another thread changed it first."""
    try:
        del entries[next(iter(entries))]
    except (KeyError, RuntimeError, StopIteration):
        pass


def _heights(width: int) -> int:
    """How many heights :func:`_tile_heights` returns for a tile of ``width`` hashes."""
    return min(TILE_HEIGHT, width.bit_length())


class TileCache:
    """A bounded first-in-first-out cache of tiles and their intra-tile nodes.

    Entries are keyed by ``(level, index, width)``, so a full tile stays valid for every
    later tree size and one cache can be shared by many :class:`TileHashReader` objects (a
    store can keep one for its lifetime; never share one between two logs, since keys do
    not name the log). Each entry holds the tile and its interior nodes at heights 1-7,
    all computed when the tile is first read: about 16 KiB for a full tile, so the default
    of 4096 tiles (every level-0 tile of a 1M-leaf tree) stays under 70 MB, and only if
    that many tiles are actually read. The cache also keeps up to 4096 right-edge tails
    of audit paths (see :meth:`TileHashReader.inclusion_proof`), keyed by tree size; like
    a tile, such a tail never changes once the log has reached that size.

    Eviction is FIFO rather than LRU because a hit is then a single dict lookup (proof
    generation does about 3 per proof); a hot tile that gets evicted costs one re-read
    and at most 254 hashes.
    """

    def __init__(self, max_tiles: int = 4096) -> None:
        """Create an empty cache.

        Args:
            max_tiles: Maximum number of tiles kept (at least 1).

        Raises:
            ValueError: If ``max_tiles`` is below 1.
        """
        if max_tiles < 1:
            raise ValueError(f"max_tiles must be >= 1, got {max_tiles}")
        self.max_tiles = max_tiles
        self._entries: dict[tuple[int, int, int], list[bytes]] = {}
        self._edges: dict[tuple[int, int, int], tuple[bytes, ...]] = {}

    def __len__(self) -> int:
        """Return the number of cached tiles."""
        return len(self._entries)

    def get(self, key: tuple[int, int, int]) -> list[bytes] | None:
        """Return the cached heights of tile ``key``, or None."""
        return self._entries.get(key)

    def put(self, key: tuple[int, int, int], levels: list[bytes]) -> None:
        """Store the heights of tile ``key``, evicting the oldest tile when full.

        ``levels[h]`` must hold the tile's complete height-``h`` nodes, concatenated, from
        ``levels[0]`` (the tile itself) up; missing heights are computed when needed.
        """
        entries = self._entries
        entries.pop(key, None)
        while len(entries) >= self.max_tiles:
            _evict_oldest(entries)
        entries[key] = levels

    def absorb(self, other: TileCache) -> None:
        """Put every tile of ``other`` into this cache (oldest first)."""
        for key, levels in list(other._entries.items()):
            self.put(key, levels)


class TileHashReader:
    """A :class:`ledger.merkle.HashReader` over stored tiles, for one tree size.

    A perfect subtree at Merkle level ``L = 8t + r`` is node ``index`` at height ``r``
    inside the level-``t`` tile row; for ``r == 0`` it is a stored hash, otherwise it is
    computed from that tile (254 hashes for a full tile, once, then cached). Incomplete
    right-edge subtrees are never read from the level above: ``ledger.merkle`` folds them
    from perfect subtrees, which come from the partial tiles.

    Besides :meth:`subtree_hash` the reader offers :meth:`inclusion_proof`, which
    :func:`ledger.merkle.inclusion_proof` uses: it reads the audit path tile by tile (one
    cache lookup and a few slices per tile level) instead of one subtree at a time.
    """

    def __init__(
        self, reader: TileReader, size: int | bool, *, cache: TileCache | None = None
    ) -> None:
        """Create a reader for the tree of ``size`` leaves.

        Args:
            reader: Storage callback.
            size: The tree size the proofs are for.
            cache: Optional shared cache; by default each reader has its own.

        Raises:
            ValueError: If ``size`` is negative.
            TypeError: If ``size`` is not an int.
        """
        if type(size) is not int or size < 0:  # one test on the hot path (a reader per proof)
            if isinstance(size, bool) or not isinstance(size, int):
                raise TypeError(f"size must be an int, not {type(size).__name__}")
            if size < 0:
                raise ValueError(f"size must be >= 0, got {size}")
        self.size = size
        self._reader = reader
        self._cache = cache if cache is not None else TileCache()
        # Same module, so the hot paths read the cache's dicts directly (one lookup each).
        self._cached = self._cache._entries
        self._edges = self._cache._edges

    def _tile(self, t: int, n: int, width: int) -> list[bytes]:
        """Return heights 0-7 of tile ``(t, n)`` of ``width`` hashes, reading it if needed."""
        key = (t, n, width)
        levels = self._cached.get(key)
        if levels is not None:
            if len(levels) >= _heights(width):
                return levels
            data = levels[0]  # put() with fewer heights: compute the rest, do not re-read
        else:
            stored = self._reader.read_tiles([(t, n)]).get((t, n))
            if stored is None:
                raise ProofError(
                    f"tile {tile_path(t, n, width)} is missing for tree size {self.size}"
                )
            data = bytes(stored)
            need = width * HASH_SIZE
            if len(data) < need or len(data) % HASH_SIZE:
                raise ProofError(
                    f"tile {tile_path(t, n, width)}: expected {need} bytes for tree size "
                    f"{self.size}, got {len(data)}"
                )
            data = data[:need]
        # A new list, never an in-place extension: readers on other threads may hold the
        # old one.
        levels = _tile_heights(data)
        self._cache.put(key, levels)
        return levels

    def tile_levels(self, level: int, index: int) -> list[bytes]:
        """Return the heights of tile ``(level, index)``: ``[h]`` holds its height-``h`` nodes.

        Heights 0-7 are returned, as far as the tile has a complete node at that height.

        Raises:
            ValueError: If the tile does not exist for this tree size.
            ProofError: If the stored tile is missing or too short.
        """
        width = _tile_width(self.size, level, index)
        if width == 0:
            raise ValueError(f"tile ({level}, {index}) does not exist at size {self.size}")
        return self._tile(level, index, width)

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Return MTH of the perfect subtree ``(level, index)`` (see :class:`HashReader`).

        Raises:
            ValueError: If the subtree is not complete within the tree.
            ProofError: If a needed tile is missing or too short.
        """
        size = self.size
        if level < 0 or index < 0 or (index + 1) << level > size:
            raise ValueError(f"no complete subtree at level {level}, index {index} in size {size}")
        # _tile_width and the cache lookup are inlined.
        t, r = divmod(level, TILE_HEIGHT)
        pos = index << r  # position of the subtree's first hash in the level-t row
        n = pos >> TILE_HEIGHT
        row = size >> (TILE_HEIGHT * t)
        width = TILE_WIDTH if n < row >> TILE_HEIGHT else row & (TILE_WIDTH - 1)
        levels = self._cached.get((t, n, width))
        if levels is None or len(levels) <= r:
            levels = self._tile(t, n, width)
        off = ((pos & (TILE_WIDTH - 1)) >> r) * HASH_SIZE
        return levels[r][off : off + HASH_SIZE]

    def _range_hash(self, start: int) -> bytes:
        """Return MTH(D[start:size]) of an incomplete right-edge range.

        ``start`` is aligned to the largest power of two ``<= size - start``, as in
        ``merkle._range_hash``; the range is folded from its perfect subtrees.
        """
        parts: list[bytes] = []
        pos, width = start, self.size - start
        for level in range(width.bit_length() - 1, -1, -1):
            if width >> level & 1:
                parts.append(self.subtree_hash(level, pos >> level))
                pos += 1 << level
        h = parts.pop()
        while parts:
            h = _sha256(_NODE_PREFIX + parts.pop() + h).digest()
        return h

    def _edge_tail(self, index: int, shift: int) -> tuple[bytes, ...]:
        """Return the audit path of leaf ``index`` from Merkle level ``shift`` up (cached).

        Above level ``shift`` the path depends only on ``index >> shift``; it is cached
        per tree size, since on the right edge it costs a check per level and, where the
        sibling is an incomplete range, a fold of perfect subtrees.
        """
        size = self.size
        key = (size, shift, index >> shift)
        edges = self._edges
        tail = edges.get(key)
        if tail is not None:
            return tail
        path: list[bytes] = []
        for level in range(shift, (size - 1).bit_length()):
            sibling = (index >> level) ^ 1
            if (sibling + 1) << level <= size:
                path.append(self.subtree_hash(level, sibling))
            elif sibling << level < size:
                path.append(self._range_hash(sibling << level))
            # else: no sibling, the node is promoted unchanged (RFC 6962 §2.1).
        tail = tuple(path)
        if len(edges) >= _MAX_EDGES:
            _evict_oldest(edges)
        edges[key] = tail
        return tail

    def inclusion_proof(self, index: int, size: int) -> list[bytes] | None:
        """Return the inclusion proof of leaf ``index`` in the tree of ``size`` leaves.

        The same hashes as the generic ``ledger.merkle.inclusion_proof`` over
        :meth:`subtree_hash`, which calls this method. The audit path crosses each tile
        level once, in a single tile: ``index >> 8t`` names the tile of level ``t`` and
        its eight siblings are nodes of that tile (heights 0-7), so a full tile gives all
        eight with one cache lookup and eight slices. Once the path reaches the right-edge
        (partial) tile of a level it stays on the edge; that tail of the path depends only
        on the position in that row and is cached (:meth:`_edge_tail`).

        Args:
            index: The leaf index, ``0 <= index < size``.
            size: The tree size.

        Returns:
            The audit path, leaf sibling first; None if ``size`` is not this reader's
            size (the caller then uses the generic algorithm).

        Raises:
            ValueError: If ``index`` is not within ``[0, size)``.
            ProofError: If a needed tile is missing or too short.
        """
        if size != self.size:
            return None
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is not in a tree of size {size}")
        cached = self._cached
        proof: list[bytes] = []
        depth = (size - 1).bit_length()  # the path has at most one hash per level below
        t = shift = 0
        while shift < depth:
            x = index >> shift  # position of the leaf's level-8t ancestor in row t
            n = x >> TILE_HEIGHT
            if n >= size >> (shift + TILE_HEIGHT):
                # The right-edge tile of row t (partial, or absent if no sibling is in it).
                tail = self._edges.get((size, shift, x))
                proof += tail if tail is not None else self._edge_tail(index, shift)
                break
            # A full tile: row t has 256+ hashes, so depth >= shift + 8, and each of the
            # eight siblings is a complete node inside this tile.
            levels = cached.get((t, n, TILE_WIDTH))
            if levels is None or len(levels) < TILE_HEIGHT:
                levels = self._tile(t, n, TILE_WIDTH)
            proof += map(_slice_bytes, levels, _SIBLINGS[x & (TILE_WIDTH - 1)])
            t += 1
            shift += TILE_HEIGHT
        return proof


# --------------------------------------------------------------------------------------------
# Appending (specs/merkle.md §4.5)
# --------------------------------------------------------------------------------------------


#: Position of the last hash of a tile: appending there completes the tile.
_LAST = TILE_WIDTH - 1


def _append_one(
    old_size: int, leaf: bytes | bytearray, reader: TileReader
) -> dict[tuple[int, int], bytes]:
    """:func:`append_to_tiles` of one leaf that does not complete its level-0 tile: only
    that tile changes (nothing is hashed, no level above is touched)."""
    if not isinstance(leaf, bytes | bytearray) or len(leaf) != HASH_SIZE:
        raise ValueError(f"leaf hash 0 is not a {HASH_SIZE}-byte hash")
    h = leaf if type(leaf) is bytes else bytes(leaf)
    first = old_size >> TILE_HEIGHT
    have = old_size & _LAST
    if not have:
        return {(0, first): h}
    key = (0, first)
    return {key: _edge(reader.read_tiles((key,)).get(key), 0, first, have, old_size) + h}


def _edge(data: bytes | None, level: int, first: int, have: int, old_size: int) -> bytes:
    """The ``have`` hashes a stored right-edge tile holds for a tree of ``old_size``
    (a stored partial tile may be longer: it grew since).

    Raises:
        ProofError: the tile is missing, shorter than that, or not whole hashes.
    """
    need = have * HASH_SIZE
    if data is None or len(data) < need or len(data) % HASH_SIZE:
        got = "missing" if data is None else f"{len(data)} bytes"
        raise ProofError(
            f"tile {tile_path(level, first, have)}: expected {need} bytes for tree "
            f"size {old_size}, got {got}"
        )
    return data if len(data) == need and type(data) is bytes else bytes(data[:need])


def append_to_tiles(
    old_size: int | bool,
    leaf_hashes: Sequence[bytes | bytearray],
    reader: TileReader,
    *,
    cache: TileCache | None = None,
) -> dict[tuple[int, int], bytes]:
    """Return the tiles to write after appending ``leaf_hashes`` to a tree of ``old_size``.

    At each level the partial tile (if any) is read once, the new hashes are appended to
    it, and every touched tile is returned with its full new contents. A tile that becomes
    full contributes its root to the level above (C2SP: hash ``i`` of tile ``(l, n)`` is
    the MTH of the full tile below); partial tiles never do. Each tile is hashed once per
    call, so a batch of ``k`` leaves costs about ``k`` node hashes plus one read.

    Args:
        old_size: The tree size before the append.
        leaf_hashes: The new leaf hashes (see ``merkle.leaf_hash``), each 32 bytes.
        reader: Storage callback; only the right-edge partial tiles are read.
        cache: Optional :class:`TileCache` to fill with the tiles completed here.

    Returns:
        ``(level, index) -> tile bytes`` to store; empty if there is nothing to append.

    Raises:
        ValueError: If ``old_size`` is negative or a leaf hash is not 32 bytes.
        ProofError: If a stored partial tile is missing or shorter than ``old_size``
            implies.
    """
    if isinstance(old_size, bool) or not isinstance(old_size, int):
        raise TypeError(f"old_size must be an int, not {type(old_size).__name__}")
    if old_size < 0:
        raise ValueError(f"old_size must be >= 0, got {old_size}")
    if len(leaf_hashes) == 1 and (old_size & _LAST) != _LAST:
        return _append_one(old_size, leaf_hashes[0], reader)
    for i, h in enumerate(leaf_hashes):
        if not isinstance(h, bytes | bytearray) or len(h) != HASH_SIZE:
            raise ValueError(f"leaf hash {i} is not a {HASH_SIZE}-byte hash")
    if not leaf_hashes:
        return {}
    new_size = old_size + len(leaf_hashes)

    # One read for every right-edge partial tile that is about to grow.
    keys: list[tuple[int, int]] = []
    shift = 0
    while new_size >> shift > old_size >> shift:
        row = old_size >> shift
        if row & (TILE_WIDTH - 1):
            keys.append((shift // TILE_HEIGHT, row >> TILE_HEIGHT))
        shift += TILE_HEIGHT
    stored = reader.read_tiles(keys) if keys else {}

    out: dict[tuple[int, int], bytes] = {}
    new_row = b"".join(leaf_hashes)
    level = 0
    while new_row:
        row = old_size >> (TILE_HEIGHT * level)
        first, have = row >> TILE_HEIGHT, row & (TILE_WIDTH - 1)
        if have:
            new_row = _edge(stored.get((level, first)), level, first, have, old_size) + new_row
        parents: list[bytes] = []
        for off in range(0, len(new_row), _FULL_TILE_BYTES):
            tile = new_row[off : off + _FULL_TILE_BYTES]
            n = first + off // _FULL_TILE_BYTES
            out[(level, n)] = tile
            if len(tile) == _FULL_TILE_BYTES:
                levels = _tile_levels(tile)
                parents.append(levels[-1])
                if cache is not None:
                    cache.put((level, n, TILE_WIDTH), levels)
        new_row = b"".join(parents)
        level += 1
    return out
