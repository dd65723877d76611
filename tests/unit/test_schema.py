"""The schema of a ledger file (ledger/storage/schema.py, specs/log.md §5.3-§5.6).

``schema.create`` builds a new file through sqlite-utils where sqlite-utils can express
the statement and with SQL where it cannot. These tests hold it to schema 1 as every
existing ledger has it: ``SCHEMA_1`` below is the statement list that created ledger
files before, kept verbatim as a fixture. A file it creates and a file ``Store.create``
makes must have the same ``sqlite_master`` (normalised: quoting, whitespace and case),
the same columns, types, primary keys, ``WITHOUT ROWID`` tables and indexes; and a
file made by hand must open, take appends and verify as before. The statements grew with
the schema: ``SCHEMA_2`` added the state map, ``SCHEMA_3`` (the current one) made
``state`` a rowid table with a unique index; the ``*_schema_1`` test names are historic.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ledger.core.model import Record
from ledger.errors import StoreError
from ledger.ledger import Ledger
from ledger.sim import simulate
from ledger.storage import schema
from ledger.storage.store import Store

ROOT = Path(__file__).resolve().parents[2]

#: The schema of ledger files written before schema.py existed, verbatim.
SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    idx INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    hash BLOB NOT NULL,
    time INTEGER NOT NULL,
    type TEXT NOT NULL,
    record BLOB NOT NULL,
    json TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS records_no_update BEFORE UPDATE ON records
BEGIN SELECT RAISE(ABORT, 'kpledger records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS records_no_delete BEFORE DELETE ON records
BEGIN SELECT RAISE(ABORT, 'kpledger records are append-only'); END;
CREATE TABLE IF NOT EXISTS tiles (
    level INTEGER NOT NULL, idx INTEGER NOT NULL, hashes BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (
    kind TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, json TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS touches (item TEXT NOT NULL, idx INTEGER NOT NULL,
    PRIMARY KEY (item, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS findings (
    idx INTEGER NOT NULL, rule TEXT NOT NULL, message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS findings_idx ON findings (idx);
CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL);
CREATE VIEW IF NOT EXISTS entries AS
    SELECT idx, lower(hex(id)) AS id, type, time AS appended_ms, json FROM records;
CREATE VIEW IF NOT EXISTS participants AS
    SELECT key AS name, json_extract(json, '$.roles') AS roles,
           json_extract(json, '$.country') AS country,
           json_extract(json, '$.kid') AS key_id,
           json_extract(json, '$.revoked') AS revoked_at_record
    FROM state WHERE kind = 'party';
CREATE VIEW IF NOT EXISTS parcels AS
    SELECT key AS id, json_extract(json, '$.kind') AS kind,
           json_extract(json, '$.carats') AS points,
           json_extract(json, '$.stones') AS stones,
           json_extract(json, '$.holder') AS holder,
           json_extract(json, '$.status') AS status,
           json_extract(json, '$.comp') AS composition_ppm,
           json_extract(json, '$.may') AS may_contain
    FROM state WHERE kind = 'parcel';
"""


#: Schema 2 added the state map's tables (specs/state-map.md §5), verbatim.
SCHEMA_2 = (
    SCHEMA_1
    + """
CREATE TABLE IF NOT EXISTS map_leaf (
    k BLOB PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL, v BLOB NOT NULL,
    idx INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS map_node (id BLOB PRIMARY KEY, h BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS map_change (
    idx INTEGER NOT NULL, k BLOB NOT NULL, old_v BLOB, old_idx INTEGER,
    PRIMARY KEY (idx, k)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS map_root (size INTEGER PRIMARY KEY, root BLOB NOT NULL);
"""
)


#: Schema 3 (specs/log.md §5.3): ``state`` a rowid table with a unique index; the same
#: tables otherwise (what changed in ``tiles`` and ``map_node`` is which rows they hold).
SCHEMA_3 = SCHEMA_2.replace(
    """CREATE TABLE IF NOT EXISTS state (
    kind TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, json TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;""",
    """CREATE TABLE IF NOT EXISTS state (
    kind TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, json TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS state_key ON state (kind, key);""",
)


def create_schema(path: Path, version: int = 3) -> None:
    """A new, empty ledger file of schema 2 or 3 as written by hand from SCHEMA_2/SCHEMA_3."""
    ddl = {2: SCHEMA_2, 3: SCHEMA_3}[version]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(ddl.replace("CREATE TABLE IF NOT EXISTS map", "CREATE TABLE map"))
    conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(version),))
    conn.close()


def create_schema_1(path: Path) -> None:
    """A new, empty ledger file of schema 3 as written by hand."""
    create_schema(path, 3)


def _normal_sql(sql: str | None) -> str | None:
    """``sql`` without identifier quoting, with one space between tokens, lower case."""
    if sql is None:
        return None
    text = re.sub(r'["`\[\]]', "", sql)  # "x", `x` and [x] are all the identifier x
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s*([(),;])\s*", r"\1", text)
    return text.strip().lower()


def master(path: Path) -> list[tuple[str, str, str, str | None]]:
    """``sqlite_master`` of a file, normalised and sorted (``rootpage`` left out)."""
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    conn.close()
    return sorted((t, n, tbl, _normal_sql(sql)) for t, n, tbl, sql in rows)


def structure(path: Path) -> dict[str, Any]:
    """Tables, columns, types, keys, WITHOUT ROWID and indexes, read by PRAGMAs."""
    conn = sqlite3.connect(path)
    out: dict[str, Any] = {}
    tables = conn.execute(
        "SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main'"
        " AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    for name, kind, without_rowid, strict in tables:
        columns = conn.execute(
            'SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_xinfo(?)', (name,)
        ).fetchall()
        indexes = []
        for _, index, unique, origin, partial in conn.execute(
            'SELECT seq, name, "unique", origin, partial FROM pragma_index_list(?)', (name,)
        ):
            cols = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM pragma_index_info(?) ORDER BY seqno", (index,)
                )
            ]
            indexes.append((index, unique, origin, partial, cols))
        out[name] = {
            "type": kind,
            "without_rowid": without_rowid,
            "strict": strict,
            "columns": columns,
            "indexes": sorted(indexes),
        }
    conn.close()
    return out


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """``(a schema-1 file, a file Store.create made)``, both empty."""
    old = tmp_path / "schema1.db"
    create_schema_1(old)
    new = tmp_path / "new.db"
    Store.create(str(new)).close()
    return old, new


def test_created_sqlite_master_is_schema_1(files: tuple[Path, Path]) -> None:
    old, new = files
    assert master(new) == master(old)
    # What that is, spelled out: the tables, triggers and views of specs/log.md §5.
    rows = master(new)
    assert {n for t, n, _, _ in rows if t == "table"} == set(schema.COLUMNS)
    assert {n for t, n, _, _ in rows if t == "view"} == set(schema.VIEWS)
    assert {(n, tbl) for t, n, tbl, _ in rows if t == "trigger"} == {
        (name, "records") for name in schema.TRIGGERS
    }
    assert {n for t, n, _, _ in rows if t == "index"} == {
        "findings_idx",
        "state_key",  # schema 3: state is a rowid table
        "sqlite_autoindex_meta_1",
        "sqlite_autoindex_records_1",  # records.id UNIQUE
    }  # the key of a WITHOUT ROWID table is the table's own B-tree, not an index
    triggers = {n: sql for t, n, _, sql in rows if t == "trigger"}
    assert triggers["records_no_update"] == (
        "create trigger records_no_update before update on records "
        "begin select raise(abort,'kpledger records are append-only');end"
    )


def test_created_columns_keys_and_rowid_are_schema_1(files: tuple[Path, Path]) -> None:
    old, new = files
    assert structure(new) == structure(old)
    tables = structure(new)
    assert {n for n, t in tables.items() if t["without_rowid"]} == {
        "tiles",
        "touches",
        "map_leaf",
        "map_node",
        "map_change",
    }
    assert [c[:3] for c in tables["records"]["columns"]] == [
        ("idx", "INTEGER", 0),
        ("id", "BLOB", 1),
        ("hash", "BLOB", 1),
        ("time", "INTEGER", 1),
        ("type", "TEXT", 1),
        ("record", "BLOB", 1),
        ("json", "TEXT", 1),
    ]


def test_introspection_check_agrees_on_both_files(files: tuple[Path, Path]) -> None:
    for path in files:
        conn = sqlite3.connect(path)
        assert schema.check(conn) == []
        conn.execute("DROP TRIGGER records_no_delete")
        conn.execute("DROP VIEW parcels")
        assert schema.check(conn) == [
            "no trigger records_no_delete on records",
            "no view parcels",
        ]
        conn.close()


def test_a_failed_check_leaves_no_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "_check", lambda db: ["table records has columns {}"])
    path = tmp_path / "bad.db"
    with pytest.raises(StoreError, match=r"is not schema 3 \(table records has columns"):
        Store.create(str(path))
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []
    conn.close()


def test_a_schema_1_file_opens_takes_appends_and_verifies(tmp_path: Path) -> None:
    """Replay a simulated ledger's records into a file made by the old statements."""
    made = tmp_path / "made.db"
    report = simulate(str(made), parcels=3, seed=11)
    assert report.ok
    source = Ledger.open(str(made))
    records = [Record.from_wire(raw) for raw in source.store.iter_records()]
    checkpoints = source.store.checkpoints()
    source.close()

    old = tmp_path / "schema1.db"
    create_schema_1(old)
    store = Store.open(str(old))
    for record in records:
        (done,) = store.append([record.entry()], now=record.time)
        assert done.record.raw == record.raw
    for size, text in checkpoints:
        store.add_checkpoint(size, text)
    store.close()

    led = Ledger.open(str(old))
    try:
        assert led.verify().size == len(records)
    finally:
        led.close()
    # The same rows in every table and view as the file the current code made.
    for view in ("records", "tiles", "state", "touches", "findings", "checkpoints", *schema.VIEWS):
        assert _rows(old, view) == _rows(made, view), view


def _rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    rows = conn.execute(f"SELECT * FROM {table}").fetchall()
    conn.close()
    return sorted(rows, key=repr)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("4", "is a kpledger ledger of schema 4, newer than this kpledger reads (schema 3)"),
        (
            "2",
            "is a kpledger ledger of schema 2; this kpledger reads schema 3: convert it with "
            "'kpledger migrate ",
        ),
        ("1", "is not a kpledger ledger of schema 3 (its meta table names schema '1')"),
        ("0", "is not a kpledger ledger of schema 3 (its meta table names schema '0')"),
        (None, "is not a kpledger ledger (no schema version in its meta table)"),
    ],
)
def test_another_schema_version_is_refused(
    files: tuple[Path, Path], value: str | None, message: str
) -> None:
    _, path = files
    conn = sqlite3.connect(path)
    if value is None:
        conn.execute("DELETE FROM meta")
    else:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (value,))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as info:
        Store.open(str(path))
    assert info.value.message.startswith(f"{path} {message}")


def test_a_file_without_meta_is_not_a_ledger(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).close()
    with pytest.raises(StoreError, match="is not a kpledger ledger: no such table: meta"):
        Store.open(str(path))


_PROBE = """
import json, sys
from ledger.core.model import Record
from ledger.ledger import Ledger
from ledger.storage.store import Store
source = Store.open(sys.argv[1])
target = Ledger.open(sys.argv[2])
for raw in source.iter_records(target.size()):
    record = Record.from_wire(raw)
    target.store.append([record.entry()], now=record.time)
target.verify()
print(json.dumps(sorted(m for m in ("sqlite_utils", "click") if m in sys.modules)))
"""


def test_open_append_verify_do_not_import_sqlite_utils(tmp_path: Path) -> None:
    """sqlite-utils imports click; only creating a file may load it (schema.create)."""
    source = tmp_path / "sim.db"
    assert simulate(str(source), parcels=1, seed=3).ok
    target = tmp_path / "target.db"
    store = Store.create(str(target))
    genesis = Record.from_wire(next(Store.open(str(source)).iter_records()))
    store.append([genesis.entry()], now=genesis.time)
    store.close()
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(source), str(target)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
    assert Store.open(str(target)).size() == Store.open(str(source)).size()
