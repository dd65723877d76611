"""The state map's derived tables (specs/state-map.md §5, specs/log.md §5.3).

``map_leaf`` holds every key's current leaf, ``map_node`` the hash of every subtree of two
or more leaves of the current version (under a short id that keeps each subtree's nodes
together in the table's B-tree, :func:`stored_id`), ``map_change`` what each change
replaced (so that a proof at an earlier checkpoint is computed from the current tables and
the few changes since), and ``map_root`` the root after each append. :class:`MapUpdate`
folds one append's changes in, inside the append's transaction; :class:`VersionReader`
reads the map as it was at an earlier size. ``verify`` recomputes everything and compares
(``ledger/verify.py``).
"""

from __future__ import annotations

import bisect
import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from ledger.core import statemap
from ledger.core.encoding import encode
from ledger.core.statemap import Leaf
from ledger.errors import ProofError

#: ``map_node``: ``id`` is :func:`stored_id` of the node (schema 3), ``h`` its hash.
NODE_TABLE = "CREATE TABLE map_node (id BLOB PRIMARY KEY, h BLOB NOT NULL) WITHOUT ROWID"

TABLES = (
    """CREATE TABLE map_leaf (
    k BLOB PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL, v BLOB NOT NULL,
    idx INTEGER NOT NULL
) WITHOUT ROWID""",
    NODE_TABLE,
    """CREATE TABLE map_change (
    idx INTEGER NOT NULL, k BLOB NOT NULL, old_v BLOB, old_idx INTEGER,
    PRIMARY KEY (idx, k)
) WITHOUT ROWID""",
    "CREATE TABLE map_root (size INTEGER PRIMARY KEY, root BLOB NOT NULL)",
)


def stored_id(nid: bytes) -> bytes:
    """The ``map_node`` id of the node :func:`statemap.node_id` names (schema 3): the
    subtree's ``depth``-bit prefix in ``ceil(depth / 8)`` bytes, then ``u8(depth)``.

    Every node below a subtree has an id that begins with bytes in the subtree's range, so
    a subtree's nodes are neighbours in the B-tree and the nodes on one key's path below
    the first few levels share a page or two (a depth-first id order would be ``u8(depth)``
    first, one page per level); the id is also 2-5 bytes instead of 33 at the usual depths.
    """
    depth = nid[0]
    return nid[1 : 1 + ((depth + 7) >> 3)] + nid[:1]


def node_id(sid: bytes) -> bytes:
    """The :func:`statemap.node_id` of a ``map_node`` id (the inverse of :func:`stored_id`)."""
    return sid[-1:] + sid[:-1] + bytes(33 - len(sid))


class SqlMap:
    """The current version of the map, read through ``conn`` (a :class:`statemap.Reader`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def leaves(self, lo: bytes, hi: bytes, limit: int) -> list[Leaf]:
        rows = self.conn.execute(
            "SELECT k, v, idx FROM map_leaf WHERE k BETWEEN ? AND ? ORDER BY k LIMIT ?",
            (lo, hi, limit),
        )
        return [Leaf(bytes(k), bytes(v), idx) for k, v, idx in rows]

    def node(self, nid: bytes) -> bytes | None:
        row = self.conn.execute("SELECT h FROM map_node WHERE id = ?", (stored_id(nid),)).fetchone()
        return None if row is None else bytes(row[0])

    def leaf(self, kh: bytes) -> Leaf | None:
        row = self.conn.execute("SELECT v, idx FROM map_leaf WHERE k = ?", (kh,)).fetchone()
        return None if row is None else Leaf(kh, bytes(row[0]), row[1])


class MapUpdate:
    """One append's changes to the map, folded in by :meth:`write` (same transaction).

    ``nodes`` and ``leaves`` are rows known from earlier committed appends of this
    connection (``Recent``): read before SQLite, never written to here. What this update
    writes is in :attr:`nodes_written` and :attr:`leaves` for the caller to remember once
    the transaction commits.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        nodes: dict[bytes, bytes] | None = None,
        leaves: dict[bytes, tuple[bytes, int]] | None = None,
    ) -> None:
        self.sql = SqlMap(conn)
        self.known_nodes = nodes if nodes is not None else {}
        self.known_leaves = leaves if leaves is not None else {}
        self.leaves: dict[bytes, tuple[str, str, bytes, int]] = {}
        self.changes: list[tuple[int, bytes, bytes | None, int | None]] = []
        self.nodes_written: dict[bytes, bytes] = {}
        #: Each written key's canonical bytes as its last writer (record index) left them:
        #: the state row of a key last written by the append's last record is those bytes.
        self.encoded: dict[tuple[str, str], tuple[int, bytes]] = {}

    def record(
        self, writes: list[tuple[str, str]], get: Callable[[str, str], Any], index: int
    ) -> None:
        """The keys record ``index`` wrote; those whose value hash changed now carry it."""
        for kind, key in writes:
            kh = statemap.key_hash(kind, key)
            raw = encode(get(kind, key))
            self.encoded[(kind, key)] = (index, raw)
            vh = hashlib.sha256(raw).digest()  # statemap.value_hash, from the bytes kept
            mine = self.leaves.get(kh)
            old_v: bytes | None
            old_idx: int | None
            if mine is not None:
                old_v, old_idx = mine[2], mine[3]
            else:
                known = self.known_leaves.get(kh)
                if known is not None:
                    old_v, old_idx = known
                else:
                    stored = self.sql.leaf(kh)
                    old_v, old_idx = (None, None) if stored is None else (stored.vh, stored.index)
            if old_v == vh:
                continue
            self.leaves[kh] = (kind, key, vh, index)
            self.changes.append((index, kh, old_v, old_idx))

    def write(self, size: int) -> bytes:
        """Write the leaves, recompute the changed paths, store the root at ``size``."""
        conn = self.sql.conn
        if self.leaves:
            conn.executemany(
                "INSERT INTO map_leaf (k, kind, key, v, idx) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (k) DO UPDATE SET v = excluded.v, idx = excluded.idx",
                [(kh, *rest) for kh, rest in sorted(self.leaves.items())],
            )
            conn.executemany(
                "INSERT INTO map_change (idx, k, old_v, old_idx) VALUES (?, ?, ?, ?)",
                self.changes,
            )
        nodes = self.nodes_written
        changed = {kh: Leaf(kh, vh, index) for kh, (_, _, vh, index) in self.leaves.items()}
        reader = _KnownNodes(self.sql, self.known_nodes)
        root = statemap.update_paths(reader, changed, self._shared, nodes.__setitem__)
        if nodes:
            conn.executemany(
                "INSERT INTO map_node (id, h) VALUES (?, ?)"
                " ON CONFLICT (id) DO UPDATE SET h = excluded.h",
                sorted((stored_id(nid), h) for nid, h in nodes.items()),
            )
        conn.execute("INSERT OR REPLACE INTO map_root (size, root) VALUES (?, ?)", (size, root))
        return root

    def _shared(self, kh: bytes) -> int:
        """The most leading bits another key shares with ``kh`` (-1: the only key)."""
        conn = self.sql.conn
        below = conn.execute(
            "SELECT k FROM map_leaf WHERE k < ? ORDER BY k DESC LIMIT 1", (kh,)
        ).fetchone()
        above = conn.execute(
            "SELECT k FROM map_leaf WHERE k > ? ORDER BY k LIMIT 1", (kh,)
        ).fetchone()
        return max(
            -1 if below is None else statemap.common_prefix(kh, bytes(below[0])),
            -1 if above is None else statemap.common_prefix(kh, bytes(above[0])),
        )


class _KnownNodes:
    """The current tables, with the nodes remembered from earlier appends read first."""

    def __init__(self, sql: SqlMap, known: dict[bytes, bytes]) -> None:
        self.sql = sql
        self.known = known

    def leaves(self, lo: bytes, hi: bytes, limit: int) -> list[Leaf]:
        return self.sql.leaves(lo, hi, limit)

    def node(self, nid: bytes) -> bytes | None:
        h = self.known.get(nid)
        if h is None:
            h = self.sql.node(nid)
            if h is not None:
                self.known[nid] = h
        return h


class VersionReader:
    """The map as it was at log size ``size``: the current tables with every change made
    by a record at or after ``size`` undone (a :class:`statemap.Reader`)."""

    def __init__(self, conn: sqlite3.Connection, size: int) -> None:
        self.sql = SqlMap(conn)
        undo: dict[bytes, Leaf | None] = {}
        rows = conn.execute(
            "SELECT k, old_v, old_idx FROM map_change WHERE idx >= ? ORDER BY idx DESC", (size,)
        )
        for k, old_v, old_idx in rows:
            kh = bytes(k)
            undo[kh] = None if old_v is None else Leaf(kh, bytes(old_v), old_idx)
        self.undo = undo
        self.keys = sorted(undo)

    def _undone_in(self, lo: bytes, hi: bytes) -> int:
        return bisect.bisect_right(self.keys, hi) - bisect.bisect_left(self.keys, lo)

    def leaves(self, lo: bytes, hi: bytes, limit: int) -> list[Leaf]:
        extra = self._undone_in(lo, hi)
        out: list[Leaf] = []
        for leaf in self.sql.leaves(lo, hi, limit + extra):
            if leaf.kh in self.undo:
                old = self.undo[leaf.kh]
                if old is None:
                    continue
                leaf = old
            out.append(leaf)
            if len(out) == limit:
                break
        return out

    def node(self, nid: bytes) -> bytes | None:
        depth = nid[0]
        lo = nid[1:]
        hi = statemap.span(lo, depth)[1]
        if self._undone_in(lo, hi):
            return None
        return self.sql.node(nid)


def root_at(conn: sqlite3.Connection, size: int) -> bytes:
    """The map root at log size ``size``: stored for the size each append ended at,
    computed from the current tables and the later changes otherwise.

    Raises:
        ProofError: ``size`` is beyond the map (or 0).
    """
    row = conn.execute("SELECT root FROM map_root WHERE size = ?", (size,)).fetchone()
    if row is not None:
        return bytes(row[0])
    current = conn.execute("SELECT max(size) FROM map_root").fetchone()[0]
    if current is None or not 0 < size <= current:
        raise ProofError(f"no state-map root for size {size} (the map covers {current or 0})")
    # Inside one append of several records: undo the changes of the records after it.
    return statemap.root(VersionReader(conn, size))


def prove(conn: sqlite3.Connection, size: int, kind: str, key: str) -> statemap.MapProof:
    """The proof of ``(kind, key)`` in the map at ``size`` (checked against the stored root).

    Raises:
        ProofError: the stored tables do not give the stored root (run verify).
    """
    reader: statemap.Reader
    current = conn.execute("SELECT max(size) FROM map_root").fetchone()[0]
    reader = SqlMap(conn) if current == size else VersionReader(conn, size)
    proof = statemap.prove(reader, kind, key)
    statemap.verify_proof(proof, root_at(conn, size))
    return proof


def stored_leaves(conn: sqlite3.Connection) -> Iterator[tuple[bytes, bytes, int]]:
    """Every stored leaf as ``(key hash, value hash, index)``, in key-hash order (verify
    compares them one by one: nothing is held beyond the row at hand)."""
    yield from conn.execute("SELECT k, v, idx FROM map_leaf ORDER BY k")


def stored_nodes(conn: sqlite3.Connection) -> Iterator[tuple[bytes, bytes]]:
    """Every stored node as ``(node id, hash)`` (:func:`statemap.node_id`), in stored order.
    An id that is not one :func:`stored_id` writes is yielded as stored (verify then finds
    no such node in the replay)."""
    for sid, h in conn.execute("SELECT id, h FROM map_node ORDER BY id"):
        if type(sid) is bytes and 1 <= len(sid) <= 33 and len(sid) == 1 + ((sid[-1] + 7) >> 3):
            yield node_id(sid), h
        else:
            yield sid, h


def roots(conn: sqlite3.Connection) -> dict[int, bytes]:
    return {size: bytes(r) for size, r in conn.execute("SELECT size, root FROM map_root")}
