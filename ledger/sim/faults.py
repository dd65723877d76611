"""Fault injection: frauds the ledger must refuse or a buyer's policy must fail, and how
each is built.

Every fault kind is one builder function registered with :func:`fault`, which names the
kind and the rule IDs expected to catch it (the first is the rule the kind targets)::

    @fault("double-spend", "R-CU-3")
    def _double_spend(ctx: FaultInjector, fid: str) -> Attempt | None:
        ...

A builder reads the simulation through ``ctx`` (the cast, the mirror of parcel state,
the staged scenes, the fault random stream ``ctx.rng``, the present time) and returns the
signed entry plus the parcels it touches, or ``None`` when the material it needs is not
there yet (early in a run), in which case the injector tries the next kind. ``fid`` is a
fresh serial for parcel ids and certificate numbers the fault makes up.

:class:`FaultInjector` runs between engine steps: with probability ``rate`` it flushes
the pending batch, builds one fault and appends it alone against the committed state.
A refusal is counted by rule; an acceptance is a rules-engine bug, counted in
``SimReport.faults_accepted``, and the parcels it touched leave the simulation.

A **policy fault** (registered with ``policy=``) is a fraud the ledger rightly accepts
because it breaks no rule of the log, only a buyer's policy: Botswana rough re-exported
through Moscow (legal under the KP, denied by the EU's custody rule), goods a sanctioned
party traded. Its builder returns a :class:`Story`: a flow of valid steps, each appended
alone as soon as it is taken (so the trade's own entries stay as they are), ending in an
item. At the end of the run :meth:`FaultInjector.judge` proves every such item and judges
the bundle under the kind's policy, as ``kpledger verify-proof --policy`` does: failing
it with the targeted rule is counted in ``SimReport.faults_failed``; passing it is a bug
(``SimReport.faults_passed``), like an accepted fault. A few honest laboratory-grown
stones are judged under ``eu-russia`` beside them and must pass (controls).

To add a kind, write its builder at the end of this module. The order of registration is
the order of :data:`FAULT_KINDS`, which the injector cycles through, so existing kinds
keep their place. A kind the rules engine is known to accept yet is registered with
``known_gap=True``: it stays selectable but out of the default mix.

The module deliberately writes no trade traffic and changes no parcel state of the
mirror except to take out what an accepted fault touched; it draws only from its own
random stream, so the trade's entries are the same at every fault rate (the policy
faults add theirs beside them).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.core import proofs
from ledger.core.keys import PrivateKey
from ledger.core.model import SignedEntry
from ledger.core.policy import Policy, named_policy
from ledger.core.rules import date_of
from ledger.errors import LedgerError, SimulationError
from ledger.sim.engine import FAULT_LOT, Engine, Flow
from ledger.sim.mirror import Mirror
from ledger.sim.scenes import EU_LIST, Held, Scenes
from ledger.sim.world import DAY, SECOND, SUSPENDED, Actor, Cast, Rng, derive_key

__all__ = [
    "CONTROLS",
    "CONTROL_POLICY",
    "DEFAULT_FAULT_KINDS",
    "EU_BUYER",
    "FAULTS",
    "FAULT_KINDS",
    "KNOWN_GAPS",
    "POLICY_KINDS",
    "Attempt",
    "FaultInjector",
    "FaultKind",
    "Story",
    "fault",
]

#: The policy of a buyer in the EU: the ``eu-russia`` pack and the EU sanctions list.
EU_BUYER = Policy(packs=("eu-russia",), deny_listed=frozenset({EU_LIST}))
#: Honest laboratory-grown stones judged at the end of a run with faults, and the policy
#: they must pass.
CONTROLS = 3
CONTROL_POLICY = named_policy("eu-russia")


@dataclass(frozen=True)
class Attempt:
    """An invalid operation ready to be tried, and the parcels it touches."""

    entry: SignedEntry
    touched: tuple[str, ...]


@dataclass
class Story:
    """A policy fault: valid steps (a flow whose entries go through
    :meth:`FaultInjector.commit`), ending in ``item``, which the kind's policy must fail."""

    item: str
    steps: Flow


#: Builds one fault from the simulation (``None``: no material for it yet).
Builder = Callable[["FaultInjector", str], "Attempt | Story | None"]


@dataclass(frozen=True)
class FaultKind:
    """A registered fault kind."""

    name: str
    #: Rule IDs that may refuse it (or that its policy fails); the first is the rule the
    #: kind targets.
    rules: tuple[str, ...]
    build: Builder
    #: The rules engine is known to accept it: selectable, but not in the default mix.
    known_gap: bool = False
    #: A policy fault: the ledger accepts it and this buyer's policy must fail its item.
    policy: Policy | None = None


#: Every fault kind by name, in registration order.
FAULTS: dict[str, FaultKind] = {}


def fault(
    name: str, *rules: str, known_gap: bool = False, policy: Policy | None = None
) -> Callable[[Builder], Builder]:
    """Register the decorated builder as fault kind ``name``, refused by one of ``rules``
    (with ``policy``: whose item that policy fails with one of ``rules``).

    Raises:
        ValueError: ``name`` is taken, or no rule is named.
    """

    def register(build: Builder) -> Builder:
        if name in FAULTS:
            raise ValueError(f"fault kind {name!r} is registered twice")
        if not rules:
            raise ValueError(f"fault kind {name!r} names no rule to be refused by")
        FAULTS[name] = FaultKind(name, rules, build, known_gap, policy)
        return build

    return register


class FaultInjector:
    """Tries invalid operations between engine steps; the context every builder reads."""

    def __init__(
        self,
        engine: Engine,
        mirror: Mirror,
        cast: Cast,
        rng: Rng,
        *,
        rate: float,
        kinds: Sequence[str],
        scenes: Scenes,
    ) -> None:
        self.engine = engine
        self.scenes = scenes
        self.mirror = mirror
        self.cast = cast
        #: The fault stream, apart from the flows' so valid traffic ignores the rate.
        self.rng = rng
        self.rate = rate
        self.kinds = list(kinds)
        self.report = engine.report
        #: Policy faults played to their end, to judge once the run is over.
        self.stories: list[tuple[FaultKind, Story]] = []
        #: The time of the last entry a policy fault appended.
        self.last = 0

    def step(self) -> None:
        """After an engine step: with probability ``rate``, try one fault."""
        if self.rate and self.rng.random() < self.rate:
            self.inject()

    def inject(self) -> None:
        """Try one invalid operation as its own append; it must be rejected."""
        self.engine.flush()  # faults are judged against the committed state
        kinds = self.kinds
        first = self.rng.randrange(len(kinds))
        # A kind that needs material not there yet (early on) hands over to the next one.
        for i in range(len(kinds)):
            kind = FAULTS[kinds[(first + i) % len(kinds)]]
            fid = f"FAULT-{self.mirror.serial('fault'):06d}"
            attempt = kind.build(self, fid)
            if attempt is not None:
                break
        else:
            return
        expected = kind.rules
        report = self.report
        report.faults_tried += 1
        report.faults_by_kind[kind.name] += 1
        if isinstance(attempt, Story):
            self.engine.spawn(FAULT_LOT, self._play(kind, attempt))
            return
        try:
            self.engine.ledger.append([attempt.entry], now=self.now)
        except LedgerError as exc:
            self._refused(kind, exc)
            return
        # An invalid operation was accepted: a rules-engine bug. Record it, take the
        # parcels it touched out of the simulation, and go on.
        report.entries += 1
        report.faults_accepted += 1
        report.accepted.append(
            f"{kind.name} (expected {expected[0]}): entry {attempt.entry.id.hex()}"
        )
        self.mirror.taint(attempt.touched)

    def _refused(self, kind: FaultKind, exc: LedgerError) -> None:
        rule = exc.rule or exc.code
        self.report.faults_rejected[rule] += 1
        if rule not in kind.rules:
            self.report.faults_unexpected.append(
                f"{kind.name}: expected {kind.rules[0]}, got {exc}"
            )

    def _play(self, kind: FaultKind, story: Story) -> Flow:
        """Take a policy fault's steps; a step the ledger refuses ends it (counted as a
        refusal), otherwise its item waits for :meth:`judge`."""
        try:
            yield from story.steps
        except SimulationError:  # pragma: no cover - a trade batch refused: a real bug
            raise
        except LedgerError as exc:
            self._refused(kind, exc)
            return
        self.stories.append((kind, story))

    def judge(self, as_of: str) -> None:
        """Judge, on ``as_of``, the item of every policy fault under its kind's policy, and
        the honest laboratory-grown controls under :data:`CONTROL_POLICY`: each is proven
        against a checkpoint the operator signs now and its bundle inspected offline, as
        ``kpledger verify-proof --policy`` does."""
        if not self.rate:
            return
        ledger, report = self.engine.ledger, self.report
        ledger.checkpoint(self.cast.operator)
        verifier = ledger.verifier()

        def failures(item: str, policy: Policy) -> list[proofs.Failure]:
            bundle = ledger.prove(item)
            verdict = proofs.inspect_bundle(bundle, verifier, buyer_policy=policy, as_of=as_of)
            return verdict.policy_failures

        for kind, story in self.stories:
            found = failures(story.item, kind.policy or CONTROL_POLICY)
            hit = [f.rule for f in found if f.rule in kind.rules]
            if hit:
                report.faults_failed[hit[0]] += 1
            else:
                report.faults_passed += 1
                report.passed.append(f"{kind.name} (expected {kind.rules[0]}): item {story.item}")
            for f in found:
                if f.rule not in kind.rules:
                    report.faults_unexpected.append(f"{kind.name}: {story.item} also fails {f}")
        for sid in self.mirror.grown_stones[:CONTROLS]:
            found = failures(sid, CONTROL_POLICY)
            if found:
                report.controls_failed.append(f"{sid}: " + "; ".join(map(str, found)))
            else:
                report.controls += 1

    # -- for builders ----------------------------------------------------------------

    @property
    def now(self) -> int:
        """The time a fault claims and is appended at (unless it claims another)."""
        return self.engine.now

    def sign(
        self, entry_type: str, fields: dict[str, Any], key: PrivateKey, *, now: int | None = None
    ) -> SignedEntry:
        """Sign an entry at ``now`` (default: the present)."""
        return self.engine.ledger.sign(
            entry_type, fields, key, now=self.now if now is None else now, salt=self._salt
        )

    def _salt(self) -> bytes:
        return self.engine.salt(b"faults")

    def commit(self, entry_type: str, fields: dict[str, Any], key: PrivateKey) -> bytes:
        """Sign a step of a policy fault now and append it alone; returns its id.

        Raises:
            LedgerError: the ledger refused it.
        """
        self.engine.flush()  # the trade's pending entries first: they came earlier
        entry = self.sign(entry_type, fields, key)
        appended = self.engine.ledger.append([entry], now=self.now)
        self.last = max(self.last, self.now)
        report = self.report
        report.entries += 1
        report.fault_entries += 1
        for a in appended:
            for w in a.warnings:
                report.warnings[w.rule] += 1
        return entry.id

    def abroad(self, actor: Actor) -> Actor:
        """A dealer or cutter in another country than ``actor``'s."""
        cast = self.cast
        choices = [a for a in (*cast.traders, *cast.cutters) if a.country != actor.country]
        return choices[self.rng.randrange(len(choices))]

    def stock_parcel(self) -> str | None:
        """A parcel from the stock of idle rough (``None`` if there is none yet)."""
        stock = self.mirror.stock
        return stock.choice(self.rng) if len(stock) else None


# ---------------------------------------------------------------------------
# The fault kinds, in the order the injector cycles through them


@fault("double-spend", "R-CU-3")
def _double_spend(ctx: FaultInjector, fid: str) -> Attempt | None:
    """A transfer citing a head its parcel has since moved past (a stale head)."""
    m, rng, cast = ctx.mirror, ctx.rng, ctx.cast
    if not m.stale:
        return None
    pid, head, signer = m.stale[rng.randrange(len(m.stale))]
    actor = cast.actors[signer]
    receivers = [
        a
        for a in (*cast.traders, *cast.cutters, *cast.retailers)
        if a.name != signer and a.country == actor.country
    ] or [ctx.abroad(actor)]
    to = receivers[rng.randrange(len(receivers))]
    fields = {"to": to.name, "inputs": [{"parcel": pid, "head": head}]}
    return Attempt(ctx.sign("transfer", fields, actor.key), (pid,))


@fault("mass-inflation", "R-MB-1")
def _mass_inflation(ctx: FaultInjector, fid: str) -> Attempt | None:
    """A split whose outputs weigh more than its input beyond the weighing tolerance (two
    points, or 0.05 % of the input), by 0.1-5 % more."""
    pid = ctx.stock_parcel()
    if pid is None:
        return None
    p = ctx.mirror.parcels[pid]
    holder = ctx.cast.actors[p.holder]
    beyond = max(2, p.carats // 2000) + 1  # τ of R-MB-1 at its default parameters, plus one
    extra = beyond + p.carats * ctx.rng.randint(1, 50) // 1000
    half = p.carats // 2
    outputs = [
        {"parcel": f"{fid}-A", "carats": max(1, half)},
        {"parcel": f"{fid}-B", "carats": p.carats - half + extra},
    ]
    fields = {"input": ctx.mirror.ref(pid), "outputs": outputs}
    return Attempt(ctx.sign("split", fields, holder.key), (pid,))


@fault("forged-certificate", "R-ID-1", "R-KP-6", "R-KP-2")
def _forged_certificate(ctx: FaultInjector, fid: str) -> Attempt | None:
    """A KP certificate signed by a dealer (R-ID-1) or by another country's authority
    (R-KP-6), or a transfer citing a certificate no authority issued (R-KP-2)."""
    m, rng = ctx.mirror, ctx.rng
    pid = ctx.stock_parcel()
    if pid is None:
        return None
    p = m.parcels[pid]
    holder = ctx.cast.actors[p.holder]
    to = ctx.abroad(holder)
    variant = rng.randrange(3)
    if variant == 2:
        number = f"{holder.country}-FORGED-{fid}"
        fields = {"to": to.name, "inputs": [m.ref(pid)], "certificate": number}
        return Attempt(ctx.sign("transfer", fields, holder.key), (pid,))
    number = f"{holder.country}-{date_of(ctx.now)[:4]}-X{fid}"
    expires = date_of(ctx.now + 60 * DAY)
    value = p.carats * rng.randint(50, 500)
    fields = m.certificate_fields(number, holder, to, [pid], expires=expires, value=value)
    if variant == 0:  # signed by a dealer, who has no authority role
        traders = ctx.cast.traders
        forger = traders[rng.randrange(len(traders))].key
    else:  # signed by the authority of another country
        others = [a for cc, a in ctx.cast.authorities.items() if cc != holder.country]
        forger = others[rng.randrange(len(others))].key
    return Attempt(ctx.sign("certificate.issue", fields, forger), (pid,))


@fault("reused-certificate", "R-KP-2")
def _reused_certificate(ctx: FaultInjector, fid: str) -> Attempt | None:
    """A new export citing the exporter's previous certificate (already used up)."""
    m = ctx.mirror
    # A stock parcel whose holder has exported before (a few draws, then give up).
    found = None
    for _ in range(8 if len(m.stock) else 0):
        cand = m.stock.choice(ctx.rng)
        if m.parcels[cand].holder in m.last_cert:
            found = cand
            break
    if found is None:
        return None
    holder = ctx.cast.actors[m.parcels[found].holder]
    number, importer = m.last_cert[holder.name]
    fields = {"to": importer, "inputs": [m.ref(found)], "certificate": number}
    return Attempt(ctx.sign("transfer", fields, holder.key), (found,))


@fault("revoked-key", "R-ID-2")
def _revoked_key(ctx: FaultInjector, fid: str) -> Attempt | None:
    """A transfer signed with a revoked participant's key, or with a key its owner
    rotated away from (perhaps because it leaked)."""
    m, rng, cast = ctx.mirror, ctx.rng, ctx.cast
    pid = ctx.stock_parcel()
    if pid is None:
        return None
    fields = {"to": cast.traders[0].name, "inputs": [m.ref(pid)], "warranty": "2021"}
    if m.old_keys and rng.random() < 0.5:
        name, old = m.old_keys[rng.randrange(len(m.old_keys))]
        fields["to"] = next(t.name for t in cast.traders if t.name != name)
        return Attempt(ctx.sign("transfer", fields, old), (pid,))
    return Attempt(ctx.sign("transfer", fields, cast.revoked.key), (pid,))


@fault("suspended-origin", "R-KP-1")
def _suspended_origin(ctx: FaultInjector, fid: str) -> Attempt | None:
    """Production registered today by a mine in a suspended country."""
    mine, rng = ctx.cast.suspended_mine, ctx.rng
    fields = {
        "parcel": fid,
        "carats": rng.randint(10_000, 500_000),
        "stones": rng.randint(20, 2_000),
        "mine": mine.site,
        "hs": "7102.10",
    }
    return Attempt(ctx.sign("origin", fields, mine.key), (fid,))


@fault("no-certificate", "R-KP-2")
def _no_certificate(ctx: FaultInjector, fid: str) -> Attempt | None:
    """Rough offered across a border without a KP certificate."""
    pid = ctx.stock_parcel()
    if pid is None:
        return None
    holder = ctx.cast.actors[ctx.mirror.parcels[pid].holder]
    to = ctx.abroad(holder)
    fields = {"to": to.name, "inputs": [ctx.mirror.ref(pid)], "warranty": "2021"}
    return Attempt(ctx.sign("transfer", fields, holder.key), (pid,))


@fault("backdated-origin", "R-TM-4", "R-KP-1")
def _backdated_origin(ctx: FaultInjector, fid: str) -> Attempt | None:
    """A mine in a suspended country claims a day in the year before the suspension,
    appended today. R-KP-1 is judged at the claimed date, so only the bound on a claimed
    time's age (R-TM-4) stops it."""
    mine, rng = ctx.cast.suspended_mine, ctx.rng
    since = _dt.date.fromisoformat(SUSPENDED[1])
    day = since - _dt.timedelta(days=rng.randint(1, 365))
    claimed = int(_dt.datetime(day.year, day.month, day.day, 12, tzinfo=_dt.UTC).timestamp())
    fields = {
        "parcel": fid,
        "carats": rng.randint(10_000, 500_000),
        "stones": rng.randint(20, 2_000),
        "mine": mine.site,
        "hs": "7102.10",
    }
    return Attempt(ctx.sign("origin", fields, mine.key, now=claimed * SECOND), (fid,))


@fault("crossing-after-suspension", "R-KP-5")
def _crossing_after_suspension(ctx: FaultInjector, fid: str) -> Attempt | None:
    """Rough of a suspended country (VE) offered abroad under a KP certificate issued before
    the suspension took effect."""
    scenes = ctx.scenes
    if ctx.now < scenes.ve_suspended_ms:
        return None
    held = scenes.ve_stock[ctx.rng.randrange(len(scenes.ve_stock))]
    return _offer(ctx, held)


@fault("backdated-past-expiry", "R-KP-2", "R-TM-4")
def _backdated_past_expiry(ctx: FaultInjector, fid: str) -> Attempt | None:
    """An offer signed offline "on" its certificate's last valid day and submitted after
    the certificate expired (R-KP-2; more than 30 days later, R-TM-4)."""
    scenes = ctx.scenes
    day_after = scenes.ls_expires_ms - scenes.ls_expires_ms % DAY + DAY
    if ctx.now < day_after:
        return None
    held = scenes.ls_stock[ctx.rng.randrange(len(scenes.ls_stock))]
    return _offer(ctx, held, claimed=day_after - DAY // 2)


@fault("compromised-certificate", "R-ID-2")
def _compromised_certificate(ctx: FaultInjector, fid: str) -> Attempt | None:
    """A crossing under a KP certificate the ZW authority issued with its stolen key."""
    held = ctx.scenes.zw_stock[ctx.rng.randrange(len(ctx.scenes.zw_stock))]
    return _offer(ctx, held)


@fault("self-certified-export", "R-KP-6")
def _self_certified_export(ctx: FaultInjector, fid: str) -> Attempt | None:
    """A KP authority certifying a shipment in which it is itself the exporter."""
    pid = ctx.stock_parcel()
    if pid is None:
        return None
    fields, authority = _certificate_abroad(ctx, pid, f"S{fid}", (50, 500))
    fields["exporter"] = authority.name
    return Attempt(ctx.sign("certificate.issue", fields, authority.key), (pid,))


@fault("revoked-party-offer", "R-ID-2")
def _revoked_party_offer(ctx: FaultInjector, fid: str) -> Attempt | None:
    """A dealer accepting an offer its sender made before losing its licence."""
    buyer = ctx.scenes.sl_buyer
    if buyer is None:  # pragma: no cover - staged at setup
        return None
    return Attempt(ctx.sign("accept", {"transfer": ctx.scenes.sl_offer}, buyer.key), ())


@fault("single-key-registry", "R-GV-1")
def _single_key_registry(ctx: FaultInjector, fid: str) -> Attempt | None:
    """A registry change signed by one key alone: the operator or a single governor admits
    a fake KP authority, suspends a country or changes a rule parameter (specs/rules.md
    §3.9: k governors must sign)."""
    cast = ctx.cast
    keys = [cast.operator, *cast.governors]
    key = keys[ctx.rng.randrange(len(keys))]
    country = cast.producing[ctx.rng.randrange(len(cast.producing))]
    changes: list[tuple[str, dict[str, Any]]] = [
        (
            "participant.add",
            {
                "name": f"Fake {country} KP Authority {fid}",
                "pub": derive_key(ctx.rng.randrange(1 << 30), f"fake/{fid}").public,
                "roles": ["authority"],
                "country": country,
            },
        ),
        ("kp-status.set", {"country": country, "status": "suspended", "from": date_of(ctx.now)}),
        ("param.set", {"name": "cert-validity-days", "value": 366, "from": date_of(ctx.now)}),
    ]
    entry_type, fields = changes[ctx.rng.randrange(len(changes))]
    return Attempt(ctx.sign(entry_type, fields, key), ())


def _certificate_abroad(
    ctx: FaultInjector, pid: str, tag: str, per_ct: tuple[int, int]
) -> tuple[dict[str, Any], Actor]:
    """The fields of a KP certificate (valid 30 days, numbered with ``tag``, valued at
    ``per_ct`` dollars a carat) for ``pid`` from its holder to a dealer or cutter abroad,
    and the authority of the holder's country."""
    m, cast = ctx.mirror, ctx.cast
    p = m.parcels[pid]
    holder = cast.actors[p.holder]
    fields = m.certificate_fields(
        f"{holder.country}-{date_of(ctx.now)[:4]}-{tag}",
        holder,
        ctx.abroad(holder),
        [pid],
        expires=date_of(ctx.now + 30 * DAY),
        value=p.carats * ctx.rng.randint(*per_ct),
    )
    return fields, cast.authorities[holder.country]


def _offer(
    ctx: FaultInjector,
    held: Held,
    *,
    claimed: int | None = None,
    warranty: str | None = None,
    wdc: str | None = None,
) -> Attempt:
    fields: dict[str, Any] = {
        "to": held.importer.name,
        "inputs": [{"parcel": held.pid, "head": held.head}],
    }
    if held.certificate is not None:
        fields["certificate"] = held.certificate
    if warranty is not None:
        fields["warranty"] = warranty
    if wdc is not None:
        fields["wdc"] = wdc
    return Attempt(ctx.sign("transfer", fields, held.holder.key, now=claimed), ())


# -- the G7/EU measures and the System of Warranties ----------------------------------


@fault("russian-transit", "R-SA-2", policy=named_policy("eu-russia"))
def _russian_transit(ctx: FaultInjector, fid: str) -> Story | None:
    """Botswana rough exported to a Moscow dealer and re-exported through Dubai to a cutter
    in India, cut and sold in the US. Legal under the KP, so the ledger accepts every step;
    the stone may contain only Botswana goods, yet ``eu-russia`` denies it for its custody
    path through Russia (R-SA-2)."""
    dubai = [t for t in ctx.cast.traders if t.country == "AE"]
    moscow = ctx.scenes.moscow
    if moscow is None:  # pragma: no cover - staged at setup
        return None
    return _story(ctx, fid, (moscow, dubai[ctx.rng.randrange(len(dubai))]))


@fault("sanctioned-party", "R-SA-4", policy=EU_BUYER)
def _sanctioned_party(ctx: FaultInjector, fid: str) -> Story | None:
    """Botswana rough sold through the Dubai front company the EU list designated, then to
    a cutter in India, cut and sold in the US. The ledger does not stop a designated party
    from trading (which lists matter is the buyer's choice); a buyer denying the EU list
    fails the stone (R-SA-4)."""
    front = ctx.scenes.sanctioned
    if front is None:  # pragma: no cover - staged at setup
        return None
    return _story(ctx, fid, (front,))


@fault("rogue-designation", "R-SA-4", "R-ID-1")
def _rogue_designation(ctx: FaultInjector, fid: str) -> Attempt | None:
    """A sanctions designation the ledger must refuse: signed by a dealer (R-ID-1) or by the
    publisher of another list, naming an unregistered party, taking effect more than 30
    days before it is published, designating a party already listed, or de-listing one
    never listed (R-SA-4)."""
    scenes, cast, rng = ctx.scenes, ctx.cast, ctx.rng
    publisher = scenes.publishers[EU_LIST]
    party = cast.traders[rng.randrange(len(cast.traders))]
    fields = {"list": EU_LIST, "party": party.name, "from": date_of(ctx.now)}
    entry_type, key = "sanction.designate", publisher.key
    variant = rng.randrange(6)
    if variant == 0:  # a dealer has no publisher role
        key = cast.traders[rng.randrange(len(cast.traders))].key
    elif variant == 1:  # the EU list belongs to the EU's publisher
        key = next(p.key for name, p in scenes.publishers.items() if name != EU_LIST)
    elif variant == 2:
        fields["party"] = f"{fid} Holdings Ltd"
    elif variant == 3:  # back-dated beyond 30 days: a rewriting of history
        fields["from"] = date_of(ctx.now - rng.randint(31, 365) * DAY)
    elif variant == 4 and scenes.sanctioned is not None:
        fields["party"] = scenes.sanctioned.name
    else:
        entry_type = "sanction.delist"
    fields["reason"] = "simulated designation"
    if entry_type == "sanction.delist":
        del fields["reason"]
    return Attempt(ctx.sign(entry_type, fields, key), ())


@fault("grown-into-natural", "R-SW-3", "R-KP-6")
def _grown_into_natural(ctx: FaultInjector, fid: str) -> Attempt | None:
    """Laboratory-grown goods passed off as natural: merged into a natural parcel or cut
    together with natural rough by a cutter holding both (R-SW-3), or exported under a KP
    certificate, which covers natural rough only (R-KP-6)."""
    m, rng, cast = ctx.mirror, ctx.rng, ctx.cast
    if not len(m.grown_stock):
        return None
    gid = m.grown_stock.choice(rng)
    g = m.parcels[gid]
    holder = cast.actors[g.holder]
    variant = rng.randrange(3)
    cut = variant == 1 and g.kind == "rough"
    natural = None
    for _ in range(64 if variant < 2 and len(m.stock) else 0):
        cand = m.stock.choice(rng)
        p = m.parcels[cand]
        if p.holder == g.holder and (p.kind == "rough" or not cut):
            natural = cand
            break
    if natural is not None:
        n = m.parcels[natural]
        inputs = [m.ref(natural), m.ref(gid)]
        total = n.carats + g.carats
        if cut:
            stones = [{"parcel": f"{fid}-ST1", "carats": max(1, total * 2 // 5)}]
            fields: dict[str, Any] = {"inputs": inputs, "stones": stones}
            return Attempt(ctx.sign("cut", fields, holder.key), (natural, gid))
        fields = {"inputs": inputs, "output": {"parcel": f"{fid}-MX", "carats": total}}
        return Attempt(ctx.sign("merge", fields, holder.key), (natural, gid))
    fields, authority = _certificate_abroad(ctx, gid, f"G{fid}", (20, 100))
    fields["hs"] = ["7102.10"]  # declared as natural rough: 7104.21 has no KP certificate
    return Attempt(ctx.sign("certificate.issue", fields, authority.key), ())


@fault("broken-warranty-chain", "R-SW-2", "R-SW-1")
def _broken_warranty_chain(ctx: FaultInjector, fid: str) -> Attempt | None:
    """Goods bought without a System of Warranties statement sold on with one, under the
    seller's WDC registration id, as if the chain were whole (R-SW-2); or a transfer that
    names a WDC registration id with no statement beside it (R-SW-1)."""
    m, rng, cast = ctx.mirror, ctx.rng, ctx.cast
    stock = ctx.scenes.unwarranted
    held = stock[rng.randrange(len(stock))]
    if rng.random() < 0.5:
        return _offer(ctx, held, warranty="2021", wdc=_wdc(held.holder))
    for _ in range(8 if len(m.stock) else 0):
        pid = m.stock.choice(rng)
        holder = cast.actors[m.parcels[pid].holder]
        # A sale at home: rough abroad would first need a KP certificate (R-KP-2).
        home = [
            a
            for a in (*cast.traders, *cast.cutters)
            if a.country == holder.country and a is not holder
        ]
        if home:
            to = home[rng.randrange(len(home))]
            fields = {"to": to.name, "inputs": [m.ref(pid)], "wdc": _wdc(holder)}
            return Attempt(ctx.sign("transfer", fields, holder.key), (pid,))
    return _offer(ctx, held, wdc=_wdc(held.holder))


def _wdc(actor: Actor) -> str:
    """The WDC System of Warranties registration id of ``actor``."""
    return f"WDC-{actor.code}"


def _story(ctx: FaultInjector, fid: str, via: Sequence[Actor]) -> Story | None:
    """Rough of the scenes' Botswana mine through ``via`` to a cutter, cut, sold."""
    mine = ctx.scenes.g7_mine
    if mine is None or not ctx.engine.trading:
        return None  # the trade is over: no new story
    return Story(f"{fid}-ST1", _journey(ctx, fid, mine, via))


def _journey(ctx: FaultInjector, fid: str, mine: Actor, via: Sequence[Actor]) -> Flow:
    """The steps of a policy fault: origin at ``mine``; each hop of
    ``via`` and then a cutter in India, an export under a KP certificate of the sender's
    country, warranted; the cutter splits off one rough stone, cuts it and sells the
    polished stone (``fid``-ST1) to a US retailer, who sells it."""
    rng, cast = ctx.rng, ctx.cast
    pid = f"{fid}-R"
    carats = rng.randint(2_000, 20_000)
    stones = max(2, carats // rng.randint(60, 150))
    fields: dict[str, Any] = {
        "parcel": pid,
        "carats": carats,
        "stones": stones,
        "mine": mine.name,
        "hs": "7102.10",
    }
    head = ctx.commit("origin", fields, mine.key)
    holder = mine
    cutter = cast.cutters[rng.randrange(len(cast.cutters))]
    for to in (*via, cutter):
        yield rng.hours(12, 24 * 10)
        number = f"{holder.country}-{date_of(ctx.now)[:4]}-{fid}-{to.country}"
        fields = {
            "number": number,
            "parcels": [pid],
            "exporter": holder.name,
            "importer": to.name,
            "exporter_country": holder.country,
            "importer_country": to.country,
            "value": {"amount": carats * rng.randint(80, 300), "currency": "USD"},
            "expires": date_of(ctx.now + 30 * DAY),
            "carats": carats,
            "count": 1,
            "hs": ["7102.10"],
            "origins": [mine.country],
        }
        ctx.commit("certificate.issue", fields, cast.authorities[holder.country].key)
        yield rng.hours(1, 12)
        fields = {
            "to": to.name,
            "inputs": [{"parcel": pid, "head": head}],
            "certificate": number,
            "price": {"amount": carats * rng.randint(80, 300), "currency": "USD"},
            "warranty": "2021",
        }
        offer = ctx.commit("transfer", fields, holder.key)
        yield rng.hours(4, 24 * 5)
        head = ctx.commit("accept", {"transfer": offer}, to.key)
        holder = to
    yield rng.days(5, 30)
    batch, rest = f"{fid}-CB", f"{fid}-RS"
    batch_pts = rng.randint(100, min(800, carats // 2))
    outputs = [
        {"parcel": batch, "carats": batch_pts, "stones": 1},
        {"parcel": rest, "carats": carats - batch_pts, "stones": stones - 1},
    ]
    head = ctx.commit(
        "split", {"input": {"parcel": pid, "head": head}, "outputs": outputs}, cutter.key
    )
    yield rng.hours(2, 72)
    stone = f"{fid}-ST1"
    points = max(1, round(batch_pts * rng.uniform(0.3, 0.5)))
    fields = {
        "inputs": [{"parcel": batch, "head": head}],
        "stones": [{"parcel": stone, "carats": points}],
    }
    head = ctx.commit("cut", fields, cutter.key)
    yield rng.days(5, 30)
    shop = cast.retailers[rng.randrange(len(cast.retailers))]
    price = {"amount": points * rng.randint(1_500, 4_000), "currency": "USD"}
    fields = {
        "to": shop.name,
        "inputs": [{"parcel": stone, "head": head}],
        "price": price,
        "warranty": "2021",
    }
    offer = ctx.commit("transfer", fields, cutter.key)
    yield rng.hours(4, 24 * 5)
    head = ctx.commit("accept", {"transfer": offer}, shop.key)
    yield rng.days(10, 90)
    price = {"amount": points * rng.randint(3_000, 8_000), "currency": "USD"}
    ctx.commit("sell", {"input": {"parcel": stone, "head": head}, "price": price}, shop.key)


# ---------------------------------------------------------------------------
# Summaries (computed once every kind above is registered)

#: Each fault kind and the rules that may refuse it (the first is the one it targets).
FAULT_KINDS: dict[str, tuple[str, ...]] = {k: f.rules for k, f in FAULTS.items()}
#: Fault kinds the rules engine is known to accept, left out of the default mix so that a
#: run stays a regression check (select them with ``fault_kinds``). None at present.
KNOWN_GAPS: tuple[str, ...] = tuple(k for k, f in FAULTS.items() if f.known_gap)
#: The kinds injected when none are chosen.
DEFAULT_FAULT_KINDS: tuple[str, ...] = tuple(k for k in FAULT_KINDS if k not in KNOWN_GAPS)
#: The policy faults: the ledger accepts them, a buyer's policy fails their item.
POLICY_KINDS: tuple[str, ...] = tuple(k for k, f in FAULTS.items() if f.policy is not None)
