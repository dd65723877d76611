"""Tampering with a stored ledger is caught by ``Ledger.verify`` (specs/log.md §3, §5).

A small ledger is built once through the public ``Ledger`` API. Each test works on a copy
of the file, changed directly with ``sqlite3`` the way an attacker with write access
would: drop the append-only triggers, change the rows, put the triggers back (so that
the trigger check of ``verify`` is not what catches the change), then verify.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.core.keys import PrivateKey
from ledger.core.model import Record, SignedEntry, entry_to_json
from ledger.errors import ChainError, LedgerError
from ledger.ledger import Ledger
from ledger.storage.store import TRIGGERS

T = 1_717_200_000_000  # 2024-06-01T00:00:00Z, the frozen clock of this file
ORIGIN = "example.org/kpledger-tamper-test"
OPERATOR = PrivateKey("operator", bytes([1]) * 32)
MINE = PrivateKey("jwaneng", bytes([2]) * 32)
TRADER = PrivateKey("antwerp", bytes([3]) * 32)


def build(path: Path) -> int:
    """Seven records; a signed checkpoint covers the first five. Returns the log size."""
    led = Ledger.create(str(path), OPERATOR, ORIGIN, now=T)
    try:
        steps = [
            (
                "participant.add",
                {"name": MINE.name, "pub": MINE.public, "roles": ["mine"], "country": "BW"},
                OPERATOR,
            ),
            (
                "participant.add",
                {"name": TRADER.name, "pub": TRADER.public, "roles": ["trader"], "country": "BE"},
                OPERATOR,
            ),
            (
                "kp-status.set",
                {"country": "BW", "status": "participant", "from": "2003-01-01"},
                OPERATOR,
            ),
            (
                "origin",
                {
                    "parcel": "P-1",
                    "carats": 12_500,
                    "stones": 42,
                    "mine": "Jwaneng",
                    "hs": "7102.10",
                },
                MINE,
            ),
            (
                "origin",
                {"parcel": "P-2", "carats": 300, "stones": 3, "mine": "Jwaneng", "hs": "7102.21"},
                MINE,
            ),
            (
                "kp-status.set",
                {"country": "BE", "status": "participant", "from": "2003-01-01"},
                OPERATOR,
            ),
        ]
        for i, (entry_type, fields, key) in enumerate(steps, start=1):
            now = T + i * 60_000
            led.append([led.sign(entry_type, fields, key, now=now)], now=now)
            if i == 4:
                led.checkpoint(OPERATOR)
        led.verify()
        return led.size()
    finally:
        led.close()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("ledger") / "pristine.db"
    return path, build(path)


@contextmanager
def copy_of(pristine: tuple[Path, int]) -> Iterator[Path]:
    """A throw-away copy of the ledger file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "copy.db"
        shutil.copyfile(pristine[0], path)
        yield path


@contextmanager
def raw_sql(path: Path) -> Iterator[sqlite3.Connection]:
    """Raw SQL on a ledger file with the triggers dropped, and put back afterwards."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        triggers = [
            sql for (sql,) in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger'")
        ]
        assert len(triggers) == len(TRIGGERS)
        for name in TRIGGERS:
            conn.execute(f"DROP TRIGGER {name}")
        yield conn
        for sql in triggers:
            conn.execute(sql)
    finally:
        conn.close()


def verify(path: Path) -> None:
    led = Ledger.open(str(path))
    try:
        led.verify()
    finally:
        led.close()


def assert_caught(path: Path) -> LedgerError:
    with pytest.raises(LedgerError) as info:
        verify(path)
    err = info.value
    assert err.rule, f"no rule named: {err}"
    assert err.message
    return err


INSERT_ROW = (
    "INSERT INTO records (idx, id, hash, time, type, record, json) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def as_json(entry: SignedEntry) -> str:
    """The ``json`` column exactly as the store writes it, so only the chain can tell."""
    return json.dumps(entry_to_json(entry), separators=(",", ":"))


def put_record(conn: sqlite3.Connection, index: int, raw: bytes) -> None:
    """Replace a record like a careful attacker: the cached columns are made to match it
    whenever it still parses, so that only the chain, signatures and tree can object."""
    try:
        record = Record.from_wire(raw)
        entry = record.entry()
    except LedgerError:
        conn.execute("UPDATE records SET record = ? WHERE idx = ?", (raw, index))
        return
    conn.execute(
        "UPDATE records SET id = ?, hash = ?, time = ?, type = ?, record = ?, json = ?"
        " WHERE idx = ?",
        (entry.id, record.hash, record.time, entry.type, raw, as_json(entry), index),
    )


def rows(conn: sqlite3.Connection) -> list[tuple[int, bytes]]:
    return [(i, bytes(r)) for i, r in conn.execute("SELECT idx, record FROM records ORDER BY idx")]


# --- sanity -------------------------------------------------------------------------------


def test_pristine_copy_verifies(pristine: tuple[Path, int]) -> None:
    verify(pristine[0])
    with copy_of(pristine) as path:
        with raw_sql(path) as conn:  # triggers dropped and re-created, nothing else
            assert len(rows(conn)) == pristine[1] == 7
        verify(path)


def test_triggers_block_update_and_delete(pristine: tuple[Path, int]) -> None:
    with copy_of(pristine) as path:
        conn = sqlite3.connect(path)
        try:
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute("UPDATE records SET time = time + 1 WHERE idx = 1")
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute("DELETE FROM records WHERE idx = 6")
        finally:
            conn.close()


# --- any single byte of any stored record row ---------------------------------------------

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@EXAMPLES
@given(data=st.data())
def test_any_changed_record_byte_is_caught(pristine: tuple[Path, int], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, pristine[1] - 1), label="record")
    with copy_of(pristine) as path:
        with raw_sql(path) as conn:
            raw = bytearray(dict(rows(conn))[index])
            at = data.draw(st.integers(0, len(raw) - 1), label="offset")
            raw[at] ^= data.draw(st.integers(1, 255), label="xor")
            put_record(conn, index, bytes(raw))
        assert_caught(path)


@EXAMPLES
@given(data=st.data())
def test_any_changed_cached_column_is_caught(
    pristine: tuple[Path, int], data: st.DataObject
) -> None:
    """id, hash, time, type and json are caches of the record; the views and appends read them."""
    index = data.draw(st.integers(0, pristine[1] - 1), label="record")
    column = data.draw(st.sampled_from(["id", "hash", "time", "type", "json"]), label="column")
    with copy_of(pristine) as path:
        with raw_sql(path) as conn:
            (value,) = conn.execute(
                f"SELECT {column} FROM records WHERE idx = ?", (index,)
            ).fetchone()
            if isinstance(value, int):
                new: object = value + data.draw(st.sampled_from([-1, 1, 1000]))
            else:
                raw = bytearray(value if isinstance(value, bytes) else value.encode())
                at = data.draw(st.integers(0, len(raw) - 1), label="offset")
                raw[at] = data.draw(
                    st.sampled_from([b for b in b"0123456789abcdefxyz{}" if b != raw[at]])
                )
                new = bytes(raw) if isinstance(value, bytes) else raw.decode()
            conn.execute(f"UPDATE records SET {column} = ? WHERE idx = ?", (new, index))
        err = assert_caught(path)
        assert isinstance(err, ChainError) and err.rule == "R-ST-2", err


# --- whole records -------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1, 3, 5, 6])
def test_deleted_record_is_caught(pristine: tuple[Path, int], index: int) -> None:
    with copy_of(pristine) as path:
        with raw_sql(path) as conn:
            conn.execute("DELETE FROM records WHERE idx = ?", (index,))
        assert_caught(path)


def test_deleted_record_renumbered_is_caught(pristine: tuple[Path, int]) -> None:
    """Remove record 2 and close the gap, so the indexes look contiguous again."""
    with copy_of(pristine) as path:
        with raw_sql(path) as conn:
            conn.execute("DELETE FROM records WHERE idx = 2")
            conn.execute("UPDATE records SET idx = idx - 1 WHERE idx > 2")
        err = assert_caught(path)
        assert err.rule == "R-CH-1", err


@pytest.mark.parametrize(("a", "b"), [(1, 2), (2, 4), (5, 6), (0, 1)])
def test_swapped_records_are_caught(pristine: tuple[Path, int], a: int, b: int) -> None:
    with copy_of(pristine) as path:
        with raw_sql(path) as conn:
            cols = "id, hash, time, type, record, json"
            row_a = conn.execute(f"SELECT {cols} FROM records WHERE idx = ?", (a,)).fetchone()
            row_b = conn.execute(f"SELECT {cols} FROM records WHERE idx = ?", (b,)).fetchone()
            conn.execute("DELETE FROM records WHERE idx IN (?, ?)", (a, b))
            insert = f"INSERT INTO records (idx, {cols}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            conn.execute(insert, (a, *row_b))
            conn.execute(insert, (b, *row_a))
        err = assert_caught(path)
        assert err.rule == "R-CH-1", err


def _forged_entry(pristine: tuple[Path, int], now: int) -> bytes:
    """A valid, correctly signed entry that was never appended."""
    led = Ledger.open(str(pristine[0]))
    try:
        fields = {"country": "ZA", "status": "participant", "from": "2003-01-01"}
        return led.sign("kp-status.set", fields, OPERATOR, now=now).raw
    finally:
        led.close()


def test_inserted_record_at_the_end_is_caught(pristine: tuple[Path, int]) -> None:
    """A well-formed, correctly chained and signed record appended behind the store's back."""
    now = T + 3_600_000
    with copy_of(pristine) as path:
        with raw_sql(path) as conn:
            last = Record.from_wire(dict(rows(conn))[pristine[1] - 1])
            forged = Record.build(last.index + 1, last.hash, now, _forged_entry(pristine, now))
            entry = forged.entry()
            conn.execute(
                INSERT_ROW,
                (forged.index, entry.id, forged.hash, now, entry.type, forged.raw, as_json(entry)),
            )
        assert_caught(path)


def test_inserted_record_in_the_middle_is_caught(pristine: tuple[Path, int]) -> None:
    now = T + 150_000
    with copy_of(pristine) as path:
        with raw_sql(path) as conn:
            prev = Record.from_wire(dict(rows(conn))[2])
            forged = Record.build(3, prev.hash, now, _forged_entry(pristine, now))
            entry = forged.entry()
            conn.execute("UPDATE records SET idx = -idx WHERE idx >= 3")
            conn.execute("UPDATE records SET idx = 1 - idx WHERE idx <= -3")
            conn.execute(
                INSERT_ROW,
                (3, entry.id, forged.hash, now, entry.type, forged.raw, as_json(entry)),
            )
            assert [i for i, _ in rows(conn)] == list(range(pristine[1] + 1))
        err = assert_caught(path)
        assert err.rule == "R-CH-1", err


def test_replaced_record_with_valid_chain_prefix_is_caught(pristine: tuple[Path, int]) -> None:
    """Rewrite the last record (not covered by the checkpoint) with a different valid entry."""
    now = T + 6 * 60_000
    with copy_of(pristine) as path:
        with raw_sql(path) as conn:
            old = Record.from_wire(dict(rows(conn))[pristine[1] - 1])
            forged = Record.build(old.index, old.prev, now, _forged_entry(pristine, now))
            entry = forged.entry()
            assert entry.id != old.entry().id
            put_record(conn, old.index, forged.raw)
        assert_caught(path)


# --- triggers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_dropped_trigger_is_caught(pristine: tuple[Path, int], trigger: str) -> None:
    with copy_of(pristine) as path:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute(f"DROP TRIGGER {trigger}")
        conn.close()
        with pytest.raises(ChainError, match=trigger) as info:
            verify(path)
        assert info.value.rule == "R-ST-1"
