"""The schema of a ledger file (specs/log.md §5.3-§5.6): create it, check its version.

The modules of ``ledger/storage/`` (this one, ``store``, ``statecheck`` and
``mirror_tables``) are the only modules that touch SQLite. This one owns every ``CREATE``
statement of a ledger file (``statecheck``'s temporary table belongs to a connection):

* :func:`create`: the tables, index, append-only triggers and views of a new ledger, and
  its ``meta`` row, in one transaction. sqlite-utils writes what it can express (tables
  from column types, a primary key and NOT NULL columns; the index; the views; WAL mode)
  and then checks the result by introspection (``db.table_names()``, ``db.triggers``,
  ``table.columns_dict``, ``table.pks``). What it cannot express stays SQL here, each
  statement with the reason.
* :func:`check`: the same introspection on any file, for tools and tests.
* :func:`check_version`: run by every open; a file of another schema version is refused
  with a :class:`~ledger.errors.StoreError` that says which version it is.
* :func:`ensure_mirror_tables`: the one addition a schema-1 file receives after it was
  created, the evidence table of a mirror (specs/node.md §5), made by its first sync.
  It does not change the schema version: a file without it is a complete ledger.

It deliberately keeps no rows but the schema version in ``meta`` (``store.py`` and
``mirror_tables.py`` read and write the rest, with raw ``sqlite3`` on the paths the
benchmark measured) and imports sqlite-utils only in :func:`create` and :func:`check`:
sqlite-utils imports click (about 100 ms), and opening, appending and verifying a ledger
must not pay for that. :func:`check_version` and :func:`ensure_mirror_tables` are raw
``sqlite3``, one query each when there is nothing to do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ledger.errors import StoreError
from ledger.storage import map_tables

if TYPE_CHECKING:
    from sqlite_utils import Database

#: ``meta.schema`` of the files this code reads and writes (specs/log.md §5.3).
SCHEMA_VERSION = 3

#: Older schema versions ``kpledger migrate`` converts (``ledger.storage.migrate``).
MIGRATABLE = ("2",)

#: The append-only triggers of ``records`` (specs/log.md §5.4, R-ST-1).
TRIGGERS = ("records_no_update", "records_no_delete")

#: The readable views (specs/log.md §5.6).
VIEWS = ("entries", "participants", "parcels")

#: Every table of a new ledger: column name -> type, in order. sqlite-utils maps the
#: Python types to the declared SQL types ``TEXT``, ``INTEGER`` and ``BLOB``; the check
#: after creation reads them back as these types with ``table.columns_dict``.
COLUMNS: Mapping[str, Mapping[str, type]] = {
    "meta": {"key": str, "value": str},
    "records": {
        "idx": int,
        "id": bytes,
        "hash": bytes,
        "time": int,
        "type": str,
        "record": bytes,
        "json": str,
    },
    "tiles": {"level": int, "idx": int, "hashes": bytes},
    "state": {"kind": str, "key": str, "value": bytes, "json": str},
    "touches": {"item": str, "idx": int},
    "findings": {"idx": int, "rule": str, "message": str},
    "checkpoints": {"size": int, "note": str},
    "map_leaf": {"k": bytes, "kind": str, "key": str, "v": bytes, "idx": int},
    "map_node": {"id": bytes, "h": bytes},
    "map_change": {"idx": int, "k": bytes, "old_v": bytes, "old_idx": int},
    "map_root": {"size": int, "root": bytes},
}

#: Primary key of each table, as ``table.pks`` reports it (``rowid`` when there is none).
PRIMARY_KEYS: Mapping[str, tuple[str, ...]] = {
    "meta": ("key",),
    "records": ("idx",),
    "tiles": ("level", "idx"),
    "state": ("rowid",),
    "touches": ("item", "idx"),
    "findings": ("rowid",),
    "checkpoints": ("size",),
    "map_leaf": ("k",),
    "map_node": ("id",),
    "map_change": ("idx", "k"),
    "map_root": ("size",),
}

# -- statements sqlite-utils cannot express -------------------------------------------------

# ``records``: sqlite-utils has no UNIQUE column constraint. A separate unique index would
# enforce the same, but every existing ledger has the constraint (and its automatic index)
# in the table, and one shape of file is simpler to reason about than two.
_RECORDS = """
CREATE TABLE records (
    idx INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    hash BLOB NOT NULL,
    time INTEGER NOT NULL,
    type TEXT NOT NULL,
    record BLOB NOT NULL,
    json TEXT NOT NULL
)"""

# Triggers: sqlite-utils creates triggers only for its own full-text and count tables.
_RECORD_TRIGGERS = (
    """CREATE TRIGGER records_no_update BEFORE UPDATE ON records
BEGIN SELECT RAISE(ABORT, 'kpledger records are append-only'); END""",
    """CREATE TRIGGER records_no_delete BEFORE DELETE ON records
BEGIN SELECT RAISE(ABORT, 'kpledger records are append-only'); END""",
)

# WITHOUT ROWID tables: sqlite-utils has no option for that table option. These tables
# are looked up only by their primary key, which then is the table's only B-tree.
_WITHOUT_ROWID = (
    """CREATE TABLE tiles (
    level INTEGER NOT NULL, idx INTEGER NOT NULL, hashes BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID""",
    """CREATE TABLE touches (item TEXT NOT NULL, idx INTEGER NOT NULL,
    PRIMARY KEY (item, idx)) WITHOUT ROWID""",
)

# ``state`` (schema 3): a rowid table and a unique index on (kind, key). In a WITHOUT
# ROWID table the whole row lives in the key's B-tree, whose cells spill to overflow pages
# beyond ~1 KiB, and a state value with its JSON often is larger: an append rewrote those
# overflow pages too. A rowid table keeps up to ~4 KiB of a row on its leaf page, and an
# update of an existing key leaves the index alone. sqlite-utils could create both, but
# one statement each here keeps the file's two B-trees next to the reason for them.
STATE_TABLE = (
    """CREATE TABLE state (
    kind TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, json TEXT NOT NULL
)""",
    "CREATE UNIQUE INDEX state_key ON state (kind, key)",
)

# The mirror's evidence table (specs/node.md §5): WITHOUT ROWID as well.
_MIRROR_CHECKPOINTS = """
CREATE TABLE IF NOT EXISTS mirror_checkpoints (
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    source TEXT NOT NULL,
    seen_ms INTEGER NOT NULL,
    accepted INTEGER NOT NULL,
    PRIMARY KEY (size, root)
) WITHOUT ROWID
"""

# -- views (created through sqlite-utils) ---------------------------------------------------

_VIEW_SQL: Mapping[str, str] = {
    "entries": "SELECT idx, lower(hex(id)) AS id, type, time AS appended_ms, json FROM records",
    "participants": """SELECT key AS name, json_extract(json, '$.roles') AS roles,
           json_extract(json, '$.country') AS country,
           json_extract(json, '$.kid') AS key_id,
           json_extract(json, '$.revoked') AS revoked_at_record
    FROM state WHERE kind = 'party'""",
    "parcels": """SELECT key AS id, json_extract(json, '$.kind') AS kind,
           json_extract(json, '$.carats') AS points,
           json_extract(json, '$.stones') AS stones,
           json_extract(json, '$.holder') AS holder,
           json_extract(json, '$.status') AS status,
           json_extract(json, '$.comp') AS composition_ppm,
           json_extract(json, '$.may') AS may_contain
    FROM state WHERE kind = 'parcel'""",
}


def view_statement(name: str) -> str:
    """The ``CREATE VIEW`` statement of one readable view (as :func:`create` makes it)."""
    return f'CREATE VIEW "{name}" AS {_VIEW_SQL[name]}'


def _database(conn: sqlite3.Connection) -> Database:
    """A sqlite-utils view of ``conn`` that leaves the connection as it found it."""
    # Imported here, not at the top: sqlite-utils imports click (see the module docstring).
    from sqlite_utils import Database

    # No PRAGMA recursive_triggers (the store's connections keep SQLite's default) and no
    # plugins: an installed sqlite-utils plugin must not change a ledger's connection.
    return Database(conn, recursive_triggers=False, execute_plugins=False)


def create(conn: sqlite3.Connection, path: str) -> None:
    """Create the schema of a new ledger on ``conn`` (an empty file) and mark its version.

    Raises:
        StoreError: a statement failed, or the created schema is not the expected one;
            nothing of it is kept then.
    """
    try:
        db = _database(conn)
        db.enable_wal()  # persistent in the file; cannot change inside a transaction
        conn.execute("BEGIN IMMEDIATE")
        try:
            _create_tables(db, conn)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
            )
            problems = _check(db)
            if problems:
                raise StoreError(
                    f"cannot create ledger {path}: the schema created is not schema "
                    f"{SCHEMA_VERSION} ({'; '.join(problems)})"
                )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot create ledger {path}: {exc}") from exc


def _create_tables(db: Database, conn: sqlite3.Connection) -> None:
    db.create_table("meta", dict(COLUMNS["meta"]), pk="key", not_null={"value"})
    conn.execute(_RECORDS)
    for trigger in _RECORD_TRIGGERS:
        conn.execute(trigger)
    for table in _WITHOUT_ROWID:
        conn.execute(table)
    for statement in STATE_TABLE:
        conn.execute(statement)
    for table in map_tables.TABLES:  # the state map (specs/state-map.md §5)
        conn.execute(table)
    findings = db.create_table(
        "findings", dict(COLUMNS["findings"]), not_null={"idx", "rule", "message"}
    )
    findings.create_index(["idx"], index_name="findings_idx")
    db.create_table("checkpoints", dict(COLUMNS["checkpoints"]), pk="size", not_null={"note"})
    for name in VIEWS:
        db.create_view(name, _VIEW_SQL[name])


def check(conn: sqlite3.Connection) -> list[str]:
    """What differs between the schema of the file on ``conn`` and the one :func:`create`
    makes: tables, their columns and types, primary keys, triggers and views, read by
    introspection. An empty list means they agree. Imports sqlite-utils.
    """
    return _check(_database(conn))


def _check(db: Database) -> list[str]:
    problems: list[str] = []
    tables = set(db.table_names())
    for name, columns in COLUMNS.items():
        if name not in tables:
            problems.append(f"no table {name}")
            continue
        table = db.table(name)
        if table.columns_dict != dict(columns):
            problems.append(f"table {name} has columns {table.columns_dict}")
        if tuple(table.pks) != PRIMARY_KEYS[name]:
            problems.append(f"table {name} has primary key {table.pks}")
    triggers = {t.name: t.table for t in db.triggers}
    for name in TRIGGERS:
        if triggers.get(name) != "records":
            problems.append(f"no trigger {name} on records")
    views = set(db.view_names())
    problems.extend(f"no view {name}" for name in VIEWS if name not in views)
    if "state" in tables:
        keys = {(ix.name, bool(ix.unique), tuple(ix.columns)) for ix in db.table("state").indexes}
        if ("state_key", True, ("kind", "key")) not in keys:
            problems.append("no unique index state_key on state (kind, key)")
    return problems


def _normalise(sql: str) -> str:
    """SQL text without identifier quoting, case or whitespace differences."""
    return " ".join(sql.replace('"', "").replace("`", "").lower().split())


#: The definitions every ledger's triggers and views must keep, normalised.
_DEFINITIONS: Mapping[str, str] = {
    **{name: _normalise(sql) for name, sql in zip(TRIGGERS, _RECORD_TRIGGERS, strict=True)},
    **{name: _normalise(f"CREATE VIEW {name} AS {sql}") for name, sql in _VIEW_SQL.items()},
}


def redefined(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """``(type, name)`` of each append-only trigger and readable view whose definition is
    not the one :func:`create` wrote (a missing one is not listed: see ``TRIGGERS``).

    A trigger of the right name that does nothing would let an UPDATE through; a view
    redefined would show sqlite-utils and Datasette users something else than the tables.
    """
    rows = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('trigger', 'view')"
    ).fetchall()
    return sorted(
        (str(kind), str(name))
        for kind, name, sql in rows
        if name in _DEFINITIONS and _normalise(str(sql)) != _DEFINITIONS[name]
    )


def check_version(conn: sqlite3.Connection, path: str) -> None:
    """Refuse a file that is not a ledger of :data:`SCHEMA_VERSION`.

    Raises:
        StoreError: not a SQLite file, no kpledger ``meta`` table, or another version.
    """
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a kpledger ledger: {exc}") from exc
    found = None if row is None else row[0]
    if found == str(SCHEMA_VERSION):
        return
    if found is None:
        raise StoreError(f"{path} is not a kpledger ledger (no schema version in its meta table)")
    if found in MIGRATABLE:
        raise StoreError(
            f"{path} is a kpledger ledger of schema {found}; this kpledger reads schema "
            f"{SCHEMA_VERSION}: convert it with 'kpledger migrate {path}' (one transaction; "
            "the file is left as it is if anything fails)"
        )
    if isinstance(found, str) and found.isdigit() and int(found) > SCHEMA_VERSION:
        raise StoreError(
            f"{path} is a kpledger ledger of schema {found}, newer than this kpledger reads "
            f"(schema {SCHEMA_VERSION}); open it with a newer kpledger"
        )
    raise StoreError(
        f"{path} is not a kpledger ledger of schema {SCHEMA_VERSION} "
        f"(its meta table names schema {found!r})"
    )


def ensure_mirror_tables(conn: sqlite3.Connection, path: str) -> None:
    """Add the mirror's evidence table to this file if it has none yet (its first sync).

    Raises:
        StoreError: the table cannot be created.
    """
    try:
        row = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mirror_checkpoints'"
        ).fetchone()
        if row is None:
            conn.execute(_MIRROR_CHECKPOINTS)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot add the mirror_checkpoints table to {path}: {exc}") from exc
