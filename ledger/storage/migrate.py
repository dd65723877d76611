"""Convert a ledger file of schema 2 to schema 3 (``kpledger migrate``, specs/log.md §5.3).

Schema 3 stores the same log, state and state map in fewer bytes per append:

* the level-0 tile at the right edge of the log (fewer than 256 hashes) is no longer a
  ``tiles`` row: it is read from ``records.hash`` (the full tiles stay rows);
* ``state`` is a rowid table with the unique index ``state_key`` on ``(kind, key)``,
  instead of a ``WITHOUT ROWID`` table whose large rows spilled to overflow pages;
* ``map_node`` names a node by its prefix bytes then its depth (``map_tables.stored_id``)
  instead of its depth then its 32-byte low end, which keeps each subtree's nodes on
  neighbouring B-tree pages.

Nothing of the records, the tree, the state or the state map's hashes changes. The whole
conversion runs in one ``BEGIN IMMEDIATE`` transaction and is checked before it commits:
the same records and tree root, the same map root (and proofs of some of its keys against
it), the same state rows, the schema of a new file. Any failure rolls it back: the file is
left as it was.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from typing import Any

from ledger.core import merkle, statemap, tiles
from ledger.errors import LedgerError, StoreError
from ledger.storage import map_tables, schema
from ledger.storage.cache import SqlTiles
from ledger.storage.sqlerrors import DB_ERRORS, database_error

#: Keys whose map proofs are checked against the map root after the conversion.
_PROVEN_KEYS = 16


def migrate_ledger(path: str) -> dict[str, Any]:
    """Convert the ledger at ``path`` to :data:`schema.SCHEMA_VERSION` in one transaction.

    Returns what was done: ``{"path", "from_schema", "to_schema", "migrated", "records",
    "tree_root", "map_root", "state_rows", "map_nodes", "tiles_dropped"}`` (roots as
    bytes); a file of the current schema is left alone (``migrated`` false).

    Raises:
        StoreError: no such file, not a ledger, a context file, a version this code does
            not convert, a damaged file, or a check after the conversion failed; the file
            is unchanged.
    """
    if not os.path.exists(path):
        raise StoreError(f"no ledger at {path}")
    try:
        conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    except DB_ERRORS as exc:
        raise database_error(path, exc, "open") from exc
    try:
        return _migrate(conn, path)
    finally:
        conn.close()


def _version(conn: sqlite3.Connection, path: str) -> str:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise database_error(path, exc, "migrate") from exc
    if row is None:
        raise StoreError(f"{path} is not a kpledger ledger (no schema version in its meta table)")
    return str(row[0])


def _migrate(conn: sqlite3.Connection, path: str) -> dict[str, Any]:
    target = str(schema.SCHEMA_VERSION)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except DB_ERRORS as exc:
        raise database_error(path, exc, "migrate") from exc
    try:
        found = _version(conn, path)
        if found == target:  # nothing to do: the same report, read only
            same = _summary(conn, path)
            conn.execute("ROLLBACK")
            return _report(path, found, same, migrated=False, dropped=0)
        if found not in schema.MIGRATABLE:
            raise StoreError(
                f"{path} is a kpledger ledger of schema {found}; 'kpledger migrate' converts "
                f"schema {', '.join(schema.MIGRATABLE)} to {target}"
            )
        if conn.execute("SELECT 1 FROM meta WHERE key = 'context'").fetchone() is not None:
            raise StoreError(
                f"{path} is a context file for offline signing: export a new one from the "
                "migrated ledger ('kpledger context export')"
            )
        before = _summary(conn, path)
        dropped = _convert(conn)
        after = _summary(conn, path)
        _check(conn, path, before, after)
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, DB_ERRORS):
            raise database_error(path, exc, "migrate") from exc
        raise
    return _report(path, found, before, migrated=True, dropped=dropped)


def _report(
    path: str, found: str, summary: dict[str, Any], *, migrated: bool, dropped: int
) -> dict[str, Any]:
    return {
        "path": path,
        "from_schema": int(found),
        "to_schema": schema.SCHEMA_VERSION,
        "migrated": migrated,
        "records": summary["size"],
        "tree_root": summary["root"],
        "map_root": summary["map_root"],
        "state_rows": summary["state_rows"],
        "map_nodes": summary["map_nodes"],
        "tiles_dropped": dropped,
    }


def _summary(conn: sqlite3.Connection, path: str) -> dict[str, Any]:
    """What the conversion must keep: records, tree root, map root, state, node count."""
    size = int(conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])
    try:
        root = merkle.tree_root(size, tiles.TileHashReader(SqlTiles(conn, path=path), size))
        map_root = map_tables.root_at(conn, size) if size else statemap.EMPTY
    except LedgerError as exc:
        raise StoreError(
            f"cannot migrate {path}: its tree or state map is not readable ({exc.message}); "
            "restore it from a backup or a mirror"
        ) from exc
    digest = hashlib.sha256()
    rows = 0
    for kind, key, value, text in conn.execute(
        "SELECT kind, key, value, json FROM state ORDER BY kind, key"
    ):
        rows += 1
        for part in (kind, key, value, text):
            raw = part if isinstance(part, bytes) else str(part).encode()
            digest.update(len(raw).to_bytes(8, "big") + raw)
    last = conn.execute("SELECT hash FROM records ORDER BY idx DESC LIMIT 1").fetchone()
    return {
        "size": size,
        "last": None if last is None else bytes(last[0]),
        "root": root,
        "map_root": map_root,
        "state": digest.digest(),
        "state_rows": rows,
        "map_nodes": int(conn.execute("SELECT COUNT(*) FROM map_node").fetchone()[0]),
    }


def _convert(conn: sqlite3.Connection) -> int:
    """The statements from schema 2 to schema 3; returns the tile rows dropped."""
    # The views read state: out of the way while it is rebuilt, then as schema.py has them.
    for name in schema.VIEWS:
        conn.execute(f'DROP VIEW IF EXISTS "{name}"')
    conn.execute("ALTER TABLE state RENAME TO state_v2")
    for statement in schema.STATE_TABLE:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO state (kind, key, value, json)"
        " SELECT kind, key, value, json FROM state_v2 ORDER BY kind, key"
    )
    conn.execute("DROP TABLE state_v2")
    for name in schema.VIEWS:
        conn.execute(schema.view_statement(name))

    conn.execute("ALTER TABLE map_node RENAME TO map_node_v2")
    conn.execute(map_tables.NODE_TABLE)
    conn.executemany("INSERT INTO map_node (id, h) VALUES (?, ?)", _converted_nodes(conn))
    conn.execute("DROP TABLE map_node_v2")

    full = tiles.TILE_WIDTH * merkle.HASH_SIZE
    dropped = conn.execute(
        "DELETE FROM tiles WHERE level = 0 AND length(hashes) < ?", (full,)
    ).rowcount
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(schema.SCHEMA_VERSION),))
    return int(dropped)


def _converted_nodes(conn: sqlite3.Connection) -> Iterator[tuple[bytes, bytes]]:
    """Schema-2 node rows (id ``u8(depth) || low end``) under their schema-3 ids."""
    for nid, h in conn.execute("SELECT id, h FROM map_node_v2").fetchall():
        if type(nid) is not bytes or len(nid) != 33:
            raise StoreError(
                f"a map_node row has the id {nid!r}, not a schema-2 node id (run "
                "'kpledger verify' with the kpledger that wrote the file)"
            )
        yield map_tables.stored_id(nid), h


def _check(
    conn: sqlite3.Connection, path: str, before: dict[str, Any], after: dict[str, Any]
) -> None:
    problems = schema.check(conn)
    for name in ("size", "last", "root", "map_root", "state", "state_rows", "map_nodes"):
        if before[name] != after[name]:
            problems.append(f"its {name.replace('_', ' ')} changed")
    size = after["size"]
    if size and not problems:
        try:
            if statemap.root(map_tables.SqlMap(conn)) != after["map_root"]:
                problems.append("the map tables no longer give the map root")
            for kind, key in _sample_keys(conn):
                map_tables.prove(conn, size, kind, key)
        except LedgerError as exc:
            problems.append(f"a map proof failed ({exc.message})")
    if problems:
        raise StoreError(
            f"cannot migrate {path}: the converted file would not be the same ledger "
            f"({'; '.join(problems)}); the file is unchanged"
        )


def _sample_keys(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """Up to :data:`_PROVEN_KEYS` state keys spread over the map's key hashes."""
    count = int(conn.execute("SELECT COUNT(*) FROM map_leaf").fetchone()[0])
    step = max(1, count // _PROVEN_KEYS)
    rows = conn.execute(
        "SELECT kind, key FROM (SELECT kind, key, row_number() OVER (ORDER BY k) AS n"
        " FROM map_leaf) WHERE (n - 1) % ? = 0",
        (step,),
    ).fetchall()
    return [(str(kind), str(key)) for kind, key in rows]
