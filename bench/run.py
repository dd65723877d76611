"""kpledger benchmarks: every figure next to its raw ceiling, measured in the same run.

    python -m bench.run [--quick] [--scale] [--out bench/results.json] [--readme bench/README.md]
                        [--only SECTIONS] [--reuse-ledgers]
    python -m bench.run --render bench/results.json [--readme bench/README.md]

Sections (``--only`` picks some, comma-separated):

``verify``   raw Ed25519 verify (PyNaCl ``crypto_sign_open``, ``cryptography``) of exactly the
             signatures in the ledger under test, a bare chain replay (unpack, SHA-256,
             verify), then ``Ledger.verify()`` and ``Ledger.verify(jobs=2)``.
``import``   bulk import of the pre-signed entries of that ledger into a fresh ledger with
             the same genesis (full validation), against the raw verify rate.
``append``   durable single appends (one transaction each, synchronous=FULL) against raw
             SQLite commit-per-row (WAL, synchronous=FULL) in the same directory.
``map``      the state map's costs: durable single appends and ``Ledger.verify()`` with and
             without the map (interleaved, medians), map proof bytes at 1M keys.
``merkle``   tiles (``append_to_tiles``, ``inclusion_proof`` over ``TileHashReader`` with a
             shared ``TileCache``) against pymerkle's ``InmemoryTree``.
``proofs``   ``prove`` + ``verify_bundle`` of a stone 10 hops deep in a small and a large ledger.
``rss``      peak RSS of ``kpledger verify`` on two sizes (a child of ``bench.rss``).
``size``     bytes per entry of the ledger files and the extrapolation to 100M entries.
``browser``  the browser verifier (web/dist/verify.html, built first) on a 10-hop bundle in
             headless Chromium, from disk with the network off (``tools.browser_speed``),
             against the 200 ms target; skipped, saying so, without chromium or node.

Sizes: ``--quick`` uses a 10k-entry ledger, 100k Merkle leaves and 10k/100k ledgers for the
proof and memory ratios (proxies of the 1M targets); the default uses a 100k ledger and 1M
leaves; ``--scale`` adds a 1M-entry ledger (built once, ~15 min, then cached in the work
directory) for the proof, memory and size figures. Ledgers live in the system temp dir
(see ``bench.ledgers``), never in the repository.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import multiprocessing
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import nacl
import nacl.bindings
from cryptography import __version__ as cryptography_version
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bench import ledgers
from bench.ledgers import log
from ledger import verify as verify_mod
from ledger.core import merkle, proofs, rules, statemap, tiles
from ledger.core.encoding import encode
from ledger.core.model import ENTRY_SIG_CONTEXT, Record, SignedEntry, entry_to_json, signing_message
from ledger.errors import LedgerError
from ledger.ledger import Ledger
from ledger.storage import map_tables
from ledger.storage.store import Store
from tools import browser_speed

SECTIONS = ("verify", "import", "append", "map", "merkle", "proofs", "rss", "size", "browser")
HOUR_MS = 3_600_000
#: Longest stretch of synthetic time one import transaction covers.
IMPORT_WINDOW_MS = 24 * HOUR_MS

# ---------------------------------------------------------------------------------------
# Results


@dataclass
class Row:
    """One line of the results table: a figure, its ceiling and the target on their ratio."""

    section: str
    figure: str
    value: float
    unit: str
    ceiling: float | None = None
    ceiling_unit: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""
    load: float = field(default_factory=lambda: os.getloadavg()[0])


@dataclass
class Results:
    mode: str
    rows: list[Row] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(
        self,
        section: str,
        figure: str,
        value: float,
        unit: str,
        *,
        ceiling: float | None = None,
        ceiling_unit: str = "",
        ratio: float | None = None,
        target: tuple[str, float] | None = None,
        note: str = "",
    ) -> Row:
        """Record a row; ``target`` is ``(">=" or "<=", threshold)`` on the ratio."""
        if ratio is None and ceiling:
            ratio = value / ceiling
        text, met = "", None
        if target is not None and ratio is not None:
            op, threshold = target
            text = f"{op} {threshold:g}x"
            met = ratio >= threshold if op == ">=" else ratio <= threshold
        row = Row(section, figure, value, unit, ceiling, ceiling_unit, ratio, text, met, note)
        self.rows.append(row)
        shown = f"{_fmt(value, unit)}"
        if ceiling is not None:
            shown += f" vs {_fmt(ceiling, ceiling_unit or unit)}"
        if ratio is not None:
            shown += f" = {ratio:.2f}x"
        if met is not None:
            shown += f" (target {text}: {'met' if met else 'MISSED'})"
        log(f"{figure}: {shown}")
        return row


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        if value < 1:
            return f"{value * 1000:.1f} ms"
        return f"{value:.2f} s" if value < 10 else f"{value:,.0f} s"
    if unit == "B":
        for scale, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
            if value >= scale:
                return f"{value / scale:.1f} {name}"
        return f"{value:.0f} B"
    if unit == "x":
        return f"{value:.2f}x"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def table(results: Results) -> str:
    """The results as a Markdown table."""
    out = [
        "| figure | value | ceiling | ratio | target | met? |",
        "|---|---:|---:|---:|---|---|",
    ]
    for r in results.rows:
        ceiling = _fmt(r.ceiling, r.ceiling_unit or r.unit) if r.ceiling is not None else ""
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        figure = r.figure + (f" ({r.note})" if r.note else "")
        out.append(
            f"| {figure} | {_fmt(r.value, r.unit)} | {ceiling} | {ratio} | {r.target} | {met} |"
        )
    return "\n".join(out)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


# ---------------------------------------------------------------------------------------
# The signatures of a ledger, and the raw ceilings over them


@dataclass
class LedgerData:
    """What the ceilings run over: the records of a ledger and every signature in it."""

    path: Path
    raws: list[bytes]
    keys: dict[bytes, bytes]
    #: ``(public key, signed message, signature)`` for every signature of every entry.
    sigs: list[tuple[bytes, bytes, bytes]]


def load_ledger(path: Path) -> LedgerData:
    store = Store.open(str(path))
    try:
        keys = store.registered_keys()
        raws = [raw for _, raw in store.iter_rows()]
    finally:
        store.close()
    sigs = []
    for raw in raws:
        entry = Record.from_wire(raw).entry()
        message = signing_message(entry.body_bytes)
        sigs.extend((keys[s.kid], message, s.sig) for s in entry.sigs)
    return LedgerData(path, raws, keys, sigs)


def raw_nacl(sigs: list[tuple[bytes, bytes, bytes]]) -> None:
    sign_open = nacl.bindings.crypto_sign_open
    for public, message, signature in sigs:
        sign_open(signature + message, public)


def raw_cryptography(sigs: list[tuple[bytes, bytes, bytes]]) -> None:
    # Key objects built once per key, outside the loop: the binding's best case.
    objects = {p: Ed25519PublicKey.from_public_bytes(p) for p in {s[0] for s in sigs}}
    for public, message, signature in sigs:
        objects[public].verify(signature, message)


def bare_replay(data: LedgerData) -> None:
    """Chain replay with nothing but the unavoidable: unpack, leaf hash and link, verify."""
    unpackb = msgpack.unpackb
    sha256 = hashlib.sha256
    sign_open = nacl.bindings.crypto_sign_open
    keys = data.keys
    prev = b"\0" * 32
    for raw in data.raws:
        record = unpackb(raw)
        if record["prev"] != prev:
            raise RuntimeError("broken chain")
        prev = sha256(b"\0" + raw).digest()
        envelope = unpackb(record["entry"])
        message = ENTRY_SIG_CONTEXT + envelope["body"]
        for s in envelope["sigs"]:
            sign_open(s["sig"] + message, keys[s["kid"]])


_FORKED_SIGS: list[tuple[bytes, bytes, bytes]] = []


def _noop(_: int) -> int:
    return 0


def _verify_slice(bounds: tuple[int, int]) -> int:
    start, end = bounds
    raw_nacl(_FORKED_SIGS[start:end])
    return end - start


def raw_nacl_two_processes(sigs: list[tuple[bytes, bytes, bytes]]) -> float:
    """Seconds for two forked processes to verify half the signatures each (pool warm)."""
    global _FORKED_SIGS
    _FORKED_SIGS = sigs
    half = len(sigs) // 2
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_noop, [0, 1], chunksize=1)
        start = time.perf_counter()
        pool.map(_verify_slice, [(0, half), (half, len(sigs))], chunksize=1)
        seconds = time.perf_counter() - start
    _FORKED_SIGS = []
    return seconds


def _cpu_seconds() -> float:
    """CPU time of this process and its reaped children (the verify workers)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def time_verify(path: Path, jobs: int) -> tuple[float, float]:
    """Wall seconds and CPU seconds (workers included) of one ``Ledger.verify``."""
    led = Ledger.open(str(path))
    try:
        cpu = _cpu_seconds()
        seconds, _ = timed(lambda: led.verify(jobs=jobs))
        cpu = _cpu_seconds() - cpu
    finally:
        led.close()
    return seconds, cpu


def section_verify(res: Results, data: LedgerData, repeat: int) -> float:
    """Returns the raw single-core ceiling in signatures/s (the best binding)."""
    n_sigs, n_entries = len(data.sigs), len(data.raws)
    res.extra["verify_ledger"] = {
        "path": str(data.path),
        "entries": n_entries,
        "signatures": n_sigs,
        "signatures_per_entry": n_sigs / n_entries,
    }
    size = f"{n_entries / 1000:,.0f}k entries"
    log(f"raw Ed25519 verify of the {n_sigs:,} signatures of the {size} ledger")
    nacl_runs = [timed(lambda: raw_nacl(data.sigs))[0]]
    crypto_s, _ = timed(lambda: raw_cryptography(data.sigs))
    bare_s, _ = timed(lambda: bare_replay(data))
    timed1 = [time_verify(data.path, 1) for _ in range(repeat)]
    timed2 = [time_verify(data.path, 2) for _ in range(repeat)]
    runs1, runs2 = [w for w, _ in timed1], [w for w, _ in timed2]
    cpu1, cpu2 = min(c for _, c in timed1), min(c for _, c in timed2)
    nacl_runs.append(timed(lambda: raw_nacl(data.sigs))[0])
    two_s = raw_nacl_two_processes(data.sigs)

    nacl_rate = n_sigs / min(nacl_runs)
    crypto_rate = n_sigs / crypto_s
    ceiling = max(nacl_rate, crypto_rate)
    best = "PyNaCl" if nacl_rate >= crypto_rate else "cryptography"
    res.add(
        "verify",
        "raw Ed25519 verify, PyNaCl crypto_sign_open",
        nacl_rate,
        "sig/s",
        note=f"best of {len(nacl_runs)}, {n_sigs:,} signatures",
    )
    res.add(
        "verify",
        "raw Ed25519 verify, cryptography",
        crypto_rate,
        "sig/s",
        ceiling=nacl_rate,
        ceiling_unit="sig/s",
    )
    res.add(
        "verify",
        "raw Ed25519 verify, PyNaCl, 2 processes",
        n_sigs / two_s,
        "sig/s",
        ceiling=ceiling,
        ceiling_unit="sig/s",
        note="forked pool, warm",
    )
    res.add(
        "verify",
        "bare chain replay (unpack, SHA-256, verify), 1 process",
        n_entries / bare_s,
        "entry/s",
        ceiling=ceiling * n_entries / n_sigs,
        ceiling_unit="entry/s",
        note="ceiling: raw verify in entries/s",
    )
    v1 = min(runs1)
    v2 = min(runs2)
    res.add(
        "verify",
        f"Ledger.verify() {size}",
        n_sigs / v1,
        "sig/s",
        ceiling=ceiling,
        ceiling_unit="sig/s",
        target=(">=", 0.85),
        note=f"{n_entries / v1:,.0f} entries/s, {v1:.1f} s; ceiling {best}",
    )
    res.add(
        "verify",
        f"Ledger.verify(jobs=2) {size} (2 checking processes beside the replay)",
        n_sigs / v2,
        "sig/s",
        ceiling=ceiling,
        ceiling_unit="sig/s",
        target=(">=", 1.6),
        note=f"{n_entries / v2:,.0f} entries/s, {v2:.1f} s; ceiling: 1-core {best}",
    )
    res.add(
        "verify",
        "CPU time per entry, Ledger.verify() (diagnostic; ceiling: raw verify's)",
        cpu1 / n_entries * 1e6,
        "us/entry",
        ceiling=1e6 * n_sigs / n_entries / ceiling,
        ceiling_unit="us/entry",
        note="the ratio is how much CPU the ledger spends per entry beyond the signatures",
    )
    res.add(
        "verify",
        "CPU time per entry, Ledger.verify(jobs=2), workers included (diagnostic)",
        cpu2 / n_entries * 1e6,
        "us/entry",
        ceiling=cpu1 / n_entries * 1e6,
        ceiling_unit="us/entry",
        note="ceiling: the one-process CPU time; the ratio is the cost of parallelism",
    )
    res.extra["verify_runs_s"] = {
        "jobs1": runs1,
        "jobs2": runs2,
        "nacl": nacl_runs,
        "cryptography": crypto_s,
        "bare": bare_s,
        "nacl_2proc": two_s,
    }
    return ceiling


# ---------------------------------------------------------------------------------------
# Bulk import and single appends


def _fresh_ledger(path: Path, genesis: Record) -> Ledger:
    """A new ledger holding the same (pre-signed) genesis entry as the source."""
    ledgers.remove_db(path)
    store = Store.create(str(path))
    store.append([SignedEntry.from_wire(genesis.entry_bytes)], now=genesis.time)
    return Ledger(store)


def import_batches(records: list[Record], max_batch: int, window_ms: int) -> list[list[Record]]:
    """Consecutive records, at most ``max_batch`` per batch, spanning at most ``window_ms``.

    Each batch is appended at the time of its last record: entries keep their signed times
    and the rules see an append time at most ``window_ms`` later than the simulator's,
    well inside the 30-day bounds on a claimed time's age (R-TM-4) and on offers. A batch
    a deadline still catches is re-appended as the simulator's own batches (counted).
    The simulated ledgers hold ~25 (10k) to ~190 (100k) entries per synthetic day, so a
    one-hour window would measure fsync per transaction rather than validation.
    """
    batches: list[list[Record]] = []
    batch: list[Record] = []
    for r in records:
        if batch and (len(batch) >= max_batch or r.time - batch[0].time > window_ms):
            batches.append(batch)
            batch = []
        batch.append(r)
    if batch:
        batches.append(batch)
    return batches


def _original_groups(batch: list[Record]) -> Iterator[list[Record]]:
    """The simulator's own append batches: consecutive records with the same time."""
    group: list[Record] = []
    for r in batch:
        if group and r.time != group[0].time:
            yield group
            group = []
        group.append(r)
    if group:
        yield group


def section_import(res: Results, data: LedgerData, ceiling: float, max_batch: int) -> None:
    records = [Record.from_wire(raw) for raw in data.raws]
    batches = import_batches(records[1:], max_batch, IMPORT_WINDOW_MS)
    target = ledgers.workdir() / "import.db"
    led = _fresh_ledger(target, records[0])
    fallbacks = 0

    def run() -> None:
        nonlocal fallbacks
        for batch in batches:
            entries = [SignedEntry.from_wire(r.entry_bytes) for r in batch]
            try:
                led.append(entries, now=batch[-1].time)
            except LedgerError:
                # Merging the simulator's batches moved an append time past a deadline:
                # append this stretch exactly as the simulator did.
                fallbacks += 1
                for group in _original_groups(batch):
                    led.append(
                        [SignedEntry.from_wire(r.entry_bytes) for r in group], now=group[-1].time
                    )

    try:
        seconds, _ = timed(run)
        if led.size() != len(records):
            raise RuntimeError(f"imported {led.size()} of {len(records)} records")
    finally:
        led.close()
        ledgers.remove_db(target)
    n_entries = len(records) - 1
    n_sigs = sum(len(SignedEntry.from_wire(r.entry_bytes).sigs) for r in records[1:])
    res.add(
        "import",
        f"bulk import, full validation, {n_entries / 1000:,.0f}k entries",
        n_sigs / seconds,
        "sig/s",
        ceiling=ceiling,
        ceiling_unit="sig/s",
        target=(">=", 0.75),
        note=f"{n_entries / seconds:,.0f} entries/s, {len(batches)} transactions "
        f"(<= {max_batch} entries, <= {IMPORT_WINDOW_MS // HOUR_MS} h), {fallbacks} re-split",
    )


_RAW_TABLE = (
    "CREATE TABLE records (idx INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, "
    "hash BLOB NOT NULL, time INTEGER NOT NULL, type TEXT NOT NULL, "
    "record BLOB NOT NULL, json TEXT NOT NULL)"
)
_RAW_INSERT = "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)"


def _raw_db(path: Path, *, autocheckpoint: bool = True) -> sqlite3.Connection:
    """A records-shaped table (the ledger's columns) in WAL mode with synchronous=FULL."""
    ledgers.remove_db(path)
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    if not autocheckpoint:
        conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(_RAW_TABLE)
    return conn


def raw_commit_per_row(path: Path, rows: list[tuple[Any, ...]]) -> float:
    """Seconds to insert ``rows`` into a records-shaped table, one transaction each."""
    conn = _raw_db(path)
    try:

        def run() -> None:
            for row in rows:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(_RAW_INSERT, row)
                conn.execute("COMMIT")

        seconds, _ = timed(run)
    finally:
        conn.close()
        ledgers.remove_db(path)
    return seconds


def _wal_size(path: Path) -> int:
    wal = Path(str(path) + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def wal_bytes_per_commit(
    work: Path, rows: list[tuple[Any, ...]], records: list[Record], entries: list[SignedEntry]
) -> tuple[float, float]:
    """WAL bytes one durable commit writes: raw row, ledger single append (untimed probe).

    Checkpoints are off during the probe so that the WAL only grows.
    """
    path = work / "wal-probe.db"
    conn = _raw_db(path, autocheckpoint=False)
    try:
        for row in rows:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(_RAW_INSERT, row)
            conn.execute("COMMIT")
        raw = _wal_size(path) / len(rows)
    finally:
        conn.close()
        ledgers.remove_db(path)
    led = _fresh_ledger(path, records[0])
    try:
        led.store.conn.execute("PRAGMA wal_autocheckpoint=0")
        before = _wal_size(path)
        for r, e in zip(records[1:], entries, strict=True):
            led.append([e], now=r.time)
        ours = (_wal_size(path) - before) / len(entries)
    finally:
        led.close()
        ledgers.remove_db(path)
    return raw, ours


def section_append(res: Results, data: LedgerData, count: int) -> None:
    records = [Record.from_wire(raw) for raw in data.raws[: count + 1]]
    entries = [SignedEntry.from_wire(r.entry_bytes) for r in records[1:]]
    rows = [
        (
            r.index,
            e.id,
            r.hash,
            r.time,
            e.type,
            r.raw,
            json.dumps(entry_to_json(e), separators=(",", ":")),
        )
        for r, e in zip(records[1:], entries, strict=True)
    ]
    work = ledgers.workdir()
    raw_runs = [raw_commit_per_row(work / "raw-commit.db", rows)]
    target = work / "single.db"
    led = _fresh_ledger(target, records[0])  # synchronous=FULL, as Ledger.open

    def run() -> None:
        for r, e in zip(records[1:], entries, strict=True):
            led.append([e], now=r.time)

    try:
        seconds, _ = timed(run)
        # Same entries at the same times: the very same records, so the same tree.
        source = Store.open(str(data.path))
        try:
            same = source.root(len(records)) == led.store.root(len(records))
        finally:
            source.close()
        if not same:
            raise RuntimeError("single appends did not reproduce the source records")
    finally:
        led.close()
        ledgers.remove_db(target)
    raw_runs.append(raw_commit_per_row(work / "raw-commit.db", rows))
    raw_rate = count / min(raw_runs)
    res.add(
        "append",
        "raw SQLite commit per row (WAL, synchronous=FULL)",
        raw_rate,
        "row/s",
        note=f"best of {len(raw_runs)}, {count:,} rows",
    )
    res.add(
        "append",
        "durable single appends (1 transaction each, synchronous=FULL)",
        count / seconds,
        "entry/s",
        ceiling=raw_rate,
        ceiling_unit="row/s",
        target=(">=", 0.8),
        note=f"{count:,} entries, {seconds * 1000 / count:.2f} ms each",
    )
    probe = min(count, 300)
    raw_wal, ours_wal = wal_bytes_per_commit(
        work, rows[:probe], records[: probe + 1], entries[:probe]
    )
    res.add(
        "append",
        "WAL bytes written per durable commit, single append",
        ours_wal,
        "B",
        ceiling=raw_wal,
        ceiling_unit="B",
        note=f"ceiling: the raw row; {probe} commits, checkpoints off (diagnostic)",
    )


# ---------------------------------------------------------------------------------------
# The state map's costs (issue 16): the same operations with and without the map


class _NoMapUpdate:
    """Stands in for ``map_tables.MapUpdate``: the append without the state map."""

    def __init__(self, *_: Any) -> None:
        self.nodes_written: dict[bytes, bytes] = {}
        self.leaves: dict[bytes, tuple[str, str, bytes, int]] = {}
        self.encoded: dict[tuple[str, str], tuple[int, bytes]] = {}

    def record(self, *_: Any) -> None:
        pass

    def write(self, size: int) -> bytes:
        return statemap.EMPTY


@contextlib.contextmanager
def without_map() -> Iterator[None]:
    """Appends and verify with the state map's work taken out (nothing else changes): no
    map update or table rows on append; no replayed map, root or table comparison on
    verify. Only for measuring what the map costs."""
    saved = map_tables.MapUpdate
    # verify's flag, not stubbed MemoryMap methods: the compiled core calls those directly.
    map_tables.MapUpdate = _NoMapUpdate  # type: ignore[assignment,misc]
    verify_mod.CHECK_STATE_MAP = False
    try:
        yield
    finally:
        map_tables.MapUpdate = saved  # type: ignore[misc]
        verify_mod.CHECK_STATE_MAP = True


def _single_appends(
    work: Path, records: list[Record], entries: list[SignedEntry]
) -> tuple[float, float, float]:
    """Durable single appends of ``entries`` into a fresh ledger: wall seconds, CPU
    seconds, WAL bytes per commit (checkpoints off)."""
    path = work / "map-append.db"
    led = _fresh_ledger(path, records[0])
    try:
        led.store.conn.execute("PRAGMA wal_autocheckpoint=0")
        before = _wal_size(path)
        cpu = time.process_time()
        seconds, _ = timed(
            lambda: [led.append([e], now=r.time) for r, e in zip(records[1:], entries, strict=True)]
        )
        cpu = time.process_time() - cpu
        wal = (_wal_size(path) - before) / len(entries)
    finally:
        led.close()
        ledgers.remove_db(path)
    return seconds, cpu, wal


def _verify_seconds(path: Path) -> float:
    led = Ledger.open(str(path))
    try:
        seconds, _ = timed(led.verify)
    finally:
        led.close()
    return seconds


def map_proof_sizes(keys: int, n_proofs: int) -> tuple[list[int], float]:
    """Encoded bytes of ``n_proofs`` present-key proofs in a map of ``keys`` keys (as
    ``prove`` puts them in a bundle), and the seconds building the map took."""
    m = statemap.MemoryMap()
    names = [("stone", f"ST-{i:08d}") for i in range(keys)]
    hashes = sorted((statemap.key_hash(k, n), k, n) for k, n in names)

    def build() -> None:
        for i, (kh, _, _) in enumerate(hashes):
            m.set(kh, hashlib.sha256(kh).digest(), i)  # in key-hash order: appends
        m.root()

    seconds, _ = timed(build)
    rng = random.Random(16)  # noqa: S311 - benchmark sampling
    sizes = []
    for kind, name in rng.sample(names, n_proofs):
        proof = m.prove(kind, name)
        statemap.verify_proof(proof, m.root())
        sizes.append(len(encode(proof.to_wire())))
    return sizes, seconds


def section_map(
    res: Results, data: LedgerData, verify_path: Path, count: int, keys: int, repeat: int
) -> None:
    records = [Record.from_wire(raw) for raw in data.raws[: count + 1]]
    entries = [SignedEntry.from_wire(r.entry_bytes) for r in records[1:]]
    work = ledgers.workdir()
    runs: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
    for _ in range(repeat):  # interleaved: the machine's load hits both alike
        runs[True].append(_single_appends(work, records, entries))
        with without_map():
            runs[False].append(_single_appends(work, records, entries))
    med = {k: tuple(statistics.median(r[i] for r in v) for i in range(3)) for k, v in runs.items()}
    res.add(
        "map",
        "durable single appends without the state map",
        count / med[False][0],
        "entry/s",
        note=f"{count:,} entries, median of {repeat}, interleaved with the next row",
    )
    res.add(
        "map",
        "durable single append time with the map / without",
        med[True][0] / med[False][0],
        "x",
        ratio=med[True][0] / med[False][0],
        target=("<=", 1.15),
        note=f"{med[True][0] * 1000 / count:.2f} ms vs {med[False][0] * 1000 / count:.2f} ms "
        "per append",
    )
    res.add(
        "map",
        "CPU time per single append with the map / without (diagnostic)",
        med[True][1] / med[False][1],
        "x",
        ratio=med[True][1] / med[False][1],
        note=f"{med[True][1] * 1e6 / count:.0f} us vs {med[False][1] * 1e6 / count:.0f} us",
    )
    res.add(
        "map",
        "WAL bytes per durable commit with the map / without (diagnostic)",
        med[True][2] / med[False][2],
        "x",
        ratio=med[True][2] / med[False][2],
        note=f"{med[True][2] / 1024:.1f} KiB vs {med[False][2] / 1024:.1f} KiB, checkpoints off",
    )
    with_map: list[float] = []
    no_map: list[float] = []
    for _ in range(repeat):
        with_map.append(_verify_seconds(verify_path))
        with without_map():
            no_map.append(_verify_seconds(verify_path))
    size = Store.open(str(verify_path))
    try:
        n = size.size()
    finally:
        size.close()
    a, b = statistics.median(with_map), statistics.median(no_map)
    res.add(
        "map",
        f"Ledger.verify() {_k(n)} entries, time with the map / without",
        a / b,
        "x",
        ratio=a / b,
        target=("<=", 1.2),
        note=f"{a:.2f} s vs {b:.2f} s, median of {repeat}, interleaved",
    )
    sizes, build_s = map_proof_sizes(keys, 200)
    label = f"{keys / 1e6:g}M" if keys >= 1_000_000 else f"{keys / 1000:g}k"
    res.add(
        "map",
        f"state-map proof bytes at {label} keys (largest of 200)",
        max(sizes),
        "B",
        ratio=max(sizes) / 1024,
        target=("<=", 1.0),
        note=f"median {statistics.median(sizes):.0f} B; ratio: KiB; map built in memory in "
        f"{build_s:.0f} s",
    )


# ---------------------------------------------------------------------------------------
# Merkle tiles against pymerkle


class _DictTiles:
    """An in-memory tile store (pymerkle's InmemoryTree keeps its tree in memory too)."""

    def __init__(self) -> None:
        self.tiles: dict[tuple[int, int], bytes] = {}

    def read_tiles(self, keys: Any) -> dict[tuple[int, int], bytes]:
        return {k: self.tiles[k] for k in keys if k in self.tiles}


def raw_sha256_tree(data: list[bytes]) -> bytes:
    """The RFC 6962 root of ``data`` with bare hashlib: every leaf hash, then every node
    hash level by level (an odd last hash is carried up), nothing stored: the raw cost of
    the hashes ``append_to_tiles`` computes."""
    sha = hashlib.sha256
    level = [sha(b"\x00" + d).digest() for d in data]
    while len(level) > 1:
        nxt = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0] if level else sha(b"").digest()


def section_merkle(res: Results, leaves: int, n_proofs: int, batch: int) -> None:
    data = [i.to_bytes(32, "big") for i in range(leaves)]
    rng = random.Random(42)  # noqa: S311 - benchmark sampling, not cryptography
    picks = [rng.randrange(leaves) for _ in range(n_proofs)]
    size_label = f"{leaves / 1e6:g}M" if leaves >= 1_000_000 else f"{leaves / 1000:g}k"

    store = _DictTiles()
    # Like pymerkle's tree, which keeps every node it hashed, the append keeps the levels
    # of the tiles it completes (a TileCache large enough for the whole tree).
    built = tiles.TileCache(max_tiles=2 * (leaves // tiles.TILE_WIDTH) + 64)

    def ours_append() -> None:
        size = 0
        leaf_hash = merkle.leaf_hash
        for off in range(0, leaves, batch):
            hashes = [leaf_hash(d) for d in data[off : off + batch]]
            store.tiles.update(tiles.append_to_tiles(size, hashes, store, cache=built))
            size += len(hashes)

    append_s, _ = timed(ours_append)
    raw_s, raw_root = timed(lambda: raw_sha256_tree(data))
    cache = tiles.TileCache()
    root = merkle.tree_root(leaves, tiles.TileHashReader(store, leaves, cache=cache))
    raw_rate = leaves / raw_s
    res.add(
        "merkle",
        f"raw SHA-256 of the same leaf and node hashes, {size_label} leaves",
        raw_rate,
        "leaf/s",
        note="hashlib, one loop: every leaf hash and every node hash of the tree, no storage",
    )
    if raw_root != root:
        raise RuntimeError("the raw SHA-256 tree and the tiles disagree on the root")

    single_n = min(leaves, 200_000)
    single = _DictTiles()

    def ours_single() -> None:
        leaf_hash = merkle.leaf_hash
        for i in range(single_n):
            single.tiles.update(tiles.append_to_tiles(i, [leaf_hash(data[i])], single))

    single_s, _ = timed(ours_single)
    single.tiles.clear()
    res.add(
        "merkle",
        f"tiles append_to_tiles, {size_label} leaves (ceiling: raw SHA-256)",
        leaves / append_s,
        "leaf/s",
        ceiling=raw_rate,
        ceiling_unit="leaf/s",
        target=(">=", 0.8),
        note=f"batches of {batch}, leaf hashing included",
    )
    res.add(
        "merkle",
        "tiles append_to_tiles, one leaf per call (ceiling: raw SHA-256)",
        single_n / single_s,
        "leaf/s",
        ceiling=raw_rate,
        ceiling_unit="leaf/s",
        target=(">=", 0.5),
        note=f"{single_n:,} leaves",
    )

    def ours_proofs(cache: tiles.TileCache) -> list[list[bytes]]:
        return [
            merkle.inclusion_proof(i, leaves, tiles.TileHashReader(store, leaves, cache=cache))
            for i in picks
        ]

    proofs_s, ours = timed(lambda: ours_proofs(built))  # the tree as the append left it
    for i, proof in list(zip(picks, ours, strict=True))[:100]:
        merkle.verify_inclusion(merkle.leaf_hash(data[i]), i, leaves, proof, root)
    del ours
    built = tiles.TileCache()  # frees the append's levels
    cold = tiles.TileCache()  # a reader starting from stored tiles: each hashed on first use
    cold_s, _ = timed(lambda: ours_proofs(cold))
    warm_s, _ = timed(lambda: ours_proofs(cold))

    try:
        from pymerkle import InmemoryTree
        from pymerkle import verify_inclusion as pm_verify
    except ImportError:
        res.add(
            "merkle",
            f"tiles append, {size_label} leaves",
            leaves / append_s,
            "leaf/s",
            note="pymerkle not installed: .venv/bin/pip install pymerkle",
        )
        res.add(
            "merkle",
            f"tiles inclusion proof, {size_label} leaves",
            n_proofs / proofs_s,
            "proof/s",
            note="pymerkle not installed, no ceiling",
        )
        return

    tree = InmemoryTree(algorithm="sha256")

    def theirs_append() -> None:
        append = tree.append_entry
        for d in data:
            append(d)

    pm_append_s, _ = timed(theirs_append)
    if tree.get_root() != root:
        raise RuntimeError("pymerkle and kpledger disagree on the root")

    def theirs_proofs() -> list[Any]:
        return [tree.prove_inclusion(i + 1) for i in picks]  # pymerkle counts from 1

    pm_proofs_s, theirs = timed(theirs_proofs)
    for i, proof in list(zip(picks, theirs, strict=True))[:100]:
        pm_verify(tree.get_leaf(i + 1), root, proof)
    del theirs

    pm_append = leaves / pm_append_s
    pm_proofs = n_proofs / pm_proofs_s
    res.add("merkle", f"pymerkle InmemoryTree append, {size_label} leaves", pm_append, "leaf/s")
    res.add(
        "merkle",
        f"tiles append_to_tiles, {size_label} leaves",
        leaves / append_s,
        "leaf/s",
        ceiling=pm_append,
        ceiling_unit="leaf/s",
        note=f"peer row; batches of {batch}, leaf hashing included",
    )
    res.add(
        "merkle",
        "tiles append_to_tiles, one leaf per call",
        single_n / single_s,
        "leaf/s",
        ceiling=pm_append,
        ceiling_unit="leaf/s",
        note=f"{single_n:,} leaves",
    )
    res.add(
        "merkle",
        f"pymerkle prove_inclusion, {size_label} leaves",
        pm_proofs,
        "proof/s",
        note=f"{n_proofs:,} random leaves",
    )
    res.add(
        "merkle",
        f"tiles inclusion_proof, {size_label} leaves",
        n_proofs / proofs_s,
        "proof/s",
        ceiling=pm_proofs,
        ceiling_unit="proof/s",
        target=(">=", 8),
        note="over the tiles and the TileCache the append filled, as pymerkle's tree",
    )
    res.add(
        "merkle",
        "tiles inclusion_proof, cold TileCache",
        n_proofs / cold_s,
        "proof/s",
        ceiling=pm_proofs,
        ceiling_unit="proof/s",
        target=(">=", 8),
        note="empty cache, as a freshly started process: every tile read and its 254 inner "
        "hashes computed on first use",
    )
    res.add(
        "merkle",
        "tiles inclusion_proof, warm TileCache (diagnostic)",
        n_proofs / warm_s,
        "proof/s",
        ceiling=pm_proofs,
        ceiling_unit="proof/s",
        note="the same leaves again",
    )


# ---------------------------------------------------------------------------------------
# Provenance proofs in a small and a large ledger


def _depths(led: Ledger) -> Callable[[bytes], int]:
    memo: dict[bytes, int] = {}

    def depth(eid: bytes) -> int:
        """Edges on the longest parent path from ``eid`` back to an origin."""
        if eid not in memo:
            parents = rules.entry_parents(led.entry(eid)[1])
            memo[eid] = 1 + max(depth(p) for p in parents) if parents else 0
        return memo[eid]

    return depth


def _dag_size(led: Ledger, head: bytes) -> int:
    seen: set[bytes] = set()
    todo = [head]
    while todo:
        eid = todo.pop()
        if eid not in seen:
            seen.add(eid)
            todo.extend(rules.entry_parents(led.entry(eid)[1]))
    return len(seen)


def _bundle_records(led: Ledger, stone: str) -> int:
    return len(proofs.Bundle.decode(led.prove(stone)).records)


def find_stone(
    path: Path, hops: int, records: int | None = None, scan: int = 4000
) -> tuple[str, int, int]:
    """A polished stone whose ancestry is ``hops`` entries deep, with the smallest DAG (a
    plain chain of ``hops + 1`` entries if there is one); with ``records``, the first plain
    chain whose bundle carries that many records.

    Returns ``(stone id, entries in its ancestry DAG, records in its bundle)``. The records
    a bundle carries besides the chain (the parties, keys, KP statuses and certificates its
    policy needs) vary from 18 to 28 between stones of the same shape in either ledger: the
    proof-cost ratio compares bundles of one shape, so that it measures the ledger's size.
    """
    led = Ledger.open(str(path))
    try:
        depth = _depths(led)
        best: tuple[int, str] | None = None
        stones = [(k, p) for k, p in led.store.state_items("parcel") if p["kind"] == "polished"]
        for pid, p in stones[:scan]:
            if depth(p["head"]) != hops:
                continue
            dag = _dag_size(led, p["head"])
            if records is not None:
                if dag == hops + 1 and _bundle_records(led, pid) == records:
                    return pid, dag, records
                continue
            if best is None or dag < best[0]:
                best = (dag, pid)
            if dag == hops + 1:
                break
        if best is None:
            wanted = "" if records is None else f" (plain chain, {records} bundle records)"
            raise RuntimeError(
                f"no stone {hops} hops deep{wanted} among {scan} stones of {path.name}"
            )
        found = _bundle_records(led, best[1])
    finally:
        led.close()
    return best[1], best[0], found


def prove_once(path: Path, stone: str) -> tuple[float, float, bytes]:
    """Seconds of ``prove`` (a freshly opened ledger, as the CLI does) and of
    ``verify_bundle``, and the bundle."""
    gc.collect()
    t0 = time.perf_counter()
    led = Ledger.open(str(path))
    try:
        bundle = led.prove(stone)
        verifier = led.verifier()
    finally:
        led.close()
    t1 = time.perf_counter()
    report = proofs.verify_bundle(bundle, verifier)
    t2 = time.perf_counter()
    if report.item != stone:
        raise RuntimeError("the bundle is for another item")
    return t1 - t0, t2 - t1, bundle


def bundle_info(bundle: bytes) -> dict[str, Any]:
    decoded = proofs.Bundle.decode(bundle)
    return {
        "bundle_bytes": len(bundle),
        "bundle_records": len(decoded.records),
        "proof_hashes": sum(len(r.proof) for r in decoded.records),
        "last_index": decoded.records[-1].index,
    }


def section_proofs(res: Results, small: Path, large: Path, hops: int, repeat: int) -> None:
    out: dict[str, dict[str, Any]] = {}
    records: int | None = None
    for label, path in (("small", small), ("large", large)):
        ledgers.ensure_checkpoint(path)
        stone, dag, records = find_stone(path, hops, records)
        led = Ledger.open(str(path))
        try:
            size = led.size()
        finally:
            led.close()
        out[label] = {"stone": stone, "dag_entries": dag, "ledger_entries": size}
    # Interleaved, so that a burst of load from other processes hits both sizes alike.
    runs: dict[str, list[tuple[float, float]]] = {"small": [], "large": []}
    for _ in range(repeat):
        for label, path in (("small", small), ("large", large)):
            prove_s, verify_s, bundle = prove_once(path, out[label]["stone"])
            runs[label].append((prove_s, verify_s))
            out[label].update(bundle_info(bundle))
    for label, times in runs.items():
        out[label]["prove_s"] = statistics.median(t[0] for t in times)
        out[label]["verify_s"] = statistics.median(t[1] for t in times)
        out[label]["total_s"] = statistics.median(t[0] + t[1] for t in times)
    res.extra["proofs"] = out
    s, lg = out["small"], out["large"]
    s_n, l_n = _k(s["ledger_entries"]), _k(lg["ledger_entries"])
    for info in (s, lg):
        res.add(
            "proofs",
            f"prove + verify_bundle, {_k(info['ledger_entries'])} ledger",
            info["total_s"],
            "s",
            note=f"{info['stone']}, {hops} hops, DAG {info['dag_entries']} entries, "
            f"{info['bundle_records']} bundle records; prove "
            f"{info['prove_s'] * 1000:.1f} ms + verify {info['verify_s'] * 1000:.1f} ms; "
            f"median of {repeat}, interleaved",
        )
        res.add(
            "proofs",
            f"bundle bytes, {_k(info['ledger_entries'])} ledger",
            info["bundle_bytes"],
            "B",
            note=f"{info['bundle_records']} records, {info['proof_hashes']} proof hashes",
        )
    proxy = "" if lg["ledger_entries"] >= 900_000 else "; proxy: the target is 1M vs 10k"
    res.add(
        "proofs",
        "prove alone, large / small",
        lg["prove_s"] / s["prove_s"],
        "x",
        ratio=lg["prove_s"] / s["prove_s"],
    )
    res.add(
        "proofs",
        "verify_bundle alone, large / small",
        lg["verify_s"] / s["verify_s"],
        "x",
        ratio=lg["verify_s"] / s["verify_s"],
    )
    res.add(
        "proofs",
        f"proof cost {l_n} / {s_n}",
        lg["total_s"] / s["total_s"],
        "x",
        ratio=lg["total_s"] / s["total_s"],
        target=("<=", 1.5),
        note=proxy.lstrip("; "),
    )
    res.add(
        "proofs",
        f"bundle bytes {l_n} / {s_n}",
        lg["bundle_bytes"] / s["bundle_bytes"],
        "x",
        ratio=lg["bundle_bytes"] / s["bundle_bytes"],
        note="log2 of the tree sizes: "
        f"{_log2(lg['ledger_entries']):.1f} / {_log2(s['ledger_entries']):.1f}",
    )


#: Browsers started for the first-run figure: one sample of a cold start varies twofold
#: on a loaded 2-CPU machine (110 to 212 ms in four runs of the same code).
FRESH_BROWSERS = 7


def section_browser(res: Results) -> None:
    exe, node = browser_speed.find_chromium(), shutil.which("node")
    if exe is None or node is None:
        log("browser: skipped, chromium or node is not installed")
        return
    build = [node, "web/build.mjs"]
    subprocess.run(build, cwd=ledgers.ROOT, check=True, capture_output=True)  # noqa: S603
    r = browser_speed.run(exe, fresh=FRESH_BROWSERS)
    res.extra["browser"] = r
    if r["verdict"] != "valid":
        raise RuntimeError(f"the browser verifier says {r['verdict']} ({r['failure']})")
    target = browser_speed.TARGET_MS / 1000
    note = f"{r['hops']} hops, {r['bundle_bytes']:,} B; headless Chromium, network off"
    res.add(
        "browser",
        "verify.html kpVerify, 10-hop bundle, median",
        r["median_ms"] / 1000,
        "s",
        ceiling=target,
        target=("<=", 1.0),
        note=f"{note}; median of {r['runs']} after the first; ceiling: the 200 ms target",
    )
    res.add(
        "browser",
        "verify.html kpVerify, 10-hop bundle, first run in a fresh browser",
        r["first_ms"] / 1000,
        "s",
        ceiling=target,
        target=("<=", 1.0),
        note="cold: JIT and the Ed25519 tables; what a buyer opening a report waits; median of "
        f"{len(r['first_all'])} browsers each started with an empty profile, "
        f"{min(r['first_all']):.1f} to {max(r['first_all']):.1f} ms",
    )


def _k(n: int) -> str:
    return f"{n / 1e6:.2g}M" if n >= 1_000_000 else f"{n / 1000:.0f}k"


def _log2(n: int) -> float:
    return float(n.bit_length() - 1)


# ---------------------------------------------------------------------------------------
# Peak memory of kpledger verify, and file sizes


def _kpledger_argv() -> list[str]:
    script = Path(sys.executable).with_name("kpledger")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from cli.app import run; run()"]


def peak_rss(args: list[str]) -> dict[str, Any]:
    """Run ``kpledger ARGS`` under ``bench.rss``: wall time, peak RSS and stdout.

    ``bench.rss`` is a small process whose only child is kpledger, so its
    ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is kpledger's own peak, not this process's.
    """
    work = ledgers.workdir()
    report, out_path, err_path = work / "rss.json", work / "kpledger.out", work / "kpledger.err"
    argv = [sys.executable, "-m", "bench.rss", str(report), "--", *_kpledger_argv(), *args]
    with out_path.open("wb") as out_f, err_path.open("wb") as err_f:
        code = subprocess.call(argv, stdout=out_f, stderr=err_f, cwd=ledgers.ROOT)  # noqa: S603
    info: dict[str, Any] = json.loads(report.read_text()) if code == 0 else {"returncode": code}
    if info["returncode"] != 0:
        raise RuntimeError(f"kpledger {' '.join(args)} failed: {err_path.read_text()[-500:]}")
    info["output"] = out_path.read_text().strip()
    return info


def cli_verify(path: Path, jobs: int = 1) -> dict[str, Any]:
    """``kpledger verify`` of ``path`` in a child process: wall time and peak RSS."""
    info = peak_rss(["--quiet", "--ledger", str(path), "verify", "--jobs", str(jobs)])
    if not info["output"].startswith("valid"):
        raise RuntimeError(f"kpledger verify: {info['output'][:200]}")
    return info


def section_rss(res: Results, small: Path, large: Path) -> None:
    out = {}
    for label, path in (("small", small), ("large", large)):
        store = Store.open(str(path))
        try:
            n = store.size()
        finally:
            store.close()
        info = cli_verify(path) | {"entries": n}
        out[label] = info
        res.add(
            "rss",
            f"kpledger verify {_k(n)}: peak RSS",
            info["maxrss_kib"] * 1024,
            "B",
            note=f"{info['seconds']:.1f} s wall, {n / info['seconds']:,.0f} entries/s "
            "incl. start-up",
        )
    n = out["large"]["entries"]
    par = cli_verify(large, jobs=2) | {"entries": n}
    out["large_jobs2"] = par
    res.add(
        "rss",
        f"kpledger verify --jobs 2 {_k(n)}: peak RSS (the largest process)",
        par["maxrss_kib"] * 1024,
        "B",
        note=f"{par['seconds']:.1f} s wall, {n / par['seconds']:,.0f} entries/s incl. start-up",
    )
    base = peak_rss(["--version"])
    res.add(
        "rss", "kpledger --version: peak RSS (start-up, imports)", base["maxrss_kib"] * 1024, "B"
    )
    out["startup"] = base
    res.extra["rss"] = out
    ratio = out["large"]["maxrss_kib"] / out["small"]["maxrss_kib"]
    proxy = "" if out["large"]["entries"] >= 900_000 else "proxy: the target is 1M vs 100k"
    res.add(
        "rss",
        f"peak RSS {_k(out['large']['entries'])} / {_k(out['small']['entries'])}",
        ratio,
        "x",
        ratio=ratio,
        target=("<=", 1.3),
        note=proxy,
    )


def section_size(res: Results, paths: list[tuple[Path, dict[str, Any]]]) -> None:
    out = []
    for path, meta in paths:
        store = Store.open(str(path))
        try:
            n = store.size()
            tables = _table_bytes(store.conn)
        finally:
            store.close()
        total = ledgers.file_bytes(path)
        out.append(
            {
                "path": str(path),
                "entries": n,
                "bytes": total,
                "tables": tables,
                "simulate_s": meta["seconds"],
                "simulate_entries_per_s": meta["entries_per_s"],
                "simulate_loadavg": meta["loadavg_after"],
            }
        )
        res.add(
            "size",
            f"ledger file, {_k(n)} entries",
            total / n,
            "B/entry",
            note=f"{total / 2**20:,.1f} MiB; simulated at {meta['entries_per_s']:,.0f} "
            f"entries/s ({meta['seconds']:.0f} s)",
        )
    big = max(out, key=lambda o: o["entries"])
    per_entry = big["bytes"] / big["entries"]
    res.add(
        "size",
        "extrapolated file size at 100M entries",
        per_entry * 1e8,
        "B",
        note=f"at {per_entry:.0f} B/entry of the {_k(big['entries'])} ledger",
    )
    res.extra["size"] = out
    hours = 1e8 / big["simulate_entries_per_s"] / 3600
    res.add(
        "size",
        "extrapolated simulation of 100M entries",
        hours * 3600,
        "s",
        note=f"{hours:.0f} h at the {_k(big['entries'])} ledger's "
        f"{big['simulate_entries_per_s']:,.0f} entries/s",
    )
    rss = res.extra.get("rss", {})
    if "small" in rss and "large" in rss:
        lo, hi = rss["small"], rss["large"]
        rate = hi["entries"] / hi["seconds"]
        res.add(
            "size",
            "extrapolated kpledger verify of 100M entries",
            1e8 / rate,
            "s",
            note=f"{1e8 / rate / 3600:.1f} h at the {_k(hi['entries'])} run's {rate:,.0f} "
            "entries/s",
        )
        if "large_jobs2" in rss:
            par = rss["large_jobs2"]
            rate2 = par["entries"] / par["seconds"]
            res.add(
                "size",
                "extrapolated kpledger verify --jobs 2 of 100M entries",
                1e8 / rate2,
                "s",
                note=f"{1e8 / rate2 / 3600:.1f} h at the {_k(par['entries'])} run's "
                f"{rate2:,.0f} entries/s",
            )
        slope = (hi["maxrss_kib"] - lo["maxrss_kib"]) * 1024 / (hi["entries"] - lo["entries"])
        peak = hi["maxrss_kib"] * 1024 + slope * (1e8 - hi["entries"])
        res.add(
            "size",
            "extrapolated peak RSS of kpledger verify at 100M entries",
            peak,
            "B",
            note=f"linear through {_k(lo['entries'])} and {_k(hi['entries'])}: "
            f"{slope:,.0f} B per entry",
        )


def _table_bytes(conn: sqlite3.Connection) -> dict[str, int]:
    """Bytes per table and index (SQLite's dbstat), if this SQLite has it."""
    try:
        rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.Error:
        return {}
    return {str(name): int(size) for name, size in sorted(rows, key=lambda r: -r[1])}


# ---------------------------------------------------------------------------------------
# Main


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pynacl": nacl.__version__,
        "libsodium": "bundled with PyNaCl",
        "cryptography": cryptography_version,
        "msgpack": ".".join(map(str, msgpack.version)),
        "sqlite": sqlite3.sqlite_version,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--scale", action="store_true", help="add the 1M-entry ledger")
    parser.add_argument("--out", default="bench/results.json", help="JSON results file")
    parser.add_argument(
        "--readme",
        help="also replace the results block (results-quick with --quick) of this README",
    )
    parser.add_argument(
        "--render",
        metavar="JSON",
        help="measure nothing: print (and with --readme, write) the table of a results file",
    )
    parser.add_argument("--only", help=f"comma-separated sections of {','.join(SECTIONS)}")
    parser.add_argument(
        "--reuse-ledgers",
        action="store_true",
        help="reuse cached ledgers built by other library code (default: rebuild)",
    )
    args = parser.parse_args(argv)
    if args.render:
        return render(Path(args.render), Path(args.readme) if args.readme else None)
    only = set(args.only.split(",")) if args.only else set(SECTIONS)
    if only - set(SECTIONS):
        parser.error(f"unknown section(s): {', '.join(sorted(only - set(SECTIONS)))}")

    quick = args.quick
    mode = "quick" if quick else "default"
    if args.scale:
        mode += "+scale"
    res = Results(mode)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    load_start = os.getloadavg()
    log(f"bench mode {mode}; work directory {ledgers.workdir()}")

    main_entries = 10_000 if quick else 100_000
    main_path, main_meta = ledgers.build(main_entries, reuse=args.reuse_ledgers)
    small_path, small_meta = ledgers.build(10_000, reuse=args.reuse_ledgers)
    mid_path, mid_meta = (
        ledgers.build(100_000, reuse=args.reuse_ledgers)
        if {"proofs", "rss", "size"} & only
        else (None, {})
    )
    big_path, big_meta = (
        ledgers.build(1_000_000, reuse=args.reuse_ledgers) if args.scale else (None, {})
    )
    built = {"main": main_meta, "small": small_meta, "mid": mid_meta, "big": big_meta}
    res.extra["ledgers"] = {k: v for k, v in built.items() if v}

    data = load_ledger(main_path) if {"verify", "import", "append", "map"} & only else None
    ceiling = 0.0
    if data is not None:
        if "verify" in only or "import" in only:
            ceiling = (
                section_verify(res, data, repeat=1)
                if "verify" in only
                else (len(data.sigs) / timed(lambda: raw_nacl(data.sigs))[0])
            )
        if "import" in only:
            section_import(res, data, ceiling, max_batch=1000)
        if "append" in only:
            section_append(res, data, count=500 if quick else 2000)
        if "map" in only:
            section_map(
                res,
                data,
                small_path,
                count=500 if quick else 1000,
                keys=100_000 if quick else 1_000_000,
                repeat=3,
            )
        del data
    if "merkle" in only:
        section_merkle(
            res,
            leaves=100_000 if quick else 1_000_000,
            n_proofs=5_000 if quick else 20_000,
            batch=1000,
        )
    large = big_path or mid_path
    if "proofs" in only and mid_path is not None:
        section_proofs(res, small_path, large or mid_path, hops=10, repeat=15)
    if "rss" in only and mid_path is not None:
        if big_path is not None:
            section_rss(res, mid_path, big_path)
        else:
            section_rss(res, small_path, mid_path)
    if "size" in only and mid_path is not None:
        paths = [(small_path, small_meta), (mid_path, mid_meta)]
        if big_path is not None:
            paths.append((big_path, big_meta))
        section_size(res, paths)
    if "browser" in only:
        section_browser(res)

    load_end = os.getloadavg()
    commit = git_commit()
    import ledger

    build = getattr(ledger, "build", lambda: "pure")()
    header = (
        f"kpledger bench at commit {commit} ({build} build), {mode} mode, {started}; "
        "load average "
        f"{_load(load_start)} at the start, {_load(load_end)} at the end; "
        f"{os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, PyNaCl {nacl.__version__}, cryptography "
        f"{cryptography_version}, SQLite {sqlite3.sqlite_version}"
    )
    text = table(res)
    print(header)
    print()
    print(text)
    document = {
        "header": header,
        "started": started,
        "mode": mode,
        "commit": commit,
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "loadavg_start": load_start,
        "loadavg_end": load_end,
        "machine": machine(),
        "rows": [asdict(r) for r in res.rows],
        "extra": res.extra,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(document, indent=1, default=str) + "\n")
    log(f"wrote {args.out}")
    if args.readme:
        block = "results-quick" if quick else "results"
        replace_block(Path(args.readme), block, f"{header}\n\n{text}\n\n`{document['command']}`")
    return 0


def render(path: Path, readme: Path | None) -> int:
    """Print the table of a results file; with ``readme``, write it into its block."""
    document = json.loads(path.read_text())
    if readme is not None and document.get("commit") != git_commit():
        raise SystemExit(
            f"{path} was measured at commit {document.get('commit')}, not at the current "
            f"{git_commit()}: run the benchmark again rather than render old figures"
        )
    res = Results(document["mode"])
    res.rows = [Row(**row) for row in document["rows"]]
    text = table(res)
    m = document["machine"]
    header = document.get("header") or (
        f"kpledger bench, {document['mode']} mode, {document['started']}; load average "
        f"{_load(document['loadavg_start'])} at the start, {_load(document['loadavg_end'])} "
        f"at the end; {m['cpus']} CPUs, Python {m['python']}, PyNaCl {m['pynacl']}, "
        f"cryptography {m['cryptography']}, SQLite {m['sqlite']}"
    )
    print(header)
    print()
    print(text)
    if readme is not None:
        block = "results-quick" if document["mode"].startswith("quick") else "results"
        replace_block(readme, block, f"{header}\n\n{text}\n\n`{document['command']}`")
    return 0


def git_commit() -> str:
    """The commit the benchmarked code is (``+dirty`` with uncommitted library changes)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],  # noqa: S607
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "ledger", "cli", "bench/*.py"],  # noqa: S607
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _load(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def replace_block(path: Path, name: str, body: str) -> None:
    """Replace the text between ``<!-- name:start -->`` and ``<!-- name:end -->``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text()
    head, sep, rest = text.partition(start)
    _, sep2, tail = rest.partition(end)
    if not sep or not sep2:
        raise SystemExit(f"{path} has no {start} ... {end} block")
    path.write_text(f"{head}{start}\n{body}\n{end}{tail}")
    log(f"updated the {name} block of {path}")


if __name__ == "__main__":
    sys.exit(main())
