"""What a store remembers between its own appends, and the readers the engine uses.

``Recent``: the rows this connection last committed or read under the write lock (state
rows as canonical bytes, the head of the chain, the right-edge tiles), valid only while
nothing else wrote to the file. ``SqlBacking`` and ``SqlTiles``: state rows and tiles
for the rules engine and the tile code, read from SQLite or from ``Recent``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from itertools import islice
from typing import Any

from ledger.core.encoding import decode
from ledger.storage.columns import decode_trusted, stored_blob
from ledger.storage.sqlerrors import DB_ERRORS, database_error

__all__ = ["Recent", "SqlBacking", "SqlTiles"]

# -- what the last appends left behind ------------------------------------------------------

#: State rows kept between appends: ~0.5 KiB each with their keys, so at most ~4 MiB. On
#: the simulated workload 8192 rows serve as many reads as 32768 would.
_RECENT_STATE = 1 << 13

#: State-map nodes and leaves kept between appends (~0.1 KiB each, so at most ~13 MiB): the
#: nodes near the root are on every append's paths, the rest on those of recent keys.
_RECENT_MAP = 1 << 16
_StateKey = tuple[str, str]


class Recent:
    """Rows of the file as this connection last committed or read them under the write lock.

    Valid only while ``token`` (``PRAGMA data_version``, ``total_changes``) is what the
    connection reports at the start of the next write transaction: another connection's
    commit changes the first, a write through this connection outside the store's own
    transactions changes the second. Anything unexpected forgets everything.
    """

    __slots__ = ("edge", "head", "map_leaves", "map_nodes", "poisoned", "state", "token")

    def __init__(self) -> None:
        self.token: tuple[int, int] | None = None
        self.state: dict[_StateKey, bytes | None] = {}
        self.head: tuple[int, bytes, int] | None = None  # (size, last hash, last time)
        self.edge: dict[int, tuple[int, bytes]] = {}  # level -> (tile index, tile bytes)
        #: State-map rows: node id -> hash, key hash -> (value hash, index).
        self.map_nodes: dict[bytes, bytes] = {}
        self.map_leaves: dict[bytes, tuple[bytes, int]] = {}
        self.poisoned = False

    def reset(self) -> None:
        self.token = None
        self.state = {}
        self.head = None
        self.edge = {}
        self.map_nodes = {}
        self.map_leaves = {}
        self.poisoned = False

    def remember(
        self,
        written: Mapping[_StateKey, bytes],
        head: tuple[int, bytes, int],
        tiles_written: Mapping[tuple[int, int], bytes],
        map_nodes: Mapping[bytes, bytes] | None = None,
        map_leaves: Mapping[bytes, tuple[str, str, bytes, int]] | None = None,
    ) -> None:
        state = self.state
        for k, raw in written.items():
            state.pop(k, None)
            state[k] = raw
        if len(state) > _RECENT_STATE:
            for k in list(islice(state, len(state) - _RECENT_STATE // 2)):
                del state[k]
        self.head = head
        edge = self.edge
        for (level, idx), blob in tiles_written.items():
            have = edge.get(level)
            if have is None or have[0] <= idx:
                edge[level] = (idx, blob)
        if map_nodes is not None:
            nodes = self.map_nodes
            nodes.update(map_nodes)
            if len(nodes) > _RECENT_MAP:
                _forget_oldest(nodes, len(nodes) - _RECENT_MAP // 2)
        if map_leaves is not None:
            leaves = self.map_leaves
            for kh, (_, _, vh, index) in map_leaves.items():
                leaves.pop(kh, None)
                leaves[kh] = (vh, index)
            if len(leaves) > _RECENT_MAP:
                _forget_oldest(leaves, len(leaves) - _RECENT_MAP // 2)


def _forget_oldest(rows: dict[Any, Any], count: int) -> None:
    for k in list(islice(rows, count)):
        del rows[k]


class SqlBacking:
    """State rows for the rules engine; with ``recent``, rows known from earlier appends."""

    def __init__(
        self, conn: sqlite3.Connection, recent: dict[_StateKey, bytes | None] | None = None
    ) -> None:
        self.conn = conn
        self.recent = recent
        #: Canonical bytes (None: no row) of every row loaded, to skip unchanged writes.
        self.loaded: dict[_StateKey, bytes | None] = {}

    def load(self, kind: str, key: str) -> Any | None:
        k = (kind, key)
        recent = self.recent
        if recent is not None and k in recent:
            raw = recent.pop(k)
            recent[k] = raw  # most recently used last
            self.loaded[k] = raw
            return None if raw is None else decode_trusted(raw)
        row = self.conn.execute(
            "SELECT value FROM state WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        if row is None:
            value, raw = None, None
        else:
            raw = stored_blob(row[0], f"derived state {kind}/{key}")
            value = decode(raw)
        self.loaded[k] = raw
        if recent is not None:
            recent[k] = raw
        return value


#: Hashes in a full tile (C2SP tlog-tiles), and the level-0 tiles' span of records.
_TILE_WIDTH = 256


class SqlTiles:
    """Tiles from SQLite; with ``edge``, right-edge tiles known from earlier appends.

    The level-0 tile at the right edge of the log (fewer than 256 hashes) is not stored
    (schema 3, specs/log.md §5.3): it is the ``hash`` column of the records after the
    last full level-0 tile, read from ``records``. Every other tile is a ``tiles`` row.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        edge: dict[int, tuple[int, bytes]] | None = None,
        *,
        path: str = "the ledger",
    ) -> None:
        self.conn = conn
        self.edge = edge
        self.path = path

    def read_tiles(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        out: dict[tuple[int, int], bytes] = {}
        edge = self.edge
        for level, idx in keys:
            if edge is not None:
                have = edge.get(level)
                if have is not None and have[0] == idx:
                    out[(level, idx)] = have[1]
                    continue
            try:
                row = self.conn.execute(
                    "SELECT hashes FROM tiles WHERE level = ? AND idx = ?", (level, idx)
                ).fetchone()
                blob = row[0] if row is not None else None
                if blob is None and level == 0:
                    blob = self._partial(idx)
            except DB_ERRORS as exc:  # read outside the store's methods (proofs, the node)
                raise database_error(self.path, exc) from exc
            if blob is not None:
                if type(blob) is not bytes:
                    blob = stored_blob(blob, f"tile {level}/{idx}")
                out[(level, idx)] = blob
                if edge is not None:
                    edge[level] = (idx, blob)
        return out

    def _partial(self, idx: int) -> bytes | None:
        """Level-0 tile ``idx`` from the records' hashes, if it is the partial tile at the
        right edge: records ``256 * idx`` onwards, fewer than 256 of them, none missing.
        A full span without a ``tiles`` row is a missing tile (verify names it)."""
        first = idx * _TILE_WIDTH
        if first > (1 << 63) - 1 - _TILE_WIDTH:
            return None
        rows = self.conn.execute(
            "SELECT idx, hash FROM records WHERE idx >= ? AND idx < ? ORDER BY idx",
            (first, first + _TILE_WIDTH),
        ).fetchall()
        if not rows or len(rows) == _TILE_WIDTH or rows[0][0] != first:
            return None
        if rows[-1][0] != first + len(rows) - 1:
            return None
        hashes = []
        for i, h in rows:
            if type(h) is not bytes or len(h) != 32:
                h = stored_blob(h, f"the hash column of record {i}")
                if len(h) != 32:
                    return None
            hashes.append(h)
        return b"".join(hashes)
