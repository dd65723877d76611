"""The rules engine against a naive model of custody and mass, and composition properties.

(a) ``RulesMachine`` drives random operations, valid and invalid (origins by the wrong
party, transfers across borders with and without KP certificates, answers by the wrong
party, splits, merges and cuts that may inflate mass beyond the weighing tolerance, sales
of rough, stale and consumed inputs; suspensions and reinstatements of countries, the
days passing, revocations with and without a compromised key, import confirmations right
and wrong, and rule-parameter changes), through ``rules.apply`` on an in-memory
``State``. A model written here with
plain dictionaries and exact fractions predicts, for each entry, the set of rules it
breaks: the engine must accept exactly when that set is empty, and when it rejects, name
one of them. After every step a full ``replay`` of the accepted records must succeed and
rebuild the same state, every parcel must match the model (holder, status, head,
weight, stones, may-contain set, and shares within the rounding bound), and the items the
engine quarantines must be those whose ancestry, by the model, holds a void entry.

(b) ``mix_compositions`` and the engine's propagation of compositions: shares sum to
exactly 1,000,000, are within 1 ppm of the exact mass-weighted value, ties go to the
alphabetically first country, splits copy shares and may-contain sets, and a merge's
may-contain set is the union of its inputs'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ledger.core import replay, rules
from ledger.core.model import ZERO_HASH, Body, Record, SignedEntry, sign_body
from ledger.core.rules import PPM, mix_compositions
from ledger.errors import RuleError
from tests.conftest import BASE_TIME, DAY, MINUTE, Party, fixed_key

ORIGIN = "kpledger.test/model"
OPERATOR = "Operator"

# ---------------------------------------------------------------------------
# An in-memory ledger: the engine on a bare State, records kept in a list


class Memory:
    """Genesis, participants and KP statuses applied to a ``rules.State`` (no SQLite)."""

    def __init__(self, parties: Sequence[Party], countries: Sequence[str]) -> None:
        self.state = rules.State()
        self.rows: list[tuple[int, bytes]] = []
        self.prev = ZERO_HASH
        self.now = BASE_TIME - DAY
        self.keys = {OPERATOR: fixed_key(OPERATOR, 1)}
        self.parties = {p.name: p for p in parties}
        self._serial = 0
        op = self.keys[OPERATOR]
        self.act("genesis", {"operator": op.public, "name": OPERATOR}, OPERATOR)
        for p in parties:
            key = self.keys[p.name] = fixed_key(p.name, p.seed)
            fields = {
                "name": p.name,
                "pub": key.public,
                "roles": list(p.roles),
                "country": p.country,
            }
            self.act("participant.add", fields, OPERATOR)
        for cc in countries:
            self.act(
                "kp-status.set",
                {"country": cc, "status": "participant", "from": "2003-01-01"},
                OPERATOR,
            )
        self.now = BASE_TIME

    def sign(self, entry_type: str, fields: Mapping[str, Any], signer: str) -> SignedEntry:
        key = self.keys[signer]
        body = Body(entry_type, ORIGIN, key.kid, self.now, dict(fields))
        return sign_body(body, [key.seed])

    def submit(self, entry: SignedEntry) -> rules.Outcome:
        """Apply at the clock; on success keep the record. Raises RuleError."""
        index, now = len(self.rows), self.now
        self.now += MINUTE
        out = rules.apply(self.state, entry, index=index, now=now)
        record = Record.build(index, self.prev, now, entry.raw)
        self.rows.append((index, record.raw))
        self.prev = record.hash
        return out

    def act(self, entry_type: str, fields: Mapping[str, Any], signer: str) -> rules.Outcome:
        return self.submit(self.sign(entry_type, fields, signer))

    def parcel(self, pid: str) -> dict[str, Any]:
        value = self.state.get("parcel", pid)
        assert value is not None, pid
        return dict(value)

    def ref(self, pid: str) -> dict[str, Any]:
        return {"parcel": pid, "head": self.parcel(pid)["head"]}

    def certificate(self, exporter: str, importer: str, pids: Sequence[str]) -> dict[str, Any]:
        """Fields of a correct certificate, computed from the engine's state."""
        self._serial += 1
        exp, imp = self.parties[exporter], self.parties[importer]
        items = [self.parcel(p) for p in pids]
        return {
            "number": f"{exp.country}{self._serial:06d}",
            "parcels": list(pids),
            "exporter": exporter,
            "importer": importer,
            "exporter_country": exp.country,
            "importer_country": imp.country,
            "value": {"amount": 100_000, "currency": "USD"},
            "expires": rules.date_of(self.now + 60 * DAY),
            "carats": sum(p["carats"] for p in items),
            "count": len(items),
            "hs": sorted({p["hs"] or "7102.10" for p in items}),
            "origins": sorted({c for p in items for c in p["may"]}),
        }

    def ship(self, sender: str, receiver: str, pids: Sequence[str]) -> None:
        """Certificate when rough crosses a border, offer, acceptance; all must pass."""
        number = None
        if self.parties[sender].country != self.parties[receiver].country:
            cert = self.certificate(sender, receiver, pids)
            self.act("certificate.issue", cert, f"{self.parties[sender].country} KP Authority")
            number = cert["number"]
        fields: dict[str, Any] = {"to": receiver, "inputs": [self.ref(p) for p in pids]}
        if number is not None:
            fields["certificate"] = number
        offer = self.sign("transfer", fields, sender)
        self.submit(offer)
        self.act("accept", {"transfer": offer.id}, receiver)


def authorities(countries: Sequence[str], first_seed: int) -> list[Party]:
    return [
        Party(f"{cc} KP Authority", ("authority",), cc, first_seed + i)
        for i, cc in enumerate(countries)
    ]


# ---------------------------------------------------------------------------
# (a) The state machine


MACHINE_COUNTRIES = ("BW", "CA", "BE", "IN", "US")
MACHINE_PARTIES = (
    *authorities(MACHINE_COUNTRIES, 10),
    Party("Mine BW", ("mine",), "BW", 20),
    Party("Mine CA", ("mine",), "CA", 21),
    Party("Trader BW", ("trader",), "BW", 22),
    Party("Trader BE", ("trader",), "BE", 23),
    Party("Cutter IN", ("cutter",), "IN", 24),
    Party("Retailer US", ("retailer",), "US", 25),
    Party("Producer IN", ("producer",), "IN", 26),
    Party("Publisher EU", ("publisher",), "BE", 27),
    Party("Publisher US", ("publisher",), "US", 28),
)
ROLES = {p.name: set(p.roles) for p in MACHINE_PARTIES}
COUNTRY = {p.name: p.country for p in MACHINE_PARTIES}
ACTORS = sorted(p.name for p in MACHINE_PARTIES if "authority" not in p.roles)
EVERYONE = sorted(p.name for p in MACHINE_PARTIES)
CUSTODIANS = sorted(n for n in ACTORS if ROLES[n] & set(rules.RECEIVER_ROLES))


#: The state kinds compared between the engine and a replay.
STATE_KINDS = (
    "parcel",
    "transfer",
    "cert",
    "party",
    "kid",
    "kp",
    "mine",
    "meta",
    "param",
    "list",
)
#: The last day of the 2002 warranty statement, for rough and for other goods.
LEGACY_UNTIL = {"rough": "2024-09-30", "other": "2026-09-30"}
LISTS = ("EU", "OFAC")


@dataclass
class MParcel:
    """The model's view of a parcel: exact composition, and its mixing depth."""

    pid: str
    kind: str
    carats: int
    stones: int | None
    holder: str
    head: bytes
    status: str
    comp: dict[str, Fraction]
    may: frozenset[str]
    hs: str | None
    depth: int = 0
    #: Every entry this parcel's states descend from (and the certificate issues its
    #: crossings travelled under): what quarantine is judged on.
    ancestry: frozenset[bytes] = frozenset()
    #: Laboratory-grown goods (R-SW-3).
    grown: bool = False
    #: A transfer of its ancestry carried no warranty (R-SW-2).
    unwarranted: bool = False
    #: Custody path: country -> (first, last) append date (R-SA-2).
    path: dict[str, tuple[str, str]] = field(default_factory=dict)

    def touch(self, country: str, day: str) -> None:
        first, last = self.path.get(country, (day, day))
        self.path[country] = (min(first, day), max(last, day))


@dataclass
class MTransfer:
    sender: str
    receiver: str
    pids: list[str]
    status: str = "pending"
    number: str | None = None
    time: int = 0
    warranty: bool = True


@dataclass
class MCert:
    exporter: str
    importer: str
    exp_cc: str
    imp_cc: str
    carats: int
    count: int
    authority: str
    issue: bytes
    used: bytes | None = None
    accepted: bool = False
    confirmed: bool = False


def exact_mix(parts: Sequence[tuple[int, Mapping[str, Fraction]]]) -> dict[str, Fraction]:
    total = sum(m for m, _ in parts)
    out: dict[str, Fraction] = {}
    for m, comp in parts:
        for c, share in comp.items():
            out[c] = out.get(c, Fraction(0)) + Fraction(m) * share / total
    return out


class RulesMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.mem = Memory(MACHINE_PARTIES, MACHINE_COUNTRIES)
        self.parcels: dict[str, MParcel] = {}
        self.transfers: dict[bytes, MTransfer] = {}
        self.heads: list[tuple[str, bytes]] = []  # every (parcel, head) there ever was
        self.minted = 0  # mass created, plus every weighing gain the tolerance allowed
        self.next_id = 0
        self.replayed: tuple[int, dict[str, dict[str, Any]]] | None = None
        self.status: dict[str, list[tuple[str, str]]] = {
            cc: [("2003-01-01", "participant")] for cc in MACHINE_COUNTRIES
        }
        self.params: dict[str, list[tuple[str, int]]] = {}
        self.revoked: dict[str, int | None] = {}  # name -> compromised since (ms) or None
        self.certs: dict[str, MCert] = {}
        self.signed: dict[bytes, tuple[str, int]] = {}  # entry id -> (signer, append time)
        self.appended = ""  # the append date of the last accepted entry
        #: (party, list) -> [(from, status)]; list -> its publisher (R-SA-4).
        self.lists: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.publishers: dict[str, str] = {}

    # -- the model's view of time, registry and parameters ----------------------------

    @property
    def day(self) -> str:
        return rules.date_of(self.mem.now)

    def standing(self, cc: str) -> bool:
        status = "none"
        for start, value in self.status[cc]:
            if start <= self.day:
                status = value
        return status == "participant"

    def param(self, name: str) -> int:
        value = rules.PARAMETERS[name].default
        for start, v in self.params.get(name, ()):
            if start <= self.day:
                value = v
        return value

    def tau(self, mass: int, weighings: int) -> int:
        per, ppm = self.param("mass-tolerance-points"), self.param("mass-tolerance-ppm")
        return max(per * weighings, mass * ppm // 1_000_000)

    def signer_reasons(self, signer: str) -> set[str]:
        return {"R-ID-2"} if signer in self.revoked else set()

    # -- plumbing -----------------------------------------------------------------

    def fresh(self) -> str:
        self.next_id += 1
        return f"p{self.next_id}"

    def submit(
        self, entry: SignedEntry, reasons: set[str], warnings: frozenset[str] = frozenset()
    ) -> bool:
        """Apply ``entry``; the engine must agree with the model's verdict."""
        when = self.mem.now
        try:
            out = self.mem.submit(entry)
        except RuleError as exc:
            assert reasons, f"engine rejected a {entry.type} the model accepts: {exc}"
            assert exc.rule in reasons, f"{entry.type}: engine says {exc}, model says {reasons}"
            return False
        assert not reasons, f"engine accepted a {entry.type} the model rejects for {reasons}"
        assert {w.rule for w in out.warnings} == set(warnings), (entry.type, out.warnings)
        signer = next(n for n, k in self.mem.keys.items() if k.kid == entry.body.signer)
        self.signed[entry.id] = (signer, when)
        self.appended = rules.date_of(when)
        return True

    def set_head(self, p: MParcel, head: bytes) -> None:
        p.head = head
        p.ancestry = p.ancestry | {head}
        self.heads.append((p.pid, head))

    def add(self, p: MParcel) -> None:
        p.ancestry = p.ancestry | {p.head}
        self.parcels[p.pid] = p
        self.heads.append((p.pid, p.head))

    def input_reasons(self, signer: str, inputs: Sequence[tuple[MParcel, bytes]]) -> set[str]:
        reasons = self.signer_reasons(signer)
        for p, head in inputs:
            if p.status in ("consumed", "sold") or head != p.head:
                reasons.add("R-CU-3")
            if p.holder != signer:
                reasons.add("R-CU-1")
            if p.status == "locked":
                reasons.add("R-CU-2")
        return reasons

    def draw_inputs(self, data: st.DataObject, max_n: int) -> tuple[list[MParcel], str]:
        """Parcels of one holder (usually live) and a signer (usually that holder)."""
        live = sorted(pid for pid, p in self.parcels.items() if p.status == "live")
        pool = live if live and data.draw(st.integers(0, 3)) else sorted(self.parcels)
        first = self.parcels[data.draw(st.sampled_from(pool))]
        same = [pid for pid in pool if self.parcels[pid].holder == first.holder]
        same.remove(first.pid)
        extra: list[str] = []
        if same and max_n > 1:
            extra = data.draw(st.lists(st.sampled_from(same), max_size=max_n - 1, unique=True))
        honest = data.draw(st.integers(0, 3)) > 0
        signer = first.holder if honest else data.draw(st.sampled_from(ACTORS))
        return [first, *(self.parcels[x] for x in extra)], signer

    def draw_preferring(
        self, data: st.DataObject, holder: str, max_n: int
    ) -> tuple[list[MParcel], str]:
        """Usually live parcels of ``holder`` signed by it; otherwise ``draw_inputs``."""
        own = sorted(
            pid for pid, p in self.parcels.items() if p.holder == holder and p.status == "live"
        )
        if own and data.draw(st.integers(0, 3)):
            pids = data.draw(
                st.lists(st.sampled_from(own), min_size=1, max_size=max_n, unique=True)
            )
            return [self.parcels[x] for x in pids], holder
        return self.draw_inputs(data, max_n)

    def consume(self, ps: Sequence[MParcel], entry: SignedEntry) -> None:
        self.join(ps, entry)
        for p in ps:
            p.status = "consumed"

    def join(self, ps: Sequence[MParcel], entry: SignedEntry) -> None:
        """``entry`` consumes the states of ``ps`` together: each one's state is now made by
        it, so its ancestry holds every input's (the DAG of specs/proof-bundle.md §3)."""
        joint = self.made(ps, entry)
        for p in ps:
            self.set_head(p, entry.id)
            p.ancestry = joint

    def path_of(self, ps: Sequence[MParcel], signer: str) -> dict[str, tuple[str, str]]:
        """The custody path of a new parcel made from ``ps`` by ``signer`` today."""
        out = MParcel("", "", 0, None, "", b"", "", {}, frozenset(), None)
        for p in ps:
            for cc, (first, last) in p.path.items():
                out.touch(cc, first)
                out.touch(cc, last)
        out.touch(COUNTRY[signer], self.appended)
        return out.path

    def mixed_nature(self, ps: Sequence[MParcel]) -> bool:
        """R-SW-3: natural and laboratory-grown goods together."""
        return any(p.grown for p in ps) and not all(p.grown for p in ps)

    def made(self, ps: Sequence[MParcel], entry: SignedEntry) -> frozenset[bytes]:
        """The ancestry of what ``entry`` makes from ``ps``."""
        return frozenset().union(*(p.ancestry for p in ps)) | {entry.id}

    # -- operations ---------------------------------------------------------------

    @rule(
        data=st.data(),
        carats=st.integers(1, 50_000),
        stones=st.integers(1, 2) | st.integers(1, 20),
    )
    def origin(self, data: st.DataObject, carats: int, stones: int) -> None:
        signer = data.draw(st.sampled_from(["Mine BW", "Mine CA", "Mine BW", "Trader BW"]))
        pid = self.fresh()
        fields = {"parcel": pid, "carats": carats, "stones": stones, "mine": "pit", "hs": "7102.10"}
        entry = self.mem.sign("origin", fields, signer)
        reasons = self.signer_reasons(signer)
        if "mine" not in ROLES[signer]:
            reasons.add("R-ID-1")
        if not self.standing(COUNTRY[signer]):
            reasons.add("R-KP-1")
        if self.submit(entry, reasons):
            self.new_rough(pid, carats, stones, signer, entry.id, grown=False)

    @rule(data=st.data(), carats=st.integers(1, 20_000), stones=st.integers(1, 20))
    def grow(self, data: st.DataObject, carats: int, stones: int) -> None:
        """Laboratory-grown rough of a producer (R-SW-3)."""
        signer = data.draw(st.sampled_from(["Producer IN", "Producer IN", "Mine BW"]))
        pid = self.fresh()
        fields = {"parcel": pid, "carats": carats, "stones": stones, "facility": "CVD hall"}
        entry = self.mem.sign("grow", fields, signer)
        reasons = self.signer_reasons(signer)
        if "producer" not in ROLES[signer]:
            reasons.add("R-ID-1")
        if self.submit(entry, reasons):
            self.new_rough(pid, carats, stones, signer, entry.id, grown=True)

    def new_rough(
        self, pid: str, carats: int, stones: int, signer: str, head: bytes, *, grown: bool
    ) -> MParcel:
        """The model of a parcel just mined or grown by ``signer``."""
        cc = COUNTRY[signer]
        p = MParcel(
            pid,
            "rough",
            carats,
            stones,
            signer,
            head,
            "live",
            {cc: Fraction(1)},
            frozenset({cc}),
            "7104.21" if grown else "7102.10",
            grown=grown,
            path={cc: (self.appended, self.appended)},
        )
        self.add(p)
        self.minted += carats
        return p

    def receiver_reasons(self, signer: str, receiver: str) -> set[str]:
        reasons = set()
        if receiver in self.revoked:
            reasons.add("R-ID-2")
        if receiver == signer:
            reasons.add("R-CU-8")
        if not ROLES[receiver] & set(rules.RECEIVER_ROLES):
            reasons.add("R-ID-1")
        return reasons

    def crossing_reasons(self, exporter: str, importer: str, number: str | None) -> set[str]:
        """What a crossing of rough needs now: both countries in standing, an unused
        certificate of an authority in force."""
        reasons = set()
        if not (self.standing(COUNTRY[exporter]) and self.standing(COUNTRY[importer])):
            reasons.add("R-KP-5")
        if number is None:
            reasons.add("R-KP-2")
        elif self.certs[number].authority in self.revoked:
            reasons.add("R-ID-2")
        return reasons

    @precondition(lambda self: self.parcels)
    @rule(data=st.data())
    def transfer(self, data: st.DataObject) -> None:
        ps, signer = self.draw_inputs(data, 3)
        receiver = data.draw(st.sampled_from(EVERYONE))
        warranty = data.draw(st.sampled_from([None, "2021", "2021", "2002"]))
        wdc = data.draw(st.integers(0, 3)) == 0
        reasons = self.input_reasons(signer, [(p, p.head) for p in ps])
        reasons |= self.receiver_reasons(signer, receiver)
        # Laboratory-grown goods are outside the KP: no certificate for them.
        rough = any(p.kind != "polished" and not p.grown for p in ps)
        cross = COUNTRY[receiver] != COUNTRY[signer]
        number = None
        certifiable = all(
            p.status == "live" and p.holder == signer and not p.grown for p in ps
        ) and not any(p.kind == "polished" for p in ps)
        if rough and cross and certifiable and data.draw(st.booleans()):
            number = self.certify(signer, receiver, ps)
        if rough and cross:
            reasons |= self.crossing_reasons(signer, receiver, number)
        fields: dict[str, Any] = {
            "to": receiver,
            "inputs": [{"parcel": p.pid, "head": p.head} for p in ps],
        }
        if number is not None:
            fields["certificate"] = number
        if warranty:
            fields["warranty"] = warranty
            if any(p.unwarranted for p in ps):
                reasons.add("R-SW-2")
        if wdc:
            fields["wdc"] = "WDC-0001"
            if not warranty:
                reasons.add("R-SW-1")
        warnings = frozenset(self.warranty_warnings(ps, warranty))
        entry = self.mem.sign("transfer", fields, signer)
        if self.submit(entry, reasons, warnings):
            self.join(ps, entry)
            for p in ps:
                p.status = "locked"
                p.touch(COUNTRY[signer], self.appended)
                if number is not None:
                    p.ancestry = p.ancestry | {self.certs[number].issue}
            self.transfers[entry.id] = MTransfer(
                signer,
                receiver,
                [p.pid for p in ps],
                time=self.signed[entry.id][1],
                warranty=warranty is not None,
            )
            if number is not None:
                self.certs[number].used = entry.id
                self.transfers[entry.id].number = number
        elif number is not None:
            self.certs[number].used = entry.id  # a cited certificate is spent even so

    def warranty_warnings(self, ps: Sequence[MParcel], warranty: str | None) -> set[str]:
        """R-SW-1 (WARN): no statement, or the 2002 one after its transition ended."""
        if warranty is None:
            return {"R-SW-1"}
        if warranty == "2002":
            rough = all(p.kind in ("rough", "byproduct") for p in ps)
            if self.day > LEGACY_UNTIL["rough" if rough else "other"]:
                return {"R-SW-1"}
        return set()

    def certify(self, exporter: str, importer: str, ps: Sequence[MParcel]) -> str | None:
        """Issue a certificate; None when the model says the ledger must refuse it."""
        fields = self.mem.certificate(exporter, importer, [p.pid for p in ps])
        # The model's own view of what the certificate must say (R-KP-4, R-KP-6).
        assert fields["origins"] == sorted(set().union(*(p.may for p in ps)))
        assert fields["carats"] == sum(p.carats for p in ps)
        assert fields["hs"] == sorted({p.hs or "7102.10" for p in ps})
        authority = f"{COUNTRY[exporter]} KP Authority"
        reasons = self.signer_reasons(authority)
        if exporter in self.revoked or importer in self.revoked:
            reasons.add("R-ID-2")
        if not (self.standing(COUNTRY[exporter]) and self.standing(COUNTRY[importer])):
            reasons.add("R-KP-5")
        if self.param("cert-validity-days") < 60:  # Memory certifies for 60 days
            reasons.add("R-KP-6")
        entry = self.mem.sign("certificate.issue", fields, authority)
        if not self.submit(entry, reasons):
            return None
        number = str(fields["number"])
        self.certs[number] = MCert(
            exporter,
            importer,
            COUNTRY[exporter],
            COUNTRY[importer],
            fields["carats"],
            len(ps),
            authority,
            entry.id,
        )
        return number

    @precondition(lambda self: self.transfers)
    @rule(data=st.data())
    def answer(self, data: st.DataObject) -> None:
        pending = sorted(k for k, v in self.transfers.items() if v.status == "pending")
        pool = pending if pending and data.draw(st.integers(0, 3)) else sorted(self.transfers)
        tid = data.draw(st.sampled_from(pool))
        t = self.transfers[tid]
        action = data.draw(st.sampled_from(["accept", "reject", "cancel"]))
        rightful = t.sender if action == "cancel" else t.receiver
        signer = rightful if data.draw(st.integers(0, 3)) else data.draw(st.sampled_from(ACTORS))
        reasons = self.answer_reasons(t, action, signer)
        entry = self.mem.sign(action, {"transfer": tid}, signer)
        if self.submit(entry, reasons):
            self.answered(t, action, entry)

    def answer_reasons(self, t: MTransfer, action: str, signer: str) -> set[str]:
        rightful = t.sender if action == "cancel" else t.receiver
        reasons = self.signer_reasons(signer)
        if t.status != "pending" or signer != rightful:
            reasons.add("R-CU-2")
        if action == "accept":
            if self.mem.now > t.time + rules.OFFER_TTL_MS:
                reasons.add("R-TM-3")
            if t.sender in self.revoked:
                reasons.add("R-ID-2")
            if t.number is not None:
                cert = self.certs[t.number]
                if not (self.standing(cert.exp_cc) and self.standing(cert.imp_cc)):
                    reasons.add("R-KP-5")
                if cert.authority in self.revoked:
                    reasons.add("R-ID-2")
        return reasons

    def answered(self, t: MTransfer, action: str, entry: SignedEntry) -> None:
        t.status = {"accept": "accepted", "reject": "rejected", "cancel": "cancelled"}[action]
        if action == "accept" and t.number is not None:
            self.certs[t.number].accepted = True
        for pid in t.pids:
            p = self.parcels[pid]
            p.status = "live"
            self.set_head(p, entry.id)
            if action == "accept":
                p.holder = t.receiver
                p.unwarranted = p.unwarranted or not t.warranty
            p.touch(COUNTRY[t.receiver if action == "accept" else t.sender], self.appended)

    @precondition(lambda self: self.parcels)
    @rule(data=st.data())
    def ship(self, data: st.DataObject) -> None:
        """A complete valid move (certificate if needed, offer, acceptance)."""
        live = sorted(
            pid
            for pid, p in self.parcels.items()
            if p.status == "live" and p.holder not in self.revoked
        )
        if not live:
            return
        first = self.parcels[data.draw(st.sampled_from(live))]
        same = [x for x in live if self.parcels[x].holder == first.holder and x != first.pid]
        extra = data.draw(st.lists(st.sampled_from(same), max_size=1, unique=True)) if same else []
        ps = [first, *(self.parcels[x] for x in extra)]
        receivers = [n for n in CUSTODIANS if n != first.holder and n not in self.revoked]
        if not receivers:
            return
        # Goods usually flow down the pipeline: rough to the cutter, polished to the retailer.
        preferred = "Retailer US" if first.kind == "polished" else "Cutter IN"
        if preferred in receivers and data.draw(st.integers(0, 2)):
            receiver = preferred
        else:
            receiver = data.draw(st.sampled_from(receivers))
        if any(p.kind == "polished" for p in ps) and any(p.kind != "polished" for p in ps):
            ps = [first]
        rough = any(p.kind != "polished" and not p.grown for p in ps)
        if rough and any(p.grown for p in ps):
            ps = [first]  # no certificate covers grown goods: ship natural rough alone
            rough = not first.grown
        number = None
        if rough and COUNTRY[receiver] != COUNTRY[first.holder]:
            authority = f"{COUNTRY[first.holder]} KP Authority"
            fine = self.standing(COUNTRY[first.holder]) and self.standing(COUNTRY[receiver])
            if not fine or authority in self.revoked or self.param("cert-validity-days") < 60:
                return  # no valid crossing exists today
            number = self.certify(first.holder, receiver, ps)
            assert number is not None
        fields: dict[str, Any] = {
            "to": receiver,
            "inputs": [{"parcel": p.pid, "head": p.head} for p in ps],
        }
        # A warranty only where the chain of warranties holds (R-SW-2); sometimes none.
        warranted = not any(p.unwarranted for p in ps) and data.draw(st.integers(0, 3)) > 0
        if warranted:
            fields["warranty"] = "2021"
        if number is not None:
            fields["certificate"] = number
        sender = first.holder
        offer = self.mem.sign("transfer", fields, sender)
        assert self.submit(offer, set(), frozenset(set() if warranted else {"R-SW-1"}))
        offered = self.appended
        if number is not None and data.draw(st.integers(0, 2)) == 0:  # left pending
            self.transfers[offer.id] = MTransfer(
                first.holder,
                receiver,
                [p.pid for p in ps],
                "pending",
                number,
                self.signed[offer.id][1],
                warranted,
            )
            self.certs[number].used = offer.id
            self.join(ps, offer)
            for p in ps:
                p.status = "locked"
                p.touch(COUNTRY[first.holder], offered)
                p.ancestry = p.ancestry | {self.certs[number].issue}
            return
        accept = self.mem.sign("accept", {"transfer": offer.id}, receiver)
        assert self.submit(accept, set())
        self.transfers[offer.id] = MTransfer(
            first.holder, receiver, [p.pid for p in ps], "accepted", number, 0, warranted
        )
        if number is not None:
            self.certs[number].used = offer.id
            self.certs[number].accepted = True
        self.join(ps, offer)
        for p in ps:
            if number is not None:
                p.ancestry = p.ancestry | {self.certs[number].issue}
            self.set_head(p, accept.id)
            p.holder = receiver
            p.unwarranted = p.unwarranted or not warranted
            p.touch(COUNTRY[sender], offered)
            p.touch(COUNTRY[receiver], self.appended)

    @precondition(lambda self: self.parcels)
    @rule(data=st.data())
    def split(self, data: st.DataObject) -> None:
        (p,), signer = self.draw_inputs(data, 1)
        n = data.draw(st.integers(2, 3))
        tau = self.tau(p.carats, n)
        outputs: list[dict[str, Any]] = []
        for i in range(n):
            carats = data.draw(st.integers(1, max(1, 2 * p.carats // n)))
            left = p.carats - sum(o["carats"] for o in outputs)
            if i == n - 1 and left > 0 and data.draw(st.booleans()):
                # at the limit, at the edge of the tolerance either way, or beyond it
                carats = max(1, left + data.draw(st.sampled_from([0, tau, tau + 1, -tau - 1])))
            o: dict[str, Any] = {"parcel": self.fresh(), "carats": carats}
            stones = data.draw(st.none() | st.integers(1, 8))
            if stones is not None:
                o["stones"] = stones
            outputs.append(o)
        reasons = self.input_reasons(signer, [(p, p.head)])
        if p.kind == "polished":
            reasons.add("R-MB-6")
        total = sum(o["carats"] for o in outputs)
        if total > p.carats + tau:
            reasons.add("R-MB-1")
        if p.stones is not None and sum(o.get("stones", 0) for o in outputs) > p.stones:
            reasons.add("R-MB-3")
        warnings = frozenset({"R-MB-1"} if p.carats - total > tau else set())
        entry = self.mem.sign(
            "split", {"input": {"parcel": p.pid, "head": p.head}, "outputs": outputs}, signer
        )
        if self.submit(entry, reasons, warnings):
            self.consume([p], entry)
            self.minted += max(0, total - p.carats)
            for o in outputs:
                self.add(
                    MParcel(
                        o["parcel"],
                        p.kind,
                        o["carats"],
                        o.get("stones"),
                        signer,
                        entry.id,
                        "live",
                        dict(p.comp),
                        p.may,
                        p.hs,
                        p.depth,
                        self.made([p], entry),
                        grown=p.grown,
                        unwarranted=p.unwarranted,
                        path=self.path_of([p], signer),
                    )
                )

    @precondition(lambda self: len(self.parcels) >= 2)
    @rule(data=st.data())
    def merge(self, data: st.DataObject) -> None:
        ps, signer = self.draw_inputs(data, 3)
        if len(ps) < 2:
            return
        total = sum(p.carats for p in ps)
        tau = self.tau(total, 1)
        out: dict[str, Any] = {
            "parcel": self.fresh(),
            # Often at the limit or at the edge of the tolerance.
            "carats": data.draw(
                st.sampled_from([total, total + tau, total + tau + 1, max(1, total - tau - 1)])
                | st.integers(1, total + total // 10 + 1)
            ),
        }
        most = sum(p.stones or 1 for p in ps) + 1
        stones_given = data.draw(st.none() | st.integers(1, most))
        if stones_given is not None:
            out["stones"] = stones_given
        reasons = self.input_reasons(signer, [(p, p.head) for p in ps])
        if any(p.kind == "polished" for p in ps):
            reasons.add("R-MB-6")
        if self.mixed_nature(ps):
            reasons.add("R-SW-3")
        if out["carats"] > total + tau:
            reasons.add("R-MB-1")
        known = all(p.stones is not None for p in ps)
        stones = sum(p.stones or 0 for p in ps) if known else None
        if stones is not None and stones_given is not None and stones_given > stones:
            reasons.add("R-MB-3")
        warnings = frozenset({"R-MB-1"} if total - out["carats"] > tau else set())
        fields = {"inputs": [{"parcel": p.pid, "head": p.head} for p in ps], "output": out}
        entry = self.mem.sign("merge", fields, signer)
        if self.submit(entry, reasons, warnings):
            self.consume(ps, entry)
            self.minted += max(0, out["carats"] - total)
            hs = {p.hs for p in ps}
            self.add(
                MParcel(
                    out["parcel"],
                    "byproduct" if all(p.kind == "byproduct" for p in ps) else "rough",
                    out["carats"],
                    (stones_given or stones) if stones is not None else None,
                    signer,
                    entry.id,
                    "live",
                    exact_mix([(p.carats, p.comp) for p in ps]),
                    frozenset().union(*(p.may for p in ps)),
                    hs.pop() if len(hs) == 1 else "7102.10",
                    max(p.depth for p in ps) + 1,
                    self.made(ps, entry),
                    grown=all(p.grown for p in ps),
                    unwarranted=any(p.unwarranted for p in ps),
                    path=self.path_of(ps, signer),
                )
            )

    @precondition(lambda self: self.parcels)
    @rule(data=st.data())
    def cut(self, data: st.DataObject) -> None:
        ps, signer = self.draw_preferring(data, "Cutter IN", 2)
        total_in = sum(p.carats for p in ps)
        n = data.draw(st.integers(1, 7))
        if all(p.stones is not None for p in ps) and data.draw(st.booleans()):
            limit = 3 * sum(p.stones or 0 for p in ps)
            n = data.draw(st.sampled_from([limit, limit + 1]))  # at the R-MB-3 boundary
        top = max(1, total_in // n)  # polished stones alone rarely exceed the rough
        stones = [
            {"parcel": self.fresh(), "carats": data.draw(st.integers(1, top))} for _ in range(n)
        ]
        byproducts = [
            {"parcel": self.fresh(), "carats": data.draw(st.integers(1, max(1, total_in // 3)))}
            for _ in range(data.draw(st.integers(0, 1)))
        ]
        reasons = self.signer_reasons(signer)
        if "cutter" not in ROLES[signer]:
            reasons.add("R-ID-1")
        reasons |= self.input_reasons(signer, [(p, p.head) for p in ps])
        if any(p.kind != "rough" for p in ps):
            reasons.add("R-MB-6")
        if self.mixed_nature(ps):
            reasons.add("R-SW-3")
        polished = sum(s["carats"] for s in stones)
        total_out = polished + sum(b["carats"] for b in byproducts)
        if total_out > total_in + self.tau(total_in, len(stones) + len(byproducts)):
            reasons.add("R-MB-2")
        if all(p.stones is not None for p in ps) and len(stones) > 3 * sum(
            p.stones or 0 for p in ps
        ):
            reasons.add("R-MB-3")
        permille = polished * 1000 // total_in
        warnings = frozenset(set() if 150 <= permille <= 700 else {"R-MB-5"})
        fields: dict[str, Any] = {
            "inputs": [{"parcel": p.pid, "head": p.head} for p in ps],
            "stones": stones,
        }
        if byproducts:
            fields["byproducts"] = byproducts
        entry = self.mem.sign("cut", fields, signer)
        if self.submit(entry, reasons, warnings):
            self.consume(ps, entry)
            self.minted += max(0, total_out - total_in)
            comp = exact_mix([(p.carats, p.comp) for p in ps])
            may = frozenset().union(*(p.may for p in ps))
            depth = max(p.depth for p in ps) + 1
            ancestry = self.made(ps, entry)
            grown = all(p.grown for p in ps)
            marks: dict[str, Any] = {
                "grown": grown,
                "unwarranted": any(p.unwarranted for p in ps),
            }
            for s in stones:
                self.add(
                    MParcel(
                        s["parcel"],
                        "polished",
                        s["carats"],
                        1,
                        signer,
                        entry.id,
                        "live",
                        comp,
                        may,
                        None,
                        depth,
                        ancestry,
                        path=self.path_of(ps, signer),
                        **marks,
                    )
                )
            for b in byproducts:
                self.add(
                    MParcel(
                        b["parcel"],
                        "byproduct",
                        b["carats"],
                        None,
                        signer,
                        entry.id,
                        "live",
                        comp,
                        may,
                        "7104.21" if grown else "7102.21",
                        depth,
                        ancestry,
                        path=self.path_of(ps, signer),
                        **marks,
                    )
                )

    def live_rough(self, holder: str, grown: bool) -> list[str]:
        return sorted(
            pid
            for pid, p in self.parcels.items()
            if p.holder == holder and p.status == "live" and p.kind == "rough"
            and p.grown == grown
        )  # fmt: skip

    def grown_delivered(self, holder: str, carats: int) -> None:
        """The producer grows a parcel and delivers it to ``holder`` (no certificate: grown
        goods are outside the KP), every step valid."""
        pid = self.fresh()
        fields = {"parcel": pid, "carats": carats, "stones": 4, "facility": "CVD hall"}
        entry = self.mem.sign("grow", fields, "Producer IN")
        assert self.submit(entry, set())
        p = self.new_rough(pid, carats, 4, "Producer IN", entry.id, grown=True)
        ref = [{"parcel": pid, "head": entry.id}]
        offer = self.mem.sign(
            "transfer", {"to": holder, "inputs": ref, "warranty": "2021"}, "Producer IN"
        )
        assert self.submit(offer, set())
        self.set_head(p, offer.id)
        p.touch("IN", self.appended)
        accept = self.mem.sign("accept", {"transfer": offer.id}, holder)
        assert self.submit(accept, set())
        self.transfers[offer.id] = MTransfer("Producer IN", holder, [pid], "accepted")
        self.set_head(p, accept.id)
        p.holder = holder
        p.touch(COUNTRY[holder], self.appended)

    @rule(data=st.data(), cut=st.booleans())
    def mix_natures(self, data: st.DataObject, cut: bool) -> None:
        """A well-formed merge or cut of grown with natural rough: refused (R-SW-3)."""
        holders = sorted(
            h
            for h in {p.holder for p in self.parcels.values()}
            if self.live_rough(h, True) and self.live_rough(h, False)
        )
        if not holders:
            natural = sorted(
                h
                for h in {p.holder for p in self.parcels.values()}
                if self.live_rough(h, False) and h in CUSTODIANS and h not in self.revoked
            )
            if not natural or "Producer IN" in self.revoked:
                return
            holders = [data.draw(st.sampled_from(natural))]
            self.grown_delivered(holders[0], data.draw(st.integers(1, 5_000)))
        holder = data.draw(st.sampled_from(holders))
        ps = [
            self.parcels[data.draw(st.sampled_from(self.live_rough(holder, grown)))]
            for grown in (True, False)
        ]
        total = sum(p.carats for p in ps)
        refs = [{"parcel": p.pid, "head": p.head} for p in ps]
        reasons = self.signer_reasons(holder) | {"R-SW-3"}
        if cut:
            if "cutter" not in ROLES[holder]:
                reasons.add("R-ID-1")
            stone = {"parcel": self.fresh(), "carats": max(1, total * 4 // 10)}
            entry = self.mem.sign("cut", {"inputs": refs, "stones": [stone]}, holder)
        else:
            out = {"parcel": self.fresh(), "carats": total}
            entry = self.mem.sign("merge", {"inputs": refs, "output": out}, holder)
        assert not self.submit(entry, reasons)

    @rule(data=st.data())
    def rewarrant(self, data: st.DataObject) -> None:
        """Warranting goods whose chain of warranties broke: refused (R-SW-2)."""
        pool = sorted(
            pid
            for pid, p in self.parcels.items()
            if p.unwarranted and p.status == "live" and p.holder not in self.revoked
        )
        if not pool:
            return
        p = self.parcels[data.draw(st.sampled_from(pool))]
        receivers = [
            n
            for n in CUSTODIANS
            if n != p.holder and COUNTRY[n] == COUNTRY[p.holder] and n not in self.revoked
        ]
        if not receivers:
            receivers = [n for n in CUSTODIANS if n != p.holder and n not in self.revoked]
            if p.kind != "polished" and not p.grown:
                return  # a crossing would need a certificate first
        if not receivers:
            return
        receiver = data.draw(st.sampled_from(receivers))
        fields = {
            "to": receiver,
            "inputs": [{"parcel": p.pid, "head": p.head}],
            "warranty": "2021",
        }
        entry = self.mem.sign("transfer", fields, p.holder)
        assert not self.submit(entry, {"R-SW-2"})

    @precondition(lambda self: self.parcels)
    @rule(data=st.data())
    def sell(self, data: st.DataObject) -> None:
        (p, *_), signer = self.draw_preferring(data, "Retailer US", 1)
        reasons = self.signer_reasons(signer)
        if "retailer" not in ROLES[signer]:
            reasons.add("R-ID-1")
        reasons |= self.input_reasons(signer, [(p, p.head)])
        if p.kind != "polished":
            reasons.add("R-SL-1")
        entry = self.mem.sign("sell", {"input": {"parcel": p.pid, "head": p.head}}, signer)
        if self.submit(entry, reasons):
            p.status = "sold"
            self.set_head(p, entry.id)
            p.touch(COUNTRY[signer], self.appended)

    @precondition(lambda self: any(h != self.parcels[pid].head for pid, h in self.heads))
    @rule(data=st.data())
    def stale_input(self, data: st.DataObject) -> None:
        """Reuse a head that is no longer current: a double spend or a replay."""
        stale = [(pid, h) for pid, h in self.heads if h != self.parcels[pid].head]
        pid, head = data.draw(st.sampled_from(stale))
        p = self.parcels[pid]
        signer = p.holder
        kind = data.draw(st.sampled_from(["split", "transfer"]))
        ref = {"parcel": pid, "head": head}
        reasons = self.input_reasons(signer, [(p, head)])
        assert "R-CU-3" in reasons
        if kind == "split":
            outputs = [{"parcel": self.fresh(), "carats": 1}, {"parcel": self.fresh(), "carats": 1}]
            entry = self.mem.sign("split", {"input": ref, "outputs": outputs}, signer)
        else:
            receiver = "Trader BW" if signer != "Trader BW" else "Trader BE"
            reasons |= self.receiver_reasons(signer, receiver)
            entry = self.mem.sign("transfer", {"to": receiver, "inputs": [ref]}, signer)
        assert not self.submit(entry, reasons)

    # -- time, registry and parameters (R-KP-5, R-KP-7, R-ID-2, R-PA-1) ---------------

    @precondition(lambda self: self.mem.now < BASE_TIME + 120 * DAY)
    @rule(days=st.integers(1, 3) | st.integers(20, 40))
    def days_pass(self, days: int) -> None:
        self.mem.now += days * DAY

    def pending_crossings(self) -> list[MTransfer]:
        return [t for t in self.transfers.values() if t.status == "pending" and t.number]

    # The registry changes rarely: each rule below is enabled only a few times per run, so
    # that the goods keep moving between them.

    @precondition(lambda self: sum(map(len, self.status.values())) < len(MACHINE_COUNTRIES) + 4)
    @rule(
        data=st.data(),
        status=st.sampled_from(["suspended", "participant", "withdrawn"]),
        ahead=st.integers(-1, 3),
    )
    def kp_status(self, data: st.DataObject, status: str, ahead: int) -> None:
        pending = self.pending_crossings()
        if pending and data.draw(st.booleans()):  # a suspension that lands on a crossing
            t = data.draw(st.sampled_from(pending))
            cc = COUNTRY[data.draw(st.sampled_from([t.sender, t.receiver]))]
            ahead, status = 0, "suspended"
        else:
            cc = data.draw(st.sampled_from(MACHINE_COUNTRIES))
        start = rules.date_of(self.mem.now + ahead * DAY)
        reasons = {"R-KP-7"} if start <= self.status[cc][-1][0] else set()
        entry = self.mem.sign(
            "kp-status.set", {"country": cc, "status": status, "from": start}, OPERATOR
        )
        if self.submit(entry, reasons):
            self.status[cc].append((start, status))

    @precondition(lambda self: self.pending_crossings())
    @rule(data=st.data())
    def suspension_meets_a_crossing(self, data: st.DataObject) -> None:
        """A country of a pending crossing is suspended from today; the receiver then
        tries to accept (R-KP-5 whatever the certificate's issue date)."""
        t = data.draw(st.sampled_from(self.pending_crossings()))
        cc = COUNTRY[data.draw(st.sampled_from([t.sender, t.receiver]))]
        self.kp_status_now(cc, "suspended")
        tid = next(k for k, v in self.transfers.items() if v is t)
        reasons = self.answer_reasons(t, "accept", t.receiver)
        entry = self.mem.sign("accept", {"transfer": tid}, t.receiver)
        if self.submit(entry, reasons):  # the suspension was refused (R-KP-7): nothing changed
            self.answered(t, "accept", entry)

    def kp_status_now(self, cc: str, status: str) -> None:
        start = self.day
        reasons = {"R-KP-7"} if start <= self.status[cc][-1][0] else set()
        entry = self.mem.sign(
            "kp-status.set", {"country": cc, "status": status, "from": start}, OPERATOR
        )
        if self.submit(entry, reasons):
            self.status[cc].append((start, status))

    @precondition(lambda self: len(self.revoked) < 2)
    @rule(
        data=st.data(),
        compromised=st.booleans(),
        since=st.integers(-3 * DAY, 0) | st.just(MINUTE),
    )
    def revoke(self, data: st.DataObject, compromised: bool, since: int) -> None:
        involved = sorted(
            {t.sender for t in self.transfers.values() if t.status == "pending"}
            | {c.authority for c in self.certs.values() if c.used and not c.accepted}
        )
        pool = involved if involved and data.draw(st.booleans()) else EVERYONE
        name = data.draw(st.sampled_from(pool))
        fields: dict[str, Any] = {"name": name}
        reasons = {"R-ID-2"} if name in self.revoked else set()
        if compromised:
            fields["compromised_since"] = self.mem.now + since
            if since > 0:
                reasons.add("R-ID-2")
        entry = self.mem.sign("participant.revoke", fields, OPERATOR)
        if self.submit(entry, reasons):
            self.revoked[name] = self.mem.now - MINUTE + since if compromised else None

    @precondition(lambda self: self.certs)
    @rule(data=st.data(), off=st.sampled_from([0, 0, 0, 1, 5_000]))
    def confirm(self, data: st.DataObject, off: int) -> None:
        number = data.draw(st.sampled_from(sorted(self.certs)))
        cert = self.certs[number]
        importing = data.draw(st.integers(0, 3)) > 0
        authority = f"{cert.imp_cc if importing else cert.exp_cc} KP Authority"
        shipment = cert.used or b"\x07" * 32
        fields = {
            "number": number,
            "shipment": shipment,
            "carats": cert.carats + off,
            "count": cert.count,
        }
        reasons = self.signer_reasons(authority)
        if (
            not importing
            or cert.confirmed
            or cert.used is None
            or not cert.accepted
            or off > self.tau(cert.carats, cert.count)
        ):
            reasons.add("R-KP-3")
        entry = self.mem.sign("certificate.confirm", fields, authority)
        if self.submit(entry, reasons):
            cert.confirmed = True

    @precondition(lambda self: sum(map(len, self.params.values())) < 3)
    @rule(
        name=st.sampled_from(sorted(rules.PARAMETERS)),
        value=st.integers(0, 120),
        ahead=st.integers(-1, 2),
    )
    def set_param(self, name: str, value: int, ahead: int) -> None:
        start = rules.date_of(self.mem.now + ahead * DAY)
        spec = rules.PARAMETERS[name]
        reasons = set()
        if not spec.low <= value <= spec.high or ahead < 0:
            reasons.add("R-PA-1")
        changes = self.params.get(name, [])
        if changes and start <= changes[-1][0]:
            reasons.add("R-PA-1")
        entry = self.mem.sign("param.set", {"name": name, "value": value, "from": start}, OPERATOR)
        if self.submit(entry, reasons):
            self.params.setdefault(name, []).append((start, value))

    @rule(
        data=st.data(),
        list_id=st.sampled_from(LISTS),
        listing=st.booleans(),
        back=st.integers(-2, 32) | st.sampled_from([30, 31]),
    )
    def designate(self, data: st.DataObject, list_id: str, listing: bool, back: int) -> None:
        """A list publisher designates or de-lists a party from a date (R-SA-4)."""
        signer = data.draw(st.sampled_from(["Publisher EU", "Publisher US", "Trader BE"]))
        party = data.draw(st.sampled_from(EVERYONE))
        start = rules.date_of(self.mem.now - back * DAY)
        status = "listed" if listing else "delisted"
        periods = self.lists.get((party, list_id), [])
        reasons = self.signer_reasons(signer)
        if "publisher" not in ROLES[signer]:
            reasons.add("R-ID-1")
        if self.publishers.get(list_id, signer) != signer:
            reasons.add("R-SA-4")
        if rules.days_between(start, self.day) > 30:
            reasons.add("R-SA-4")
        if periods and start <= periods[-1][0]:
            reasons.add("R-SA-4")
        if (periods[-1][1] if periods else "delisted") == status:
            reasons.add("R-SA-4")
        fields = {"list": list_id, "party": party, "from": start}
        kind = "sanction.designate" if listing else "sanction.delist"
        if self.submit(self.mem.sign(kind, fields, signer), reasons):
            self.lists[(party, list_id)] = [*periods, (start, status)]
            self.publishers.setdefault(list_id, signer)

    # -- invariants -----------------------------------------------------------------

    @invariant()
    def replay_agrees(self) -> None:
        """A full replay of the records rebuilds the engine's state.

        When the last step added no record (a rejection), the records are those of the
        previous replay, so its state is reused: the engine's state must still equal it
        (a rejected entry leaves no trace).
        """
        if self.replayed is None or self.replayed[0] != len(self.mem.rows):
            result = replay.replay(self.mem.rows)
            assert result.size == len(self.mem.rows)
            self.replayed = (result.size, {k: dict(result.state.items(k)) for k in STATE_KINDS})
        for kind, values in self.replayed[1].items():
            assert values == dict(self.mem.state.items(kind)), kind

    @invariant()
    def parcels_match_the_model(self) -> None:
        held = 0
        for pid, m in self.parcels.items():
            e = self.mem.parcel(pid)
            assert (e["holder"], e["status"], e["head"]) == (m.holder, m.status, m.head), pid
            assert (e["kind"], e["carats"], e["stones"], e["hs"]) == (
                m.kind,
                m.carats,
                m.stones,
                m.hs,
            )
            assert e["may"] == sorted(m.may), pid
            assert (bool(e.get("grown")), bool(e.get("unwarranted"))) == (m.grown, m.unwarranted)
            assert {cc: tuple(span) for cc, span in e["path"].items()} == m.path, pid
            assert sum(e["comp"].values()) == PPM
            assert set(e["comp"]) <= m.may
            for country in m.may:
                err = abs(e["comp"].get(country, 0) - m.comp.get(country, Fraction(0)) * PPM)
                assert err <= m.depth, (pid, country, err, m.depth)
            if m.status in ("live", "locked"):
                held += m.carats
        assert held <= self.minted  # mass grows only within the weighing tolerance

    @invariant()
    def designations_match_the_model(self) -> None:
        for name in EVERYONE:
            party = self.mem.state.party(name)
            assert party is not None
            got = {k: [tuple(x) for x in v] for k, v in party.get("lists", {}).items()}
            want = {k: v for (n, k), v in self.lists.items() if n == name}
            assert got == want, name
            for list_id in LISTS:
                for day in {start for start, _ in want.get(list_id, [])} | {self.day}:
                    status = "delisted"
                    for start, value in want.get(list_id, []):
                        if start <= day:
                            status = value
                    assert rules.listed(party, list_id, day) == (status == "listed")

    @invariant()
    def quarantine_matches_the_model(self) -> None:
        """The engine quarantines exactly the parcels whose ancestry, by the model, holds an
        entry signed by a compromised participant at or after the compromise."""
        compromised = {n: t for n, t in self.revoked.items() if t is not None}
        if not compromised:
            return

        def void(eid: bytes) -> bool:
            signer, when = self.signed[eid]
            return signer in compromised and when >= compromised[signer]

        expected = {pid for pid, m in self.parcels.items() if any(map(void, m.ancestry))}
        keys = {k: v for k, v in self.mem.state.items("kid")}
        got = replay.quarantined_items(
            (raw for _, raw in self.mem.rows), lambda kid: keys.get(kid.hex())
        )
        assert set(got) == expected


RulesMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestRulesModel = RulesMachine.TestCase


# ---------------------------------------------------------------------------
# (b) Composition properties

COUNTRIES = ("AE", "BE", "BW", "CA", "CF", "IN", "RU", "US")


@st.composite
def compositions(draw: st.DrawFn) -> dict[str, int]:
    """A valid composition: 1-5 countries with positive ppm shares summing to PPM."""
    k = draw(st.integers(1, 5))
    countries = draw(st.lists(st.sampled_from(COUNTRIES), min_size=k, max_size=k, unique=True))
    cuts = sorted(
        draw(st.lists(st.integers(1, PPM - 1), min_size=k - 1, max_size=k - 1, unique=True))
    )
    bounds = [0, *cuts, PPM]
    return {c: bounds[i + 1] - bounds[i] for i, c in enumerate(countries)}


masses = st.integers(1, 10**9)
mixtures = st.lists(st.tuples(masses, compositions()), min_size=1, max_size=6)
FAST = settings(max_examples=200, deadline=None)


@FAST
@given(mixtures)
def test_mix_sums_to_exactly_one_million(parts: list[tuple[int, dict[str, int]]]) -> None:
    out = mix_compositions(parts)
    assert sum(out.values()) == PPM
    assert all(v > 0 for v in out.values())
    assert set(out) <= set().union(*(c for _, c in parts))


@FAST
@given(mixtures)
def test_mix_is_mass_weighted_within_one_ppm(parts: list[tuple[int, dict[str, int]]]) -> None:
    out = mix_compositions(parts)
    total = sum(m for m, _ in parts)
    for country in set().union(*(c for _, c in parts)):
        exact = Fraction(sum(m * c.get(country, 0) for m, c in parts), total)
        assert abs(out.get(country, 0) - exact) < 1


@FAST
@given(mixtures)
def test_mix_rounds_by_largest_remainder(parts: list[tuple[int, dict[str, int]]]) -> None:
    out = mix_compositions(parts)
    total = sum(m for m, _ in parts)
    numer = {k: sum(m * c.get(k, 0) for m, c in parts) for k in set().union(*(c for _, c in parts))}
    up = {k for k in numer if out.get(k, 0) > numer[k] // total}
    down = set(numer) - up
    for k in up:
        for j in down:
            assert (-(numer[k] % total), k) < (-(numer[j] % total), j)


@FAST
@given(mixtures, st.randoms(use_true_random=False))
def test_mix_ignores_the_order_of_inputs(parts: list[tuple[int, dict[str, int]]], rnd: Any) -> None:
    shuffled = list(parts)
    rnd.shuffle(shuffled)
    assert mix_compositions(shuffled) == mix_compositions(parts)


@FAST
@given(compositions(), st.lists(masses, min_size=1, max_size=5))
def test_mixing_one_composition_preserves_it(comp: dict[str, int], ms: list[int]) -> None:
    assert mix_compositions([(m, comp) for m in ms]) == comp


def test_mix_ties_go_to_the_alphabetically_first_country() -> None:
    parts = [(1, {"CA": PPM}), (1, {"AE": PPM}), (1, {"BW": PPM})]
    assert mix_compositions(parts) == {"AE": 333_334, "BW": 333_333, "CA": 333_333}
    # Six equal sixths: 4 ppm are missing after flooring; the first four countries get them.
    six = [(7, {cc: PPM}) for cc in ("IN", "CF", "CA", "BW", "BE", "AE")]
    assert mix_compositions(six) == {
        "AE": 166_667,
        "BE": 166_667,
        "BW": 166_667,
        "CA": 166_667,
        "CF": 166_666,
        "IN": 166_666,
    }
    # A larger remainder wins over the alphabet: RU 4/6 of a ppm, BW 2/6.
    mixed = [(1, {"RU": PPM}), (2, {"BW": PPM}), (1, {"AE": PPM}), (2, {"CA": PPM})]
    assert mix_compositions(mixed) == {"AE": 166_667, "BW": 333_333, "CA": 333_333, "RU": 166_667}


# The engine's propagation, on an in-memory ledger with a mine in every country.

PROP_COUNTRIES = ("AE", "BW", "CA", "CF", "IN", "RU")
PROP_PARTIES = (
    *authorities(PROP_COUNTRIES, 10),
    *(Party(f"Mine {cc}", ("mine",), cc, 30 + i) for i, cc in enumerate(PROP_COUNTRIES)),
    Party("Hub", ("trader", "cutter"), "BE", 50),
)


def gather(mem: Memory, origins: Sequence[tuple[str, int]]) -> list[str]:
    """Mine each ``(country, carats)`` and ship it to the Hub; return the parcel ids."""
    pids = []
    for i, (cc, carats) in enumerate(origins):
        pid = f"o{i}"
        fields = {"parcel": pid, "carats": carats, "stones": 3, "mine": "pit", "hs": "7102.10"}
        mem.act("origin", fields, f"Mine {cc}")
        mem.ship(f"Mine {cc}", "Hub", [pid])
        pids.append(pid)
    return pids


origin_lists = st.lists(
    st.tuples(st.sampled_from(PROP_COUNTRIES), st.integers(100, 1_000_000)), min_size=2, max_size=4
)
ENGINE = settings(max_examples=25, deadline=None)


@ENGINE
@given(origin_lists, st.lists(st.integers(1, 10**6), min_size=2, max_size=4))
def test_engine_merge_split_cut_propagate_composition(
    origins: list[tuple[str, int]], weights: list[int]
) -> None:
    mem = Memory(PROP_PARTIES, (*PROP_COUNTRIES, "BE"))
    pids = gather(mem, origins)
    inputs = [mem.parcel(p) for p in pids]
    mem.act(
        "merge",
        {
            "inputs": [mem.ref(p) for p in pids],
            "output": {"parcel": "M", "carats": sum(c for _, c in origins)},
        },
        "Hub",
    )
    merged = mem.parcel("M")
    assert merged["comp"] == mix_compositions([(p["carats"], p["comp"]) for p in inputs])
    assert merged["may"] == sorted({cc for cc, _ in origins})

    # split: any weights that do not exceed the input; every output copies comp and may
    total = merged["carats"]
    scale = sum(weights)
    outs = [
        {"parcel": f"S{i}", "carats": max(1, w * total // scale // 2)}
        for i, w in enumerate(weights)
    ]
    mem.act("split", {"input": mem.ref("M"), "outputs": outs}, "Hub")
    for o in outs:
        part = mem.parcel(o["parcel"])
        assert (part["comp"], part["may"]) == (merged["comp"], merged["may"])

    # a merge of parts of one composition gives that composition back
    two = [o["parcel"] for o in outs[:2]]
    mem.act(
        "merge",
        {"inputs": [mem.ref(p) for p in two], "output": {"parcel": "M2", "carats": 1}},
        "Hub",
    )
    assert mem.parcel("M2")["comp"] == merged["comp"]

    # cut: stones carry the mix of the inputs and the union of their may-contain sets
    rest = [o["parcel"] for o in outs[2:]]
    mem.act(
        "origin",
        {"parcel": "X", "carats": 500, "stones": 1, "mine": "pit", "hs": "7102.10"},
        "Mine RU",
    )
    mem.ship("Mine RU", "Hub", ["X"])
    cut_inputs = ["M2", "X", *rest]
    parts = [mem.parcel(p) for p in cut_inputs]
    mem.act(
        "cut",
        {"inputs": [mem.ref(p) for p in cut_inputs], "stones": [{"parcel": "P", "carats": 1}]},
        "Hub",
    )
    stone = mem.parcel("P")
    assert stone["comp"] == mix_compositions([(p["carats"], p["comp"]) for p in parts])
    assert stone["may"] == sorted(set().union(*(p["may"] for p in parts)))
    assert "RU" in stone["may"]
    replay.replay(mem.rows)
