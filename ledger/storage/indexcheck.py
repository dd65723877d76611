"""Compare a replay's display indexes with the stored ``touches`` and ``findings`` (R-ST-2).

``history`` reads ``touches`` (which records concern a parcel or stone); ``show``, ``log``
and the node's ``/api/findings`` read ``findings`` (the WARN findings of each record).
Neither decides anything, but both are what users see, so ``verify`` recomputes them
from the replay and requires the stored tables to be exactly that:

* :class:`CheckedIndexes` collects the items each replayed record touched in a temporary
  table of the connection (SQLite's temp store, on disk beyond a small cache: no Python
  memory per row) and, at the end, compares it with ``touches`` in both directions with
  one ``EXCEPT`` each; the first difference by record index is named;
* the replay's findings (which the replay keeps anyway, in log order) are compared with
  ``findings`` read in ``(idx, rowid)`` order, the order appends write them in, one row
  at a time.

What it deliberately does not do: run the rules or read records. The replay is the
caller's (``ledger.verify``); this module only stores and compares.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from itertools import zip_longest
from typing import Any

from ledger.errors import ChainError

__all__ = ["CheckedIndexes"]

_TOUCHES = "temp.kpledger_verify_touches"
_BATCH = 5000


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


class CheckedIndexes:
    """Collects a replay's touched items and compares them, and its findings, with the
    stored tables (inside the caller's read transaction). Call :meth:`close` at the end."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        conn.execute(f"DROP TABLE IF EXISTS {_TOUCHES}")
        conn.execute(
            f"CREATE TABLE {_TOUCHES} (item TEXT NOT NULL, idx INTEGER NOT NULL, "
            "PRIMARY KEY (item, idx)) WITHOUT ROWID"
        )
        self._pending: list[tuple[str, int]] = []

    def touched(self, index: int, items: Iterable[str]) -> None:
        """The items record ``index`` touched, as the replay found them."""
        self._pending.extend((item, index) for item in items)
        if len(self._pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._conn.executemany(
                f"INSERT OR IGNORE INTO {_TOUCHES} (item, idx) VALUES (?, ?)",  # noqa: S608
                self._pending,
            )
            self._pending = []

    def check_touches(self) -> None:
        """Compare the collected rows with ``touches``.

        Raises:
            ChainError: R-ST-2 naming the first row, by record index, that is in one and
                not in the other.
        """
        self._flush()
        extra = self._conn.execute(
            f"SELECT idx, item FROM main.touches EXCEPT SELECT idx, item FROM {_TOUCHES} "  # noqa: S608
            "ORDER BY 1, 2 LIMIT 1"
        ).fetchall()  # all: a statement left open would lock the table for close()
        missing = self._conn.execute(
            f"SELECT idx, item FROM {_TOUCHES} EXCEPT SELECT idx, item FROM main.touches "  # noqa: S608
            "ORDER BY 1, 2 LIMIT 1"
        ).fetchall()
        first = min(
            ((rows[0], why) for rows, why in ((extra, "extra"), (missing, "missing")) if rows),
            key=lambda row: (_order(row[0][0]), str(row[0][1])),
            default=None,
        )
        if first is None:
            return
        (idx, item), why = first
        if why == "extra":
            raise ChainError(
                f"the touches table says record {_show(idx)} touched {_show(item)}, which a "
                "replay of the records does not give ('history' would show it)",
                rule="R-ST-2",
            )
        raise ChainError(
            f"the touches table lacks record {idx} for {item!r}, which a replay of the "
            "records gives ('history' would leave it out)",
            rule="R-ST-2",
        )

    def check_findings(self, replayed: Sequence[tuple[int, str, str]]) -> None:
        """Compare the replay's findings, in log order, with ``findings``.

        Raises:
            ChainError: R-ST-2 naming the first record whose stored findings differ.
        """
        rows = self._conn.execute("SELECT idx, rule, message FROM findings ORDER BY idx, rowid")
        try:
            self._compare_findings(rows, replayed)
        finally:
            rows.close()  # an open statement would lock the temporary table for close()

    @staticmethod
    def _compare_findings(rows: Iterable[Any], replayed: Sequence[tuple[int, str, str]]) -> None:
        for row, want in zip_longest(rows, replayed):
            stored = None if row is None else tuple(row)
            if stored == want:
                continue
            if stored is not None and (want is None or _order(stored[0]) < want[0]):
                raise ChainError(
                    f"the findings table holds {_show(stored[1])}: {_show(stored[2])} for "
                    f"record {_show(stored[0])}, which a replay of the records does not give "
                    "('show' would print it)",
                    rule="R-ST-2",
                )
            if want is None:  # pragma: no cover - the branch above took every such row
                continue
            if stored is None or _order(stored[0]) > want[0]:
                raise ChainError(
                    f"the findings table lacks {want[1]}: {want[2]} for record {want[0]}, "
                    "which a replay of the records gives ('show' would leave it out)",
                    rule="R-ST-2",
                )
            raise ChainError(
                f"the findings of record {want[0]} differ from a replay: the table holds "
                f"{_show(stored[1])}: {_show(stored[2])}, the records give {want[1]}: {want[2]}",
                rule="R-ST-2",
            )

    def close(self) -> None:
        """Drop the temporary table."""
        self._pending = []
        self._conn.execute(f"DROP TABLE IF EXISTS {_TOUCHES}")


def _order(value: Any) -> int:
    """A stored record index as a sort key (a non-integer, only in an altered file, first)."""
    return value if type(value) is int else -1
