"""Context files: what an offline signer needs of a ledger, without the ledger.

A context file is a ledger file cut down to the current state (``state``), the registry
and rule parameters included, and the ledger's last record (so the next index, the
previous hash and the log's clock are known), marked ``context`` in ``meta``. It is
written on a networked machine (``kpledger context export``) and carried to the machine
that holds a key: every command opens it as a ledger (``--ledger ctx.kpctx``), reads
names, parcels and transfers from it, checks every rule against its state, and signs
with ``--out``; appending to it is refused. ``submit`` on the real ledger does the
full check. With ``holder``, only that participant's parcels (and the transfers offered
to or by it) are kept: a small file that still checks everything the holder can sign.

Nothing here is trusted by the ledger: an entry signed against a stale or forged context
is checked again, in full, when it is submitted.
"""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

from ledger.core.encoding import decode
from ledger.errors import StoreError, UsageError
from ledger.storage import schema

#: The ``meta`` key that marks a context file (its value: JSON of where it came from).
CONTEXT_KEY = "context"

#: Tables a context file keeps no rows of (the last record is kept, see the module); the
#: openings of committed prices and values above all (specs/disclosure.md): a file handed
#: to one signer carries nobody's.
_EMPTIED = (
    "tiles",
    "touches",
    "findings",
    "checkpoints",
    "mirror_checkpoints",
    "openings",
    "pending_proposals",
)


def export_context(
    source: sqlite3.Connection, path: str, holder: str | None, now: int
) -> dict[str, Any]:
    """Write the context file ``path`` from the open ledger ``source``.

    Returns:
        What the file holds: ``{size, holder, parcels, transfers, state_rows, bytes}``.

    Raises:
        StoreError: ``path`` exists or cannot be written.
        UsageError: ``source`` is itself a context file, or holds no record.
    """
    if os.path.exists(path):
        raise StoreError(f"{path} already exists; kpledger will not overwrite it")
    if context_of(source) is not None:
        raise UsageError("this is a context file already; export from the ledger itself")
    row = source.execute("SELECT idx FROM records ORDER BY idx DESC LIMIT 1").fetchone()
    if row is None:
        raise UsageError("the ledger holds no record yet")
    size = int(row[0]) + 1
    dest = sqlite3.connect(path, isolation_level=None)
    try:
        source.backup(dest)
        dest.execute("BEGIN")
        for name in schema.TRIGGERS:
            dest.execute(f'DROP TRIGGER IF EXISTS "{name}"')
        dest.execute("DELETE FROM records WHERE idx < ?", (size - 1,))
        for table in _EMPTIED + _map_tables(dest):
            if _has_table(dest, table):
                dest.execute(f'DELETE FROM "{table}"')  # noqa: S608 - our own table names
        parcels = transfers = 0
        if holder is not None:
            parcels, transfers = _keep_holder(dest, holder)
        info = {"size": size, "holder": holder, "exported_ms": now}
        dest.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (CONTEXT_KEY, json.dumps(info, sort_keys=True)),
        )
        dest.execute("COMMIT")
        dest.execute("VACUUM")
        state_rows = int(dest.execute("SELECT COUNT(*) FROM state").fetchone()[0])
    except sqlite3.Error as exc:
        dest.close()
        os.unlink(path)
        raise StoreError(f"cannot write the context file {path}: {exc}") from exc
    dest.close()
    return {
        **info,
        "parcels": parcels,
        "transfers": transfers,
        "state_rows": state_rows,
        "bytes": os.path.getsize(path),
    }


def context_of(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """What the ``context`` mark of a ledger file says, or None for a real ledger."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (CONTEXT_KEY,)).fetchone()
    if row is None:
        return None
    value = json.loads(row[0])
    return value if isinstance(value, dict) else {}


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return found is not None


def _map_tables(conn: sqlite3.Connection) -> tuple[str, ...]:
    sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 4) = 'map_'"
    return tuple(str(r[0]) for r in conn.execute(sql))


def _keep_holder(conn: sqlite3.Connection, holder: str) -> tuple[int, int]:
    """Drop the parcels ``holder`` does not hold and the transfers it is no party to."""
    parcels = transfers = 0
    for kind, key, raw in conn.execute(
        "SELECT kind, key, value FROM state WHERE kind IN ('parcel', 'transfer')"
    ).fetchall():
        value = decode(bytes(raw))
        if kind == "parcel":
            keep = isinstance(value, dict) and value.get("holder") == holder
            parcels += keep
        else:
            keep = isinstance(value, dict) and holder in (value.get("from"), value.get("to"))
            transfers += keep
        if not keep:
            conn.execute("DELETE FROM state WHERE kind = ? AND key = ?", (kind, key))
    return parcels, transfers
