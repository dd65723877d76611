"""Simulated ledgers for the benchmarks, built once and cached outside the repository.

A ledger is built with ``ledger.sim.simulate`` (no injected faults) into a work
directory under the system temp dir (``$KPLEDGER_BENCH_DIR`` overrides it). The file name
carries the number of lots, the seed and a hash of the ``ledger/`` sources, so a change
to the library (encoding, rules, simulator) builds a fresh ledger instead of reusing one
the new code might not accept. Next to each ``.db`` a ``.json`` keeps the simulator's
report: entries, seconds and the load average while it ran.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ledger.core.keys import PrivateKey
from ledger.ledger import Ledger
from ledger.sim import OPERATOR, simulate

#: Entries per simulated lot (measured: 31.8 on average, a little more on small ledgers).
ENTRIES_PER_LOT = 31.8
#: Seed of every benchmark ledger.
SEED = 1

ROOT = Path(__file__).resolve().parent.parent


def workdir() -> Path:
    """Where ledgers and scratch files go (never inside the repository)."""
    default = Path(tempfile.gettempdir()) / "kpledger-bench"
    path = Path(os.environ.get("KPLEDGER_BENCH_DIR", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def log(message: str) -> None:
    """Progress on stderr, with the 1-minute load average."""
    load = os.getloadavg()[0]
    print(f"[{time.strftime('%H:%M:%S')} load {load:.2f}] {message}", file=sys.stderr, flush=True)


#: The sources that decide what a simulated ledger holds and whether it verifies.
CORE_SOURCES = (
    "ledger/errors.py",
    "ledger/core",
    "ledger/sim",
    "ledger/storage",
    "ledger/ledger.py",
)


def code_hash() -> str:
    """Short hash of the core library sources: a cached ledger is reused only by the same
    code (other modules, such as new commands, do not invalidate it)."""
    h = hashlib.sha256()
    for name in CORE_SOURCES:
        base = ROOT / name
        for path in sorted(base.rglob("*.py")) if base.is_dir() else [base]:
            rel = path.relative_to(ROOT).as_posix()
            h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:10]


def lots_for(entries: int) -> int:
    return max(1, round(entries / ENTRIES_PER_LOT))


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def build(entries: int, *, seed: int = SEED, reuse: bool = False) -> tuple[Path, dict[str, Any]]:
    """A simulated ledger of about ``entries`` entries: its path and the simulator's report.

    Reused when a ledger of the same lots, seed and library code is cached; with ``reuse``,
    one built by other library code is reused too (``verify`` rejects it if the rules
    changed). Building one removes those of older code.
    """
    lots = lots_for(entries)
    path = workdir() / f"sim-{lots}lots-seed{seed}-{code_hash()}.db"
    meta_path = path.with_suffix(".json")
    older = sorted(
        (p for p in workdir().glob(f"sim-{lots}lots-seed{seed}-*.db") if p != path),
        key=lambda p: p.stat().st_mtime,
    )
    if reuse and not path.exists() and older and older[-1].with_suffix(".json").exists():
        path, meta_path = older[-1], older[-1].with_suffix(".json")
    if path.exists() and meta_path.exists():
        meta: dict[str, Any] = json.loads(meta_path.read_text())
        meta["cached"] = True
        return path, meta
    for stale in older:
        remove_db(stale)
        stale.with_suffix(".json").unlink(missing_ok=True)
    tmp = path.with_name(path.name + ".partial")
    remove_db(tmp)
    log(f"building a ledger of {lots} lots (~{entries:,} entries) -> {path.name}")
    done = 0
    step = max(1, lots // 10)

    def progress(n: int) -> None:
        nonlocal done
        done += n
        if done % step == 0 or done == lots:
            log(f"  {done}/{lots} lots")

    load_before = os.getloadavg()
    report = simulate(str(tmp), parcels=lots, seed=seed, progress=progress)
    if not report.ok:  # pragma: no cover - a rules-engine bug, not a benchmark concern
        raise RuntimeError(f"simulation accepted an invalid operation: {report.accepted}")
    meta = {
        "lots": lots,
        "seed": seed,
        "entries": report.entries,
        "seconds": report.seconds,
        "entries_per_s": report.entries / report.seconds,
        "root": report.root.hex(),
        "code": code_hash(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "built": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    os.replace(tmp, path)
    meta_path.write_text(json.dumps(meta, indent=1))
    log(f"  built {report.entries:,} entries in {report.seconds:.1f} s")
    meta["cached"] = False
    return path, meta


def operator_key(seed: int = SEED) -> PrivateKey:
    """The simulator's operator key (derived from the seed as ``ledger.sim`` does)."""
    return PrivateKey(OPERATOR, hashlib.sha256(f"{seed}/{OPERATOR}".encode()).digest())


def ensure_checkpoint(path: Path, seed: int = SEED) -> None:
    """Sign a checkpoint of the whole ledger unless the latest one already covers it."""
    led = Ledger.open(str(path))
    try:
        key = operator_key(seed)
        if key.kid != led.operator:
            raise RuntimeError("the derived operator key is not the simulated ledger's")
        latest = led.store.latest_checkpoint()
        if latest is None or latest[0] != led.size():
            led.checkpoint(key)
    finally:
        led.close()


def file_bytes(path: Path) -> int:
    """Bytes on disk of a closed ledger (the WAL is folded in when the last user closes)."""
    return sum(
        Path(str(path) + s).stat().st_size for s in ("", "-wal") if Path(str(path) + s).exists()
    )
