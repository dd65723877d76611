"""A deterministic supply-chain simulator that fills a new ledger with realistic traffic.

``simulate(path, parcels=N, seed=S)`` creates a ledger and plays N mine production lots
through the chain of domain.md §6: origin at a mine, producer sorting into sale boxes,
export under a KP certificate to a sightholder (a hub dealer, or directly a cutter in
India; sometimes several boxes under one certificate), 0-3 rough-dealer hops with
re-sorting splits and mixed-origin merges at the hubs, export to a cutter, cutting
batches of 1-2 rough stones into 1-3 polished stones each (yield ~ Beta, mean 0.42,
clipped to 0.20-0.60) plus declared by-products, then polished custody with System of
Warranties statements to a grading lab and a retailer, and retail sales. A small share
of offers is rejected or cancelled and re-offered, every few weeks a participant
rotates its key, and for about one lot in twenty a producer grows a run of
laboratory-grown rough, sold to a cutter without a KP certificate and cut and sold apart
from natural goods (never merged or cut with them).

Everything is driven by a random generator seeded with the seed and a synthetic clock
(2025-01-01 UTC onwards, integer milliseconds), and keys are derived from the seed, so a
seed always yields the same record bytes and Merkle root. Lots progress concurrently as
a discrete-event simulation: each lot is a generator that emits entries and then sleeps
for hours to weeks; the log interleaves them in time order. Valid entries are batched
into ``Ledger.append`` calls (one transaction each). Because ``Ledger.input_ref`` only
sees committed state, the simulator keeps its own mirror of every parcel (head, holder,
weight, composition) and never reads the ledger back. A batch is appended at the time of
its last entry and spans at most an hour of synthetic time.

With ``faults=RATE``, after each simulation step a fraud is tried with that probability
(see :data:`FAULT_KINDS`). Most are invalid operations, each tried as its own single
append against the committed state: a double spend (stale head), a mass-inflating split,
a forged certificate, a re-used certificate, a transfer signed with a revoked (or
rotated-out) key, an origin in a suspended country (also back-dated to before the
suspension), rough sent across a border without a certificate, the KP-scheme frauds of
the staged scenes (a crossing after a suspension, a back-dated offer past its
certificate's expiry, a certificate of a stolen authority key, a self-certified export,
an offer of a revoked party), a rogue sanctions designation, laboratory-grown goods mixed
into natural ones or shipped under a KP certificate, and goods with a broken chain of
warranties sold as warranted. Each must be refused; one that is accepted is a bug in the
rules engine, counted in ``SimReport.faults_accepted`` (the parcels it touched leave the
simulation so the run can go on). The policy faults (:data:`POLICY_KINDS`: Botswana rough
re-exported through Moscow, goods traded by a party on the EU sanctions list) are valid
under the ledger's rules: their steps are accepted, and at the end of the run their
stones are proven and must fail the buyer's policy (``eu-russia``, ``deny-listed EU``);
one that passes is counted in ``SimReport.faults_passed``, a bug like an accepted fault.

Import from this package; its modules, one concern each, are implementation details:

========== ==============================================================================
``world``  the cast (countries, mines, dealers, cutters, labs, retailers), keys derived
           from the seed, clock units, seeded random helpers
``engine`` synthetic time, the schedule of flows, batched appends
``mirror`` the simulator's copy of parcel state and the operations (one entry each)
           that keep it in step
``flows``  the supply-chain flows: production, lots, shipping, hub re-sorting,
           cutting, polished custody and sales, key rotations
``scenes`` the fraud scenes staged at setup (suspensions, an expiring certificate, a
           stolen key, a revoked mine, sanctions designations, unwarranted goods)
``faults`` the registry of fault kinds, how each fraud is built, the injector and the
           end-of-run judgement of the policy faults
``report`` :class:`SimReport` and its text summary
``run``    :func:`simulate`, which wires the others together
========== ==============================================================================
"""

from __future__ import annotations

from ledger.errors import SimulationError
from ledger.sim.faults import DEFAULT_FAULT_KINDS, FAULT_KINDS, KNOWN_GAPS, POLICY_KINDS
from ledger.sim.report import SimReport, iter_lines
from ledger.sim.run import simulate, simulation_keys
from ledger.sim.world import OPERATOR, ORIGIN, START_MS

__all__ = [
    "DEFAULT_FAULT_KINDS",
    "FAULT_KINDS",
    "KNOWN_GAPS",
    "OPERATOR",
    "ORIGIN",
    "POLICY_KINDS",
    "START_MS",
    "SimReport",
    "SimulationError",
    "iter_lines",
    "simulate",
    "simulation_keys",
]
