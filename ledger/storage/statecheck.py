"""Compare a replay's state with the stored ``state`` table in bounded memory (R-ST-2).

``Ledger.verify`` replays every record and must find the derived ``state`` table equal to
what the replay computes. Keeping every value the replay ever wrote would make verify's
memory grow with the length of the log (every parcel, stone, certificate and transfer
ever made). :class:`CheckedState` instead compares values *during* the replay:

* a value that has not been written for :data:`IDLE` entries is compared with its stored
  row (canonical bytes and json). If they are equal it is dropped from memory and its key
  is recorded as *matched* in a temporary table of the connection (SQLite's temp store,
  on disk beyond a small cache: no Python memory per key);
* a later read of a matched key loads the stored row, which is known to hold exactly the
  value the replay had; a later write makes the key pending again;
* a value that differs from its row (a live parcel that will change again) is *parked* as
  its canonical bytes, a fraction of the size of the Python value, until it is read or
  written again;
* at the end every pending or parked value is compared, and every stored row must be a
  matched key (no row the replay did not produce).

Memory is then bounded by the values written in the last ``IDLE`` entries plus the parked
bytes of the live items. The verdict is exactly that of comparing everything at the end:
every key's last value is compared after its last write, and every stored row must match.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from ledger.core import rules
from ledger.core.encoding import decode, encode
from ledger.errors import ChainError
from ledger.storage.columns import decode_trusted

#: Entries a value must stay unwritten before it is compared and, if equal, dropped.
IDLE = 4096
#: Entries between two sweeps for idle values.
SWEEP = 2048
_BATCH = 200
_MATCHED = "temp.kpledger_verify_matched"

_Key = tuple[str, str]
#: Never the canonical encoding of a value (0xc1 is unused in msgpack).
_NOT_A_VALUE = b"\xc1"


class CheckedState(rules.State):
    """A :class:`rules.State` for ``verify`` that compares and drops idle values as it goes.

    Reads the ledger's stored ``state`` table (inside the caller's read transaction) and
    writes only its own temporary table; the rules see exactly the values a plain
    ``State`` would give them. Call :meth:`finish` after the replay, or :meth:`close`.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__()
        self._conn = conn
        conn.execute(f"DROP TABLE IF EXISTS {_MATCHED}")
        conn.execute(
            f"CREATE TABLE {_MATCHED} (kind TEXT NOT NULL, key TEXT NOT NULL, "
            "PRIMARY KEY (kind, key)) WITHOUT ROWID"
        )
        self._matched = 0  # rows in the temporary table
        self._written: dict[_Key, int] = {}  # pending keys -> entry count at their last write
        self._parked: dict[_Key, bytes] = {}  # compared, differed, not written since
        self._loaded: set[_Key] = set()  # read back into _data, not written since
        self._raw: dict[_Key, bytes] = {}  # pending keys -> canonical bytes of their value
        self._entries = 0
        self._next_sweep = SWEEP
        self._idle = IDLE
        self.compared = 0

    # -- the State interface ------------------------------------------------------------

    def get(self, kind: str, key: str) -> Any | None:
        k = (kind, key)
        try:
            return self._data[k]
        except KeyError:
            pass
        parked = self._parked.get(k)
        if parked is not None:
            value = decode(parked)
        else:
            rows = self._conn.execute(
                f"SELECT s.value FROM {_MATCHED} AS m JOIN main.state AS s "  # noqa: S608
                "ON s.kind = m.kind AND s.key = m.key WHERE m.kind = ? AND m.key = ?",
                k,
            ).fetchall()  # all: a statement left open would lock the table for close()
            if not rows:
                return None  # never written by this replay
            row = rows[0]
            value = decode(bytes(row[0]))
        self._data[k] = value  # dropped again at the next sweep unless written
        self._loaded.add(k)
        return value

    def put(self, kind: str, key: str, value: Any) -> None:
        super().put(kind, key, value)
        k = (kind, key)
        self._written[k] = self._entries
        self._parked.pop(k, None)
        self._loaded.discard(k)
        self._raw.pop(k, None)

    def encoded(self, kind: str, key: str, raw: bytes) -> None:
        # The state map encoded the value after its record: compare those bytes.
        self._raw[(kind, key)] = raw

    def commit(self) -> None:
        super().commit()
        self._dirty.clear()  # changes are tracked in _written instead
        self._entries += 1
        if self._entries >= self._next_sweep:
            self._next_sweep = self._entries + SWEEP
            self._sweep(self._entries - self._idle)

    def take_changes(self) -> dict[tuple[str, str], Any]:  # pragma: no cover - not for verify
        raise NotImplementedError("CheckedState compares its changes itself")

    # -- comparing ------------------------------------------------------------------------

    def _stored_many(self, keys: list[_Key]) -> dict[_Key, tuple[bytes, str]]:
        """Stored rows of ``keys`` (those that exist), a few hundred per query."""
        by_kind: dict[str, list[str]] = {}
        for kind, key in keys:
            by_kind.setdefault(kind, []).append(key)
        out: dict[_Key, tuple[bytes, str]] = {}
        for kind, names in by_kind.items():
            for i in range(0, len(names), _BATCH):
                part = names[i : i + _BATCH]
                sql = (
                    "SELECT key, value, json FROM main.state WHERE kind = ? AND key IN ("  # noqa: S608
                    + ",".join("?" * len(part))
                    + ")"
                )
                for key, raw, text in self._conn.execute(sql, [kind, *part]):
                    # A cell of another SQLite type (an altered file) never equals a value.
                    out[(kind, key)] = (
                        raw if type(raw) is bytes else _NOT_A_VALUE,
                        text if type(text) is str else "",
                    )
        return out

    def _compare_many(
        self, items: Iterable[tuple[_Key, Any, bytes | None]]
    ) -> list[tuple[_Key, bytes, str | None]]:
        """Each key, its value's canonical bytes, and None if its stored row is equal or
        else what differs ("missing", "value" or "json"). Each item is a key, its value
        and the value's canonical bytes when they are known already (else None)."""
        from ledger.storage.store import state_json

        items = list(items)
        self.compared += len(items)
        rows = self._stored_many([k for k, _, _ in items])
        out: list[tuple[_Key, bytes, str | None]] = []
        for k, value, known in items:
            raw = encode(value) if known is None else known
            row = rows.get(k)
            if row is None:
                out.append((k, raw, "missing"))
            elif raw != row[0]:
                out.append((k, raw, "value"))
            elif state_json(value) != row[1]:
                out.append((k, raw, "json"))
            else:
                out.append((k, raw, None))
        return out

    def _mark(self, keys: list[_Key]) -> None:
        before = self._conn.total_changes
        self._conn.executemany(f"INSERT OR IGNORE INTO {_MATCHED} VALUES (?, ?)", keys)  # noqa: S608
        self._matched += self._conn.total_changes - before

    def _sweep(self, before: int) -> None:
        """Compare values last written before entry ``before``; drop those that match."""
        data = self._data
        written = self._written
        for k in self._loaded:  # read back and not written since: parked or matched
            del data[k]
        self._loaded = set()
        pop_raw = self._raw.pop
        idle = [(k, data[k], pop_raw(k, None)) for k, at in written.items() if at < before]
        matched: list[_Key] = []
        for k, raw, why in self._compare_many(idle):
            del written[k]
            del data[k]
            if why is None:
                matched.append(k)
            else:
                self._parked[k] = raw
        self._mark(matched)

    def finish(self) -> None:
        """Compare what is left; check that every stored row was produced by the replay.

        Raises:
            ChainError: R-ST-2 naming the first differing key (by kind, then key).
        """
        try:
            self._finish()
        finally:
            self.close()

    def close(self) -> None:
        """Drop the temporary table."""
        self._conn.execute(f"DROP TABLE IF EXISTS {_MATCHED}")

    def _finish(self) -> None:
        pop_raw = self._raw.pop
        left = [(k, self._data[k], pop_raw(k, None)) for k in self._written]
        left += [(k, decode_trusted(raw), raw) for k, raw in self._parked.items()]
        problems: list[tuple[_Key, str]] = []
        matched: list[_Key] = []
        for k, _, why in self._compare_many(left):
            if why is None:
                matched.append(k)
            else:
                problems.append((k, why))
        self._mark(matched)
        self._written.clear()
        self._parked.clear()
        self._raw.clear()
        if not problems:
            (stored,) = self._conn.execute("SELECT count(*) FROM main.state").fetchone()
            if stored == self._matched:
                return
            extra = self._conn.execute(
                f"SELECT kind, key FROM main.state EXCEPT SELECT kind, key FROM {_MATCHED} "  # noqa: S608
                "ORDER BY kind, key LIMIT 1"
            ).fetchone()
            if extra is None:  # pragma: no cover - every matched key has a stored row
                raise ChainError(
                    f"the stored state has {stored} rows, a replay gives {self._matched}",
                    rule="R-ST-2",
                )
            problems.append(((str(extra[0]), str(extra[1])), "extra"))
        (kind, key), why = min(problems)
        if why == "missing":
            message = f"derived state {kind}/{key} is missing from the stored state"
        elif why == "json":
            message = f"derived state {kind}/{key}: stored json differs from its value"
        else:
            message = f"derived state {kind}/{key} differs from a replay of the records"
        raise ChainError(message, rule="R-ST-2")
