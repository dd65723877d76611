"""SQLite storage of the log (specs/log.md §5): opening, reading and appending.

The modules of ``ledger/storage/`` (this one, ``schema``, ``cache``, ``statecheck`` and
``mirror_tables``) are the only modules that touch SQLite; nothing above them runs SQL or
imports ``sqlite3`` (``tests/unit/test_storage_layer.py`` checks). One file
holds the append-only ``records`` table (triggers reject UPDATE and DELETE), the Merkle
tree as C2SP tiles, the derived rules state, an index of which records touch which
parcel, warnings, and signed checkpoints. Every append runs the rules engine inside one
``BEGIN IMMEDIATE`` transaction, so concurrent writers serialise and a rejected or
interrupted append leaves the file unchanged.

What it deliberately does not do: create or change the schema (``schema.py`` holds every
``CREATE`` statement and the version check that :meth:`Store.open` runs), and use
sqlite-utils. Every statement here is raw ``sqlite3``: appends, record iteration, state
loads and tile reads are the paths the benchmark measures (``bench/README.md``), and
importing sqlite-utils (it imports click) costs far more than opening a ledger.

Derived tables (``state``, ``tiles``, ``touches``, ``findings``) are caches of what
a replay of ``records`` computes; ``verify`` recomputes and compares them.

Speed. Between its own appends a :class:`Store` remembers what it last committed or read
under the write lock (state rows as their canonical bytes, the head of the chain, the
right-edge tiles) and the next append reuses them instead of reading and re-validating
them, but only while ``PRAGMA data_version`` and the connection's ``total_changes`` show
that nothing else has written to the file since (checked under the write lock; any error
forgets everything). The JSON columns are rendered by the C JSON encoder, and state values
are encoded by a fast path that yields the very bytes of :func:`ledger.encoding.encode`
and falls back to it for anything unusual.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ledger.core import merkle, rules, statemap, tiles
from ledger.core.disclosure import Opening
from ledger.core.encoding import decode, encode
from ledger.core.model import ZERO_HASH, Record, SignedEntry, key_id
from ledger.errors import ChainError, LedgerError, NotFoundError, StoreError, UsageError
from ledger.storage import context, map_tables, schema
from ledger.storage.cache import Recent, SqlBacking, SqlTiles
from ledger.storage.columns import check_row_cache as check_row_cache  # re-exported: verify
from ledger.storage.columns import entry_json, render_sorted, stored_blob, stored_int, stored_text
from ledger.storage.columns import state_json as state_json  # re-exported
from ledger.storage.openings import OpeningStore
from ledger.storage.schema import TRIGGERS as TRIGGERS  # re-exported: Ledger.verify
from ledger.storage.sqlerrors import DB_ERRORS, database_error, guard, guard_iter, guarded

#: The largest integer SQLite stores (and binds as a parameter).
_MAX_SQL_INT = (1 << 63) - 1

#: How sqlite3 reports a TEXT value that is not UTF-8 (see Store._rows).
_UNDECODABLE = "Could not decode to UTF-8"


def _stored_idx(value: Any) -> int:
    """A records row's ``idx``: the INTEGER PRIMARY KEY, so an int unless the schema
    itself was altered (R-ST-2 then, before any replay sees the row)."""
    return value if type(value) is int else stored_int(value, "the idx column of a records row")


class _DryRun(Exception):  # noqa: N818 - control flow, never seen outside Store.append
    """Rolls a dry-run append back, carrying what it would have appended."""

    def __init__(self, done: list[Appended]) -> None:
        super().__init__("dry run")
        self.done = done


@dataclass(frozen=True)
class Appended:
    """What an append returns: the record, its entry and WARN findings."""

    index: int
    entry: SignedEntry
    record: Record
    warnings: tuple[rules.Finding, ...]


class Store:
    """A ledger file. Open with :meth:`open` (existing) or :meth:`create` (new)."""

    def __init__(self, path: str, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        # Read-side cache of committed tiles. A tile of a given width never changes (the log
        # is append-only), so the cache stays valid while other processes append. Appends do
        # not use it: a rolled-back append must leave nothing behind.
        self._tile_cache = tiles.TileCache()
        # What the last write transaction committed, for the next append (see Recent).
        self._recent = Recent()
        # A context file's mark, read once: a file is a context file from its export on,
        # and a ledger never becomes one (the export writes a new file).
        self._context: tuple[dict[str, Any] | None] | None = None

    # -- opening --------------------------------------------------------------

    @classmethod
    def _connect(cls, path: str, *, synchronous: str = "FULL") -> Store:
        try:
            conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
        except DB_ERRORS as exc:
            raise database_error(path, exc, "open") from exc
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
            with guarded(path, "create"):
                schema.create(store.conn, path)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open(cls, path: str, *, synchronous: str = "FULL") -> Store:
        """Open an existing ledger file.

        Raises:
            StoreError: missing file, not a SQLite file, or not a kpledger ledger.
        """
        if not os.path.exists(path):
            raise StoreError(
                f"no ledger at {path} (create one with 'kpledger init' or pass --ledger; to "
                "sign offline, use a context file from 'kpledger context export')"
            )
        store = cls._connect(path, synchronous=synchronous)
        try:
            with guarded(path, "open"):
                schema.check_version(store.conn, path)
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self._recent.reset()
        self.conn.close()

    def discard(self) -> None:
        """Close the store and delete its file: undo a :meth:`create` whose first
        append failed, so that no half-made ledger is left behind."""
        self.close()
        os.unlink(self.path)

    def _rollback(self) -> None:
        """Roll back the open transaction, if SQLite has not done so itself already (it
        does on some errors, and a second ROLLBACK would hide the first error)."""
        if self.conn.in_transaction:
            with contextlib.suppress(*DB_ERRORS):
                self.conn.execute("ROLLBACK")

    def _token(self) -> tuple[int, int]:
        """What changes when anyone but this store's own write transactions writes."""
        row = self.conn.execute("PRAGMA data_version").fetchone()
        return int(row[0]), self.conn.total_changes

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except DB_ERRORS as exc:
            raise database_error(self.path, exc, "lock") from exc
        recent = self._recent
        try:
            # Under the write lock: nobody else can commit between this and our COMMIT,
            # and our own commits do not change data_version.
            token = self._token()
            if recent.token != token:
                recent.reset()
            yield conn
        except BaseException as exc:
            recent.reset()
            self._rollback()
            if isinstance(exc, DB_ERRORS):  # a read-only or damaged file, a full disk
                raise database_error(self.path, exc, "write") from exc
            raise
        try:
            conn.execute("COMMIT")
        except DB_ERRORS as exc:  # disk full and the like
            recent.reset()
            self._rollback()
            raise database_error(self.path, exc, "write") from exc
        if recent.poisoned:
            recent.reset()
        else:
            recent.token = (token[0], conn.total_changes)

    # -- reading --------------------------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Run the reads inside one read transaction (a consistent snapshot under WAL)."""
        if self.conn.in_transaction:
            yield
            return
        with guarded(self.path):
            self.conn.execute("BEGIN")
        try:
            with guarded(self.path):
                yield
        except BaseException:
            self._rollback()
            raise
        with guarded(self.path):
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")

    @guard("read")
    def size(self) -> int:
        row = self.conn.execute("SELECT COUNT(*) FROM records").fetchone()
        return int(row[0])

    @guard("read")
    def _head(self) -> tuple[int, bytes, int]:
        """``(size, hash of the last record, append time of the last record)``."""
        row = self.conn.execute(
            "SELECT idx, hash, time FROM records ORDER BY idx DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return 0, ZERO_HASH, 0
        return (
            stored_int(row[0], "records.idx") + 1,
            stored_blob(row[1], f"the hash column of record {row[0]}"),
            stored_int(row[2], f"the time column of record {row[0]}"),
        )

    @guard("read")
    def records_of_types(
        self, types: Sequence[str], start_ms: int, end_ms: int
    ) -> Iterator[Record]:
        """Records of the entry ``types`` appended in ``[start_ms, end_ms)``, in log order."""
        marks = ",".join("?" * len(types))
        sql = (
            f"SELECT record FROM records WHERE type IN ({marks}) AND time >= ? AND time < ?"  # noqa: S608
            " ORDER BY idx"
        )
        for (raw,) in self.conn.execute(sql, (*types, start_ms, end_ms)):
            yield Record.from_wire(bytes(raw))

    @guard("read")
    def last_time(self) -> int | None:
        """The append time of the last record (None for an empty log)."""
        row = self.conn.execute("SELECT time FROM records ORDER BY idx DESC LIMIT 1").fetchone()
        return None if row is None else stored_int(row[0], "the time column of the last record")

    @guard("read")
    def record(self, index: int) -> Record:
        row = self.conn.execute("SELECT record FROM records WHERE idx = ?", (index,)).fetchone()
        if row is None:
            raise NotFoundError(f"no record {index} (the log has {self.size()})")
        return Record.from_wire(stored_blob(row[0], f"record {index}", log=True))

    @guard("read")
    def record_by_id(self, entry_id: bytes) -> Record:
        row = self.conn.execute("SELECT record FROM records WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no entry {entry_id.hex()}")
        raw = stored_blob(row[0], f"the record of entry {entry_id.hex()}", log=True)
        return Record.from_wire(raw)

    @guard("read")
    def find_ids(self, prefix: str) -> list[bytes]:
        """Entry ids whose hex starts with ``prefix``."""
        low = prefix.lower()
        rows = self.conn.execute(
            "SELECT id FROM records WHERE lower(hex(id)) LIKE ? LIMIT 3", (low + "%",)
        ).fetchall()
        return [stored_blob(r[0], "an id column of records") for r in rows]

    def _rows(self, columns: str, start: int, end: int | None) -> Iterator[tuple[Any, ...]]:
        if start > _MAX_SQL_INT:
            return  # no record has such an index (and SQLite cannot bind it)
        if end is not None and end > _MAX_SQL_INT:
            end = None
        while True:
            where = "idx >= ?" if end is None else "idx >= ? AND idx < ?"
            args = (start,) if end is None else (start, end)
            sql = f"SELECT {columns} FROM records WHERE {where} ORDER BY idx"  # noqa: S608
            done = 0
            try:
                # One row at a time from the cursor (bounded memory). Not ``yield from``:
                # closing this generator would then close the cursor, an error once the
                # store is closed.
                for row in self.conn.execute(sql, args):
                    done += 1
                    yield row
                return
            except sqlite3.OperationalError as exc:
                if _UNDECODABLE not in str(exc):
                    raise
                # A text column that is not UTF-8 (only a tampered file has one): hand the
                # row over as stored, so that its checks can name the column, and go on.
                found = self.conn.execute(
                    f"SELECT idx FROM records WHERE {where} ORDER BY idx LIMIT 1 OFFSET ?",  # noqa: S608
                    (*args, done),
                ).fetchone()
                if found is None:  # pragma: no cover - the row that failed is there
                    raise
            yield self._row_as_stored(columns, int(found[0]))
            start = int(found[0]) + 1

    def _row_as_stored(self, columns: str, idx: int) -> tuple[Any, ...]:
        """Row ``idx`` with each text column as text if it is UTF-8, else as its bytes."""
        names = [c.strip() for c in columns.split(",")]
        parts = ", ".join(
            f"CASE typeof({c}) WHEN 'text' THEN CAST({c} AS BLOB) ELSE {c} END, "
            f"typeof({c}) = 'text'"
            for c in names
        )
        row = self.conn.execute(
            f"SELECT {parts} FROM records WHERE idx = ?",  # noqa: S608 - fixed column lists
            (idx,),
        ).fetchone()
        out: list[Any] = []
        for value, was_text in zip(row[0::2], row[1::2], strict=True):
            if was_text:
                try:
                    value = bytes(value).decode("utf-8")
                except UnicodeDecodeError:
                    value = bytes(value)
            out.append(value)
        return tuple(out)

    @guard_iter
    def iter_records(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Raw record bytes in log order."""
        for (raw,) in self._rows("record", start, end):
            yield raw if type(raw) is bytes else stored_blob(raw, "a record", log=True)

    @guard_iter
    def iter_rows(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """``(idx, record bytes)`` in index order, exactly as stored."""
        for idx, raw in self._rows("idx, record", start, end):
            idx = _stored_idx(idx)
            yield idx, raw if type(raw) is bytes else stored_blob(raw, f"record {idx}", log=True)

    @guard_iter
    def iter_rows_cached(
        self, start: int = 0, end: int | None = None
    ) -> Iterator[tuple[int, bytes, tuple[Any, ...]]]:
        """``(idx, record bytes, cached columns)``; see :func:`check_row_cache`.

        The other columns of a row (``id``, ``hash``, ``time``, ``type``, ``json``) are
        caches of its record: lookups, the next append's ``prev`` and the ``entries`` view
        read them. ``verify`` compares each with the record it has decoded anyway.
        """
        for row in self._rows("idx, record, id, hash, time, type, json", start, end):
            idx, raw = _stored_idx(row[0]), row[1]
            if type(raw) is not bytes:
                raw = stored_blob(raw, f"record {idx}", log=True)
            yield idx, raw, row[2:]

    @guard("read")
    def registered_keys(self) -> dict[bytes, bytes]:
        """``key id -> public key`` for every key a registry record names.

        Read from the records themselves (genesis, participant.add, participant.rotate,
        governance.set: operators, participants and governors),
        not from the derived state; a key id is the hash of its key, so nothing here
        needs trusting.
        """
        out: dict[bytes, bytes] = {}
        rows = self.conn.execute(
            "SELECT record FROM records WHERE type IN "
            "('genesis', 'participant.add', 'participant.rotate', 'governance.set') ORDER BY idx"
        )
        for (raw,) in rows:
            if not isinstance(raw, bytes):
                continue  # the replay names the bad record
            try:
                fields = Record.from_wire(raw).entry().fields
            except LedgerError:
                continue  # the replay names the bad record
            public = fields.get("operator", fields.get("pub"))
            if isinstance(public, bytes):
                out[key_id(public)] = public
            governors = fields.get("governors")
            for governor in governors if isinstance(governors, list) else ():
                public = governor.get("pub") if isinstance(governor, dict) else None
                if isinstance(public, bytes):
                    out[key_id(public)] = public
        return out

    @guard("read")
    def state_value(self, kind: str, key: str) -> Any | None:
        return SqlBacking(self.conn).load(kind, key)

    @guard("read")
    def context(self) -> dict[str, Any] | None:
        """What a context file's mark says (``ledger.storage.context``); None for a ledger."""
        if self._context is None:
            self._context = (context.context_of(self.conn),)
        return self._context[0]

    @guard("read")
    def keys_with_prefix(
        self, kind: str, prefix: str, limit: int = 200, *, status: str | None = None
    ) -> list[str]:
        """Keys of ``kind`` that start with ``prefix``, in order (at most ``limit``); with
        ``status``, only those whose value's ``status`` is it (read from the readable
        ``json`` column: for hints such as shell completion, not for rules)."""
        sql = "SELECT key FROM state WHERE kind = ? AND key >= ? AND key < ?"
        args: list[Any] = [kind, prefix, prefix + "\U0010ffff"]
        if status is not None:
            sql += " AND json_valid(json) AND json_extract(json, '$.status') = ?"
            args.append(status)
        rows = self.conn.execute(sql + " ORDER BY key LIMIT ?", (*args, limit))
        return [str(r[0]) for r in rows]

    @guard("read")
    def near_keys(self, kind: str, key: str, limit: int = 2000) -> list[str]:
        """Keys of ``kind`` that could be a mistyping of ``key``: the same key in another
        case, and keys sharing its first two characters (at most ``limit``, for hints)."""
        sql = (
            "SELECT key FROM state WHERE kind = ? AND (key = ? COLLATE NOCASE"
            " OR key >= ? AND key < ?) LIMIT ?"
        )
        head = key[:2]
        rows = self.conn.execute(sql, (kind, key, head, head + "\U0010ffff", limit))
        return [str(r[0]) for r in rows]

    @guard("read")
    def state_items(self, kind: str) -> list[tuple[str, Any]]:
        rows = self.conn.execute(
            "SELECT key, value FROM state WHERE kind = ? ORDER BY key", (kind,)
        ).fetchall()
        return [(k, decode(stored_blob(v, f"derived state {kind}/{k}"))) for k, v in rows]

    @guard_iter
    def state_rows(self) -> Iterator[tuple[str, str, bytes, str]]:
        """Every ``(kind, key, value bytes, json text)`` of the state table, in key order."""
        rows = self.conn.execute("SELECT kind, key, value, json FROM state ORDER BY kind, key")
        for kind, key, raw, text in rows:
            yield (
                kind,
                key,
                stored_blob(raw, f"derived state {kind}/{key}"),
                stored_text(text, f"the json of derived state {kind}/{key}"),
            )

    @guard("read")
    def touching(self, item: str) -> list[int]:
        rows = self.conn.execute(
            "SELECT idx FROM touches WHERE item = ? ORDER BY idx", (item,)
        ).fetchall()
        return [stored_int(r[0], f"a touches row of {item!r}") for r in rows]

    @guard("read")
    def findings(self, index: int | None = None) -> list[tuple[int, str, str]]:
        if index is None:
            rows = self.conn.execute("SELECT idx, rule, message FROM findings ORDER BY idx")
        else:
            rows = self.conn.execute(
                "SELECT idx, rule, message FROM findings WHERE idx = ?", (index,)
            )
        return [
            (
                stored_int(i, "a findings row"),
                stored_text(r, "a findings row"),
                stored_text(m, "a findings row"),
            )
            for i, r, m in rows
        ]

    def openings(self) -> OpeningStore:
        """The openings this party keeps in the file (outside the log)."""
        return OpeningStore(self.conn, self.path)

    def tile_reader(self) -> tiles.TileReader:
        return SqlTiles(self.conn, path=self.path)

    def hash_reader(self, size: int) -> merkle.HashReader:
        return tiles.TileHashReader(self.tile_reader(), size, cache=self._tile_cache)

    @guard("read")
    def root(self, size: int | None = None) -> bytes:
        n = self.size() if size is None else size
        return merkle.tree_root(n, self.hash_reader(n))

    @guard("read")
    def triggers(self) -> set[str]:
        rows = self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {str(r[0]) for r in rows}

    @guard("read")
    def redefined(self) -> list[tuple[str, str]]:
        """``(type, name)`` of the append-only triggers and views whose definition is not
        kpledger's (:func:`ledger.storage.schema.redefined`)."""
        return schema.redefined(self.conn)

    @guard("read")
    def checkpoints(self) -> list[tuple[int, str]]:
        rows = self.conn.execute("SELECT size, note FROM checkpoints ORDER BY size").fetchall()
        return [
            (stored_int(s, "a checkpoints row"), stored_text(n, f"checkpoint {s}")) for s, n in rows
        ]

    @guard("read")
    def checkpoint_at(self, size: int) -> str | None:
        """The stored checkpoint note of one tree size, or None."""
        row = self.conn.execute("SELECT note FROM checkpoints WHERE size = ?", (size,)).fetchone()
        return None if row is None else stored_text(row[0], f"checkpoint {size}")

    @guard("read")
    def latest_checkpoint(self) -> tuple[int, str] | None:
        row = self.conn.execute(
            "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return stored_int(row[0], "a checkpoints row"), stored_text(row[1], "a checkpoint")

    # -- writing --------------------------------------------------------------

    def append(
        self,
        entries: Sequence[SignedEntry],
        *,
        now: int,
        progress: Callable[[int], None] | None = None,
        checkpoint: Callable[[int, bytes, bytes], str] | None = None,
        dry_run: bool = False,
        openings: Sequence[Opening] = (),
    ) -> list[Appended]:
        """Validate and append ``entries`` in one transaction (all or nothing), and keep
        ``openings`` (of the entries' commitments) in the same transaction, outside the
        log (:mod:`ledger.storage.openings`).

        With ``dry_run`` every rule is checked exactly as for an append, under the same
        write lock, and the records that would be appended are returned; nothing is
        written (the transaction is rolled back).

        Raises:
            RuleError, ChainError: an entry is rejected; nothing is written.
            StoreError: the database could not be written.
        """
        if not entries:
            return []
        if not dry_run and self.context() is not None:
            raise UsageError(
                f"{self.path} is a context file for offline signing: sign with --out and "
                "submit the file to the ledger"
            )
        if not isinstance(entries, (list, tuple)):
            entries = list(entries)  # walked twice below: the ids first, then the loop
        # Levels of the tiles this append completes: into the store's cache after the
        # COMMIT only (a rolled-back append's tiles may be filled differently later).
        completed = tiles.TileCache()
        try:
            return self._append(entries, now, progress, checkpoint, dry_run, completed, openings)
        except _DryRun as checked:
            return checked.done

    def _append(
        self,
        entries: Sequence[SignedEntry],
        now: int,
        progress: Callable[[int], None] | None,
        checkpoint: Callable[[int, bytes, bytes], str] | None,
        dry_run: bool,
        completed: tiles.TileCache,
        openings: Sequence[Opening] = (),
    ) -> list[Appended]:
        with self._write() as conn:
            recent = self._recent
            size, prev, last_time = recent.head if recent.head is not None else self._head()
            # The log's clock never runs backwards (R-TM-5): an operator clock set back
            # appends at the time of the last record instead.
            now = max(now, last_time)
            backing = SqlBacking(conn, recent.state)
            state = rules.State(backing)
            state.writes = []
            map_update = map_tables.MapUpdate(conn, recent.map_nodes, recent.map_leaves)
            known = self._stored_ids(conn, [e.id for e in entries])
            done: list[Appended] = []
            records: list[Record] = []
            touched: list[tuple[str, int]] = []
            warned: list[tuple[int, str, str]] = []
            seen: set[bytes] = set()
            for offset, entry in enumerate(entries):
                index = size + offset
                if entry.id in seen or entry.id in known:
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
                map_update.record(state.take_writes(), state.get, index)
                record = Record.build(index, prev, now, entry.raw)
                prev = record.hash
                records.append(record)
                warnings = tuple(outcome.warnings)
                done.append(Appended(index, entry, record, warnings))
                if progress is not None:
                    before = conn.total_changes
                    progress(1)
                    if conn.total_changes != before:  # it wrote through our connection
                        recent.poisoned = True
                touched.extend((item, index) for item in dict.fromkeys(outcome.touched))
                warned.extend((index, w.rule, w.message) for w in warnings)
            if dry_run:
                raise _DryRun(done)
            # The tiles first: the right-edge level-0 tile is read from records.hash
            # (SqlTiles), so it is read before this append's records are in the table.
            tiles_written = self._write_tiles(
                conn, size, [r.hash for r in records], recent.edge, completed
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
                            entry_json(a.entry),
                        )
                        for r, a in zip(records, done, strict=True)
                    ],
                )
            except sqlite3.IntegrityError as exc:
                raise ChainError(f"cannot append: {exc}", rule="R-CH-3") from exc
            if openings:
                OpeningStore(conn, self.path).add(openings, in_transaction=True)
            if touched:
                conn.executemany("INSERT OR IGNORE INTO touches (item, idx) VALUES (?, ?)", touched)
            if warned:
                conn.executemany(
                    "INSERT INTO findings (idx, rule, message) VALUES (?, ?, ?)", warned
                )
            last = size + len(records) - 1
            final_raw = {k: raw for k, (i, raw) in map_update.encoded.items() if i == last}
            written = self._write_state(conn, state.take_changes(), backing.loaded, final_raw)
            new_size = size + len(records)
            map_root = map_update.write(new_size)
            if checkpoint is not None:
                # Signed inside the same transaction: one fsync for entries and tree head.
                reader = tiles.TileHashReader(SqlTiles(conn), new_size)
                root = merkle.tree_root(new_size, reader)
                before = conn.total_changes
                note_text = checkpoint(new_size, root, map_root)
                if conn.total_changes != before:
                    recent.poisoned = True
                conn.execute(
                    "INSERT OR REPLACE INTO checkpoints (size, note) VALUES (?, ?)",
                    (new_size, note_text),
                )
            # Kept only if the COMMIT succeeds (_write forgets everything otherwise).
            recent.remember(
                written,
                (new_size, prev, now),
                tiles_written,
                map_update.nodes_written,
                map_update.leaves,
            )
        self._tile_cache.absorb(completed)  # committed: full tiles never change again
        return done

    @staticmethod
    def _stored_ids(conn: sqlite3.Connection, ids: Sequence[bytes]) -> set[bytes]:
        """Those of ``ids`` that the ledger holds already (a few hundred per query)."""
        found: set[bytes] = set()
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            sql = f"SELECT id FROM records WHERE id IN ({marks})"  # noqa: S608 - placeholders
            found.update(bytes(r[0]) for r in conn.execute(sql, part))
        return found

    @staticmethod
    def _write_state(
        conn: sqlite3.Connection,
        changes: Mapping[tuple[str, str], Any],
        loaded: Mapping[tuple[str, str], bytes | None] | None = None,
        encoded: Mapping[tuple[str, str], bytes] | None = None,
    ) -> dict[tuple[str, str], bytes]:
        """Write the changed state values; returns each key's canonical bytes.

        A value whose bytes equal the row it was ``loaded`` from is not rewritten. Rows go
        in key order, so neighbours share B-tree pages. ``encoded`` holds the canonical
        bytes of final values encoded already (by the state map's update).
        """
        written: dict[tuple[str, str], bytes] = {}
        rows: list[tuple[str, str, bytes, str]] = []
        for k in sorted(changes):
            value = changes[k]
            raw = encoded.get(k) if encoded is not None else None
            if raw is None:
                raw = encode(value)
            written[k] = raw
            if loaded is not None and loaded.get(k) == raw:
                continue
            rows.append((k[0], k[1], raw, render_sorted(value)))
        if rows:
            # An upsert, not INSERT OR REPLACE: the same rows, but an existing row is
            # updated where it is instead of deleted and inserted again (~1/3 cheaper).
            conn.executemany(
                "INSERT INTO state (kind, key, value, json) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value,"
                " json = excluded.json",
                rows,
            )
        return written

    @staticmethod
    def _write_tiles(
        conn: sqlite3.Connection,
        old_size: int,
        hashes: Sequence[bytes],
        edge: dict[int, tuple[int, bytes]] | None = None,
        completed: tiles.TileCache | None = None,
    ) -> dict[tuple[int, int], bytes]:
        """Write the tiles that ``hashes`` change; returns them. The levels of the tiles
        this completes go to ``completed``."""
        updated = tiles.append_to_tiles(old_size, hashes, SqlTiles(conn, edge), cache=completed)
        # The partial level-0 tile is not stored: SqlTiles reads it from records.hash
        # (schema 3), so an append writes a tile row only when it completes a level-0
        # tile. INSERT OR REPLACE (not an upsert, unlike the state rows): deleting the
        # old tile first frees its overflow pages for the new one.
        rows = [
            (lvl, idx, blob)
            for (lvl, idx), blob in updated.items()
            if lvl or len(blob) == tiles.TILE_WIDTH * merkle.HASH_SIZE
        ]
        if rows:
            conn.executemany(
                "INSERT OR REPLACE INTO tiles (level, idx, hashes) VALUES (?, ?, ?)", rows
            )
        return updated

    @guard("read")
    def map_root(self, size: int | None = None) -> bytes:
        """The state-map root at ``size`` (by default the current size), as stored.

        Raises:
            ProofError: no append ended at that size.
        """
        return map_tables.root_at(self.conn, self.size() if size is None else size)

    @guard("read")
    def map_proof(self, size: int, kind: str, key: str) -> statemap.MapProof:
        """The state-map proof of ``(kind, key)`` at ``size`` (specs/state-map.md §4)."""
        with self.snapshot():
            return map_tables.prove(self.conn, size, kind, key)

    def map_leaves(self) -> Iterator[tuple[bytes, bytes, int]]:
        """Every stored state-map leaf ``(key hash, value hash, index)`` in key-hash order,
        one row at a time (verify compares them with the replay's)."""
        with guarded(self.path):
            yield from map_tables.stored_leaves(self.conn)

    def map_nodes(self) -> Iterator[tuple[bytes, bytes]]:
        """Every stored state-map node ``(id, hash)``, one row at a time."""
        with guarded(self.path):
            yield from map_tables.stored_nodes(self.conn)

    @guard("write")
    def add_checkpoint(self, size: int, note: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO checkpoints (size, note) VALUES (?, ?)", (size, note)
            )
