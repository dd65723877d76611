"""A deterministic supply-chain simulator that fills a new ledger with realistic traffic.

``simulate(path, parcels=N, seed=S)`` creates a ledger and plays N mine production lots
through the chain of domain.md §6: origin at a mine, producer sorting into sale boxes,
export under a KP certificate to a sightholder (a hub dealer, or directly a cutter in
India; sometimes several boxes under one certificate), 0-3 rough-dealer hops with
re-sorting splits and mixed-origin merges at the hubs, export to a cutter, cutting
batches of 1-2 rough stones into 1-3 polished stones each (yield ~ Beta, mean 0.42,
clipped to 0.20-0.60) plus declared by-products, then polished custody with System of
Warranties statements to a grading lab and a retailer, and retail sales. A small share
of offers is rejected or cancelled and re-offered, and every few weeks a participant
rotates its key.

Everything is driven by ``random.Random(seed)`` and a synthetic clock (2025-01-01 UTC
onwards, integer milliseconds), and keys are derived from the seed, so a seed always
yields the same record bytes and Merkle root. Lots progress concurrently as a
discrete-event simulation: each lot is a generator that emits entries and then sleeps
for hours to weeks; the log interleaves them in time order. Valid entries are batched
into ``Ledger.append`` calls (one transaction each). Because ``Ledger.input_ref`` only
sees committed state, the simulator keeps its own mirror of every parcel (head, holder,
weight, composition) and never reads the ledger back. A batch is appended at the time of
its last entry and spans at most an hour of synthetic time.

With ``faults=RATE``, after each simulation step an invalid operation is tried with
that probability, as its own single append against the committed state: a double spend
(stale head), a mass-inflating split, a forged certificate, a re-used certificate, a
transfer signed with a revoked (or rotated-out) key, an origin in a suspended country
(also back-dated to before the suspension), or rough sent across a border without a
certificate (see :data:`FAULT_KINDS`). Each must be rejected; one that is accepted is a
bug in the rules engine, counted in ``SimReport.faults_accepted`` (the parcels it touched
leave the simulation so the run can go on).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import heapq
import math
import random
import time as _time
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.core.keys import PrivateKey
from ledger.core.model import SignedEntry
from ledger.core.rules import date_of
from ledger.errors import LedgerError
from ledger.ledger import Ledger
from ledger.storage.store import Store

__all__ = [
    "DEFAULT_FAULT_KINDS",
    "FAULT_KINDS",
    "KNOWN_GAPS",
    "SimReport",
    "SimulationError",
    "simulate",
]

SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

#: 2025-01-01T00:00:00Z, the first instant of every simulation.
START_MS = int(_dt.datetime(2025, 1, 1, tzinfo=_dt.UTC).timestamp()) * SECOND
ORIGIN = "kp.example.org/simulation"
OPERATOR = "KP Ledger Operator"
#: A participant admitted and revoked during setup; its key signs the revoked-key fault.
REVOKED = "Defunct Trading BVBA"

# ---------------------------------------------------------------------------
# The cast

#: KP participants (all since 2003-01-01) and the one suspended country.
PARTICIPANTS = ("AE", "AO", "BE", "BW", "CA", "HK", "IL", "IN", "NA", "RU", "US", "ZA")
SUSPENDED = ("CF", "2013-05-23")

#: Mines: (name, site, average stone in ct). Kimberlite 0.1-1 ct; alluvial/marine larger.
MINES: dict[str, tuple[tuple[str, str, float], ...]] = {
    "RU": (
        ("Mir Mine", "Mir pipe", 0.2),
        ("Udachny Mine", "Udachny pipe", 0.25),
        ("Jubilee Mine", "Jubilee pipe", 0.2),
        ("Nyurba Mine", "Nyurba pipe", 0.3),
    ),
    "BW": (
        ("Jwaneng Mine", "Jwaneng pit", 0.3),
        ("Orapa Mine", "Orapa AK1", 0.25),
        ("Karowe Mine", "Karowe AK6", 0.8),
    ),
    "CA": (
        ("Diavik Mine", "Diavik A154N", 0.35),
        ("Ekati Mine", "Ekati Misery pipe", 0.3),
        ("Gahcho Kue Mine", "Gahcho Kue 5034", 0.25),
    ),
    "AO": (("Catoca Mine", "Catoca kimberlite", 0.2), ("Lulo Mine", "Lulo alluvial", 2.5)),
    "ZA": (
        ("Venetia Mine", "Venetia K01", 0.3),
        ("Cullinan Mine", "Cullinan pipe", 0.5),
        ("Finsch Mine", "Finsch pipe", 0.2),
    ),
    "NA": (("Namdeb Mine", "Namdeb beaches", 1.2), ("Debmarine Namibia", "Atlantic 1", 0.9)),
}
#: Share of lots by producing country (roughly the 2020s carat output ranking).
COUNTRY_WEIGHTS = {"RU": 34, "BW": 22, "CA": 13, "AO": 11, "ZA": 12, "NA": 8}
SUSPENDED_MINE = ("Carnot Alluvial Mine", "Carnot river gravels", 0.6)

TRADERS: dict[str, tuple[str, ...]] = {
    "BE": ("Antwerp Rough Dealers", "Hoveniersstraat Trading", "Schupstraat Diamonds"),
    "AE": ("Dubai Rough Exchange", "Almas Tower Traders"),
    "IL": ("Ramat Gan Rough", "Bursa Diamond Trading"),
    "HK": ("Kowloon Rough Traders", "Hong Kong Diamond Dealers"),
}
CUTTERS = ("Surat Cutting Works", "Surat Star Polishing", "Mumbai Manufacturing", "Navsari Gems")
GRADERS = ("New York Gem Lab", "Carlsbad Gem Lab")
RETAILERS = (
    "Fifth Avenue Jewels",
    "Chicago Fine Jewelry",
    "Los Angeles Diamond Co",
    "Dallas Bridal",
)

#: Injected fault kinds and the rule each must be rejected by (several rules for forgery).
FAULT_KINDS: dict[str, tuple[str, ...]] = {
    "double-spend": ("R-CU-3",),
    "mass-inflation": ("R-MB-1",),
    "forged-certificate": ("R-ID-1", "R-KP-6", "R-KP-2"),
    "reused-certificate": ("R-KP-2",),
    "revoked-key": ("R-ID-2",),
    "suspended-origin": ("R-KP-1",),
    "no-certificate": ("R-KP-2",),
    # A mine in a suspended country claims a time before the suspension (R-KP-1 is judged
    # at the claimed date, so only the bound on a claimed time's age, R-TM-4, stops it).
    "backdated-origin": ("R-TM-4", "R-KP-1"),
}
#: Fault kinds the rules engine is known to accept, left out of the default mix so that a
#: run stays a regression check (select them with ``fault_kinds``). None at present.
KNOWN_GAPS: tuple[str, ...] = ()
DEFAULT_FAULT_KINDS = tuple(k for k in FAULT_KINDS if k not in KNOWN_GAPS)

# Chain parameters (domain.md §6).
YIELD_MEAN = 0.42
YIELD_SD = 0.07
YIELD_CLIP = (0.20, 0.60)
P_DIRECT_TO_CUTTER = 0.25  # a manufacturing sightholder buys the box itself
HOP_WEIGHTS = (20, 35, 30, 15)  # 0, 1, 2, 3 rough-dealer hops
P_MORE_BOXES = 0.15  # per other box of the lot: shipped with the sale box
P_MERGE = 0.30
P_RESORT = 0.35
P_REJECT = 0.02
P_CANCEL = 0.02
P_NO_WARRANTY = 0.02
P_POLISHED_DEALER = 0.35
P_SOLD = 0.9
STALE_MEMORY = 64
#: A batch is appended (at the time of its last entry) once it spans this much synthetic
#: time, so no entry is appended more than an hour after the time it claims: the rules
#: judge some deadlines (offer expiry) at the append time too.
BATCH_WINDOW_MS = HOUR


class SimulationError(LedgerError):
    """The simulator produced a batch the ledger refused (a simulator or engine bug)."""

    code = "simulation"


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
            },
            "size": self.size,
            "root": self.root.hex(),
            "first_time": self.first_time,
            "last_time": self.last_time,
            "seconds": round(self.seconds, 3),
            "ok": self.ok,
        }


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
    from ledger.errors import UsageError

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
    sim = _Simulation(
        ledger_path, parcels=parcels, seed=seed, faults=faults, batch=batch, kinds=kinds
    )
    try:
        sim.run(progress)
    finally:
        sim.ledger.close()
    sim.report.seconds = _time.perf_counter() - started
    return sim.report


# ---------------------------------------------------------------------------
# Internals


@dataclass(eq=False)
class _Actor:
    """A participant; ``key`` changes when the participant rotates it."""

    name: str
    role: str
    country: str
    key: PrivateKey
    code: str
    site: str = ""
    stone_ct: float = 0.0


@dataclass
class _Parcel:
    """The simulator's mirror of one parcel or stone (what ledger.rules keeps)."""

    id: str
    kind: str
    carats: int
    stones: int | None
    holder: str
    head: bytes
    hs: str | None
    may: tuple[str, ...]
    status: str = "live"


class _Bag:
    """An insertion-ordered set with O(1) removal and seeded random choice."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._pos: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        return item in self._pos

    def add(self, item: str) -> None:
        if item not in self._pos:
            self._pos[item] = len(self._items)
            self._items.append(item)

    def discard(self, item: str) -> None:
        i = self._pos.pop(item, None)
        if i is None:
            return
        last = self._items.pop()
        if i < len(self._items):
            self._items[i] = last
            self._pos[last] = i

    def choice(self, rng: random.Random) -> str:
        return self._items[rng.randrange(len(self._items))]


class _DerailedError(Exception):
    """A flow's parcel was touched by a wrongly accepted fault; the flow stops."""


Flow = Generator[int, None, None]


def _key(seed: int, name: str) -> PrivateKey:
    return PrivateKey(name, hashlib.sha256(f"{seed}/{name}".encode()).digest())


def _stones(p: _Parcel) -> int:
    if p.stones is None:  # pragma: no cover - flows only follow parcels with a stone count
        raise SimulationError(f"parcel {p.id!r} has no stone count")
    return p.stones


def _apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into ``len(weights)`` positive integers proportional to the weights.

    Each part gets at least 1 (``total >= len(weights)`` is required); the rest goes by
    largest remainder, ties to the earlier part, so the parts always sum to ``total``.
    """
    n = len(weights)
    if total < n:
        raise ValueError("cannot give every part at least one unit")
    rest = total - n
    wsum = sum(weights)
    exact = [rest * w / wsum for w in weights]
    parts = [int(x) for x in exact]
    left = rest - sum(parts)
    order = sorted(range(n), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return [p + 1 for p in parts]


class _Simulation:
    def __init__(
        self,
        path: str,
        *,
        parcels: int,
        seed: int,
        faults: float,
        batch: int,
        kinds: Sequence[str],
    ) -> None:
        # Simulation randomness, not cryptography: it must be reproducible from the seed.
        self.rng = random.Random(seed)  # noqa: S311
        # A separate stream for faults: the valid traffic is the same at every fault rate.
        self.frng = random.Random(f"{seed}/faults")  # noqa: S311
        self.seed = seed
        self.faults = faults
        self.fault_kinds = list(kinds)
        self.batch = batch
        self.lots = parcels
        self.report = SimReport(path=path, seed=seed, lots=parcels)
        self.last = START_MS  # time of the last entry signed (strictly increasing)
        self.clock = START_MS  # time of the current event
        self.pending: list[SignedEntry] = []
        self.parcels: dict[str, _Parcel] = {}
        self.stock = _Bag()  # live rough parcels no flow is using (fault targets)
        self.pools: dict[str, _Bag] = {}  # per hub dealer: sub-parcels to merge
        self.stale: deque[tuple[str, bytes, str]] = deque(maxlen=STALE_MEMORY)
        self.last_cert: dict[str, tuple[str, str]] = {}
        self.tainted: set[str] = set()
        self.old_keys: list[tuple[str, PrivateKey]] = []
        self.serials: Counter[str] = Counter()
        self.heap: list[tuple[int, int, int, Flow]] = []
        self.seq = 0
        self.outstanding: Counter[int] = Counter()
        self.done_lots = 0
        self.progress: Callable[[int], None] | None = None
        self.actors: dict[str, _Actor] = {}
        self.operator = _key(seed, OPERATOR)
        created = Ledger.create(path, self.operator, ORIGIN, now=START_MS)
        created.close()
        # Per-transaction durability is moot for a generated ledger; WAL with
        # synchronous=NORMAL stays consistent after a crash and spares an fsync per batch.
        self.ledger = Ledger(Store.open(path, synchronous="NORMAL"))
        self.report.entries = 1
        self._cast()

    # -- the cast ------------------------------------------------------------------

    def _add(self, name: str, role: str, country: str, code: str, **extra: Any) -> _Actor:
        actor = _Actor(name, role, country, _key(self.seed, name), code, **extra)
        self.actors[name] = actor
        fields = {"name": name, "pub": actor.key.public, "roles": [role], "country": country}
        self._emit("participant.add", fields, self.operator, time=self._stamp(MINUTE))
        return actor

    def _cast(self) -> None:
        op = self.operator
        for cc in PARTICIPANTS:
            fields = {"country": cc, "status": "participant", "from": "2003-01-01"}
            self._emit("kp-status.set", fields, op, time=self._stamp(MINUTE))
        cf, since = SUSPENDED
        for status, start in (("participant", "2003-01-01"), ("suspended", since)):
            fields = {"country": cf, "status": status, "from": start}
            self._emit("kp-status.set", fields, op, time=self._stamp(MINUTE))
        self.authorities = {
            cc: self._add(f"{cc} KP Authority", "authority", cc, f"KP{cc}")
            for cc in (*PARTICIPANTS, cf)
        }
        self.mines: dict[str, list[_Actor]] = {}
        for cc, mines in MINES.items():
            self.mines[cc] = [
                self._add(name, "mine", cc, f"{cc}{i + 1}", site=site, stone_ct=avg)
                for i, (name, site, avg) in enumerate(mines)
            ]
        name, site, avg = SUSPENDED_MINE
        self.suspended_mine = self._add(name, "mine", cf, f"{cf}1", site=site, stone_ct=avg)
        self.traders: list[_Actor] = []
        for cc, names in TRADERS.items():
            for i, name in enumerate(names):
                self.traders.append(self._add(name, "trader", cc, f"{cc}T{i + 1}"))
        for t in self.traders:
            self.pools[t.name] = _Bag()
        self.cutters = [self._add(n, "cutter", "IN", f"INC{i + 1}") for i, n in enumerate(CUTTERS)]
        self.graders = [self._add(n, "grader", "US", f"USG{i + 1}") for i, n in enumerate(GRADERS)]
        self.retailers = [
            self._add(n, "retailer", "US", f"USR{i + 1}") for i, n in enumerate(RETAILERS)
        ]
        self.revoked = self._add(REVOKED, "trader", "BE", "BEX")
        fields = {"name": REVOKED, "reason": "trading licence withdrawn"}
        self._emit("participant.revoke", fields, op, time=self._stamp(MINUTE))
        self._flush()
        countries = list(COUNTRY_WEIGHTS)
        self.producing = countries
        self.country_weights = [COUNTRY_WEIGHTS[c] for c in countries]

    # -- time, signing, batching --------------------------------------------------------

    def _stamp(self, step: int = SECOND) -> int:
        """The next entry time: the current event time, strictly after the last entry."""
        self.last = max(self.clock, self.last + step)
        return self.last

    def _emit(
        self,
        entry_type: str,
        fields: dict[str, Any],
        key: PrivateKey,
        *,
        time: int,
        cosigners: Sequence[PrivateKey] = (),
    ) -> bytes:
        if self.pending and time - self.pending[0].body.time > BATCH_WINDOW_MS:
            self._flush()
        entry = self.ledger.sign(entry_type, fields, key, now=time, cosigners=cosigners)
        self.pending.append(entry)
        if len(self.pending) >= self.batch:
            self._flush()
        return entry.id

    def _flush(self) -> None:
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

    # -- the event loop ---------------------------------------------------------------

    def _spawn(self, lot: int, flow: Flow, delay: int = 0) -> None:
        self.seq += 1
        self.outstanding[lot] += 1
        heapq.heappush(self.heap, (self.clock + delay, self.seq, lot, flow))

    def run(self, progress: Callable[[int], None] | None) -> None:
        self.progress = progress
        self.clock = self.last
        self._spawn(-1, self._production(), DAY)
        self._spawn(-1, self._rotations(), DAY)
        while self.heap:
            at, _, lot, flow = heapq.heappop(self.heap)
            self.clock = max(self.clock, at)
            try:
                delay = next(flow)
            except (StopIteration, _DerailedError):
                self._finished(lot)
            else:
                self.seq += 1
                heapq.heappush(self.heap, (self.clock + delay, self.seq, lot, flow))
            if self.faults and self.frng.random() < self.faults:
                self._fault()
        self._flush()
        store = self.ledger.store
        self.report.size = self.ledger.size()
        self.report.root = store.root(self.report.size)
        self.report.last_time = self.last
        if self.report.size != self.report.entries:  # pragma: no cover - a store bug
            raise SimulationError(
                f"the ledger holds {self.report.size} records, {self.report.entries} were appended"
            )

    def _finished(self, lot: int) -> None:
        self.outstanding[lot] -= 1
        if self.outstanding[lot] == 0 and lot >= 0:
            del self.outstanding[lot]
            self.done_lots += 1
            if self.progress is not None:
                self.progress(1)

    def _check(self, *pids: str) -> None:
        if self.tainted and any(p in self.tainted for p in pids):
            raise _DerailedError

    def _serial(self, prefix: str) -> int:
        self.serials[prefix] += 1
        return self.serials[prefix]

    def _lognormal(self, median: float, sigma: float, lo: float, hi: float) -> float:
        return min(hi, max(lo, median * math.exp(self.rng.gauss(0.0, sigma))))

    def _hours(self, lo: float, hi: float) -> int:
        return int(self.rng.uniform(lo, hi) * HOUR)

    def _days(self, lo: float, hi: float) -> int:
        return int(self.rng.uniform(lo, hi) * DAY)

    # -- entries (each mirrors what ledger.rules does to the state) ---------------------

    def _ref(self, pid: str) -> dict[str, Any]:
        return {"parcel": pid, "head": self.parcels[pid].head}

    def _move_head(self, p: _Parcel, head: bytes) -> None:
        self.stale.append((p.id, p.head, p.holder))
        p.head = head

    def _new(
        self,
        pid: str,
        kind: str,
        carats: int,
        stones: int | None,
        holder: str,
        head: bytes,
        hs: str | None,
        may: tuple[str, ...],
    ) -> _Parcel:
        p = _Parcel(pid, kind, carats, stones, holder, head, hs, may)
        self.parcels[pid] = p
        if kind != "polished":
            self.report.parcels += 1
        return p

    def _origin(self, mine: _Actor, pid: str, carats: int, stones: int, hs: str) -> None:
        fields = {"parcel": pid, "carats": carats, "stones": stones, "mine": mine.site, "hs": hs}
        eid = self._emit("origin", fields, mine.key, time=self._stamp())
        self._new(pid, "rough", carats, stones, mine.name, eid, hs, (mine.country,))

    def _split(self, holder: _Actor, pid: str, outputs: Sequence[tuple[str, int, int]]) -> None:
        p = self.parcels[pid]
        fields = {
            "input": self._ref(pid),
            "outputs": [{"parcel": o, "carats": c, "stones": s} for o, c, s in outputs],
        }
        eid = self._emit("split", fields, holder.key, time=self._stamp())
        self._move_head(p, eid)
        p.status = "consumed"
        for o, c, s in outputs:
            self._new(o, p.kind, c, s, holder.name, eid, p.hs, p.may)

    def _merge(self, holder: _Actor, pids: Sequence[str], out: str) -> None:
        ps = [self.parcels[pid] for pid in pids]
        total = sum(p.carats for p in ps)
        # A re-weighing at the hub may come in a hair lighter than the sum of the tickets.
        carats = total - (self.rng.randint(0, total // 2000) if self.rng.random() < 0.2 else 0)
        stones = sum(p.stones or 0 for p in ps)
        fields = {
            "inputs": [self._ref(pid) for pid in pids],
            "output": {"parcel": out, "carats": carats, "stones": stones},
        }
        eid = self._emit("merge", fields, holder.key, time=self._stamp())
        hs = {p.hs for p in ps}
        may = tuple(sorted({c for p in ps for c in p.may}))
        kind = "byproduct" if all(p.kind == "byproduct" for p in ps) else "rough"
        for p in ps:
            self._move_head(p, eid)
            p.status = "consumed"
        merged_hs = hs.pop() if len(hs) == 1 else "7102.10"
        self._new(out, kind, carats, stones, holder.name, eid, merged_hs, may)

    def _certificate_fields(
        self,
        number: str,
        sender: _Actor,
        receiver: _Actor,
        pids: Sequence[str],
        *,
        expires: str,
        value: int,
    ) -> dict[str, Any]:
        ps = [self.parcels[pid] for pid in pids]
        carats = sum(p.carats for p in ps)
        return {
            "number": number,
            "parcels": list(pids),
            "exporter": sender.name,
            "importer": receiver.name,
            "exporter_country": sender.country,
            "importer_country": receiver.country,
            "value": {"amount": value, "currency": "USD"},
            "expires": expires,
            "carats": carats,
            "count": len(ps),
            "hs": sorted({p.hs or "7102.10" for p in ps}),
            "origins": sorted({c for p in ps for c in p.may}),
        }

    def _rough_value(self, carats: int) -> int:
        """A declared value in US cents: about US$50-600 per carat."""
        per_ct = self._lognormal(170.0, 0.5, 40.0, 900.0)
        return max(1, int(carats * per_ct))  # points x dollars/ct = cents

    def _certify(self, sender: _Actor, receiver: _Actor, pids: Sequence[str]) -> str:
        t = self._stamp()
        year = date_of(t)[:4]
        number = f"{sender.country}-{year}-{self._serial('cert' + sender.country):06d}"
        expires = date_of(t + 60 * DAY)
        value = self._rough_value(sum(self.parcels[p].carats for p in pids))
        fields = self._certificate_fields(
            number, sender, receiver, pids, expires=expires, value=value
        )
        self._emit("certificate.issue", fields, self.authorities[sender.country].key, time=t)
        self.report.certificates += 1
        return number

    def _offer(
        self,
        sender: _Actor,
        receiver: _Actor,
        pids: Sequence[str],
        *,
        certificate: str | None,
        warranty: bool,
        price: int | None,
    ) -> bytes:
        fields: dict[str, Any] = {"to": receiver.name, "inputs": [self._ref(p) for p in pids]}
        if certificate is not None:
            fields["certificate"] = certificate
        if price is not None:
            fields["price"] = {"amount": price, "currency": "USD"}
        if warranty:
            fields["warranty"] = "2021"
        eid = self._emit("transfer", fields, sender.key, time=self._stamp())
        self.report.transfers += 1
        for pid in pids:
            p = self.parcels[pid]
            self._move_head(p, eid)
            p.status = "locked"
        if certificate is not None:
            self.last_cert[sender.name] = (certificate, receiver.name)
        return eid

    def _answer(
        self, kind: str, signer: _Actor, offer: bytes, pids: Sequence[str], holder: str | None
    ) -> None:
        fields: dict[str, Any] = {"transfer": offer}
        if kind == "reject":
            fields["reason"] = self.rng.choice(
                ("assortment differs from the invoice", "price dispute", "weight discrepancy")
            )
        eid = self._emit(kind, fields, signer.key, time=self._stamp())
        for pid in pids:
            p = self.parcels[pid]
            self._move_head(p, eid)
            p.status = "live"
            if holder is not None:
                p.holder = holder

    # -- the flows ---------------------------------------------------------------------

    def _rotations(self) -> Flow:
        """Every few weeks a participant rotates its key (the old key co-signs)."""
        rng = self.rng
        people = [
            a for a in self.actors.values() if a.name != REVOKED and a is not self.suspended_mine
        ]
        while True:
            yield self._days(20, 60)
            if not self.heap:  # only this flow is left: the simulation is over
                return
            actor = people[rng.randrange(len(people))]
            old = actor.key
            n = self._serial("rotation/" + actor.name)
            new = PrivateKey(actor.name, _key(self.seed, f"{actor.name}/rotation-{n}").seed)
            fields = {"name": actor.name, "pub": new.public}
            self._emit(
                "participant.rotate", fields, self.operator, time=self._stamp(), cosigners=[old]
            )
            actor.key = new
            self.old_keys.append((actor.name, old))
            self.report.rotations += 1

    def _production(self) -> Flow:
        """Mines report production lots at random intervals (about one every 45 minutes)."""
        for lot in range(self.lots):
            self._spawn(lot, self._lot(lot))
            yield int(self.rng.expovariate(1.0) * 45 * MINUTE) + MINUTE

    def _ship(
        self,
        pids: Sequence[str],
        sender: _Actor,
        receiver: _Actor,
        *,
        price: int | None = None,
        warranty: bool = True,
    ) -> Generator[int, None, bool]:
        """Certificate (rough across a border), offer, transit, answer: True if accepted."""
        rough = any(self.parcels[p].kind != "polished" for p in pids)
        number = None
        if rough and sender.country != receiver.country:
            number = self._certify(sender, receiver, pids)
            yield self._hours(1, 12)
            self._check(*pids)
        offer = self._offer(
            sender, receiver, pids, certificate=number, warranty=warranty, price=price
        )
        yield self._hours(4, 24 * 5)
        self._check(*pids)
        r = self.rng.random()
        if r < P_REJECT:
            self._answer("reject", receiver, offer, pids, None)
            return False
        if r < P_REJECT + P_CANCEL:
            self._answer("cancel", sender, offer, pids, None)
            return False
        self._answer("accept", receiver, offer, pids, receiver.name)
        return True

    def _ship_to_one_of(
        self,
        pids: Sequence[str],
        sender: _Actor,
        choices: Sequence[_Actor],
        *,
        price: int | None = None,
        warranty: bool = True,
    ) -> Generator[int, None, _Actor]:
        """Offer ``pids`` to one of ``choices`` until someone accepts; returns the buyer."""
        while True:
            buyer = self.rng.choice([c for c in choices if c.name != sender.name])
            if (yield from self._ship(pids, sender, buyer, price=price, warranty=warranty)):
                return buyer
            yield self._days(1, 7)
            self._check(*pids)

    def _lot(self, lot: int) -> Flow:
        rng = self.rng
        cc = rng.choices(self.producing, self.country_weights)[0]
        mine = rng.choice(self.mines[cc])
        ct = self._lognormal(5_000.0, 0.9, 1_000.0, 100_000.0)
        carats = round(ct * 100)
        stones = max(50, round(ct / (mine.stone_ct * self._lognormal(1.0, 0.15, 0.6, 1.6))))
        hs = "7102.31" if rng.random() < 0.7 else "7102.10"
        pid = f"{mine.code}-L{lot + 1:06d}"
        self._origin(mine, pid, carats, stones, hs)
        yield self._hours(12, 72)
        self._check(pid)

        # Producer sorting: one sale box (50-5,000 ct, median ~300) and 1-3 other boxes
        # that stay in the mine's stock.
        box_ct = self._lognormal(300.0, 0.8, 50.0, 5_000.0)
        box = min(round(box_ct * 100), carats * 6 // 10)
        others = rng.randint(1, 3)
        shares = [box / carats] + [rng.uniform(0.5, 1.5) for _ in range(others)]
        rest = 1 - shares[0]
        tail = sum(shares[1:])
        shares[1:] = [s * rest / tail for s in shares[1:]]
        lot_id = pid
        pid = yield from self._resplit(mine, pid, shares, f"{lot_id}-B", to_stock=True)
        yield self._days(3, 20)
        self._check(pid)

        # Sight, tender or auction: a hub dealer or a manufacturing sightholder buys the
        # box, sometimes with one or two more boxes of the lot under the same certificate.
        direct = rng.random() < P_DIRECT_TO_CUTTER
        boxes = [pid]
        for i in range(2, 2 + others):
            extra = f"{lot_id}-B{i}"
            if rng.random() < P_MORE_BOXES and extra in self.stock:
                self.stock.discard(extra)
                boxes.append(extra)
        price = self._rough_value(sum(self.parcels[b].carats for b in boxes))
        holder = yield from self._ship_to_one_of(
            boxes, mine, self.cutters if direct else self.traders, price=price
        )
        for extra in boxes[1:]:  # the buyer keeps the other boxes in stock
            self.stock.add(extra)
            if holder.name in self.pools:
                self.pools[holder.name].add(extra)
        if not direct:
            hops = rng.choices(range(len(HOP_WEIGHTS)), HOP_WEIGHTS)[0]
            for hop in range(hops + 1):
                yield self._days(3, 45)
                self._check(pid)
                pid = yield from self._at_hub(holder, pid)
                value = self._rough_value(self.parcels[pid].carats)
                if hop < hops:
                    # Same-hub deals are common; otherwise another hub, under a certificate.
                    local = [t for t in self.traders if t.country == holder.country]
                    pool = local if rng.random() < 0.4 and len(local) > 1 else self.traders
                    holder = yield from self._ship_to_one_of([pid], holder, pool, price=value)
                else:
                    holder = yield from self._ship_to_one_of(
                        [pid], holder, self.cutters, price=value
                    )
        yield from self._cutting(lot, holder, pid)

    def _resplit(
        self, holder: _Actor, pid: str, shares: Sequence[float], prefix: str, *, to_stock: bool
    ) -> Generator[int, None, str]:
        """Split ``pid`` by ``shares``; the first output is followed, the rest go to stock
        (and, at a hub dealer, to the pool other lots merge from)."""
        p = self.parcels[pid]
        carats = _apportion(p.carats, shares)
        jitter = [c * self.rng.uniform(0.8, 1.25) for c in carats]
        stones = _apportion(_stones(p), jitter)
        outs = [
            (f"{prefix}{i + 1}", c, s) for i, (c, s) in enumerate(zip(carats, stones, strict=True))
        ]
        self._split(holder, pid, outs)
        pool = self.pools.get(holder.name)
        for o, _, _ in outs[1:]:
            if to_stock:
                self.stock.add(o)
                if pool is not None:
                    pool.add(o)
        yield self._hours(1, 24)
        self._check(outs[0][0])
        return outs[0][0]

    def _at_hub(self, trader: _Actor, pid: str) -> Generator[int, None, str]:
        """Hub re-sorting: a mixed-origin merge with the dealer's stock, and/or a split."""
        rng = self.rng
        pool = self.pools[trader.name]
        if len(pool) and rng.random() < P_MERGE:
            own = self.parcels[pid].may
            picks: list[str] = []
            for _ in range(rng.randint(1, 2)):
                if len(pool) == 0:
                    break
                cand = pool.choice(rng)
                # Dealers blend same-category goods from different mines and countries.
                if self.parcels[cand].may == own and len(pool) > 1:
                    cand = pool.choice(rng)
                pool.discard(cand)
                self.stock.discard(cand)
                picks.append(cand)
            out = f"{trader.code}-MX{self._serial('mx' + trader.code):06d}"
            self._merge(trader, [pid, *picks], out)
            pid = out
            yield self._hours(2, 48)
            self._check(pid)
        p = self.parcels[pid]
        if p.carats >= 1_000 and _stones(p) >= 4 and (p.carats > 50_000 or rng.random() < P_RESORT):
            # Dealer sub-parcels: 5-500 ct, at most 70 % of the parcel.
            target = math.exp(rng.uniform(math.log(5), math.log(500))) * 100
            keep = max(500, min(round(target), p.carats * 7 // 10))
            n = rng.randint(1, 2)
            rest = 1 - keep / p.carats
            shares = [keep / p.carats] + [rest / n] * n
            prefix = f"{trader.code}-S{self._serial('s' + trader.code):06d}-"
            pid = yield from self._resplit(trader, pid, shares, prefix, to_stock=True)
        return pid

    def _cutting(self, lot: int, cutter: _Actor, pid: str) -> Flow:
        """Cutting batches of 1-2 rough stones, 1-3 polished stones each, plus chips."""
        rng = self.rng
        yield self._days(5, 40)
        self._check(pid)
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            p = self.parcels[pid]
            n_rough = 1 if rng.random() < 0.75 else 2
            avg = p.carats / _stones(p)
            # The cutter picks rough big enough for single certified stones (0.3-5 ct
            # polished): about 0.8-15 ct each, median 2 ct; the rest of the parcel is melee.
            weights = [
                round(self._lognormal(max(200.0, 2 * avg), 0.5, 80.0, 1_500.0))
                for _ in range(n_rough)
            ]
            batch_pts = sum(weights)
            left_pts, left_stones = p.carats - batch_pts, _stones(p) - n_rough
            if batch_pts > p.carats // 2 or left_stones < 1 or left_pts < left_stones:
                break
            serial = self._serial("cb" + cutter.code)
            batch = f"{cutter.code}-CB{serial:07d}"
            rest = f"{cutter.code}-R{serial:07d}"
            self._split(cutter, pid, [(batch, batch_pts, n_rough), (rest, left_pts, left_stones)])
            pid = rest
            yield self._hours(2, 72)
            self._check(batch, pid)
            for stone in self._cut(cutter, batch, batch_pts, n_rough):
                self._spawn(lot, self._polished(stone, cutter))
            yield self._days(1, 10)
            self._check(pid)
        self.stock.add(pid)  # the rest of the rough stays in the cutter's stock

    def _cut(self, cutter: _Actor, batch: str, batch_pts: int, n_rough: int) -> list[str]:
        rng = self.rng
        a = YIELD_MEAN * (YIELD_MEAN * (1 - YIELD_MEAN) / YIELD_SD**2 - 1)
        b = a * (1 - YIELD_MEAN) / YIELD_MEAN
        y = min(YIELD_CLIP[1], max(YIELD_CLIP[0], rng.betavariate(a, b)))
        polished = max(1, round(batch_pts * y))
        # 1-3 stones (sawn octahedra typically 2), none much below 0.3 ct.
        count = max(1, min(3 * n_rough, rng.choices((1, 2, 3), (50, 40, 10))[0], polished // 30))
        if count == 2:
            weights = [rng.uniform(0.4, 0.6)]
            weights.append(1 - weights[0])
        else:
            weights = [rng.uniform(0.5, 1.5) for _ in range(count)]
        sizes = _apportion(polished, weights)
        stones = [f"ST-{self._serial('stone'):08d}" for _ in sizes]
        fields: dict[str, Any] = {
            "inputs": [self._ref(batch)],
            "stones": [{"parcel": s, "carats": c} for s, c in zip(stones, sizes, strict=True)],
        }
        chips = round(batch_pts * rng.uniform(0.01, 0.10)) if rng.random() < 0.6 else 0
        chip_id = f"{batch}-CH"
        if chips >= 1:
            fields["byproducts"] = [{"parcel": chip_id, "carats": chips}]
        eid = self._emit("cut", fields, cutter.key, time=self._stamp())
        p = self.parcels[batch]
        self._move_head(p, eid)
        p.status = "consumed"
        for s, c in zip(stones, sizes, strict=True):
            self._new(s, "polished", c, 1, cutter.name, eid, None, p.may)
        if chips >= 1:
            self._new(chip_id, "byproduct", chips, None, cutter.name, eid, "7102.21", p.may)
            self.stock.add(chip_id)
        self.report.stones += len(stones)
        return stones

    def _polished_price(self, points: int) -> int:
        ct = points / 100
        per_ct = 2_500 * ct**0.6 * self._lognormal(1.0, 0.3, 0.4, 3.0)
        return max(100, int(ct * per_ct * 100))

    def _polished(self, sid: str, cutter: _Actor) -> Flow:
        """A polished stone: 0-1 dealer, grading lab, retailer, sale (warranties attached)."""
        rng = self.rng
        yield self._days(2, 20)
        self._check(sid)
        holder = cutter
        if rng.random() < P_POLISHED_DEALER:
            price = self._polished_price(self.parcels[sid].carats) // 2
            warranty = rng.random() >= P_NO_WARRANTY
            holder = yield from self._ship_to_one_of(
                [sid], holder, self.traders, price=price, warranty=warranty
            )
            yield self._days(3, 30)
            self._check(sid)
        lab = yield from self._ship_to_one_of([sid], holder, self.graders)
        yield self._days(7, 30)
        self._check(sid)
        p = self.parcels[sid]
        fields: dict[str, Any] = {
            "input": self._ref(sid),
            "report": f"{lab.code}-{self._serial('report' + lab.code):010d}",
        }
        if p.carats > 10 and rng.random() < 0.15:
            fields["carats"] = p.carats - rng.randint(1, 2)  # re-weighed, a hair lighter
        eid = self._emit("grade", fields, lab.key, time=self._stamp())
        self._move_head(p, eid)
        p.carats = fields.get("carats", p.carats)
        yield self._days(1, 10)
        self._check(sid)
        price = self._polished_price(p.carats) * 7 // 10
        warranty = rng.random() >= P_NO_WARRANTY
        shop = yield from self._ship_to_one_of(
            [sid], lab, self.retailers, price=price, warranty=warranty
        )
        yield self._days(10, 180)
        self._check(sid)
        if rng.random() < P_SOLD:
            sale = {"amount": self._polished_price(p.carats), "currency": "USD"}
            fields = {"input": self._ref(sid), "price": sale}
            eid = self._emit("sell", fields, shop.key, time=self._stamp())
            self._move_head(p, eid)
            p.status = "sold"
            self.report.sales += 1

    # -- faults --------------------------------------------------------------------

    def _fault(self) -> None:
        """Try one invalid operation as its own append; it must be rejected."""
        self._flush()  # faults are judged against the committed state
        kinds = self.fault_kinds
        first = self.frng.randrange(len(kinds))
        # A kind that needs material not there yet (early on) hands over to the next one.
        for i in range(len(kinds)):
            kind = kinds[(first + i) % len(kinds)]
            built = self._build_fault(kind)
            if built is not None:
                break
        else:
            return
        entry, touched = built
        expected = FAULT_KINDS[kind]
        self.report.faults_tried += 1
        self.report.faults_by_kind[kind] += 1
        try:
            self.ledger.append([entry], now=max(self.clock, self.last))
        except LedgerError as exc:
            rule = exc.rule or exc.code
            self.report.faults_rejected[rule] += 1
            if rule not in expected:
                self.report.faults_unexpected.append(f"{kind}: expected {expected[0]}, got {exc}")
            return
        # An invalid operation was accepted: a rules-engine bug. Record it, take the
        # parcels it touched out of the simulation, and go on.
        self.report.entries += 1
        self.report.faults_accepted += 1
        self.report.accepted.append(f"{kind} (expected {expected[0]}): entry {entry.id.hex()}")
        for pid in touched:
            self.tainted.add(pid)
            self.stock.discard(pid)
            for pool in self.pools.values():
                pool.discard(pid)

    def _fault_time(self) -> int:
        return max(self.clock, self.last)

    def _sign_fault(self, entry_type: str, fields: dict[str, Any], key: PrivateKey) -> SignedEntry:
        return self.ledger.sign(entry_type, fields, key, now=self._fault_time())

    def _abroad(self, actor: _Actor) -> _Actor:
        """A dealer or cutter in another country than ``actor``'s."""
        rng = self.frng
        choices = [a for a in (*self.traders, *self.cutters) if a.country != actor.country]
        return choices[rng.randrange(len(choices))]

    def _build_fault(self, kind: str) -> tuple[SignedEntry, list[str]] | None:
        rng = self.frng
        fid = f"FAULT-{self._serial('fault'):06d}"
        if kind == "suspended-origin":
            mine = self.suspended_mine
            fields = {
                "parcel": fid,
                "carats": rng.randint(10_000, 500_000),
                "stones": rng.randint(20, 2_000),
                "mine": mine.site,
                "hs": "7102.10",
            }
            return self._sign_fault("origin", fields, mine.key), [fid]
        if kind == "backdated-origin":
            # Claimed some day in the year before the suspension, appended today.
            mine = self.suspended_mine
            since = _dt.date.fromisoformat(SUSPENDED[1])
            day = since - _dt.timedelta(days=rng.randint(1, 365))
            claimed = int(
                _dt.datetime(day.year, day.month, day.day, 12, tzinfo=_dt.UTC).timestamp()
            )
            fields = {
                "parcel": fid,
                "carats": rng.randint(10_000, 500_000),
                "stones": rng.randint(20, 2_000),
                "mine": mine.site,
                "hs": "7102.10",
            }
            return self.ledger.sign("origin", fields, mine.key, now=claimed * SECOND), [fid]
        if kind == "double-spend":
            if not self.stale:
                return None
            pid, head, signer = self.stale[rng.randrange(len(self.stale))]
            actor = self.actors[signer]
            receivers = [
                a
                for a in (*self.traders, *self.cutters, *self.retailers)
                if a.name != signer and a.country == actor.country
            ] or [self._abroad(actor)]
            to = receivers[rng.randrange(len(receivers))]
            fields = {"to": to.name, "inputs": [{"parcel": pid, "head": head}]}
            return self._sign_fault("transfer", fields, actor.key), [pid]
        if kind == "revoked-key":
            if not len(self.stock):
                return None
            pid = self.stock.choice(rng)
            fields = {"to": self.traders[0].name, "inputs": [self._ref(pid)], "warranty": "2021"}
            if self.old_keys and rng.random() < 0.5:
                # A key its owner rotated away from (perhaps because it leaked).
                name, old = self.old_keys[rng.randrange(len(self.old_keys))]
                fields["to"] = next(t.name for t in self.traders if t.name != name)
                return self._sign_fault("transfer", fields, old), [pid]
            return self._sign_fault("transfer", fields, self.revoked.key), [pid]
        if kind == "reused-certificate":
            # A stock parcel whose holder has exported before (a few draws, then give up).
            found = None
            for _ in range(8 if len(self.stock) else 0):
                cand = self.stock.choice(rng)
                if self.parcels[cand].holder in self.last_cert:
                    found = cand
                    break
            if found is None:
                return None
            pid = found
            holder = self.actors[self.parcels[pid].holder]
            number, importer = self.last_cert[holder.name]
            fields = {"to": importer, "inputs": [self._ref(pid)], "certificate": number}
            return self._sign_fault("transfer", fields, holder.key), [pid]
        if not len(self.stock):
            return None
        pid = self.stock.choice(rng)
        p = self.parcels[pid]
        holder = self.actors[p.holder]
        if kind == "mass-inflation":
            extra = max(1, p.carats * rng.randint(1, 50) // 1000)
            half = p.carats // 2
            outputs = [
                {"parcel": f"{fid}-A", "carats": max(1, half)},
                {"parcel": f"{fid}-B", "carats": p.carats - half + extra},
            ]
            fields = {"input": self._ref(pid), "outputs": outputs}
            return self._sign_fault("split", fields, holder.key), [pid]
        if kind == "no-certificate":
            to = self._abroad(holder)
            fields = {"to": to.name, "inputs": [self._ref(pid)], "warranty": "2021"}
            return self._sign_fault("transfer", fields, holder.key), [pid]
        to = self._abroad(holder)
        variant = rng.randrange(3)
        if variant == 2:  # a transfer citing a certificate no authority issued
            number = f"{holder.country}-FORGED-{fid}"
            fields = {"to": to.name, "inputs": [self._ref(pid)], "certificate": number}
            return self._sign_fault("transfer", fields, holder.key), [pid]
        number = f"{holder.country}-{date_of(self._fault_time())[:4]}-X{fid}"
        expires = date_of(self._fault_time() + 60 * DAY)
        value = p.carats * rng.randint(50, 500)
        fields = self._certificate_fields(number, holder, to, [pid], expires=expires, value=value)
        if variant == 0:  # signed by a dealer, who has no authority role
            forger = self.traders[rng.randrange(len(self.traders))].key
        else:  # signed by the authority of another country
            others = [a for cc, a in self.authorities.items() if cc != holder.country]
            forger = others[rng.randrange(len(others))].key
        return self._sign_fault("certificate.issue", fields, forger), [pid]


def iter_lines(report: SimReport) -> Iterator[str]:
    """The human summary of a report, one line at a time (used by the CLI)."""
    r = report
    rate = r.entries / r.seconds if r.seconds > 0 else 0.0
    yield (
        f"simulated {r.lots} lots (seed {r.seed}): {r.entries} entries in {r.seconds:.1f} s "
        f"({rate:,.0f} entries/s, {r.batches} batches)"
    )
    yield (
        f"  {r.parcels} rough parcels, {r.certificates} KP certificates, {r.transfers} transfers, "
        f"{r.stones} polished stones, {r.sales} sales, {r.rotations} key rotations"
    )
    yield f"  synthetic time {_fmt_day(r.first_time)} to {_fmt_day(r.last_time)}"
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
    yield f"  ledger {r.path}: {r.size} records, root {r.root.hex()}"


def _fmt_day(ms: int) -> str:
    return date_of(ms)
