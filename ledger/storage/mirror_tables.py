"""The mirror's evidence table, ``mirror_checkpoints`` (specs/node.md §5).

A mirror keeps every checkpoint it was shown, one row per tree (``size``, ``root``) with
the signed note, where it came from, when, and the verdict of its latest sync
(``accepted``). The accepted ones are what later syncs check a node against (no second
tree of a size seen, every new tree extends the largest); refused ones are the evidence
of a node that forked its log: notes signed by the operator key that contradict each
other.

What it deliberately does not do: decide anything. ``ledger.net.mirror`` checks the
checkpoints and gives the verdict; this module only keeps it. The table is created by
:func:`ledger.storage.schema.ensure_mirror_tables` on a file's first sync.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from ledger.errors import StoreError
from ledger.storage import schema
from ledger.storage.columns import stored_blob, stored_int, stored_text
from ledger.storage.sqlerrors import guarded
from ledger.storage.store import Store

__all__ = [
    "SeenCheckpoint",
    "StoredCheckpoint",
    "accepted_checkpoints",
    "record_checkpoint",
    "stored_rows",
]


@dataclass(frozen=True)
class SeenCheckpoint:
    """A checkpoint the mirror accepted: its tree and the source it came from."""

    size: int
    root: bytes
    source: str


@dataclass(frozen=True)
class StoredCheckpoint:
    """A row of ``mirror_checkpoints`` as stored (for ``verify``; values not yet checked)."""

    size: Any
    root: Any
    note: Any
    source: Any
    accepted: Any


def stored_rows(store: Store) -> list[StoredCheckpoint]:
    """Every row of ``mirror_checkpoints`` (none if the file never synced), by size.

    Reads only: a file without the table is left without it.

    Raises:
        StoreError: the table cannot be read.
    """
    with guarded(store.path):
        exists = store.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mirror_checkpoints'"
        ).fetchone()
        if exists is None:
            return []
        # As blobs: a text cell that is not UTF-8 (an altered file) is then a value that
        # verify names, not a decoding error of the whole query.
        rows = store.conn.execute(
            "SELECT size, CAST(root AS BLOB), typeof(root), CAST(note AS BLOB), typeof(note), "
            "source, accepted FROM mirror_checkpoints ORDER BY size, root"
        ).fetchall()
    out = []
    for size, root, root_type, note, note_type, source, accepted in rows:
        try:
            text = bytes(note).decode("utf-8") if note_type == "text" else None
        except UnicodeDecodeError:
            text = None
        out.append(
            StoredCheckpoint(size, root if root_type == "blob" else None, text, source, accepted)
        )
    return out


def accepted_checkpoints(store: Store) -> list[SeenCheckpoint]:
    """The checkpoints whose latest verdict is accepted, smallest tree first.

    Raises:
        StoreError: the table cannot be created or read.
    """
    schema.ensure_mirror_tables(store.conn, store.path)
    try:
        rows = store.conn.execute(
            "SELECT size, root, source FROM mirror_checkpoints WHERE accepted = 1 ORDER BY size"
        ).fetchall()
    except sqlite3.Error as exc:  # pragma: no cover - disk errors
        raise StoreError(
            f"cannot read the mirror_checkpoints table of {store.path}: {exc}"
        ) from exc
    return [
        SeenCheckpoint(
            stored_int(n, "a mirror_checkpoints row"),
            stored_blob(r, "a mirror_checkpoints root"),
            stored_text(src, "a mirror_checkpoints source"),
        )
        for n, r, src in rows
    ]


def record_checkpoint(
    store: Store,
    *,
    size: int,
    root: bytes,
    note: str,
    source: str,
    seen_ms: int,
    accepted: bool,
) -> None:
    """Keep a checkpoint with the verdict of this sync.

    A tree seen before gets this sync's note, source, time and verdict (an upsert): a
    checkpoint refused once, say because its node served a bad tile, and accepted by a
    later sync is accepted from then on, and later syncs check against it.

    Raises:
        StoreError: the row cannot be written.
    """
    schema.ensure_mirror_tables(store.conn, store.path)
    try:
        store.conn.execute(
            "INSERT INTO mirror_checkpoints (size, root, note, source, seen_ms, accepted)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (size, root) DO UPDATE SET note = excluded.note,"
            " source = excluded.source, seen_ms = excluded.seen_ms,"
            " accepted = excluded.accepted",
            (size, root, note, source, seen_ms, int(accepted)),
        )
    except sqlite3.Error as exc:  # pragma: no cover - disk errors
        raise StoreError(f"cannot record a checkpoint in {store.path}: {exc}") from exc
