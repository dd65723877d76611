"""``simulate()``: check the arguments, set up a new ledger and run one simulation on it.

This is where the parts meet: the cast of :mod:`ledger.sim.world` is registered on a new
ledger, the :class:`~ledger.sim.engine.Engine` steps the production and key-rotation
flows of :mod:`ledger.sim.flows`, the :class:`~ledger.sim.faults.FaultInjector` runs
between steps (and judges the policy faults once the run is over, against a checkpoint
the operator signs then), and the finished :class:`~ledger.sim.report.SimReport` gets
the ledger's size and root. It deliberately holds no simulation logic of its own.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Sequence

from ledger.core.keys import PrivateKey
from ledger.core.rules import date_of
from ledger.errors import SimulationError, UsageError
from ledger.ledger import Ledger
from ledger.sim.engine import Engine
from ledger.sim.faults import DEFAULT_FAULT_KINDS, FAULT_KINDS, FaultInjector
from ledger.sim.flows import Flows
from ledger.sim.mirror import Mirror
from ledger.sim.report import SimReport
from ledger.sim.scenes import stage
from ledger.sim.world import DAY, MINUTE, ORIGIN, START_MS, THRESHOLD, Cast, Rng
from ledger.storage.store import Store

__all__ = ["simulate", "simulation_keys"]


def simulate(
    ledger_path: str,
    *,
    parcels: int,
    seed: int,
    faults: float = 0.0,
    progress: Callable[[int], None] | None = None,
    batch: int = 500,
    fault_kinds: Sequence[str] | None = None,
) -> SimReport:
    """Create ``ledger_path`` and simulate ``parcels`` mine production lots through it.

    ``progress(n)`` is called as lots finish (n lots at a time, ``parcels`` in all).
    ``fault_kinds`` picks the injected faults (default :data:`DEFAULT_FAULT_KINDS`).

    Raises:
        StoreError: the file exists or cannot be written.
        UsageError: a bad argument (no lots, a fault rate outside 0-1, a batch below 1).
        SimulationError: the ledger refused a batch of entries the simulator meant to be
            valid (a bug in the simulator or in the rules engine).
    """
    if parcels < 1:
        raise UsageError("simulate needs at least one lot (--parcels)")
    if not 0.0 <= faults <= 1.0:
        raise UsageError("the fault rate must be between 0 and 1")
    if batch < 1:
        raise UsageError("the batch size must be at least 1")
    kinds = tuple(DEFAULT_FAULT_KINDS if fault_kinds is None else fault_kinds)
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown or not kinds:
        raise UsageError(
            f"unknown fault kind {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(FAULT_KINDS)}"
        )
    started = _time.perf_counter()
    report = SimReport(path=ledger_path, seed=seed, lots=parcels)
    cast = Cast.build(seed)
    governors = [(k.name, k.public) for k in cast.governors]
    Ledger.create(
        ledger_path, cast.operator, ORIGIN, now=START_MS, governors=governors, threshold=THRESHOLD
    ).close()
    # Per-transaction durability is moot for a generated ledger; WAL with
    # synchronous=NORMAL stays consistent after a crash and spares an fsync per batch.
    ledger = Ledger(Store.open(ledger_path, synchronous="NORMAL"))
    try:
        report.entries = 1  # the genesis record
        _run(ledger, report, cast, seed, faults=faults, batch=batch, kinds=kinds, progress=progress)
    finally:
        ledger.close()
    report.seconds = _time.perf_counter() - started
    return report


def _run(
    ledger: Ledger,
    report: SimReport,
    cast: Cast,
    seed: int,
    *,
    faults: float,
    batch: int,
    kinds: Sequence[str],
    progress: Callable[[int], None] | None,
) -> None:
    """Register the cast, run every flow to its end, and fill in the ledger's size and root."""
    engine = Engine(ledger, report, batch=batch, on_lot_done=progress)
    for entry_type, fields, key in cast.registrations():
        engine.emit(entry_type, fields, key, time=engine.stamp(MINUTE), cosigners=cast.cosigners)
    engine.flush()
    scenes = stage(engine, cast)
    report.quarantined = list(scenes.quarantined)
    mirror = Mirror(engine, cast)
    # Simulation randomness, not cryptography: it must be reproducible from the seed.
    flows = Flows(engine, mirror, cast, Rng(seed), seed=seed, lots=report.lots)
    # A separate stream for faults: the valid traffic is the same at every fault rate.
    injector = FaultInjector(
        engine, mirror, cast, Rng(f"{seed}/faults"), rate=faults, kinds=kinds, scenes=scenes
    )
    engine.run([flows.production(), flows.rotations()], delay=DAY, after_step=injector.step)
    report.size = ledger.size()
    report.root = ledger.store.root(report.size)
    report.last_time = max(engine.last, injector.last)
    injector.judge(date_of(report.last_time))
    # A checkpoint of the whole log, so a simulated ledger can be proved and published.
    latest = ledger.store.latest_checkpoint()
    if latest is None or latest[0] < ledger.size():
        ledger.checkpoint(cast.operator)
    if report.size != report.entries:  # pragma: no cover - a store bug
        raise SimulationError(
            f"the ledger holds {report.size} records, {report.entries} were appended"
        )


def simulation_keys(seed: int, *, participants: bool = False) -> list[PrivateKey]:
    """The keys of the simulation seeded with ``seed`` that :meth:`Cast.key_files` names
    (the operator's, the governors', and optionally every participant's as first
    registered; keys rotated during the run are not included)."""
    return Cast.build(seed).key_files(participants)
