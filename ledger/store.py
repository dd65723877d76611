"""SQLite storage of the log (specs/log.md §4): the only module that touches the database.

One file holds the append-only ``records`` table (triggers reject UPDATE and DELETE),
the Merkle tree as C2SP tiles, the derived rules state, an index of which records
touch which parcel, warnings, and signed checkpoints. Every append runs the rules
engine inside one ``BEGIN IMMEDIATE`` transaction, so concurrent writers serialise
and a rejected or interrupted append leaves the file unchanged.

Derived tables (``state``, ``tiles``, ``touches``, ``findings``) are caches of what
a replay of ``records`` computes; ``verify`` recomputes and compares them.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from ledger import merkle, rules, tiles
from ledger.encoding import decode, encode
from ledger.errors import ChainError, LedgerError, NotFoundError, StoreError
from ledger.model import ZERO_HASH, Record, SignedEntry, entry_to_json, key_id

SCHEMA_VERSION = 1

_SCHEMA = """
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

TRIGGERS = ("records_no_update", "records_no_delete")


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def state_json(value: Any) -> str:
    """The readable ``json`` column of a state row (keys sorted, bytes as hex)."""
    return json.dumps(_jsonable(value), separators=(",", ":"), sort_keys=True)


def _entry_json(entry: SignedEntry) -> str:
    return json.dumps(entry_to_json(entry), separators=(",", ":"))


def check_row_cache(record: Record, entry: SignedEntry, cached: Sequence[Any]) -> None:
    """Compare a row's cached columns with its decoded record.

    Raises:
        ChainError: a cached column differs (R-ST-2).
    """
    index = record.index
    expected = (entry.id, record.hash, record.time, entry.type, _entry_json(entry))
    names = ("id", "hash", "time", "type", "json")
    for name, want, got in zip(names, expected, cached, strict=True):
        if (bytes(got) if isinstance(got, (bytes, memoryview)) else got) != want:
            raise ChainError(
                f"record {index}: stored column {name} differs from the record", rule="R-ST-2"
            )


@dataclass(frozen=True)
class Appended:
    """What an append returns: the record, its entry and WARN findings."""

    index: int
    entry: SignedEntry
    record: Record
    warnings: tuple[rules.Finding, ...]


class _SqlBacking:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def load(self, kind: str, key: str) -> Any | None:
        row = self.conn.execute(
            "SELECT value FROM state WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return None if row is None else decode(row[0])


class _SqlTiles:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def read_tiles(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        out: dict[tuple[int, int], bytes] = {}
        for level, idx in keys:
            row = self.conn.execute(
                "SELECT hashes FROM tiles WHERE level = ? AND idx = ?", (level, idx)
            ).fetchone()
            if row is not None:
                out[(level, idx)] = row[0]
        return out


class Store:
    """A ledger file. Open with :meth:`open` (existing) or :meth:`create` (new)."""

    def __init__(self, path: str, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        # Read-side cache of committed tiles. A tile of a given width never changes (the log
        # is append-only), so the cache stays valid while other processes append. Appends do
        # not use it: a rolled-back append must leave nothing behind.
        self._tile_cache = tiles.TileCache()

    # -- opening --------------------------------------------------------------

    @classmethod
    def _connect(cls, path: str, *, synchronous: str = "FULL") -> Store:
        try:
            conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open ledger {path}: {exc}") from exc
        return cls(path, conn)

    @classmethod
    def create(cls, path: str) -> Store:
        """Create a new, empty ledger file.

        Raises:
            StoreError: the file exists already or cannot be created.
        """
        if os.path.exists(path):
            raise StoreError(f"{path} already exists; kpledger will not overwrite a ledger")
        store = cls._connect(path)
        try:
            store.conn.executescript(_SCHEMA)
            store.conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create ledger {path}: {exc}") from exc
        return store

    @classmethod
    def open(cls, path: str, *, synchronous: str = "FULL") -> Store:
        """Open an existing ledger file.

        Raises:
            StoreError: missing file, not a SQLite file, or not a kpledger ledger.
        """
        if not os.path.exists(path):
            raise StoreError(
                f"no ledger at {path} (create one with 'kpledger init' or pass --ledger)"
            )
        store = cls._connect(path, synchronous=synchronous)
        try:
            row = store.conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path} is not a kpledger ledger: {exc}") from exc
        if row is None or row[0] != str(SCHEMA_VERSION):
            raise StoreError(f"{path} is not a kpledger ledger of schema {SCHEMA_VERSION}")
        return store

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot lock ledger {self.path}: {exc}") from exc
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:  # pragma: no cover - disk full and the like
            self.conn.execute("ROLLBACK")
            raise StoreError(f"cannot commit to ledger {self.path}: {exc}") from exc

    # -- reading --------------------------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Run the reads inside one read transaction (a consistent snapshot under WAL)."""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    def size(self) -> int:
        row = self.conn.execute("SELECT COUNT(*) FROM records").fetchone()
        return int(row[0])

    def _head(self) -> tuple[int, bytes]:
        row = self.conn.execute(
            "SELECT idx, hash FROM records ORDER BY idx DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return 0, ZERO_HASH
        return int(row[0]) + 1, bytes(row[1])

    def record(self, index: int) -> Record:
        row = self.conn.execute("SELECT record FROM records WHERE idx = ?", (index,)).fetchone()
        if row is None:
            raise NotFoundError(f"no record {index} (the log has {self.size()})")
        return Record.from_wire(bytes(row[0]))

    def record_by_id(self, entry_id: bytes) -> Record:
        row = self.conn.execute("SELECT record FROM records WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no entry {entry_id.hex()}")
        return Record.from_wire(bytes(row[0]))

    def find_ids(self, prefix: str) -> list[bytes]:
        """Entry ids whose hex starts with ``prefix``."""
        low = prefix.lower()
        rows = self.conn.execute(
            "SELECT id FROM records WHERE lower(hex(id)) LIKE ? LIMIT 3", (low + "%",)
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def _rows(self, columns: str, start: int, end: int | None) -> Iterator[tuple[Any, ...]]:
        sql = f"SELECT {columns} FROM records WHERE idx >= ?"  # noqa: S608 - fixed column lists
        args: list[int] = [start]
        if end is not None:
            sql += " AND idx < ?"
            args.append(end)
        cur = self.conn.execute(sql + " ORDER BY idx", args)
        while True:
            rows = cur.fetchmany(2048)
            if not rows:
                return
            yield from rows

    def iter_records(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Raw record bytes in log order."""
        for (raw,) in self._rows("record", start, end):
            yield bytes(raw)

    def iter_rows(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """``(idx, record bytes)`` in index order, exactly as stored."""
        for idx, raw in self._rows("idx, record", start, end):
            yield int(idx), bytes(raw)

    def iter_rows_cached(
        self, start: int = 0, end: int | None = None
    ) -> Iterator[tuple[int, bytes, tuple[Any, ...]]]:
        """``(idx, record bytes, cached columns)``; see :func:`check_row_cache`.

        The other columns of a row (``id``, ``hash``, ``time``, ``type``, ``json``) are
        caches of its record: lookups, the next append's ``prev`` and the ``entries`` view
        read them. ``verify`` compares each with the record it has decoded anyway.
        """
        for idx, raw, *cached in self._rows("idx, record, id, hash, time, type, json", start, end):
            yield int(idx), bytes(raw), tuple(cached)

    def registered_keys(self) -> dict[bytes, bytes]:
        """``key id -> public key`` for every key a registry record names.

        Read from the records themselves (genesis, participant.add, participant.rotate),
        not from the derived state; a key id is the hash of its key, so nothing here
        needs trusting.
        """
        out: dict[bytes, bytes] = {}
        rows = self.conn.execute(
            "SELECT record FROM records WHERE type IN "
            "('genesis', 'participant.add', 'participant.rotate') ORDER BY idx"
        )
        for (raw,) in rows:
            try:
                fields = Record.from_wire(bytes(raw)).entry().fields
            except LedgerError:
                continue  # the replay names the bad record
            public = fields.get("operator", fields.get("pub"))
            if isinstance(public, bytes):
                out[key_id(public)] = public
        return out

    def state_value(self, kind: str, key: str) -> Any | None:
        return _SqlBacking(self.conn).load(kind, key)

    def state_items(self, kind: str) -> list[tuple[str, Any]]:
        rows = self.conn.execute(
            "SELECT key, value FROM state WHERE kind = ? ORDER BY key", (kind,)
        ).fetchall()
        return [(k, decode(v)) for k, v in rows]

    def state_rows(self) -> Iterator[tuple[str, str, bytes, str]]:
        """Every ``(kind, key, value bytes, json text)`` of the state table, for verify."""
        rows = self.conn.execute("SELECT kind, key, value, json FROM state ORDER BY kind, key")
        for kind, key, raw, text in rows:
            yield kind, key, bytes(raw), str(text)

    def touching(self, item: str) -> list[int]:
        rows = self.conn.execute(
            "SELECT idx FROM touches WHERE item = ? ORDER BY idx", (item,)
        ).fetchall()
        return [int(r[0]) for r in rows]

    def findings(self, index: int | None = None) -> list[tuple[int, str, str]]:
        if index is None:
            rows = self.conn.execute("SELECT idx, rule, message FROM findings ORDER BY idx")
        else:
            rows = self.conn.execute(
                "SELECT idx, rule, message FROM findings WHERE idx = ?", (index,)
            )
        return [(int(i), str(r), str(m)) for i, r, m in rows]

    def tile_reader(self) -> tiles.TileReader:
        return _SqlTiles(self.conn)

    def hash_reader(self, size: int) -> merkle.HashReader:
        return tiles.TileHashReader(self.tile_reader(), size, cache=self._tile_cache)

    def root(self, size: int | None = None) -> bytes:
        n = self.size() if size is None else size
        return merkle.tree_root(n, self.hash_reader(n))

    def triggers(self) -> set[str]:
        rows = self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {str(r[0]) for r in rows}

    def checkpoints(self) -> list[tuple[int, str]]:
        rows = self.conn.execute("SELECT size, note FROM checkpoints ORDER BY size").fetchall()
        return [(int(s), str(n)) for s, n in rows]

    def latest_checkpoint(self) -> tuple[int, str] | None:
        row = self.conn.execute(
            "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    # -- writing --------------------------------------------------------------

    def append(
        self,
        entries: Sequence[SignedEntry],
        *,
        now: int,
        progress: Callable[[int], None] | None = None,
        checkpoint: Callable[[int, bytes], str] | None = None,
    ) -> list[Appended]:
        """Validate and append ``entries`` in one transaction (all or nothing).

        Raises:
            RuleError, ChainError: an entry is rejected; nothing is written.
            StoreError: the database could not be written.
        """
        if not entries:
            return []
        with self._write() as conn:
            size, prev = self._head()
            state = rules.State(_SqlBacking(conn))
            done: list[Appended] = []
            records: list[Record] = []
            seen: set[bytes] = set()
            for offset, entry in enumerate(entries):
                index = size + offset
                if (
                    entry.id in seen
                    or conn.execute("SELECT 1 FROM records WHERE id = ?", (entry.id,)).fetchone()
                ):
                    raise ChainError(
                        f"entry {entry.id.hex()[:16]} is already in the ledger", rule="R-CH-3"
                    )
                seen.add(entry.id)
                try:
                    outcome = rules.apply(state, entry, index=index, now=now)
                except LedgerError as exc:
                    if len(entries) > 1:
                        exc.message = f"entry {offset + 1} of {len(entries)}: {exc.message}"
                    raise
                record = Record.build(index, prev, now, entry.raw)
                prev = record.hash
                records.append(record)
                done.append(Appended(index, entry, record, tuple(outcome.warnings)))
                if progress is not None:
                    progress(1)
                conn.executemany(
                    "INSERT OR IGNORE INTO touches (item, idx) VALUES (?, ?)",
                    [(item, index) for item in dict.fromkeys(outcome.touched)],
                )
                conn.executemany(
                    "INSERT INTO findings (idx, rule, message) VALUES (?, ?, ?)",
                    [(index, w.rule, w.message) for w in outcome.warnings],
                )
            try:
                conn.executemany(
                    "INSERT INTO records (idx, id, hash, time, type, record, json)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            r.index,
                            a.entry.id,
                            r.hash,
                            r.time,
                            a.entry.type,
                            r.raw,
                            _entry_json(a.entry),
                        )
                        for r, a in zip(records, done, strict=True)
                    ],
                )
            except sqlite3.IntegrityError as exc:
                raise ChainError(f"cannot append: {exc}", rule="R-CH-3") from exc
            self._write_state(conn, state.take_changes())
            self._write_tiles(conn, size, [r.hash for r in records])
            if checkpoint is not None:
                # Signed inside the same transaction: one fsync for entries and tree head.
                new_size = size + len(records)
                reader = tiles.TileHashReader(_SqlTiles(conn), new_size)
                note_text = checkpoint(new_size, merkle.tree_root(new_size, reader))
                conn.execute(
                    "INSERT OR REPLACE INTO checkpoints (size, note) VALUES (?, ?)",
                    (new_size, note_text),
                )
            return done

    @staticmethod
    def _write_state(conn: sqlite3.Connection, changes: Mapping[tuple[str, str], Any]) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO state (kind, key, value, json) VALUES (?, ?, ?, ?)",
            [
                (kind, key, encode(value), state_json(value))
                for (kind, key), value in changes.items()
            ],
        )

    @staticmethod
    def _write_tiles(conn: sqlite3.Connection, old_size: int, hashes: Sequence[bytes]) -> None:
        updated = tiles.append_to_tiles(old_size, hashes, _SqlTiles(conn))
        conn.executemany(
            "INSERT OR REPLACE INTO tiles (level, idx, hashes) VALUES (?, ?, ?)",
            [(lvl, idx, blob) for (lvl, idx), blob in updated.items()],
        )

    def add_checkpoint(self, size: int, note: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO checkpoints (size, note) VALUES (?, ?)", (size, note)
            )
