"""The supply-chain flows: what happens to each production lot, and when (domain.md §6).

Each flow is a generator the engine steps: it calls operations of the
:class:`~ledger.sim.mirror.Mirror` (each signs one entry) and yields how long it waits.
:meth:`Flows.production` starts one :meth:`Flows.lot` flow per production lot, about
every 45 minutes; a lot goes

* from the mine (origin, producer sorting into sale boxes),
* by sight, tender or auction to a hub dealer or straight to a manufacturing
  sightholder (:meth:`Flows.ship`: a KP certificate when rough crosses a border, the
  offer, transit, and an accept, reject or cancel),
* through 0-3 dealer hops with re-sorting splits and mixed-origin merges
  (:meth:`Flows.at_hub`),
* to a cutter's batches (:meth:`Flows.cutting`, :meth:`Flows.cut`), whose polished
  stones each follow :meth:`Flows.polished` (dealer, grading lab, retailer, sale);

now and then (``P_GROWN`` per lot) a producer grows a run of laboratory-grown rough
(:meth:`Flows.grown_lot`), sold straight to a cutter without a KP certificate (it is
outside the KP) and cut and sold like natural goods, but never merged or cut with them;
and :meth:`Flows.rotations` rotates a participant's key every few weeks.

Every decision (which buyer, how big a box, the cutting yield, prices, waits) is drawn
here from the seeded :class:`~ledger.sim.world.Rng`, in a fixed order: moving a draw
changes every ledger a seed gives. The module deliberately builds no entry fields
(:mod:`ledger.sim.mirror`) and injects no invalid operations (:mod:`ledger.sim.faults`).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence

from ledger.sim.engine import NO_LOT, Engine, Flow
from ledger.sim.mirror import Mirror
from ledger.sim.world import MINUTE, REVOKED, Actor, Cast, Rng, apportion, rotated_key

__all__ = [
    "HOP_WEIGHTS",
    "P_CANCEL",
    "P_DIRECT_TO_CUTTER",
    "P_GROWN",
    "P_MERGE",
    "P_MORE_BOXES",
    "P_NO_WARRANTY",
    "P_POLISHED_DEALER",
    "P_REJECT",
    "P_RESORT",
    "P_SOLD",
    "P_UNCONFIRMED",
    "YIELD_CLIP",
    "YIELD_MEAN",
    "YIELD_SD",
    "Flows",
    "polished_price",
    "rough_value",
]

# Chain parameters (domain.md §6).
YIELD_MEAN = 0.42
YIELD_SD = 0.07
YIELD_CLIP = (0.20, 0.60)
P_DIRECT_TO_CUTTER = 0.25  # a manufacturing sightholder buys the box itself
HOP_WEIGHTS = (20, 35, 30, 15)  # 0, 1, 2, 3 rough-dealer hops
P_MORE_BOXES = 0.15  # per other box of the lot: shipped with the sale box
P_MERGE = 0.30
P_GROWN = 0.05  # per mine lot: a producer also grows a run of laboratory-grown rough
P_UNCONFIRMED = 0.03  # an importing authority never confirms the receipt (R-KP-3 WARN)
P_RESORT = 0.35
P_REJECT = 0.02
P_CANCEL = 0.02
P_NO_WARRANTY = 0.02
P_POLISHED_DEALER = 0.35
P_SOLD = 0.9


def rough_value(rng: Rng, carats: int) -> int:
    """A declared value in US cents for ``carats`` points of rough: about US$50-600/ct."""
    per_ct = rng.lognormal(170.0, 0.5, 40.0, 900.0)
    return max(1, int(carats * per_ct))  # points x dollars/ct = cents


def polished_price(rng: Rng, points: int) -> int:
    """A retail price in US cents for a polished stone of ``points``."""
    ct = points / 100
    per_ct = 2_500 * ct**0.6 * rng.lognormal(1.0, 0.3, 0.4, 3.0)
    return max(100, int(ct * per_ct * 100))


class Flows:
    """The flows of one simulation (generators to hand to :meth:`Engine.run`)."""

    def __init__(
        self, engine: Engine, mirror: Mirror, cast: Cast, rng: Rng, *, seed: int, lots: int
    ) -> None:
        self.engine = engine
        self.mirror = mirror
        self.cast = cast
        self.rng = rng
        self.seed = seed
        self.lots = lots

    # -- background ------------------------------------------------------------------

    def production(self) -> Flow:
        """Mines report production lots at random intervals (about one every 45 minutes)."""
        for lot in range(self.lots):
            self.engine.spawn(lot, self.lot(lot))
            if self.rng.random() < P_GROWN:
                self.engine.spawn(NO_LOT, self.grown_lot())
            yield int(self.rng.expovariate(1.0) * 45 * MINUTE) + MINUTE

    def rotations(self) -> Flow:
        """Every few weeks a participant rotates its key (the old key co-signs)."""
        rng, cast = self.rng, self.cast
        people = [
            a
            for a in cast.actors.values()
            if a.name != REVOKED and a is not cast.suspended_mine and a.name not in cast.scene
        ]
        while True:
            yield rng.days(20, 60)
            if self.engine.idle:  # only this flow is left: the simulation is over
                return
            actor = people[rng.randrange(len(people))]
            n = self.mirror.serial("rotation/" + actor.name)
            new = rotated_key(self.seed, actor.name, n)
            self.mirror.rotate(cast.proposer, actor, new, cast.cosigners)

    # -- shipping --------------------------------------------------------------------

    def ship(
        self,
        pids: Sequence[str],
        sender: Actor,
        receiver: Actor,
        *,
        price: int | None = None,
        warranty: bool = True,
    ) -> Generator[int, None, bool]:
        """Certificate (natural rough across a border), offer, transit, answer: True if
        accepted."""
        m, rng = self.mirror, self.rng
        rough = any(m.parcels[p].kind != "polished" and not m.parcels[p].grown for p in pids)
        number = None
        if rough and sender.country != receiver.country:
            value = rough_value(rng, sum(m.parcels[p].carats for p in pids))
            authority = self.cast.authorities[sender.country]
            number = m.certify(authority, sender, receiver, pids, value)
            yield rng.hours(1, 12)
            m.check(*pids)
        offer = m.offer(sender, receiver, pids, certificate=number, warranty=warranty, price=price)
        yield rng.hours(4, 24 * 5)
        m.check(*pids)
        r = rng.random()
        if r < P_REJECT:
            reason = rng.choice(
                ("assortment differs from the invoice", "price dispute", "weight discrepancy")
            )
            m.answer("reject", receiver, offer, pids, None, reason=reason)
            return False
        if r < P_REJECT + P_CANCEL:
            m.answer("cancel", sender, offer, pids, None)
            return False
        m.answer("accept", receiver, offer, pids, receiver.name)
        if number is not None and rng.random() >= P_UNCONFIRMED:
            # The importing authority confirms receipt to the exporting one (KPCS Annex I).
            carats = sum(m.parcels[p].carats for p in pids)
            authority = self.cast.authorities[receiver.country]
            flow = self.confirm_import(authority, number, offer, carats, len(pids))
            self.engine.spawn(NO_LOT, flow, rng.days(1, 10))
        return True

    def confirm_import(
        self, authority: Actor, number: str, shipment: bytes, carats: int, count: int
    ) -> Flow:
        """The importing authority's confirmation, some days after the acceptance."""
        self.mirror.confirm(authority, number, shipment, carats, count)
        return
        yield  # a flow: the engine resumes it once, when it is due

    def ship_to_one_of(
        self,
        pids: Sequence[str],
        sender: Actor,
        choices: Sequence[Actor],
        *,
        price: int | None = None,
        warranty: bool = True,
    ) -> Generator[int, None, Actor]:
        """Offer ``pids`` to one of ``choices`` until someone accepts; returns the buyer."""
        while True:
            buyer = self.rng.choice([c for c in choices if c.name != sender.name])
            if (yield from self.ship(pids, sender, buyer, price=price, warranty=warranty)):
                return buyer
            yield self.rng.days(1, 7)
            self.mirror.check(*pids)

    # -- rough -----------------------------------------------------------------------

    def lot(self, lot: int) -> Flow:
        """One production lot, from the mine to a cutter."""
        rng, m, cast = self.rng, self.mirror, self.cast
        cc = rng.choices(cast.producing, cast.country_weights)[0]
        mine = rng.choice(cast.mines[cc])
        ct = rng.lognormal(5_000.0, 0.9, 1_000.0, 100_000.0)
        carats = round(ct * 100)
        stones = max(50, round(ct / (mine.stone_ct * rng.lognormal(1.0, 0.15, 0.6, 1.6))))
        hs = "7102.31" if rng.random() < 0.7 else "7102.10"
        pid = f"{mine.code}-L{lot + 1:06d}"
        m.origin(mine, pid, carats, stones, hs)
        yield rng.hours(12, 72)
        m.check(pid)

        # Producer sorting: one sale box (50-5,000 ct, median ~300) and 1-3 other boxes
        # that stay in the mine's stock.
        box_ct = rng.lognormal(300.0, 0.8, 50.0, 5_000.0)
        box = min(round(box_ct * 100), carats * 6 // 10)
        others = rng.randint(1, 3)
        shares = [box / carats] + [rng.uniform(0.5, 1.5) for _ in range(others)]
        rest = 1 - shares[0]
        tail = sum(shares[1:])
        shares[1:] = [s * rest / tail for s in shares[1:]]
        lot_id = pid
        pid = yield from self.resplit(mine, pid, shares, f"{lot_id}-B", to_stock=True)
        yield rng.days(3, 20)
        m.check(pid)

        # Sight, tender or auction: a hub dealer or a manufacturing sightholder buys the
        # box, sometimes with one or two more boxes of the lot under the same certificate.
        direct = rng.random() < P_DIRECT_TO_CUTTER
        boxes = [pid]
        for i in range(2, 2 + others):
            extra = f"{lot_id}-B{i}"
            if rng.random() < P_MORE_BOXES and extra in m.stock:
                m.stock.discard(extra)
                boxes.append(extra)
        price = rough_value(rng, sum(m.parcels[b].carats for b in boxes))
        holder = yield from self.ship_to_one_of(
            boxes, mine, cast.cutters if direct else cast.traders, price=price
        )
        for extra in boxes[1:]:  # the buyer keeps the other boxes in stock
            m.stock.add(extra)
            if holder.name in m.pools:
                m.pools[holder.name].add(extra)
        if not direct:
            hops = rng.choices(range(len(HOP_WEIGHTS)), HOP_WEIGHTS)[0]
            for hop in range(hops + 1):
                yield rng.days(3, 45)
                m.check(pid)
                pid = yield from self.at_hub(holder, pid)
                value = rough_value(rng, m.parcels[pid].carats)
                if hop < hops:
                    # Same-hub deals are common; otherwise another hub, under a certificate.
                    local = [t for t in cast.traders if t.country == holder.country]
                    pool = local if rng.random() < 0.4 and len(local) > 1 else cast.traders
                    holder = yield from self.ship_to_one_of([pid], holder, pool, price=value)
                else:
                    holder = yield from self.ship_to_one_of(
                        [pid], holder, cast.cutters, price=value
                    )
        yield from self.cutting(lot, holder, pid)

    def grown_lot(self) -> Flow:
        """A run of laboratory-grown rough: grown, sold to a cutter (no KP certificate: it is
        outside the KP), cut like natural rough, never mixed with natural goods."""
        rng, m, cast = self.rng, self.mirror, self.cast
        producer = rng.choice(cast.producers)
        ct = rng.lognormal(150.0, 0.6, 30.0, 1_000.0)
        stones = max(10, round(ct / rng.uniform(1.0, 3.0)))  # CVD crystals of 1-3 ct
        pid = f"{producer.code}-G{m.serial('grow'):06d}"
        m.grow(producer, pid, round(ct * 100), stones)
        yield rng.days(2, 20)
        m.check(pid)
        price = rough_value(rng, m.parcels[pid].carats) // 5  # far below natural rough
        cutter = yield from self.ship_to_one_of([pid], producer, cast.cutters, price=price)
        yield from self.cutting(NO_LOT, cutter, pid)

    def resplit(
        self, holder: Actor, pid: str, shares: Sequence[float], prefix: str, *, to_stock: bool
    ) -> Generator[int, None, str]:
        """Split ``pid`` by ``shares``; the first output is followed, the rest go to stock
        (and, at a hub dealer, to the pool other lots merge from)."""
        m = self.mirror
        p = m.parcels[pid]
        carats = apportion(p.carats, shares)
        jitter = [c * self.rng.uniform(0.8, 1.25) for c in carats]
        stones = apportion(p.stone_count(), jitter)
        outs = [
            (f"{prefix}{i + 1}", c, s) for i, (c, s) in enumerate(zip(carats, stones, strict=True))
        ]
        m.split(holder, pid, outs)
        pool = m.pools.get(holder.name)
        for o, _, _ in outs[1:]:
            if to_stock:
                m.stock.add(o)
                if pool is not None:
                    pool.add(o)
        yield self.rng.hours(1, 24)
        m.check(outs[0][0])
        return outs[0][0]

    def at_hub(self, trader: Actor, pid: str) -> Generator[int, None, str]:
        """Hub re-sorting: a mixed-origin merge with the dealer's stock, and/or a split."""
        rng, m = self.rng, self.mirror
        pool = m.pools[trader.name]
        if len(pool) and rng.random() < P_MERGE:
            own = m.parcels[pid].may
            picks: list[str] = []
            for _ in range(rng.randint(1, 2)):
                if len(pool) == 0:
                    break
                cand = pool.choice(rng)
                # Dealers blend same-category goods from different mines and countries.
                if m.parcels[cand].may == own and len(pool) > 1:
                    cand = pool.choice(rng)
                pool.discard(cand)
                m.stock.discard(cand)
                picks.append(cand)
            out = f"{trader.code}-MX{m.serial('mx' + trader.code):06d}"
            inputs = [pid, *picks]
            total = sum(m.parcels[i].carats for i in inputs)
            # A re-weighing at the hub may come in a hair lighter than the sum of the tickets.
            carats = total - (rng.randint(0, total // 2000) if rng.random() < 0.2 else 0)
            m.merge(trader, inputs, out, carats)
            pid = out
            yield rng.hours(2, 48)
            m.check(pid)
        p = m.parcels[pid]
        if (
            p.carats >= 1_000
            and p.stone_count() >= 4
            and (p.carats > 50_000 or rng.random() < P_RESORT)
        ):
            # Dealer sub-parcels: 5-500 ct, at most 70 % of the parcel.
            target = math.exp(rng.uniform(math.log(5), math.log(500))) * 100
            keep = max(500, min(round(target), p.carats * 7 // 10))
            n = rng.randint(1, 2)
            rest = 1 - keep / p.carats
            shares = [keep / p.carats] + [rest / n] * n
            prefix = f"{trader.code}-S{m.serial('s' + trader.code):06d}-"
            pid = yield from self.resplit(trader, pid, shares, prefix, to_stock=True)
        return pid

    # -- cutting and polished ----------------------------------------------------------

    def cutting(self, lot: int, cutter: Actor, pid: str) -> Flow:
        """Cutting batches of 1-2 rough stones, 1-3 polished stones each, plus chips."""
        rng, m = self.rng, self.mirror
        yield rng.days(5, 40)
        m.check(pid)
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            p = m.parcels[pid]
            n_rough = 1 if rng.random() < 0.75 else 2
            avg = p.carats / p.stone_count()
            # The cutter picks rough big enough for single certified stones (0.3-5 ct
            # polished): about 0.8-15 ct each, median 2 ct; the rest of the parcel is melee.
            weights = [
                round(rng.lognormal(max(200.0, 2 * avg), 0.5, 80.0, 1_500.0))
                for _ in range(n_rough)
            ]
            batch_pts = sum(weights)
            left_pts, left_stones = p.carats - batch_pts, p.stone_count() - n_rough
            if batch_pts > p.carats // 2 or left_stones < 1 or left_pts < left_stones:
                break
            serial = m.serial("cb" + cutter.code)
            batch = f"{cutter.code}-CB{serial:07d}"
            rest = f"{cutter.code}-R{serial:07d}"
            m.split(cutter, pid, [(batch, batch_pts, n_rough), (rest, left_pts, left_stones)])
            pid = rest
            yield rng.hours(2, 72)
            m.check(batch, pid)
            for stone in self.cut(cutter, batch, batch_pts, n_rough):
                self.engine.spawn(lot, self.polished(stone, cutter))
            yield rng.days(1, 10)
            m.check(pid)
        m.put_in_stock(pid)  # the rest of the rough stays in the cutter's stock

    def cut(self, cutter: Actor, batch: str, batch_pts: int, n_rough: int) -> list[str]:
        """Cut one batch: the yield (Beta, mean 0.42, clipped), 1-3 stones, maybe chips."""
        rng, m = self.rng, self.mirror
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
        sizes = apportion(polished, weights)
        stones = [(f"ST-{m.serial('stone'):08d}", c) for c in sizes]
        chips = round(batch_pts * rng.uniform(0.01, 0.10)) if rng.random() < 0.6 else 0
        return m.cut(cutter, batch, stones, (f"{batch}-CH", chips) if chips >= 1 else None)

    def polished(self, sid: str, cutter: Actor) -> Flow:
        """A polished stone: 0-1 dealer, grading lab, retailer, sale (warranties attached)."""
        rng, m, cast = self.rng, self.mirror, self.cast
        yield rng.days(2, 20)
        m.check(sid)
        holder = cutter
        if rng.random() < P_POLISHED_DEALER:
            price = polished_price(rng, m.parcels[sid].carats) // 2
            warranty = rng.random() >= P_NO_WARRANTY
            holder = yield from self.ship_to_one_of(
                [sid], holder, cast.traders, price=price, warranty=warranty
            )
            yield rng.days(3, 30)
            m.check(sid)
        lab = yield from self.ship_to_one_of([sid], holder, cast.graders)
        yield rng.days(7, 30)
        m.check(sid)
        p = m.parcels[sid]
        number = f"{lab.code}-{m.serial('report' + lab.code):010d}"
        reweighed = None
        if p.carats > 10 and rng.random() < 0.15:
            reweighed = p.carats - rng.randint(1, 2)  # re-weighed, a hair lighter
        m.grade(lab, sid, number, reweighed)
        yield rng.days(1, 10)
        m.check(sid)
        price = polished_price(rng, p.carats) * 7 // 10
        warranty = rng.random() >= P_NO_WARRANTY
        shop = yield from self.ship_to_one_of(
            [sid], lab, cast.retailers, price=price, warranty=warranty
        )
        yield rng.days(10, 180)
        m.check(sid)
        if rng.random() < P_SOLD:
            m.sell(shop, sid, polished_price(rng, p.carats))
