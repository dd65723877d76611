"""Pending governance proposals kept in the node's ledger file (specs/node.md §2.5).

A proposal gathers governor signatures over days; a node that restarts meanwhile (an
upgrade, a crash) must not forget it. The ``pending_proposals`` table holds each pending
proposal's envelope, with every signature merged so far, under its proposal id (SHA-256
of the body bytes), and the body's claimed time (for expiry). It is outside the log: no
record, root or state depends on it, ``verify`` does not read it, and a file without it
is a complete ledger. It is created by the first proposal a node keeps, like the mirror's
evidence table (``schema.ensure_mirror_tables``).

What it deliberately does not do: check anything. ``ledger.net.proposals`` checks every
signature when it arrives and again, through the rules engine, when the proposal is
appended; this module only keeps the envelopes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ledger.errors import StoreError
from ledger.storage.sqlerrors import guarded
from ledger.storage.store import Store

__all__ = ["drop", "keep", "load"]

_TABLE = """
CREATE TABLE IF NOT EXISTS pending_proposals (
    id BLOB PRIMARY KEY,
    envelope BLOB NOT NULL,
    time INTEGER NOT NULL
) WITHOUT ROWID
"""


def _exists(store: Store) -> bool:
    row = store.conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pending_proposals'"
    ).fetchone()
    return row is not None


def load(store: Store) -> list[tuple[object, object]]:
    """Every kept proposal as ``(id, envelope)``, oldest claimed time first, both as
    stored (bytes unless the file was altered): the caller decodes and checks them, and
    drops a row by the id it read.

    Raises:
        StoreError: the table cannot be read.
    """
    with guarded(store.path):
        if not _exists(store):
            return []
        rows = store.conn.execute(
            "SELECT id, envelope FROM pending_proposals ORDER BY time, id"
        ).fetchall()
    return [(pid, env) for pid, env in rows]


def keep(store: Store, pid: bytes, envelope: bytes, time: int) -> None:
    """Keep (or replace) the proposal ``pid`` with every signature merged so far.

    Raises:
        StoreError: the row cannot be written (the proposal is then not kept).
    """
    try:
        store.conn.execute(_TABLE)
        store.conn.execute(
            "INSERT INTO pending_proposals (id, envelope, time) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET envelope = excluded.envelope",
            (pid, envelope, time),
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot keep a pending proposal in {store.path}: {exc}") from exc


def drop(store: Store, pids: Iterable[object]) -> None:
    """Forget the proposals ``pids`` (appended, refused, expired or unreadable).

    Raises:
        StoreError: the rows cannot be deleted.
    """
    gone = [(pid,) for pid in pids]
    if not gone:
        return
    try:
        if _exists(store):
            store.conn.executemany("DELETE FROM pending_proposals WHERE id = ?", gone)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot drop a pending proposal from {store.path}: {exc}") from exc
