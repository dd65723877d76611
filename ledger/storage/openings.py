"""The openings a party keeps: salts and values of its committed money fields
(specs/disclosure.md §4).

One table, ``openings``, keyed by the commitment. In a ledger file it sits beside the log
but outside everything the log replicates or publishes: no record, tile, state row or
state-map leaf holds it, ``verify`` does not read it, and no node endpoint, ``publish`` or
``sync`` copies it. It is created by the first opening a file keeps (like a mirror's
evidence table, it does not change the schema version: a ledger without it is complete).
A party that signs against a node keeps its openings in a file of its own, holding only
this table (``--openings FILE``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from ledger.core.disclosure import Opening
from ledger.core.encoding import decode, encode
from ledger.errors import EncodingError, StoreError
from ledger.storage.sqlerrors import DB_ERRORS, database_error

__all__ = ["OpeningStore"]

_TABLE = """
CREATE TABLE IF NOT EXISTS openings (
    commitment BLOB PRIMARY KEY,
    field TEXT NOT NULL,
    salt BLOB NOT NULL UNIQUE,
    value BLOB NOT NULL
) WITHOUT ROWID
"""


class OpeningStore:
    """The ``openings`` table of one SQLite connection (a ledger file or an openings file)."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open_file(cls, path: str) -> OpeningStore:
        """An openings file of its own (created if missing).

        Raises:
            StoreError: the file cannot be opened or is not an openings file.
        """
        try:
            conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_TABLE)
        except DB_ERRORS as exc:
            raise database_error(path, exc, "open") from exc
        return cls(conn, path)

    def close(self) -> None:
        self.conn.close()

    def _exists(self) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'openings'"
        ).fetchone()
        return row is not None

    def add(self, openings: Sequence[Opening], *, in_transaction: bool = False) -> None:
        """Keep ``openings`` (one already kept is left as it is).

        Raises:
            StoreError: an opening reuses the salt of another one (salts are fresh per
                value, specs/disclosure.md §3), or the file cannot be written.
        """
        if not openings:
            return
        conn = self.conn
        try:
            if not in_transaction:
                conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(_TABLE)
                for o in openings:
                    c = o.commitment()
                    row = conn.execute(
                        "SELECT commitment FROM openings WHERE salt = ?", (o.salt,)
                    ).fetchone()
                    if row is not None and bytes(row[0]) != c:
                        raise StoreError(
                            f"opening of {o.field}: its salt is already used by another value "
                            "(every value needs a fresh salt); nothing was kept"
                        )
                    conn.execute(
                        "INSERT OR IGNORE INTO openings (commitment, field, salt, value)"
                        " VALUES (?, ?, ?, ?)",
                        (c, o.field, o.salt, encode(dict(o.value))),
                    )
            except BaseException:
                if not in_transaction and conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if not in_transaction:
                conn.execute("COMMIT")
        except DB_ERRORS as exc:
            raise database_error(self.path, exc, "write") from exc

    def get(self, commitments: Iterable[bytes]) -> list[Opening]:
        """The kept openings of ``commitments`` (those this party holds), in the order given.

        Raises:
            StoreError: the file cannot be read, or a kept opening is damaged.
        """
        wanted = list(dict.fromkeys(commitments))
        if not wanted:
            return []
        try:
            if not self._exists():
                return []
            out = []
            for c in wanted:
                row = self.conn.execute(
                    "SELECT field, salt, value FROM openings WHERE commitment = ?", (c,)
                ).fetchone()
                if row is not None:
                    out.append(self._opening(c, row))
            return out
        except DB_ERRORS as exc:
            raise database_error(self.path, exc) from exc

    def all(self) -> list[Opening]:
        """Every kept opening, by commitment."""
        try:
            if not self._exists():
                return []
            rows = self.conn.execute(
                "SELECT commitment, field, salt, value FROM openings ORDER BY commitment"
            ).fetchall()
        except DB_ERRORS as exc:
            raise database_error(self.path, exc) from exc
        return [self._opening(bytes(r[0]), r[1:]) for r in rows]

    def _opening(self, c: bytes, row: Sequence[Any]) -> Opening:
        field, salt, value = row
        try:
            o = Opening.from_wire({"field": field, "salt": bytes(salt), "value": decode(value)})
        except (EncodingError, TypeError) as exc:
            raise StoreError(f"{self.path}: a kept opening is damaged ({exc})") from exc
        if o.commitment() != c:
            raise StoreError(f"{self.path}: a kept opening does not open its commitment")
        return o
