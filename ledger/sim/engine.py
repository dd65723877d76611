"""The discrete-event engine: synthetic time, the schedule of flows, batched appends.

A flow is a generator that emits entries through :meth:`Engine.emit` and yields how
long it sleeps (milliseconds of synthetic time). :meth:`Engine.run` keeps the flows in
a heap by wake-up time and steps the earliest one, so the entries of concurrent lots
interleave in time order. Every entry is stamped strictly after the previous one
(:meth:`Engine.stamp`) and queued; the queue goes to ``Ledger.append`` as one
transaction once it holds ``batch`` entries or spans :data:`BATCH_WINDOW_MS`.

The engine deliberately knows nothing of diamonds: which entries are written and when
is decided by :mod:`ledger.sim.flows`, what the simulator remembers about parcels by
:mod:`ledger.sim.mirror`, and invalid operations by :mod:`ledger.sim.faults` (which
run between steps, through the ``after_step`` hook, and whose policy faults play out as
flows of :data:`FAULT_LOT` that append their own entries and keep nothing else running).
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any

from ledger.core.keys import PrivateKey
from ledger.core.model import SignedEntry
from ledger.errors import LedgerError, SimulationError
from ledger.ledger import Ledger
from ledger.sim.report import SimReport
from ledger.sim.world import HOUR, SECOND, START_MS

__all__ = ["BATCH_WINDOW_MS", "FAULT_LOT", "NO_LOT", "DerailedError", "Engine", "Flow"]

#: A flow yields how many milliseconds it sleeps before its next step.
Flow = Generator[int, None, None]

#: The lot number of flows that belong to no production lot (production, key rotations).
NO_LOT = -1
#: The lot number of the flows of policy faults (``ledger.sim.faults``): they do not count
#: as trade, so the trade (key rotations included) ends as it would without them.
FAULT_LOT = -2

#: A batch is appended (at the time of its last entry) once it spans this much synthetic
#: time, so no entry is appended more than an hour after the time it claims: the rules
#: judge some deadlines (offer expiry) at the append time too.
BATCH_WINDOW_MS = HOUR


class DerailedError(Exception):
    """Raised inside a flow to end it early: a parcel it follows was touched by an invalid
    operation the ledger wrongly accepted, so it has left the simulation."""


class Engine:
    """Synthetic clock, flow schedule and batch writer of one simulation."""

    def __init__(
        self,
        ledger: Ledger,
        report: SimReport,
        *,
        batch: int,
        on_lot_done: Callable[[int], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.report = report
        self.batch = batch
        #: Called with 1 each time every flow of a production lot has ended.
        self.on_lot_done = on_lot_done
        self.last = START_MS  # time of the last entry signed (strictly increasing)
        self.clock = START_MS  # time of the current event
        self.pending: list[SignedEntry] = []
        self._heap: list[tuple[int, int, int, Flow]] = []
        self._seq = 0
        self._salts: dict[bytes, int] = {}
        self._outstanding: Counter[int] = Counter()
        #: Flows started and not yet ended, those of policy faults left out.
        self._trade_flows = 0

    # -- time ------------------------------------------------------------------------

    @property
    def now(self) -> int:
        """The present instant: the current event, or the last entry if that is later."""
        return max(self.clock, self.last)

    def stamp(self, step: int = SECOND) -> int:
        """The next entry time: the current event time, strictly after the last entry."""
        self.last = max(self.clock, self.last + step)
        return self.last

    # -- writing ---------------------------------------------------------------------

    def emit(
        self,
        entry_type: str,
        fields: dict[str, Any],
        key: PrivateKey,
        *,
        time: int,
        cosigners: Sequence[PrivateKey] = (),
    ) -> bytes:
        """Sign an entry at ``time`` and queue it for the next batch; returns its id."""
        if self.pending and time - self.pending[0].body.time > BATCH_WINDOW_MS:
            self.flush()
        entry = self.ledger.sign(
            entry_type, fields, key, now=time, cosigners=cosigners, salt=self.salt
        )
        self.pending.append(entry)
        if len(self.pending) >= self.batch:
            self.flush()
        return entry.id

    def salt(self, stream: bytes = b"trade") -> bytes:
        """The salt of the next committed price of ``stream`` (specs/disclosure.md):
        numbered per stream (the trade's, the faults'), so that a run is reproducible
        from its seed and faults leave the trade's entries as they are. A real signer
        draws fresh random salts; these let anyone who knows the scheme open the prices."""
        n = self._salts[stream] = self._salts.get(stream, 0) + 1
        return hashlib.sha256(
            b"kpledger simulator salt\x00" + stream + b"\x00" + n.to_bytes(8, "big")
        ).digest()

    def flush(self) -> None:
        """Append the queued entries in one transaction.

        Raises:
            SimulationError: the ledger refused them (a simulator or rules-engine bug).
        """
        if not self.pending:
            return
        entries, self.pending = self.pending, []
        try:
            # Appended when its last entry was signed (not later: the rules judge deadlines
            # and the age of a claimed time at the append time too).
            appended = self.ledger.append(entries, now=entries[-1].body.time)
        except LedgerError as exc:
            raise SimulationError(
                f"the ledger refused a simulated batch (a simulator or rules-engine bug): {exc}",
                rule=exc.rule,
            ) from exc
        self.report.entries += len(appended)
        self.report.batches += 1
        for a in appended:
            for w in a.warnings:
                self.report.warnings[w.rule] += 1

    # -- scheduling ------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """True, asked by a trade flow being stepped, when no other trade flow is scheduled
        (flows of policy faults are not counted)."""
        return self._trade_flows <= 1

    @property
    def trading(self) -> bool:
        """True while some trade flow has not ended (flows of policy faults not counted)."""
        return self._trade_flows > 0

    def spawn(self, lot: int, flow: Flow, delay: int = 0) -> None:
        """Start ``flow`` (part of production lot ``lot``) ``delay`` ms from now."""
        self._seq += 1
        self._outstanding[lot] += 1
        if lot != FAULT_LOT:
            self._trade_flows += 1
        heapq.heappush(self._heap, (self.clock + delay, self._seq, lot, flow))

    def run(self, flows: Iterable[Flow], *, delay: int, after_step: Callable[[], None]) -> None:
        """Start ``flows`` ``delay`` ms after the last entry, step every flow until none is
        left (calling ``after_step`` after each step of a trade flow: policy faults do not
        breed more faults), then append what is queued."""
        self.clock = self.last
        for flow in flows:
            self.spawn(NO_LOT, flow, delay)
        while self._heap:
            at, _, lot, flow = heapq.heappop(self._heap)
            self.clock = max(self.clock, at)
            try:
                wait = next(flow)
            except (StopIteration, DerailedError):
                self._finished(lot)
            else:
                self._seq += 1
                heapq.heappush(self._heap, (self.clock + wait, self._seq, lot, flow))
            if lot != FAULT_LOT:
                after_step()
        self.flush()

    def _finished(self, lot: int) -> None:
        self._outstanding[lot] -= 1
        if lot != FAULT_LOT:
            self._trade_flows -= 1
        if self._outstanding[lot] == 0 and lot >= 0:
            del self._outstanding[lot]
            if self.on_lot_done is not None:
                self.on_lot_done(1)
