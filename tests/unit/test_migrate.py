"""``kpledger migrate``: a schema-2 file becomes schema 3, or stays as it was.

The schema-2 file is made by hand from the schema-2 statements (``SCHEMA_2`` of
``test_schema.py``) and filled with the rows schema 2 keeps (specs/log.md §5.3 and
specs/state-map.md §5 as they stood): the records, state, touches, findings, checkpoints
and state-map rows of a simulated ledger, every tile of its tree including the partial
level-0 one, and the state-map nodes under their schema-2 ids (``u8(depth) || low end``).
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from ledger.core import tiles
from ledger.errors import StoreError
from ledger.ledger import Ledger
from ledger.sim import simulate
from ledger.storage import map_tables, migrate, schema
from ledger.storage.store import Store
from tests.unit.test_schema import create_schema, master, structure

_COPIED = (
    "records",
    "state",
    "touches",
    "findings",
    "checkpoints",
    "map_leaf",
    "map_change",
    "map_root",
)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated schema-3 ledger of more than one level-0 tile (a partial one at the end)."""
    path = tmp_path_factory.mktemp("made") / "made.db"
    assert simulate(str(path), parcels=10, seed=5).ok
    conn = sqlite3.connect(path)
    size = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    conn.close()
    assert size > tiles.TILE_WIDTH and size % tiles.TILE_WIDTH
    return path


def schema_2_file(source: Path, path: Path) -> Path:
    """The ledger of ``source`` as a schema-2 file would hold it."""
    create_schema(path, 2)
    store = Store.open(str(source))
    hashes = [bytes(r[0]) for r in store.conn.execute("SELECT hash FROM records ORDER BY idx")]
    nodes = list(store.map_nodes())  # schema-3 rows under their node ids: the schema-2 ids
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("ATTACH DATABASE ? AS src", (str(source),))
    conn.execute("BEGIN")
    for table in _COPIED:
        conn.execute(f"INSERT INTO main.{table} SELECT * FROM src.{table}")
    every_tile = tiles.append_to_tiles(0, hashes, _NoTiles())
    assert any(k[0] == 0 and len(v) < 8192 for k, v in every_tile.items())
    conn.executemany(
        "INSERT INTO tiles (level, idx, hashes) VALUES (?, ?, ?)",
        [(lvl, idx, blob) for (lvl, idx), blob in every_tile.items()],
    )
    assert all(len(nid) == 33 for nid, _ in nodes)
    conn.executemany("INSERT INTO map_node (id, h) VALUES (?, ?)", nodes)
    conn.execute("COMMIT")
    conn.execute("DETACH DATABASE src")
    conn.close()
    return path


class _NoTiles:
    def read_tiles(self, keys: object) -> dict[tuple[int, int], bytes]:
        return {}


def _digest(path: Path) -> str:
    """The bytes of a closed file (its WAL folded in by the last close)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(path: Path, table: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    rows = conn.execute(f"SELECT * FROM {table}").fetchall()
    conn.close()
    return sorted(rows, key=repr)


def test_a_schema_2_file_is_refused_then_migrated(made: Path, tmp_path: Path) -> None:
    old = schema_2_file(made, tmp_path / "old.db")
    with pytest.raises(StoreError, match=r"schema 2; .*'kpledger migrate .*old\.db'"):
        Store.open(str(old))

    done = migrate.migrate_ledger(str(old))

    source = Ledger.open(str(made))
    size, root, map_root = source.size(), source.store.root(), source.store.map_root()
    source.close()
    assert done["migrated"] is True
    assert (done["from_schema"], done["to_schema"]) == (2, 3)
    assert (done["records"], done["tree_root"], done["map_root"]) == (size, root, map_root)
    assert done["tiles_dropped"] == 1  # the partial level-0 tile
    led = Ledger.open(str(old))
    try:
        report = led.verify()
        assert (report.size, report.root) == (size, root)
        assert led.store.map_root() == map_root
    finally:
        led.close()
    # Table for table what the current code writes for the same ledger, and its schema.
    for table in (*_COPIED, "tiles", "map_node", *schema.VIEWS):
        assert _rows(old, table) == _rows(made, table), table
    new = tmp_path / "new.db"
    Store.create(str(new)).close()
    assert master(old) == master(new)
    assert structure(old) == structure(new)
    # Again: nothing to do, nothing changed.
    before = _digest(old)
    again = migrate.migrate_ledger(str(old))
    assert again["migrated"] is False and again["records"] == size
    assert _digest(old) == before


def _lossy_convert(conn: sqlite3.Connection) -> int:
    """The conversion, then one state row lost."""
    dropped = _CONVERT(conn)
    conn.execute("DELETE FROM state WHERE rowid = (SELECT max(rowid) FROM state)")
    return dropped


_CONVERT = migrate._convert


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("state", "would not be the same ledger .*its state changed.*the file is unchanged"),
        ("ids", "UNIQUE constraint failed: map_node.id"),
    ],
)
def test_a_failed_check_leaves_the_file_as_it_was(
    made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str, message: str
) -> None:
    old = schema_2_file(made, tmp_path / "old.db")
    before = _digest(old)
    if what == "state":
        monkeypatch.setattr(migrate, "_convert", _lossy_convert)
    else:  # a conversion that gives two nodes one id
        monkeypatch.setattr(map_tables, "stored_id", lambda nid: nid[:2])
    with pytest.raises(StoreError, match=message):
        migrate.migrate_ledger(str(old))
    assert _digest(old) == before
    with pytest.raises(StoreError, match="schema 2"):
        Store.open(str(old))


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_a_truncated_file_is_named_and_left_alone(made: Path, tmp_path: Path, cut: float) -> None:
    old = schema_2_file(made, tmp_path / "old.db")
    data = old.read_bytes()
    broken = tmp_path / "broken.db"
    broken.write_bytes(data[: int(len(data) * cut) // 4096 * 4096])
    before = _digest(broken)
    with pytest.raises(StoreError, match=r"broken\.db") as info:
        migrate.migrate_ledger(str(broken))
    assert "damaged" in info.value.message or "not readable" in info.value.message
    assert _digest(broken) == before


def test_not_a_ledger_nor_a_context_file(made: Path, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no ledger at"):
        migrate.migrate_ledger(str(tmp_path / "missing.db"))
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(StoreError, match="not a kpledger ledger"):
        migrate.migrate_ledger(str(garbage))
    old = schema_2_file(made, tmp_path / "old.db")
    conn = sqlite3.connect(old)
    conn.execute("INSERT INTO meta (key, value) VALUES ('context', '{}')")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="context file"):
        migrate.migrate_ledger(str(old))
    conn = sqlite3.connect(old)
    conn.execute("DELETE FROM meta WHERE key = 'context'")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="converts schema 2 to 3"):
        migrate.migrate_ledger(str(old))


def test_served_tiles_are_the_schema_2_bytes(made: Path, tmp_path: Path) -> None:
    """Every tile a node serves (tile/<L>/<N>[.p/<W>]) is what the schema-2 rows gave."""
    from ledger.net.mirror import tile_bytes

    old = schema_2_file(made, tmp_path / "old.db")
    conn = sqlite3.connect(old)
    rows = {(lvl, idx): bytes(h) for lvl, idx, h in conn.execute("SELECT * FROM tiles")}
    conn.close()
    migrate.migrate_ledger(str(old))
    store = Store.open(str(old))
    try:
        size = store.size()
        served = 0
        for level, index, width in tiles.tiles_for_size(size):
            for w in {1, width // 2 or 1, width}:
                assert tile_bytes(store, level, index, w) == rows[(level, index)][: w * 32]
                served += 1
        assert served > 3
        conn = store.conn
        assert conn.execute("SELECT COUNT(*) FROM tiles").fetchone()[0] == len(rows) - 1
    finally:
        store.close()


def test_the_command(made: Path, tmp_path: Path) -> None:
    """``kpledger migrate LEDGER``: a line, or JSON, and then the ledger opens."""
    import json

    from click.testing import CliRunner

    from cli.app import main

    old = schema_2_file(made, tmp_path / "old.db")
    runner = CliRunner()
    refused = runner.invoke(main, ["--ledger", str(old), "verify"])
    assert refused.exit_code == 1
    assert f"'kpledger migrate {old}'" in refused.output
    done = runner.invoke(main, ["migrate", str(old)])
    assert done.exit_code == 0, done.output
    assert f"{old}: schema 2 -> 3: " in done.output and "checked" in done.output
    again = runner.invoke(main, ["--json", "migrate", str(old)])
    assert again.exit_code == 0, again.output
    value = json.loads(again.stdout)
    assert (value["from_schema"], value["to_schema"], value["migrated"]) == (3, 3, False)
    assert runner.invoke(main, ["--ledger", str(old), "verify"]).exit_code == 0
