"""The simulator's own copy of the ledger state, and the operations that keep it in step.

``Ledger.input_ref`` only sees committed state, and entries wait in the engine's batch
before they are committed, so the simulator never reads the ledger back: it keeps a
:class:`Mirror` of what ``ledger.core.rules`` keeps about each parcel (head, holder,
weight, stone count, HS code, possible origins, status, nature, warranty mark). Each
operation here signs one entry through the engine and applies to the mirror what the rules
apply to the state (origin, grow, split, merge, certificate, transfer offer and answer,
cut, grade, sale, key rotation). The mirror also keeps what the fault injector aims at:
the stock of idle natural parcels and that of laboratory-grown ones (kept apart: nothing
takes grown goods for natural), each hub dealer's pool, recently superseded heads, each
exporter's last certificate, rotated-out keys, and the parcels an accepted fault took out.

It deliberately makes no decisions and draws no random numbers: which parcel moves
where, when and at what price is decided by :mod:`ledger.sim.flows`, and each operation
takes those decisions as arguments.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.core.keys import PrivateKey
from ledger.core.rules import date_of
from ledger.core.rules.transform import GROWN_HS
from ledger.errors import SimulationError
from ledger.sim.engine import DerailedError, Engine
from ledger.sim.world import DAY, Actor, Bag, Cast

__all__ = ["STALE_MEMORY", "Mirror", "Parcel"]

#: How many superseded parcel heads are kept as double-spend material.
STALE_MEMORY = 64


@dataclass
class Parcel:
    """The simulator's mirror of one parcel or stone (what ledger.core.rules keeps)."""

    id: str
    kind: str
    carats: int
    stones: int | None
    holder: str
    head: bytes
    hs: str | None
    may: tuple[str, ...]
    status: str = "live"
    #: Some B2B transfer of its ancestry carried no warranty (R-SW-2: it cannot be warranted).
    unwarranted: bool = False
    #: Laboratory-grown goods (R-SW-3: never mixed with natural ones).
    grown: bool = False

    def stone_count(self) -> int:
        """The number of stones (rough and polished parcels always have one).

        Raises:
            SimulationError: the parcel is one without a count (by-products).
        """
        if self.stones is None:  # pragma: no cover - flows only follow parcels with a count
            raise SimulationError(f"parcel {self.id!r} has no stone count")
        return self.stones


class Mirror:
    """Every parcel the simulation made, and the entries that change them."""

    def __init__(self, engine: Engine, cast: Cast) -> None:
        self.engine = engine
        self.report = engine.report
        self.parcels: dict[str, Parcel] = {}
        #: Live natural rough parcels no flow is using (fault targets, merge material).
        self.stock = Bag()
        #: Live laboratory-grown rough no flow is using (left over at cutters; fault targets).
        self.grown_stock = Bag()
        #: Laboratory-grown polished stones, in the order they were cut.
        self.grown_stones: list[str] = []
        #: Per hub dealer: sub-parcels other lots merge from.
        self.pools: dict[str, Bag] = {t.name: Bag() for t in cast.traders}
        #: (parcel, superseded head, holder then): material for double spends.
        self.stale: deque[tuple[str, bytes, str]] = deque(maxlen=STALE_MEMORY)
        #: Per exporter: (number, importer) of its last certificate.
        self.last_cert: dict[str, tuple[str, str]] = {}
        #: Offers made without a warranty statement, until answered.
        self.bare_offers: set[bytes] = set()
        #: (participant, key) pairs rotated away from.
        self.old_keys: list[tuple[str, PrivateKey]] = []
        #: Parcels an accepted fault touched; the flows following them stop.
        self.tainted: set[str] = set()
        self._serials: Counter[str] = Counter()

    # -- bookkeeping -----------------------------------------------------------------

    def serial(self, prefix: str) -> int:
        """The next number in the series ``prefix`` (parcel ids, certificate numbers)."""
        self._serials[prefix] += 1
        return self._serials[prefix]

    def check(self, *pids: str) -> None:
        """Stop the calling flow if any of ``pids`` was touched by an accepted fault.

        Raises:
            DerailedError: one of them was.
        """
        if self.tainted and any(p in self.tainted for p in pids):
            raise DerailedError

    def taint(self, pids: Sequence[str]) -> None:
        """Take ``pids`` out of the simulation (an invalid operation on them got in)."""
        for pid in pids:
            self.tainted.add(pid)
            self.stock.discard(pid)
            self.grown_stock.discard(pid)
            for pool in self.pools.values():
                pool.discard(pid)

    def put_in_stock(self, pid: str) -> None:
        """Put ``pid`` in the stock of idle goods of its nature."""
        (self.grown_stock if self.parcels[pid].grown else self.stock).add(pid)

    def ref(self, pid: str) -> dict[str, Any]:
        """An input reference to the current head of ``pid``."""
        return {"parcel": pid, "head": self.parcels[pid].head}

    def _move_head(self, p: Parcel, head: bytes) -> None:
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
        unwarranted: bool = False,
        grown: bool = False,
    ) -> Parcel:
        p = Parcel(
            pid, kind, carats, stones, holder, head, hs, may, unwarranted=unwarranted, grown=grown
        )
        self.parcels[pid] = p
        if kind != "polished":
            self.report.parcels += 1
        return p

    def _emit(
        self,
        entry_type: str,
        fields: dict[str, Any],
        key: PrivateKey,
        *,
        cosigners: Sequence[PrivateKey] = (),
    ) -> bytes:
        engine = self.engine
        return engine.emit(entry_type, fields, key, time=engine.stamp(), cosigners=cosigners)

    # -- rough: origin, split, merge ---------------------------------------------------

    def origin(self, mine: Actor, pid: str, carats: int, stones: int, hs: str) -> None:
        fields = {"parcel": pid, "carats": carats, "stones": stones, "mine": mine.site, "hs": hs}
        eid = self._emit("origin", fields, mine.key)
        self._new(pid, "rough", carats, stones, mine.name, eid, hs, (mine.country,))

    def grow(self, producer: Actor, pid: str, carats: int, stones: int) -> None:
        """Laboratory-grown rough registered by ``producer`` (HS 7104.21, outside the KP)."""
        fields = {"parcel": pid, "carats": carats, "stones": stones, "facility": producer.site}
        eid = self._emit("grow", fields, producer.key)
        may = (producer.country,)
        self._new(pid, "rough", carats, stones, producer.name, eid, GROWN_HS, may, grown=True)
        self.report.grown += 1

    def split(self, holder: Actor, pid: str, outputs: Sequence[tuple[str, int, int]]) -> None:
        """Split ``pid`` into (id, carats, stones) ``outputs``."""
        p = self.parcels[pid]
        fields = {
            "input": self.ref(pid),
            "outputs": [{"parcel": o, "carats": c, "stones": s} for o, c, s in outputs],
        }
        eid = self._emit("split", fields, holder.key)
        self._move_head(p, eid)
        p.status = "consumed"
        for o, c, s in outputs:
            self._new(o, p.kind, c, s, holder.name, eid, p.hs, p.may, p.unwarranted, p.grown)

    def merge(self, holder: Actor, pids: Sequence[str], out: str, carats: int) -> None:
        """Merge ``pids`` into ``out``, weighed at ``carats``."""
        ps = [self.parcels[pid] for pid in pids]
        stones = sum(p.stones or 0 for p in ps)
        fields = {
            "inputs": [self.ref(pid) for pid in pids],
            "output": {"parcel": out, "carats": carats, "stones": stones},
        }
        eid = self._emit("merge", fields, holder.key)
        hs = {p.hs for p in ps}
        may = tuple(sorted({c for p in ps for c in p.may}))
        kind = "byproduct" if all(p.kind == "byproduct" for p in ps) else "rough"
        for p in ps:
            self._move_head(p, eid)
            p.status = "consumed"
        merged_hs = hs.pop() if len(hs) == 1 else "7102.10"
        unwarranted = any(p.unwarranted for p in ps)
        grown = all(p.grown for p in ps)  # the flows never mix natures (R-SW-3)
        self._new(out, kind, carats, stones, holder.name, eid, merged_hs, may, unwarranted, grown)

    # -- shipping: certificate, offer, answer -----------------------------------------

    def certificate_fields(
        self,
        number: str,
        sender: Actor,
        receiver: Actor,
        pids: Sequence[str],
        *,
        expires: str,
        value: int,
    ) -> dict[str, Any]:
        """The fields of a KP certificate for ``pids`` from ``sender`` to ``receiver``."""
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

    def certify(
        self, authority: Actor, sender: Actor, receiver: Actor, pids: Sequence[str], value: int
    ) -> str:
        """Issue a KP certificate (valid 60 days) for ``pids``; returns its number."""
        t = self.engine.stamp()
        year = date_of(t)[:4]
        number = f"{sender.country}-{year}-{self.serial('cert' + sender.country):06d}"
        expires = date_of(t + 60 * DAY)
        fields = self.certificate_fields(
            number, sender, receiver, pids, expires=expires, value=value
        )
        self.engine.emit("certificate.issue", fields, authority.key, time=t)
        self.report.certificates += 1
        return number

    def confirm(
        self, authority: Actor, number: str, shipment: bytes, carats: int, count: int
    ) -> None:
        """The importing ``authority`` confirms receipt under certificate ``number``."""
        fields = {"number": number, "shipment": shipment, "carats": carats, "count": count}
        self.engine.emit("certificate.confirm", fields, authority.key, time=self.engine.stamp())
        self.report.confirmations += 1

    def offer(
        self,
        sender: Actor,
        receiver: Actor,
        pids: Sequence[str],
        *,
        certificate: str | None,
        warranty: bool,
        price: int | None,
    ) -> bytes:
        """Offer ``pids`` to ``receiver`` (they are locked until answered); returns its id."""
        fields: dict[str, Any] = {"to": receiver.name, "inputs": [self.ref(p) for p in pids]}
        if certificate is not None:
            fields["certificate"] = certificate
        if price is not None:
            fields["price"] = {"amount": price, "currency": "USD"}
        # A broken chain of warranties cannot be mended downstream (R-SW-2).
        warranty = warranty and not any(self.parcels[p].unwarranted for p in pids)
        if warranty:
            fields["warranty"] = "2021"
        eid = self._emit("transfer", fields, sender.key)
        self.report.transfers += 1
        for pid in pids:
            p = self.parcels[pid]
            self._move_head(p, eid)
            p.status = "locked"
        if certificate is not None:
            self.last_cert[sender.name] = (certificate, receiver.name)
        if not warranty:
            self.bare_offers.add(eid)
        return eid

    def answer(
        self,
        kind: str,
        signer: Actor,
        offer: bytes,
        pids: Sequence[str],
        holder: str | None,
        *,
        reason: str | None = None,
    ) -> None:
        """Accept, reject or cancel an offer; ``holder`` is the new holder on accept."""
        fields: dict[str, Any] = {"transfer": offer}
        if reason is not None:
            fields["reason"] = reason
        eid = self._emit(kind, fields, signer.key)
        bare = offer in self.bare_offers
        self.bare_offers.discard(offer)
        for pid in pids:
            p = self.parcels[pid]
            self._move_head(p, eid)
            p.status = "live"
            if holder is not None:
                p.holder = holder
                p.unwarranted = p.unwarranted or bare

    # -- polished: cut, grade, sell ----------------------------------------------------

    def cut(
        self,
        cutter: Actor,
        batch: str,
        stones: Sequence[tuple[str, int]],
        chips: tuple[str, int] | None,
    ) -> list[str]:
        """Cut rough parcel ``batch`` into (id, carats) ``stones`` and, if given, a parcel
        of (id, carats) chips that goes to stock; returns the stone ids."""
        fields: dict[str, Any] = {
            "inputs": [self.ref(batch)],
            "stones": [{"parcel": s, "carats": c} for s, c in stones],
        }
        if chips is not None:
            fields["byproducts"] = [{"parcel": chips[0], "carats": chips[1]}]
        eid = self._emit("cut", fields, cutter.key)
        p = self.parcels[batch]
        self._move_head(p, eid)
        p.status = "consumed"
        for s, c in stones:
            self._new(s, "polished", c, 1, cutter.name, eid, None, p.may, p.unwarranted, p.grown)
        if p.grown:
            self.grown_stones.extend(s for s, _ in stones)
        if chips is not None:
            chip_id, chip_pts = chips
            self._new(
                chip_id,
                "byproduct",
                chip_pts,
                None,
                cutter.name,
                eid,
                GROWN_HS if p.grown else "7102.21",
                p.may,
                p.unwarranted,
                p.grown,
            )
            self.put_in_stock(chip_id)
        self.report.stones += len(stones)
        return [s for s, _ in stones]

    def grade(self, lab: Actor, sid: str, number: str, carats: int | None) -> None:
        """A grading report ``number`` on stone ``sid``, re-weighed at ``carats`` if given."""
        p = self.parcels[sid]
        fields: dict[str, Any] = {"input": self.ref(sid), "report": number}
        if carats is not None:
            fields["carats"] = carats
        eid = self._emit("grade", fields, lab.key)
        self._move_head(p, eid)
        if carats is not None:
            p.carats = carats

    def sell(self, shop: Actor, sid: str, amount: int) -> None:
        """A retail sale of stone ``sid`` for ``amount`` US cents."""
        p = self.parcels[sid]
        fields = {"input": self.ref(sid), "price": {"amount": amount, "currency": "USD"}}
        eid = self._emit("sell", fields, shop.key)
        self._move_head(p, eid)
        p.status = "sold"
        self.report.sales += 1

    # -- participants ------------------------------------------------------------------

    def rotate(
        self,
        proposer: PrivateKey,
        actor: Actor,
        new: PrivateKey,
        cosigners: Sequence[PrivateKey] = (),
    ) -> None:
        """``actor`` rotates to ``new`` (k governors sign, the old key co-signs)."""
        old = actor.key
        fields = {"name": actor.name, "pub": new.public}
        self._emit("participant.rotate", fields, proposer, cosigners=[*cosigners, old])
        actor.key = new
        self.old_keys.append((actor.name, old))
        self.report.rotations += 1
