"""The rules engine against a naive model of custody and mass, and composition properties.

(a) ``RulesMachine`` drives random operations, valid and invalid (origins by the wrong
party, transfers across borders with and without KP certificates, answers by the wrong
party, splits, merges and cuts that may inflate mass, sales of rough, stale and consumed
inputs), through ``rules.apply`` on an in-memory ``State``. A model written here with
plain dictionaries and exact fractions predicts, for each entry, the set of rules it
breaks: the engine must accept exactly when that set is empty, and when it rejects, name
one of them. After every step a full ``replay`` of the accepted records must succeed and
rebuild the same state, and every parcel must match the model (holder, status, head,
weight, stones, may-contain set, and shares within the rounding bound).

(b) ``mix_compositions`` and the engine's propagation of compositions: shares sum to
exactly 1,000,000, are within 1 ppm of the exact mass-weighted value, ties go to the
alphabetically first country, splits copy shares and may-contain sets, and a merge's
may-contain set is the union of its inputs'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
)
ROLES = {p.name: set(p.roles) for p in MACHINE_PARTIES}
COUNTRY = {p.name: p.country for p in MACHINE_PARTIES}
ACTORS = sorted(p.name for p in MACHINE_PARTIES if "authority" not in p.roles)
EVERYONE = sorted(p.name for p in MACHINE_PARTIES)
CUSTODIANS = sorted(n for n in ACTORS if ROLES[n] & set(rules.RECEIVER_ROLES))


#: The state kinds compared between the engine and a replay.
STATE_KINDS = ("parcel", "transfer", "cert", "party", "kid", "kp", "mine", "meta")


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


@dataclass
class MTransfer:
    sender: str
    receiver: str
    pids: list[str]
    status: str = "pending"


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
        self.minted = 0
        self.next_id = 0
        self.replayed: tuple[int, dict[str, dict[str, Any]]] | None = None

    # -- plumbing -----------------------------------------------------------------

    def fresh(self) -> str:
        self.next_id += 1
        return f"p{self.next_id}"

    def submit(
        self, entry: SignedEntry, reasons: set[str], warnings: frozenset[str] = frozenset()
    ) -> bool:
        """Apply ``entry``; the engine must agree with the model's verdict."""
        try:
            out = self.mem.submit(entry)
        except RuleError as exc:
            assert reasons, f"engine rejected a {entry.type} the model accepts: {exc}"
            assert exc.rule in reasons, f"{entry.type}: engine says {exc}, model says {reasons}"
            return False
        assert not reasons, f"engine accepted a {entry.type} the model rejects for {reasons}"
        assert {w.rule for w in out.warnings} == set(warnings), (entry.type, out.warnings)
        return True

    def set_head(self, p: MParcel, head: bytes) -> None:
        p.head = head
        self.heads.append((p.pid, head))

    def add(self, p: MParcel) -> None:
        self.parcels[p.pid] = p
        self.heads.append((p.pid, p.head))

    def input_reasons(self, signer: str, inputs: Sequence[tuple[MParcel, bytes]]) -> set[str]:
        reasons = set()
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
        for p in ps:
            p.status = "consumed"
            self.set_head(p, entry.id)

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
        reasons = set() if "mine" in ROLES[signer] else {"R-ID-1"}
        if self.submit(entry, reasons):
            cc = COUNTRY[signer]
            self.add(
                MParcel(
                    pid,
                    "rough",
                    carats,
                    stones,
                    signer,
                    entry.id,
                    "live",
                    {cc: Fraction(1)},
                    frozenset({cc}),
                    "7102.10",
                )
            )
            self.minted += carats

    @precondition(lambda self: self.parcels)
    @rule(data=st.data())
    def transfer(self, data: st.DataObject) -> None:
        ps, signer = self.draw_inputs(data, 3)
        receiver = data.draw(st.sampled_from(EVERYONE))
        warranty = data.draw(st.booleans())
        reasons = self.input_reasons(signer, [(p, p.head) for p in ps])
        if receiver == signer:
            reasons.add("R-CU-8")
        if not ROLES[receiver] & set(rules.RECEIVER_ROLES):
            reasons.add("R-ID-1")
        rough = any(p.kind != "polished" for p in ps)
        cross = COUNTRY[receiver] != COUNTRY[signer]
        number = None
        certifiable = all(p.status == "live" and p.holder == signer for p in ps) and not any(
            p.kind == "polished" for p in ps
        )
        if rough and cross and certifiable and data.draw(st.booleans()):
            number = self.certify(signer, receiver, ps)
        if rough and cross and number is None:
            reasons.add("R-KP-2")
        fields: dict[str, Any] = {
            "to": receiver,
            "inputs": [{"parcel": p.pid, "head": p.head} for p in ps],
        }
        if number is not None:
            fields["certificate"] = number
        if warranty:
            fields["warranty"] = "2021"
        polished = any(p.kind == "polished" for p in ps)
        warnings = frozenset({"R-SW-1"} if polished and not warranty else set())
        entry = self.mem.sign("transfer", fields, signer)
        if self.submit(entry, reasons, warnings):
            for p in ps:
                p.status = "locked"
                self.set_head(p, entry.id)
            self.transfers[entry.id] = MTransfer(signer, receiver, [p.pid for p in ps])

    def certify(self, exporter: str, importer: str, ps: Sequence[MParcel]) -> str:
        fields = self.mem.certificate(exporter, importer, [p.pid for p in ps])
        # The model's own view of what the certificate must say (R-KP-4, R-KP-6).
        assert fields["origins"] == sorted(set().union(*(p.may for p in ps)))
        assert fields["carats"] == sum(p.carats for p in ps)
        assert fields["hs"] == sorted({p.hs or "7102.10" for p in ps})
        entry = self.mem.sign("certificate.issue", fields, f"{COUNTRY[exporter]} KP Authority")
        assert self.submit(entry, set())
        return str(fields["number"])

    @precondition(lambda self: self.transfers)
    @rule(data=st.data())
    def answer(self, data: st.DataObject) -> None:
        tid = data.draw(st.sampled_from(sorted(self.transfers)))
        t = self.transfers[tid]
        action = data.draw(st.sampled_from(["accept", "reject", "cancel"]))
        rightful = t.sender if action == "cancel" else t.receiver
        signer = rightful if data.draw(st.integers(0, 3)) else data.draw(st.sampled_from(ACTORS))
        reasons = set()
        if t.status != "pending" or signer != rightful:
            reasons.add("R-CU-2")
        entry = self.mem.sign(action, {"transfer": tid}, signer)
        if self.submit(entry, reasons):
            t.status = {"accept": "accepted", "reject": "rejected", "cancel": "cancelled"}[action]
            for pid in t.pids:
                p = self.parcels[pid]
                p.status = "live"
                self.set_head(p, entry.id)
                if action == "accept":
                    p.holder = t.receiver

    @precondition(lambda self: self.parcels)
    @rule(data=st.data())
    def ship(self, data: st.DataObject) -> None:
        """A complete valid move (certificate if needed, offer, acceptance)."""
        live = sorted(pid for pid, p in self.parcels.items() if p.status == "live")
        if not live:
            return
        first = self.parcels[data.draw(st.sampled_from(live))]
        same = [x for x in live if self.parcels[x].holder == first.holder and x != first.pid]
        extra = data.draw(st.lists(st.sampled_from(same), max_size=1, unique=True)) if same else []
        ps = [first, *(self.parcels[x] for x in extra)]
        receivers = [n for n in CUSTODIANS if n != first.holder]
        # Goods usually flow down the pipeline: rough to the cutter, polished to the retailer.
        preferred = "Retailer US" if first.kind == "polished" else "Cutter IN"
        if preferred != first.holder and data.draw(st.integers(0, 2)):
            receiver = preferred
        else:
            receiver = data.draw(st.sampled_from(receivers))
        if any(p.kind == "polished" for p in ps) and any(p.kind != "polished" for p in ps):
            ps = [first]
        rough = ps[0].kind != "polished"
        number = None
        if rough and COUNTRY[receiver] != COUNTRY[first.holder]:
            number = self.certify(first.holder, receiver, ps)
        fields: dict[str, Any] = {
            "to": receiver,
            "inputs": [{"parcel": p.pid, "head": p.head} for p in ps],
            "warranty": "2021",
        }
        if number is not None:
            fields["certificate"] = number
        offer = self.mem.sign("transfer", fields, first.holder)
        assert self.submit(offer, set())
        accept = self.mem.sign("accept", {"transfer": offer.id}, receiver)
        assert self.submit(accept, set())
        self.transfers[offer.id] = MTransfer(
            first.holder, receiver, [p.pid for p in ps], "accepted"
        )
        for p in ps:
            self.set_head(p, offer.id)
            self.set_head(p, accept.id)
            p.holder = receiver

    @precondition(lambda self: self.parcels)
    @rule(data=st.data())
    def split(self, data: st.DataObject) -> None:
        (p,), signer = self.draw_inputs(data, 1)
        n = data.draw(st.integers(2, 3))
        outputs: list[dict[str, Any]] = []
        for i in range(n):
            carats = data.draw(st.integers(1, max(1, 2 * p.carats // n)))
            left = p.carats - sum(o["carats"] for o in outputs)
            if i == n - 1 and left > 0 and data.draw(st.booleans()):
                carats = left + data.draw(st.integers(0, 1))  # exactly at the limit, or 1 over
            o: dict[str, Any] = {"parcel": self.fresh(), "carats": carats}
            stones = data.draw(st.none() | st.integers(1, 8))
            if stones is not None:
                o["stones"] = stones
            outputs.append(o)
        reasons = self.input_reasons(signer, [(p, p.head)])
        if p.kind == "polished":
            reasons.add("R-MB-4")
        if sum(o["carats"] for o in outputs) > p.carats:
            reasons.add("R-MB-1")
        if p.stones is not None and sum(o.get("stones", 0) for o in outputs) > p.stones:
            reasons.add("R-MB-3")
        entry = self.mem.sign(
            "split", {"input": {"parcel": p.pid, "head": p.head}, "outputs": outputs}, signer
        )
        if self.submit(entry, reasons):
            self.consume([p], entry)
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
                    )
                )

    @precondition(lambda self: len(self.parcels) >= 2)
    @rule(data=st.data())
    def merge(self, data: st.DataObject) -> None:
        ps, signer = self.draw_inputs(data, 3)
        if len(ps) < 2:
            return
        total = sum(p.carats for p in ps)
        out: dict[str, Any] = {
            "parcel": self.fresh(),
            # Often exactly at the limit or one point over it.
            "carats": data.draw(
                st.sampled_from([total, total + 1]) | st.integers(1, total + total // 10 + 1)
            ),
        }
        most = sum(p.stones or 1 for p in ps) + 1
        stones_given = data.draw(st.none() | st.integers(1, most))
        if stones_given is not None:
            out["stones"] = stones_given
        reasons = self.input_reasons(signer, [(p, p.head) for p in ps])
        if any(p.kind == "polished" for p in ps):
            reasons.add("R-MB-4")
        if out["carats"] > total:
            reasons.add("R-MB-1")
        known = all(p.stones is not None for p in ps)
        stones = sum(p.stones or 0 for p in ps) if known else None
        if stones is not None and stones_given is not None and stones_given > stones:
            reasons.add("R-MB-3")
        fields = {"inputs": [{"parcel": p.pid, "head": p.head} for p in ps], "output": out}
        entry = self.mem.sign("merge", fields, signer)
        if self.submit(entry, reasons):
            self.consume(ps, entry)
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
        reasons = set() if "cutter" in ROLES[signer] else {"R-ID-1"}
        reasons |= self.input_reasons(signer, [(p, p.head) for p in ps])
        if any(p.kind != "rough" for p in ps):
            reasons.add("R-MB-4")
        polished = sum(s["carats"] for s in stones)
        if polished + sum(b["carats"] for b in byproducts) > total_in:
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
            comp = exact_mix([(p.carats, p.comp) for p in ps])
            may = frozenset().union(*(p.may for p in ps))
            depth = max(p.depth for p in ps) + 1
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
                        "7102.21",
                        depth,
                    )
                )

    @precondition(lambda self: self.parcels)
    @rule(data=st.data())
    def sell(self, data: st.DataObject) -> None:
        (p, *_), signer = self.draw_preferring(data, "Retailer US", 1)
        reasons = set() if "retailer" in ROLES[signer] else {"R-ID-1"}
        reasons |= self.input_reasons(signer, [(p, p.head)])
        if p.kind != "polished":
            reasons.add("R-SL-1")
        entry = self.mem.sign("sell", {"input": {"parcel": p.pid, "head": p.head}}, signer)
        if self.submit(entry, reasons):
            p.status = "sold"
            self.set_head(p, entry.id)

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
            entry = self.mem.sign("transfer", {"to": receiver, "inputs": [ref]}, signer)
        assert not self.submit(entry, reasons)

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
            assert sum(e["comp"].values()) == PPM
            assert set(e["comp"]) <= m.may
            for country in m.may:
                err = abs(e["comp"].get(country, 0) - m.comp.get(country, Fraction(0)) * PPM)
                assert err <= m.depth, (pid, country, err, m.depth)
            if m.status in ("live", "locked"):
                held += m.carats
        assert held <= self.minted  # mass never grows


RulesMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=40,
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
