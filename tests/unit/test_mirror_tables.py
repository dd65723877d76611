"""The mirror's evidence table (ledger/storage/mirror_tables.py, specs/node.md §5)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ledger.storage import mirror_tables
from ledger.storage.mirror_tables import SeenCheckpoint
from ledger.storage.store import Store

ROOT_A = bytes(range(32))
ROOT_B = bytes(reversed(range(32)))


def _rows(path: Path) -> list[tuple[int, bytes, str, str, int, int]]:
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT size, root, note, source, seen_ms, accepted FROM mirror_checkpoints"
        " ORDER BY size, root"
    ).fetchall()
    conn.close()
    return rows


def _record(store: Store, size: int, root: bytes, source: str, ms: int, *, ok: bool) -> None:
    mirror_tables.record_checkpoint(
        store,
        size=size,
        root=root,
        note=f"note {size} from {source}\n",
        source=source,
        seen_ms=ms,
        accepted=ok,
    )


def test_the_table_is_made_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = Store.create(str(path))
    conn = sqlite3.connect(path)
    assert (
        conn.execute("SELECT name FROM sqlite_master WHERE name = 'mirror_checkpoints'").fetchone()
        is None
    )
    assert mirror_tables.accepted_checkpoints(store) == []
    (sql,) = conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'mirror_checkpoints'"
    ).fetchone()
    conn.close()
    assert "PRIMARY KEY (size, root)" in sql and sql.rstrip().endswith("WITHOUT ROWID")
    store.close()


def test_a_checkpoint_keeps_its_latest_verdict(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = Store.create(str(path))
    _record(store, 5, ROOT_A, "http://a", 1, ok=True)
    # Refused once (say a bad tile from its node), accepted by a later sync: accepted.
    _record(store, 9, ROOT_A, "http://b", 2, ok=False)
    assert mirror_tables.accepted_checkpoints(store) == [SeenCheckpoint(5, ROOT_A, "http://a")]
    _record(store, 9, ROOT_A, "http://a", 3, ok=True)
    assert mirror_tables.accepted_checkpoints(store) == [
        SeenCheckpoint(5, ROOT_A, "http://a"),
        SeenCheckpoint(9, ROOT_A, "http://a"),
    ]
    # Another tree of a size seen is a row of its own: the evidence of a split view.
    _record(store, 9, ROOT_B, "http://b", 4, ok=False)
    assert _rows(path) == [
        (5, ROOT_A, "note 5 from http://a\n", "http://a", 1, 1),
        (9, ROOT_A, "note 9 from http://a\n", "http://a", 3, 1),
        (9, ROOT_B, "note 9 from http://b\n", "http://b", 4, 0),
    ]
    store.close()


def test_a_file_with_the_table_opens_and_verifies(tmp_path: Path) -> None:
    """The evidence table is an addition to schema 1, not another schema; verify checks
    that each of its rows holds a note the operator signed, of the row's tree."""
    import pytest

    from ledger.core import note
    from ledger.errors import ChainError
    from ledger.ledger import Ledger
    from tests.conftest import OPERATOR, World

    path = tmp_path / "world.db"
    w = World.create(path)
    w.origin("Jwaneng", "P1", carats=100)
    text = w.ledger.checkpoint(w.keys[OPERATOR])
    w.close()
    cp = note.parse_checkpoint(note.parse_note(text).text)
    store = Store.open(str(path))
    mirror_tables.record_checkpoint(
        store, size=cp.size, root=cp.root, note=text, source="http://a", seen_ms=1, accepted=True
    )
    store.close()
    led = Ledger.open(str(path))
    try:
        led.verify()
        _record(led.store, 1, ROOT_A, "http://a", 1, ok=False)  # not a signed note
        with pytest.raises(ChainError, match="mirror_checkpoints row of size 1"):
            led.verify()
    finally:
        led.close()
