"""Tampering with any derived table a command reads makes ``verify`` fail, naming it.

``history`` reads ``touches``, ``show``/``log``/``/api/findings`` read ``findings``,
lookups read ``state``, proofs read ``tiles``, ``checkpoint --show`` and bundles read
``checkpoints``, the ``records`` columns beside the record serve lookups, a mirror's next
sync reads ``mirror_checkpoints``, and sqlite-utils users read the views. Each test
changes one of them on a copy of a small ledger (with a WARN finding, checkpoints and a
mirror's evidence rows) the way someone with write access to the file would, and
requires ``verify`` to fail with a LedgerError whose message names what differs.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ledger.core import note
from ledger.errors import LedgerError
from ledger.ledger import Ledger
from ledger.storage import mirror_tables
from ledger.storage.store import TRIGGERS
from tests.conftest import OPERATOR, World

Tamper = Callable[[sqlite3.Connection, st.DataObject], str]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger with touches, a R-SW-1 finding, two checkpoints and mirror evidence."""
    path = tmp_path_factory.mktemp("derived") / "pristine.kpl"
    w = World.create(path)
    try:
        w.origin("Jwaneng", "ROUGH-A", carats=10_000)
        w.ship("Jwaneng", "Antwerp Trader", ["ROUGH-A"])
        w.split("Antwerp Trader", "ROUGH-A", [("LOT-B1", 6_000), ("LOT-B2", 4_000)])
        op = w.keys[OPERATOR]
        first = w.ledger.checkpoint(op)
        w.ship("Antwerp Trader", "Surat Cutter", ["LOT-B1"])
        w.cut("Surat Cutter", ["LOT-B1"], [("STONE-0001", 2_500), ("STONE-0002", 1_200)])
        w.ship("Surat Cutter", "New York Retailer", ["STONE-0002"], warranty=None)  # R-SW-1
        latest = w.ledger.checkpoint(op)
        store = w.ledger.store
        for text, accepted in ((first, True), (latest, True)):
            cp = note.parse_checkpoint(note.parse_note(text).text)
            mirror_tables.record_checkpoint(
                store,
                size=cp.size,
                root=cp.root,
                note=text,
                source="http://a.example",
                seen_ms=1,
                accepted=accepted,
            )
        forked = note.kpledger_checkpoint(w.ledger.origin, w.ledger.size(), bytes(32), bytes(32))
        text = note.sign_checkpoint(forked, w.ledger.origin, op.seed)
        mirror_tables.record_checkpoint(
            store,
            size=forked.size,
            root=forked.root,
            note=text,
            source="http://b.example",
            seen_ms=2,
            accepted=False,
        )
        assert store.findings(), "the ledger needs a WARN finding"
        w.verify()
    finally:
        w.close()
    return path


@contextmanager
def copied(pristine: Path) -> Iterator[Path]:
    """A throw-away copy of the ledger file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "copy.kpl"
        shutil.copyfile(pristine, path)
        yield path


@contextmanager
def raw_sql(path: Path) -> Iterator[sqlite3.Connection]:
    """Raw SQL on a ledger file, triggers dropped and put back afterwards."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        triggers = [
            sql for (sql,) in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger'")
        ]
        for name in TRIGGERS:
            conn.execute(f"DROP TRIGGER {name}")
        yield conn
        for sql in triggers:
            conn.execute(sql)
    finally:
        conn.close()


def verify_error(path: Path) -> LedgerError:
    led = Ledger.open(str(path))
    try:
        with pytest.raises(LedgerError) as info:
            led.verify()
    finally:
        led.close()
    return info.value


def pick(conn: sqlite3.Connection, data: st.DataObject, sql: str) -> tuple[object, ...]:
    rows = conn.execute(sql).fetchall()
    assert rows, sql
    return tuple(data.draw(st.sampled_from(rows)))


def size_of(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])


# -- one tamper per way of changing each table ------------------------------------------


def touches_deleted(conn: sqlite3.Connection, data: st.DataObject) -> str:
    item, idx = pick(conn, data, "SELECT item, idx FROM touches")
    conn.execute("DELETE FROM touches WHERE item = ? AND idx = ?", (item, idx))
    return "touches"


def touches_inserted(conn: sqlite3.Connection, data: st.DataObject) -> str:
    (item,) = pick(conn, data, "SELECT DISTINCT item FROM touches")
    idx = data.draw(st.integers(0, size_of(conn) - 1))
    assume(
        conn.execute("SELECT 1 FROM touches WHERE item = ? AND idx = ?", (item, idx)).fetchone()
        is None
    )
    conn.execute("INSERT INTO touches (item, idx) VALUES (?, ?)", (item, idx))
    return "touches"


def touches_moved(conn: sqlite3.Connection, data: st.DataObject) -> str:
    item, idx = pick(conn, data, "SELECT item, idx FROM touches")
    other = data.draw(st.sampled_from(["ROUGH-A", "LOT-B2", "STONE-0001", "NOT-AN-ITEM"]))
    assume(other != item)
    conn.execute(
        "UPDATE OR IGNORE touches SET item = ? WHERE item = ? AND idx = ?", (other, item, idx)
    )
    assume(conn.total_changes > 0)
    return "touches"


def findings_deleted(conn: sqlite3.Connection, data: st.DataObject) -> str:
    (rowid,) = pick(conn, data, "SELECT rowid FROM findings")
    conn.execute("DELETE FROM findings WHERE rowid = ?", (rowid,))
    return "findings"


def findings_inserted(conn: sqlite3.Connection, data: st.DataObject) -> str:
    idx = data.draw(st.integers(0, size_of(conn) - 1))
    rule = data.draw(st.sampled_from(["R-SW-1", "R-KP-3", "R-MB-2"]))
    message = data.draw(st.text(min_size=1, max_size=40))
    conn.execute("INSERT INTO findings (idx, rule, message) VALUES (?, ?, ?)", (idx, rule, message))
    return "findings"


def findings_edited(conn: sqlite3.Connection, data: st.DataObject) -> str:
    rowid, message = pick(conn, data, "SELECT rowid, message FROM findings")
    column = data.draw(st.sampled_from(["rule", "message", "idx"]))
    value: object = {"rule": "R-XX-9", "message": f"{message} (edited)", "idx": 0}[column]
    conn.execute(f"UPDATE findings SET {column} = ? WHERE rowid = ?", (value, rowid))
    return "findings"


def state_edited(conn: sqlite3.Connection, data: st.DataObject) -> str:
    kind, key = pick(conn, data, "SELECT kind, key FROM state")
    how = data.draw(st.sampled_from(["delete", "json", "value"]))
    if how == "delete":
        conn.execute("DELETE FROM state WHERE kind = ? AND key = ?", (kind, key))
    elif how == "json":
        conn.execute("UPDATE state SET json = '{}' WHERE kind = ? AND key = ?", (kind, key))
    else:
        conn.execute("UPDATE state SET value = x'c0' WHERE kind = ? AND key = ?", (kind, key))
    return "state"


def state_inserted(conn: sqlite3.Connection, data: st.DataObject) -> str:
    conn.execute(
        "INSERT INTO state (kind, key, value, json) VALUES ('parcel', 'FAKE-1', x'c0', 'null')"
    )
    return "state"


def tile_edited(conn: sqlite3.Connection, data: st.DataObject) -> str:
    """A stored tile edited, or (a log of one partial level-0 tile, which schema 3 does not
    store) a row for that tile that is not the records' hashes: read instead of them."""
    if conn.execute("SELECT COUNT(*) FROM tiles").fetchone()[0]:
        level, idx, hashes = pick(conn, data, "SELECT level, idx, hashes FROM tiles")
    else:
        rows = conn.execute("SELECT hash FROM records ORDER BY idx LIMIT 256").fetchall()
        level, idx, hashes = 0, 0, b"".join(bytes(r[0]) for r in rows)
        conn.execute("INSERT INTO tiles (level, idx, hashes) VALUES (0, 0, ?)", (hashes,))
    at = data.draw(st.integers(0, len(hashes) - 1))
    changed = bytearray(hashes)
    changed[at] ^= 1 << data.draw(st.integers(0, 7))
    conn.execute(
        "UPDATE tiles SET hashes = ? WHERE level = ? AND idx = ?", (bytes(changed), level, idx)
    )
    return "tiles"


def record_column_edited(conn: sqlite3.Connection, data: st.DataObject) -> str:
    (idx,) = pick(conn, data, "SELECT idx FROM records")
    column, value = data.draw(
        st.sampled_from(
            [("type", "origin.fake"), ("time", 7), ("json", "{}"), ("hash", b"\x00" * 32)]
        )
    )
    conn.execute(f"UPDATE records SET {column} = ? WHERE idx = ?", (value, idx))
    return "column"


def checkpoint_edited(conn: sqlite3.Connection, data: st.DataObject) -> str:
    size, text = pick(conn, data, "SELECT size, note FROM checkpoints")
    how = data.draw(st.sampled_from(["size", "note", "insert"]))
    if how == "size":
        conn.execute("UPDATE checkpoints SET size = size - 1 WHERE size = ?", (size,))
    elif how == "note":
        conn.execute(
            "UPDATE checkpoints SET note = ? WHERE size = ?", (text.replace("\n", "\n\n", 1), size)
        )
    else:
        conn.execute("INSERT OR REPLACE INTO checkpoints (size, note) VALUES (1, ?)", (text,))
    return "checkpoint"


def mirror_row_edited(conn: sqlite3.Connection, data: st.DataObject) -> str:
    how = data.draw(st.sampled_from(["accept-the-fork", "root", "size", "note", "insert"]))
    if how == "accept-the-fork":
        conn.execute("UPDATE mirror_checkpoints SET accepted = 1 WHERE accepted = 0")
    elif how == "root":
        conn.execute(
            "UPDATE mirror_checkpoints SET root = x'00' || substr(root, 2) WHERE accepted = 1"
        )
    elif how == "size":
        conn.execute("UPDATE mirror_checkpoints SET size = size + 1 WHERE accepted = 1")
    elif how == "note":
        conn.execute("UPDATE mirror_checkpoints SET note = 'not a note' WHERE accepted = 0")
    else:
        conn.execute(
            "INSERT INTO mirror_checkpoints VALUES (3, zeroblob(32), 'forged', 'http://x', 0, 0)"
        )
    return "mirror_checkpoints"


def view_redefined(conn: sqlite3.Connection, data: st.DataObject) -> str:
    name = data.draw(st.sampled_from(["entries", "participants", "parcels"]))
    conn.execute(f"DROP VIEW {name}")
    conn.execute(f"CREATE VIEW {name} AS SELECT 1 AS idx")
    return "view"


TAMPERS: list[Tamper] = [
    touches_deleted,
    touches_inserted,
    touches_moved,
    findings_deleted,
    findings_inserted,
    findings_edited,
    state_edited,
    state_inserted,
    tile_edited,
    record_column_edited,
    checkpoint_edited,
    mirror_row_edited,
    view_redefined,
]


WANTED = {
    "touches": "touches",
    "findings": "findings",
    "state": "state",
    "tiles": "tile",
    "column": "column",
    "checkpoint": "checkpoint",
    "mirror_checkpoints": "mirror_checkpoints",
    "view": "view",
}


@pytest.mark.parametrize("tamper", TAMPERS, ids=lambda t: t.__name__)
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_tampering_a_derived_table_fails_verify(
    pristine: Path, tamper: Tamper, data: st.DataObject
) -> None:
    with copied(pristine) as path:
        with raw_sql(path) as conn:
            table = tamper(conn, data)
        err = verify_error(path)
    assert err.rule in ("R-ST-1", "R-ST-2", "R-CH-1", "R-CH-2", "R-EN-1"), err
    assert WANTED[table] in err.message.lower(), (table, err)


def test_a_do_nothing_trigger_is_named(pristine: Path) -> None:
    with copied(pristine) as path:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("DROP TRIGGER records_no_update")
        conn.execute(
            "CREATE TRIGGER records_no_update BEFORE UPDATE ON records BEGIN SELECT 1; END"
        )
        conn.close()
        err = verify_error(path)
    assert err.rule == "R-ST-1" and "records_no_update was redefined" in err.message


def test_the_pristine_ledger_verifies(pristine: Path) -> None:
    led = Ledger.open(str(pristine))
    try:
        report = led.verify()
    finally:
        led.close()
    assert report.warnings["R-SW-1"] == 1
