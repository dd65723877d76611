"""What a simulation did: :class:`SimReport`, its JSON form and its human summary.

The engine, the mirror and the fault injector count into one :class:`SimReport` as
they go; this module only defines those counters and renders them. It deliberately
computes nothing about the ledger itself (size and root are filled in by
:func:`ledger.sim.simulate` once the run is over) and prints nothing: the CLI echoes
the lines of :func:`iter_lines` or the dict of :meth:`SimReport.to_json`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ledger.core.rules import date_of
from ledger.sim.world import START_MS

__all__ = ["SimReport", "iter_lines"]


@dataclass
class SimReport:
    """What a simulation did. ``ok`` is false when an invalid operation was accepted."""

    path: str
    seed: int
    lots: int
    entries: int = 0
    parcels: int = 0
    stones: int = 0
    sales: int = 0
    certificates: int = 0
    confirmations: int = 0
    transfers: int = 0
    rotations: int = 0
    batches: int = 0
    warnings: Counter[str] = field(default_factory=Counter)
    faults_tried: int = 0
    faults_by_kind: Counter[str] = field(default_factory=Counter)
    faults_rejected: Counter[str] = field(default_factory=Counter)
    faults_accepted: int = 0
    #: Faults rejected, but by another rule than the one the fault targets.
    faults_unexpected: list[str] = field(default_factory=list)
    #: One line per accepted fault (kind, expected rule, entry id).
    accepted: list[str] = field(default_factory=list)
    #: Items the staged fraud scenes leave quarantined (a stolen authority key, R-ID-2).
    quarantined: list[str] = field(default_factory=list)
    size: int = 0
    root: bytes = b""
    first_time: int = START_MS
    last_time: int = START_MS
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.faults_accepted == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "ledger": self.path,
            "seed": self.seed,
            "lots": self.lots,
            "entries": self.entries,
            "parcels": self.parcels,
            "stones": self.stones,
            "sales": self.sales,
            "certificates": self.certificates,
            "confirmations": self.confirmations,
            "transfers": self.transfers,
            "key_rotations": self.rotations,
            "batches": self.batches,
            "warnings": dict(sorted(self.warnings.items())),
            "faults": {
                "tried": self.faults_tried,
                "by_kind": dict(sorted(self.faults_by_kind.items())),
                "rejected": sum(self.faults_rejected.values()),
                "rejected_by_rule": dict(sorted(self.faults_rejected.items())),
                "unexpected_rule": list(self.faults_unexpected),
                "accepted": self.faults_accepted,
                "accepted_details": list(self.accepted),
                "quarantined": list(self.quarantined),
            },
            "size": self.size,
            "root": self.root.hex(),
            "first_time": self.first_time,
            "last_time": self.last_time,
            "seconds": round(self.seconds, 3),
            "ok": self.ok,
        }


def iter_lines(report: SimReport) -> Iterator[str]:
    """The human summary of a report, one line at a time (used by the CLI)."""
    r = report
    rate = r.entries / r.seconds if r.seconds > 0 else 0.0
    yield (
        f"simulated {r.lots} lots (seed {r.seed}): {r.entries} entries in {r.seconds:.1f} s "
        f"({rate:,.0f} entries/s, {r.batches} batches)"
    )
    yield (
        f"  {r.parcels} rough parcels, {r.certificates} KP certificates ({r.confirmations} imports "
        f"confirmed), {r.transfers} transfers, {r.stones} polished stones, {r.sales} sales, "
        f"{r.rotations} key rotations"
    )
    yield f"  synthetic time {date_of(r.first_time)} to {date_of(r.last_time)}"
    if r.warnings:
        yield "  warnings: " + ", ".join(f"{k} {v}" for k, v in sorted(r.warnings.items()))
    if r.faults_tried:
        rejected = sum(r.faults_rejected.values())
        by_rule = ", ".join(f"{k} {v}" for k, v in sorted(r.faults_rejected.items()))
        yield f"  faults: {r.faults_tried} tried, {rejected} rejected" + (
            f" ({by_rule})" if by_rule else ""
        )
        yield "    by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(r.faults_by_kind.items()))
        for line in r.faults_unexpected[:10]:
            yield f"    rejected by an unexpected rule: {line}"
        yield f"    {r.faults_accepted} accepted" + (
            "" if r.ok else " -- BUG: invalid operations got into the ledger"
        )
        for line in r.accepted[:10]:
            yield f"    accepted: {line}"
    if r.quarantined:
        yield (f"  quarantined by a stolen authority key (R-ID-2): {', '.join(r.quarantined)}")
    yield f"  ledger {r.path}: {r.size} records, root {r.root.hex()}"
