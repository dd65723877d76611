"""Where the WAL bytes of a durable single append go: pages per commit, by table and index.

    python -m bench.walstat [--source LEDGER] [--base N] [--commits N] [--page-size B]
                            [--timing]

Appends the records of a source ledger (by default the cached 10k-entry benchmark ledger)
into a fresh ledger with the same genesis: the first ``--base`` records in the simulator's
own batches (untimed), then ``--commits`` records one durable transaction each, with
checkpoints off. After each of those commits it reads the frames the commit added to the
WAL (one frame = one page written) and names each page's B-tree with SQLite's ``dbstat``
(a page on no B-tree is a freelist page). Prints, per table or index, the pages and bytes
per commit. A diagnostic for ``bench/README.md``.

``--timing`` instead times the same single appends (no ``dbstat``, checkpoints on, as a
ledger runs): wall and process time per append, and the time spent in ``COMMIT`` (the
WAL writes and the fsync). ``--page-size`` creates the fresh ledger with that SQLite page
size (kpledger creates 4096-byte pages, SQLite's default).
"""

from __future__ import annotations

import argparse
import sqlite3
import struct
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import ledgers
from ledger.core.model import Record, SignedEntry
from ledger.ledger import Ledger
from ledger.storage.store import Store

_WAL_HEADER = 32
_FRAME_HEADER = 24


def _records(source: Path) -> list[Record]:
    """The source's records, read with plain SQL (any schema version)."""
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        return [
            Record.from_wire(bytes(r[0]))
            for r in conn.execute("SELECT record FROM records ORDER BY idx")
        ]
    finally:
        conn.close()


def _groups(records: list[Record]) -> list[list[Record]]:
    """The simulator's own append batches: consecutive records with the same time."""
    out: list[list[Record]] = []
    for r in records:
        if out and out[-1][0].time == r.time:
            out[-1].append(r)
        else:
            out.append([r])
    return out


def _owners(conn: sqlite3.Connection) -> dict[int, str]:
    return {int(p): str(n) for n, p in conn.execute("SELECT name, pageno FROM dbstat")}


class _TimedConnection(sqlite3.Connection):
    """Adds up the seconds its ``COMMIT`` statements take."""

    commit_seconds = 0.0

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql != "COMMIT":
            return super().execute(sql, *args)
        start = time.perf_counter()
        try:
            return super().execute(sql, *args)
        finally:
            _TimedConnection.commit_seconds += time.perf_counter() - start


def _fresh(
    records: list[Record], base: int, work: Path, page_size: int | None
) -> tuple[Path, Ledger]:
    """A new ledger (with a timed connection) holding the first ``base`` records but
    genesis, appended in the simulator's own batches."""
    path = work / "walstat.db"
    ledgers.remove_db(path)
    connect = sqlite3.connect

    def timed_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, factory=_TimedConnection, **kwargs)
        if page_size is not None:
            conn.execute(f"PRAGMA page_size={int(page_size)}")  # only a new file takes it
        return conn

    sqlite3.connect = timed_connect  # type: ignore[assignment]  # the store's own connect
    try:
        store = Store.create(str(path))
    finally:
        sqlite3.connect = connect  # type: ignore[assignment]
    genesis = records[0]
    store.append([SignedEntry.from_wire(genesis.entry_bytes)], now=genesis.time)
    led = Ledger(store)
    for group in _groups(records[1 : base + 1]):
        led.append([SignedEntry.from_wire(r.entry_bytes) for r in group], now=group[-1].time)
    return path, led


def timing(
    source: Path, base: int, commits: int, work: Path, page_size: int | None
) -> tuple[float, float, float]:
    """Wall, process and COMMIT seconds per single append of ``commits`` records."""
    records = _records(source)
    if base + commits + 1 > len(records):
        raise SystemExit(f"the source holds {len(records)} records")
    path, led = _fresh(records, base, work, page_size)
    try:
        todo = [
            (SignedEntry.from_wire(r.entry_bytes), r.time)
            for r in records[base + 1 : base + 1 + commits]
        ]
        _TimedConnection.commit_seconds = 0.0
        wall, cpu = time.perf_counter(), time.process_time()
        for entry, at in todo:
            led.append([entry], now=at)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        led.close()
        ledgers.remove_db(path)
    return wall / commits, cpu / commits, _TimedConnection.commit_seconds / commits


def measure(
    source: Path, base: int, commits: int, work: Path, page_size: int | None = None
) -> tuple[Counter[str], int, int]:
    """Pages written per B-tree over ``commits`` single appends after ``base`` records; the
    page size; the WAL bytes of those commits."""
    records = _records(source)
    if base + commits + 1 > len(records):
        raise SystemExit(f"the source holds {len(records)} records")
    path, led = _fresh(records, base, work, page_size)
    store = led.store
    try:
        conn = store.conn
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        frame = _FRAME_HEADER + page_size
        wal = Path(str(path) + "-wal")
        offset = 0
        pages: Counter[str] = Counter()
        wal_bytes = 0
        for r in records[base + 1 : base + 1 + commits]:
            led.append([SignedEntry.from_wire(r.entry_bytes)], now=r.time)
            data = wal.read_bytes()
            start = max(offset, _WAL_HEADER)
            owners = _owners(conn)
            for at in range(start, len(data) - frame + 1, frame):
                (pgno,) = struct.unpack(">I", data[at : at + 4])
                pages[owners.get(pgno, "(freelist)")] += 1
            wal_bytes += len(data) - start
            offset = len(data)
    finally:
        led.close()
        ledgers.remove_db(path)
    return pages, page_size, wal_bytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.walstat", description=__doc__)
    parser.add_argument("--source", help="a ledger to take the records from")
    parser.add_argument("--base", type=int, default=0, help="records appended first (batched)")
    parser.add_argument("--commits", type=int, default=300, help="single appends measured")
    parser.add_argument("--page-size", type=int, help="SQLite page size of the new ledger")
    parser.add_argument("--timing", action="store_true", help="time the appends instead")
    args = parser.parse_args(argv)
    source = Path(args.source) if args.source else ledgers.build(10_000, reuse=True)[0]
    if args.timing:
        wall, cpu, commit = timing(
            source, args.base, args.commits, ledgers.workdir(), args.page_size
        )
        print(
            f"{args.commits} single appends after {args.base} records: {wall * 1e6:.0f} us "
            f"wall, {cpu * 1e6:.0f} us process time, {commit * 1e6:.0f} us in COMMIT, each"
        )
        return 0
    pages, page_size, wal_bytes = measure(
        source, args.base, args.commits, ledgers.workdir(), args.page_size
    )
    n = args.commits
    total = sum(pages.values())
    print(
        f"{n} single appends after {args.base} records: {wal_bytes / n / 1024:.1f} KiB of WAL "
        f"per commit, {total / n:.1f} pages of {page_size} B"
    )
    print("| table or index | pages per commit | KiB per commit | share |")
    print("|---|---:|---:|---:|")
    for name, count in pages.most_common():
        kib = count * (page_size + _FRAME_HEADER) / n / 1024
        print(f"| `{name}` | {count / n:.2f} | {kib:.1f} | {count / total:.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
