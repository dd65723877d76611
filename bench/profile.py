"""Where the time goes: cProfile of ``Ledger.verify()`` (and of the other benchmarked paths).

    python -m bench.profile [--entries 10000] [--top 15] [--readme bench/README.md]
        [--what phases,verify,verify2,worker,import,append,merkle,memory] [--reuse-ledgers]

For each path it prints the unprofiled wall time, the top functions by own time (tottime)
and the own time summed by area (libsodium, SQLite, ledger.encoding, ...), as Markdown.
With ``--readme``, each profile replaces the ``<!-- profile-WHAT:start -->`` ...
``<!-- profile-WHAT:end -->`` block of that file. cProfile adds a fixed cost per Python
call, so pure-Python functions weigh more under the profiler than without it; the
unprofiled time is printed next to the profiled one for scale.

``phases`` is not cProfile either: it puts a wall-clock timer around a few functions of
``verify`` and of a bulk import (decode, shapes, row caches, rules, signatures, state
reads and writes) and tabulates inclusive times per entry, with normal-run proportions.

``memory`` is not cProfile: it traces allocations (tracemalloc) through a verify and
lists the biggest live allocation sites when the replay is over (before the state check's
final comparison), and the peak.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import random
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import ledgers
from bench.ledgers import log
from bench.run import (
    IMPORT_WINDOW_MS,
    _DictTiles,
    _fresh_ledger,
    import_batches,
    replace_block,
)
from ledger.core import merkle, tiles
from ledger.core.model import Record, SignedEntry
from ledger.ledger import Ledger
from ledger.storage.store import Store

WHATS = ("verify", "verify2", "worker", "import", "append", "merkle", "memory", "phases")


def _where(key: tuple[str, int, str]) -> str:
    path, line, name = key
    if path == "~":
        for junk in ("{", "}", "<", ">", "built-in method ", "method "):
            name = name.replace(junk, "")
        return name.replace("'", "") + " (C)"
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/lib/python3":
                path = path.split("/", 1)[1]
            break
    else:
        path = os.path.relpath(path, ledgers.ROOT)
    return f"{path}:{line} {name}"


def _area(key: tuple[str, int, str]) -> str:
    path, _, name = key
    if path == "~":
        if "_sodium" in name:
            return "Ed25519 (libsodium, C)"
        if "sqlite3" in name:
            return "SQLite (C)"
        if "_hashlib" in name or "sha256" in name or "digest" in name:
            return "SHA-256 (hashlib, C)"
        if "msgpack" in name or "Unpacker" in name or "Packer" in name:
            return "msgpack (C)"
        if "_json" in name or "encode_basestring" in name:
            return "json (stdlib)"
        return "Python built-ins (isinstance, len, dict, bytes ...)"
    if "/ledger/" in path:
        return "ledger." + Path(path).stem
    if "/cli/" in path:
        return "cli"
    if "/bench/" in path:
        return "bench (driver)"
    if "/site-packages/" in path:
        return path.split("/site-packages/", 1)[1].split("/", 1)[0]
    if "/lib/python3" in path:
        stdlib = path.split("/lib/python3", 1)[1].split("/", 2)[1]
        return Path(stdlib).stem + " (stdlib)"
    return path


def report(title: str, wall: float, profiled: float, prof: cProfile.Profile, top: int) -> str:
    stats = pstats.Stats(prof)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    rows = sorted(raw.items(), key=lambda kv: -kv[1][2])
    out = [
        f"**{title}**: {wall:.2f} s without the profiler, {profiled:.2f} s under it "
        f"(load average {os.getloadavg()[0]:.2f}).",
        "",
        f"Top {top} functions by own time (tottime):",
        "",
        "| function | calls | tottime | share | cumtime |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, (cc, nc, tt, ct, _) in rows[:top]:
        calls = f"{nc:,}" if cc == nc else f"{nc:,}/{cc:,}"
        out.append(
            f"| `{_where(key)}` | {calls} | {tt:.3f} s | {100 * tt / total:.1f}% | {ct:.3f} s |"
        )
    areas: dict[str, float] = defaultdict(float)
    for key, v in raw.items():
        areas[_area(key)] += v[2]
    out += ["", "Own time by area:", "", "| area | tottime | share |", "|---|---:|---:|"]
    for area, tt in sorted(areas.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"| {area} | {tt:.3f} s | {100 * tt / total:.1f}% |")
    return "\n".join(out)


def profiled(fn: Callable[[], Any]) -> tuple[float, cProfile.Profile]:
    prof = cProfile.Profile()
    gc.collect()
    start = time.perf_counter()
    prof.enable()
    fn()
    prof.disable()
    return time.perf_counter() - start, prof


def wall(fn: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def do_verify(path: Path, top: int, jobs: int = 1) -> str:
    def run() -> None:
        led = Ledger.open(str(path))
        try:
            led.verify(jobs=jobs)
        finally:
            led.close()

    seconds = wall(run)
    under, prof = profiled(run)
    n = _size(path)
    title = f"Ledger.verify({'jobs=2' if jobs > 1 else ''}), {n:,} entries"
    if jobs > 1:
        title += (
            " (main process only: the replay of records parsed without checks, the rules and"
            " the state comparison; the workers' checks are profiled below)"
        )
    return report(title, seconds, under, prof, top)


def do_worker(path: Path, top: int) -> str:
    """What a worker of ``verify(jobs=N)`` does, over the whole ledger in this process."""
    from ledger.ledger import check_signatures

    store = Store.open(str(path))
    try:
        n, pubs = store.size(), store.registered_keys()
    finally:
        store.close()

    def run() -> None:
        if check_signatures(str(path), 0, n, pubs) is not None:
            raise RuntimeError("the benchmark ledger failed a worker check")

    seconds = wall(run)
    under, prof = profiled(run)
    title = (
        f"verify worker (ledger.ledger.check_signatures) over {n:,} entries: decode with every "
        "check, cached columns, signatures"
    )
    return report(title, seconds, under, prof, top)


def _size(path: Path) -> int:
    store = Store.open(str(path))
    try:
        return store.size()
    finally:
        store.close()


def _records(path: Path, limit: int | None = None) -> list[Record]:
    store = Store.open(str(path))
    try:
        return [Record.from_wire(raw) for _, raw in store.iter_rows(0, limit)]
    finally:
        store.close()


def do_import(path: Path, top: int) -> str:
    records = _records(path)
    batches = import_batches(records[1:], 1000, IMPORT_WINDOW_MS)
    target = ledgers.workdir() / "profile-import.db"

    def run() -> None:
        led = _fresh_ledger(target, records[0])
        try:
            for batch in batches:
                entries = [SignedEntry.from_wire(r.entry_bytes) for r in batch]
                led.append(entries, now=batch[-1].time)
        finally:
            led.close()

    seconds = wall(run)
    under, prof = profiled(run)
    ledgers.remove_db(target)
    title = f"bulk import, {len(records) - 1:,} entries in {len(batches)} transactions"
    return report(title, seconds, under, prof, top)


def do_append(path: Path, top: int, count: int = 500) -> str:
    records = _records(path, count + 1)
    entries = [SignedEntry.from_wire(r.entry_bytes) for r in records[1:]]
    target = ledgers.workdir() / "profile-append.db"

    def run() -> None:
        led = _fresh_ledger(target, records[0])
        try:
            for r, e in zip(records[1:], entries, strict=True):
                led.append([e], now=r.time)
        finally:
            led.close()

    seconds = wall(run)
    under, prof = profiled(run)
    ledgers.remove_db(target)
    title = f"durable single appends, {count} entries (synchronous=FULL)"
    return report(title, seconds, under, prof, top)


def do_merkle(top: int, leaves: int = 1_000_000, n_proofs: int = 20_000) -> str:
    store = _DictTiles()
    size = 0
    for off in range(0, leaves, 1000):
        hashes = [merkle.leaf_hash(i.to_bytes(32, "big")) for i in range(off, off + 1000)]
        store.tiles.update(tiles.append_to_tiles(size, hashes, store))
        size += len(hashes)
    rng = random.Random(42)  # noqa: S311 - benchmark sampling, not cryptography
    picks = [rng.randrange(leaves) for _ in range(n_proofs)]

    def run() -> None:
        cache = tiles.TileCache()
        for i in picks:
            merkle.inclusion_proof(i, leaves, tiles.TileHashReader(store, leaves, cache=cache))

    seconds = wall(run)
    under, prof = profiled(run)
    title = f"inclusion_proof over TileHashReader, {n_proofs:,} proofs at {leaves:,} leaves"
    return report(title, seconds, under, prof, top)


def do_memory(path: Path, top: int) -> str:
    """Live allocation sites when the replay is done (before the final state comparison)."""
    from ledger.storage import statecheck

    snapshots: list[tracemalloc.Snapshot] = []
    original = statecheck.CheckedState.finish

    def finish(self: statecheck.CheckedState) -> None:
        snapshots.append(tracemalloc.take_snapshot())
        original(self)

    statecheck.CheckedState.finish = finish  # type: ignore[method-assign]
    tracemalloc.start(1)
    try:
        led = Ledger.open(str(path))
        try:
            led.verify()
        finally:
            led.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        statecheck.CheckedState.finish = original  # type: ignore[method-assign]
    n = _size(path)
    if not snapshots:
        return f"**memory of Ledger.verify(), {n:,} entries**: peak {peak / 2**20:.1f} MiB traced"
    stats = snapshots[0].statistics("lineno")
    live = sum(s.size for s in stats)
    out = [
        f"**memory of Ledger.verify(), {n:,} entries**: {live / 2**20:.1f} MiB of Python "
        f"objects live when the replay ends, {peak / 2**20:.1f} MiB traced at the peak "
        "(tracemalloc; the process RSS adds the interpreter, the imports and SQLite's cache).",
        "",
        "| allocated at | size | blocks |",
        "|---|---:|---:|",
    ]
    for s in stats[:top]:
        frame = s.traceback[0]
        where = _where((frame.filename, frame.lineno, "")).strip()
        out.append(f"| `{where}` | {s.size / 2**20:.1f} MiB | {s.count:,} |")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------
# Wall time by phase, without cProfile: a timer around a few functions


def _timed_wrapper(fn: Callable[..., Any], slot: list[float]) -> Callable[..., Any]:
    clock = time.perf_counter

    def inner(*args: Any, **kwargs: Any) -> Any:
        start = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            slot[0] += clock() - start
            slot[1] += 1

    return inner


def _patch(
    targets: list[tuple[str, Any, str]],
) -> tuple[dict[str, list[float]], Callable[[], None]]:
    """Wrap ``owner.attr`` for each target with a timer; returns the slots and an undo."""
    slots: dict[str, list[float]] = {}
    undo: list[tuple[Any, str, Any]] = []
    for label, owner, attr in targets:
        original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        slot = slots.setdefault(label, [0.0, 0])
        if isinstance(original, classmethod):
            replacement: Any = classmethod(_timed_wrapper(original.__func__, slot))
        elif isinstance(original, staticmethod):
            replacement = staticmethod(_timed_wrapper(original.__func__, slot))
        else:
            replacement = _timed_wrapper(original, slot)
        setattr(owner, attr, replacement)
        undo.append((owner, attr, original))

    def restore() -> None:
        for owner, attr, original in reversed(undo):
            setattr(owner, attr, original)

    return slots, restore


def _phase_table(title: str, total: float, n: int, slots: dict[str, list[float]]) -> str:
    out = [
        f"**{title}**: {total:.2f} s wall, {total * 1e6 / n:.0f} us per entry "
        f"(load average {os.getloadavg()[0]:.2f}). Inclusive times; indented rows are part "
        "of the row above them, and each parent ends with what its listed parts leave over.",
        "",
        "| phase | calls | seconds | us per entry | share |",
        "|---|---:|---:|---:|---:|",
    ]

    def line(depth: int, name: str, calls: str, seconds: float) -> str:
        indent = "&nbsp;&nbsp;&nbsp;" * depth
        return (
            f"| {indent}{name} | {calls} | {seconds:.2f} | {seconds * 1e6 / n:.1f} | "
            f"{100 * seconds / total:.0f}% |"
        )

    items = [
        ((len(label) - len(label.lstrip())) // 2, label.strip(), seconds, int(calls))
        for label, (seconds, calls) in slots.items()
    ]
    # (depth, name, seconds, sum of direct children so far)
    stack: list[list[Any]] = [[-1, "", total, 0.0]]

    def close_to(depth: int) -> None:
        while stack[-1][0] >= depth:
            d, name, seconds, children = stack.pop()
            if children:
                short = name.split(":")[0].split(" (")[0]
                out.append(line(d + 1, f"rest of {short}", "", seconds - children))

    for depth, name, seconds, calls in items:
        close_to(depth)
        stack[-1][3] += seconds
        out.append(line(depth, name, f"{calls:,}", seconds))
        stack.append([depth, name, seconds, 0.0])
    close_to(0)
    out.append(line(0, "everything else (SQLite reads, the loops)", "", total - stack[0][3]))
    return "\n".join(out)


def do_phases(path: Path, what: str) -> str:
    from ledger import verify as verify_mod
    from ledger.core import ed25519, model, replay, rules, statemap
    from ledger.storage import cache, statecheck, store

    if what == "verify":
        targets = [
            (
                "Record.from_wire: decode the record (canonical check), shape",
                model.Record,
                "from_wire",
            ),
            (
                "SignedEntry.from_wire: decode envelope and body, field shapes",
                model.SignedEntry,
                "from_wire",
            ),
            (
                "check_row_cache: re-render the entry as JSON, compare the cached columns",
                verify_mod,
                "check_row_cache",
            ),
            (
                "MemoryMap.record: key and value hashes of the written state",
                statemap.MemoryMap,
                "record",
            ),
            ("rules.apply (signatures included)", rules, "apply"),
            (
                "  SignedEntry.verify_signature (strict rule prechecks + libsodium)",
                model.SignedEntry,
                "verify_signature",
            ),
            ("    crypto_sign_open (libsodium)", ed25519, "_equation_libsodium"),
            (
                "  CheckedState._sweep: compare values idle for 4096 entries, drop or park them",
                statecheck.CheckedState,
                "_sweep",
            ),
            ("Compact.append: Merkle root of the leaves", replay.Compact, "append"),
            (
                "CheckedState.finish: compare what is left, count the rows",
                statecheck.CheckedState,
                "finish",
            ),
        ]
        slots, restore = _patch(targets)
        led = Ledger.open(str(path))
        try:
            total = wall(led.verify)
            n = led.size()
        finally:
            led.close()
            restore()
        return _phase_table(f"Ledger.verify() by phase, {n:,} entries", total, n, slots)

    records = _records(path)
    batches = import_batches(records[1:], 1000, IMPORT_WINDOW_MS)
    targets = [
        ("SignedEntry.from_wire: parse the pre-signed entries", model.SignedEntry, "from_wire"),
        ("Store.append (one transaction per batch)", store.Store, "append"),
        ("  rules.apply (signatures and state reads included)", rules, "apply"),
        ("    SignedEntry.verify_signature", model.SignedEntry, "verify_signature"),
        ("    SqlBacking.load: state read from SQLite and decoded", cache.SqlBacking, "load"),
        ("  Record.build: encode the record, leaf hash", model.Record, "build"),
        ("  entry_json: the readable json column", store, "entry_json"),
        (
            "  Store._write_state: encode + json of every changed value, INSERT",
            store.Store,
            "_write_state",
        ),
        ("  Store._write_tiles: append_to_tiles + INSERT", store.Store, "_write_tiles"),
    ]
    target = ledgers.workdir() / "profile-phases.db"
    slots, restore = _patch(targets)
    try:
        led = _fresh_ledger(target, records[0])
        for slot in slots.values():
            slot[:] = [0.0, 0]

        def run() -> None:
            for batch in batches:
                entries = [SignedEntry.from_wire(r.entry_bytes) for r in batch]
                led.append(entries, now=batch[-1].time)

        try:
            total = wall(run)
        finally:
            led.close()
    finally:
        restore()
        ledgers.remove_db(target)
    n = len(records) - 1
    title = f"bulk import by phase, {n:,} entries in {len(batches)} transactions"
    return _phase_table(title, total, n, slots)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000, help="ledger size (simulated)")
    parser.add_argument("--what", default="verify", help=f"comma-separated of {','.join(WHATS)}")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--readme", help="replace the profile-WHAT blocks of this README")
    parser.add_argument("--reuse-ledgers", action="store_true")
    args = parser.parse_args(argv)
    whats = args.what.split(",")
    if set(whats) - set(WHATS):
        parser.error(f"--what: choose from {', '.join(WHATS)}")
    needs_ledger = set(whats) - {"merkle"}
    path = ledgers.build(args.entries, reuse=args.reuse_ledgers)[0] if needs_ledger else Path()
    for what in whats:
        log(f"profiling {what}")
        if what == "verify":
            text = do_verify(path, args.top)
        elif what == "verify2":
            text = do_verify(path, args.top, jobs=2)
        elif what == "worker":
            text = do_worker(path, args.top)
        elif what == "import":
            text = do_import(path, args.top)
        elif what == "append":
            text = do_append(path, args.top)
        elif what == "merkle":
            text = do_merkle(args.top)
        elif what == "phases":
            text = do_phases(path, "verify") + "\n\n" + do_phases(path, "import")
        else:
            text = do_memory(path, args.top)
        print(text)
        print()
        if args.readme:
            replace_block(Path(args.readme), f"profile-{what}", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
