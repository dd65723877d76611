"""What a simulation did: :class:`SimReport`, its JSON form and its human summary.

The engine, the mirror and the fault injector count into one :class:`SimReport` as
they go; this module only defines those counters and renders them. It deliberately
computes nothing about the ledger itself (size and root are filled in by
:func:`ledger.sim.simulate` once the run is over) and prints nothing: the CLI echoes
the lines of :func:`iter_lines` or the dict of :meth:`SimReport.to_json`.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ledger.core.rules import date_of
from ledger.sim.world import START_MS

__all__ = ["SimReport", "iter_lines"]


@dataclass
class SimReport:
    """What a simulation did. ``ok`` is false when an invalid operation was accepted, a
    policy fault passed its policy, or an honest control failed one."""

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
    #: Runs of laboratory-grown rough (``grow`` entries).
    grown: int = 0
    batches: int = 0
    warnings: Counter[str] = field(default_factory=Counter)
    faults_tried: int = 0
    faults_by_kind: Counter[str] = field(default_factory=Counter)
    faults_rejected: Counter[str] = field(default_factory=Counter)
    faults_accepted: int = 0
    #: Policy faults whose item failed its policy at the end of the run, by rule.
    faults_failed: Counter[str] = field(default_factory=Counter)
    #: Policy faults whose item passed its policy (a bug, like an accepted fault).
    faults_passed: int = 0
    #: Entries the policy faults appended (the ledger accepts them).
    fault_entries: int = 0
    #: Faults rejected, but by another rule than the one the fault targets.
    faults_unexpected: list[str] = field(default_factory=list)
    #: One line per accepted fault (kind, expected rule, entry id).
    accepted: list[str] = field(default_factory=list)
    #: One line per policy fault that passed its policy (kind, expected rule, item).
    passed: list[str] = field(default_factory=list)
    #: Honest laboratory-grown stones that passed ``eu-russia``, and those that failed it.
    controls: int = 0
    controls_failed: list[str] = field(default_factory=list)
    #: Items the staged fraud scenes leave quarantined (a stolen authority key, R-ID-2).
    quarantined: list[str] = field(default_factory=list)
    size: int = 0
    root: bytes = b""
    first_time: int = START_MS
    last_time: int = START_MS
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.faults_accepted == 0 and self.faults_passed == 0 and not self.controls_failed

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
            "grown": self.grown,
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
                "failed_by_policy": sum(self.faults_failed.values()),
                "failed_by_policy_rule": dict(sorted(self.faults_failed.items())),
                "passed_policy": self.faults_passed,
                "passed_details": list(self.passed),
                "entries": self.fault_entries,
                "controls_passed": self.controls,
                "controls_failed": list(self.controls_failed),
                "quarantined": list(self.quarantined),
            },
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
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
        f"{r.rotations} key rotations, {r.grown} runs of laboratory-grown rough"
    )
    yield f"  synthetic time {date_of(r.first_time)} to {date_of(r.last_time)}"
    if r.warnings:
        yield "  warnings: " + ", ".join(f"{k} {v}" for k, v in sorted(r.warnings.items()))
    if r.faults_tried:
        rejected = sum(r.faults_rejected.values())
        by_rule = ", ".join(f"{k} {v}" for k, v in sorted(r.faults_rejected.items()))
        yield f"  faults: {r.faults_tried} tried, {rejected} refused by the ledger" + (
            f" ({by_rule})" if by_rule else ""
        )
        failed = sum(r.faults_failed.values())
        by_rule = ", ".join(f"{k} {v}" for k, v in sorted(r.faults_failed.items()))
        yield f"    {failed} accepted by the ledger and failed by policy" + (
            f" ({by_rule}; {r.fault_entries} entries)" if by_rule else ""
        )
        yield "    by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(r.faults_by_kind.items()))
        for line in r.faults_unexpected[:10]:
            yield f"    caught by an unexpected rule: {line}"
        yield f"    {r.faults_accepted} accepted" + (
            " -- BUG: invalid operations got into the ledger" if r.faults_accepted else ""
        )
        for line in r.accepted[:10]:
            yield f"    accepted: {line}"
        if r.faults_passed:
            yield f"    {r.faults_passed} passed their policy -- BUG: a fraud a buyer would accept"
        for line in r.passed[:10]:
            yield f"    passed: {line}"
        if r.controls or r.controls_failed:
            yield (
                f"    controls: {r.controls} honest laboratory-grown stones pass eu-russia"
                + (f", {len(r.controls_failed)} FAIL it -- BUG" if r.controls_failed else "")
            )
        for line in r.controls_failed[:10]:
            yield f"    control failed: {line}"
    if r.quarantined:
        yield (f"  quarantined by a stolen authority key (R-ID-2): {', '.join(r.quarantined)}")
    yield f"  ledger {r.path}: {r.size} records, root {base64.b64encode(r.root).decode()}"
