"""Governance by k of n (specs/rules.md §3.9) against a naive model, as a Hypothesis state
machine.

``GovernanceMachine`` drives random registry changes through ``rules.apply`` on an
in-memory ``State``: proposals signed by any subset of the current governors, former
governors, the operator and a participant; changes of the governor set (governors joining,
leaving, rotating to a new key) and of the threshold k, valid or not (k above n, a key or
a name already used); proposals appended late (expired) or again with other signatures
(replayed). A model kept here with plain sets predicts, for each entry, the rule that must
refuse it (or none). After every step the governance set in the engine's state must be
the model's, and a full replay of the accepted records must rebuild the same state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ledger.core import replay, rules
from ledger.core.keys import PrivateKey
from ledger.core.model import ZERO_HASH, Body, Record, SignedEntry, sign_body
from ledger.errors import RuleError
from tests.conftest import BASE_TIME, DAY, MINUTE

ORIGIN = "kpledger.test/governance-model"
POOL = ("Chair", "Producers", "Traders", "Consumers", "Civil", "Observers")
VERSIONS = 3


def key(name: str, version: int = 0) -> PrivateKey:
    return PrivateKey(name, bytes([100 + POOL.index(name) * VERSIONS + version]) * 32)


OPERATOR = PrivateKey("Operator", bytes([1]) * 32)
STRANGER = PrivateKey("Stranger", bytes([2]) * 32)


@dataclass
class Model:
    """The governance set as the spec describes it."""

    version: dict[str, int] = field(default_factory=dict)  # current governors' key versions
    threshold: int = 2
    gone: dict[str, int] = field(default_factory=dict)  # former governors: last key version
    retired: set[bytes] = field(default_factory=set)  # keys out of force
    registered: set[bytes] = field(default_factory=set)  # every key id ever registered
    applied: set[bytes] = field(default_factory=set)  # proposal bodies applied
    names: set[str] = field(default_factory=set)  # participant names taken

    def kids(self) -> set[bytes]:
        return {key(n, v).kid for n, v in self.version.items()}


class GovernanceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = rules.State()
        self.rows: list[tuple[int, bytes]] = []
        self.prev = ZERO_HASH
        self.now = BASE_TIME
        self.model = Model()
        self.serial = 0
        self.accepted: list[SignedEntry] = []
        first = [{"name": n, "pub": key(n).public} for n in POOL[:4]]
        genesis = self.sign(
            "genesis",
            {
                "operator": OPERATOR.public,
                "name": OPERATOR.name,
                "governors": first,
                "threshold": 2,
            },
            [OPERATOR],
        )
        self.submit(genesis)
        self.model.version = {n: 0 for n in POOL[:4]}
        self.model.registered = {OPERATOR.kid, *(key(n).kid for n in POOL[:4])}
        self.model.names = {OPERATOR.name, *POOL[:4]}
        add = {"name": STRANGER.name, "pub": STRANGER.public, "roles": ["trader"], "country": "BW"}
        self.submit(self.sign("participant.add", add, [key(n) for n in POOL[:2]]))
        self.model.registered.add(STRANGER.kid)
        self.model.names.add(STRANGER.name)

    # -- plumbing -----------------------------------------------------------------

    def sign(
        self, entry_type: str, fields: dict[str, Any], keys: Sequence[PrivateKey], age: int = 0
    ) -> SignedEntry:
        body = Body(entry_type, ORIGIN, keys[0].kid, self.now - age, fields)
        return sign_body(body, [k.seed for k in keys])

    def submit(self, entry: SignedEntry) -> None:
        index, now = len(self.rows), self.now
        rules.apply(self.state, entry, index=index, now=now)
        record = Record.build(index, self.prev, now, entry.raw)
        self.rows.append((index, record.raw))
        self.prev = record.hash
        self.now += MINUTE
        self.accepted.append(entry)
        if entry.type in rules.REGISTRY_TYPES and entry.type != "genesis":
            self.model.applied.add(rules.proposal_id(entry))

    def signers(self, picks: Sequence[int]) -> list[PrivateKey]:
        """Keys by index: current governors, former governors' last keys, the operator, a
        participant (duplicates dropped, order kept)."""
        everyone = [key(n, v) for n, v in sorted(self.model.version.items())]
        everyone += [key(n, v) for n, v in sorted(self.model.gone.items())]
        everyone += [OPERATOR, STRANGER]
        out: list[PrivateKey] = []
        for i in picks:
            k = everyone[i % len(everyone)]
            if k not in out:
                out.append(k)
        return out[:8]

    def expect_signatures(self, entry: SignedEntry, also: bytes | None = None) -> str | None:
        """The rule the signature checks (R-ID, then R-GV-1/2/4/5) refuse with, if any."""
        m = self.model
        for sig in entry.sigs:
            if sig.kid not in m.registered:
                return "R-ID-1"
            if sig.kid in m.retired:
                return "R-ID-2"
        members = m.kids()
        if sum(1 for s in entry.sigs if s.kid in members) < m.threshold:
            return "R-GV-1"
        if entry.body.signer not in members:
            return "R-GV-2"
        if any(s.kid not in members and s.kid != also for s in entry.sigs):
            return "R-GV-2"
        if self.now > entry.body.time + rules.PROPOSAL_TTL_MS:
            return "R-GV-4"
        if rules.proposal_id(entry) in m.applied:
            return "R-GV-5"
        return None

    def attempt(self, entry: SignedEntry, expected: str | None) -> bool:
        before = self.state.governance()
        try:
            self.submit(entry)
        except RuleError as exc:
            assert expected is not None, f"refused {entry.type} with {exc}, model accepts"
            assert exc.rule == expected, f"{entry.type}: expected {expected}, got {exc}"
            assert self.state.governance() == before
            self.now += MINUTE
            return False
        assert expected is None, f"accepted {entry.type}, model expects {expected}"
        return True

    # -- rules ----------------------------------------------------------------------

    @rule(
        picks=st.lists(st.integers(0, 20), min_size=1, max_size=6),
        late=st.booleans(),
    )
    def add_participant(self, picks: list[int], late: bool) -> None:
        """A proposal to admit a participant, signed by whoever was picked."""
        self.serial += 1
        name = f"Party {self.serial}"
        pub = PrivateKey(name, bytes([200 + self.serial % 50]) * 32).public
        fields = {"name": name, "pub": pub, "roles": ["mine"], "country": "BW"}
        age = rules.PROPOSAL_TTL_MS + MINUTE if late else 0
        entry = self.sign("participant.add", fields, self.signers(picks), age)
        expected = self.expect_signatures(entry)
        kid = PrivateKey(name, bytes([200 + self.serial % 50]) * 32).kid
        if expected is None and kid in self.model.registered:
            expected = "R-ID-6"
        if self.attempt(entry, expected):
            self.model.registered.add(kid)
            self.model.names.add(name)

    @rule(picks=st.lists(st.integers(0, 20), min_size=1, max_size=6))
    def replay_a_proposal(self, picks: list[int]) -> None:
        """An applied registry change again, re-signed by another set of signers."""
        done = [e for e in self.accepted if e.type in ("participant.add", "governance.set")]
        if len(done) < 2:
            return
        old = done[picks[0] % len(done)]
        keys = self.signers(picks)
        body = Body.from_wire(old.body.to_wire())
        proposer = next((k for k in keys if k.kid == body.signer), None)
        if proposer is None:
            return  # the proposer's signature must come first; not in this pick
        entry = sign_body(body, [proposer.seed, *(k.seed for k in keys if k is not proposer)])
        expected = self.expect_signatures(entry)
        if expected is None:  # pragma: no cover - the model always knows the body
            expected = "R-GV-5"
        self.attempt(entry, expected)

    @rule(
        picks=st.lists(st.integers(0, 20), min_size=1, max_size=6),
        members=st.lists(st.tuples(st.sampled_from(POOL), st.booleans()), max_size=7),
        threshold=st.integers(1, 8),
    )
    def change_governors(
        self, picks: list[int], members: list[tuple[str, bool]], threshold: int
    ) -> None:
        """A new governor set: names from the pool, each keeping or rotating its key."""
        m = self.model
        chosen: dict[str, int] = {}
        for name, rotate in members:
            if name in chosen:
                continue
            current = m.version.get(name)
            version = 0 if current is None else min(current + int(rotate), VERSIONS - 1)
            chosen[name] = version
        if not chosen:
            return
        fields = {
            "governors": [{"name": n, "pub": key(n, v).public} for n, v in chosen.items()],
            "threshold": threshold,
        }
        entry = self.sign("governance.set", fields, self.signers(picks))
        expected = self.expect_signatures(entry)
        if expected is None:
            expected = self._set_error(chosen, threshold)
        if not self.attempt(entry, expected):
            return
        for name, v in m.version.items():
            if name not in chosen:
                m.gone[name] = v
                m.retired.add(key(name, v).kid)
            elif chosen[name] != v:
                m.retired.add(key(name, v).kid)
        for name, v in chosen.items():
            m.registered.add(key(name, v).kid)
            m.names.add(name)
        m.version = dict(chosen)
        m.threshold = threshold

    def _set_error(self, chosen: dict[str, int], threshold: int) -> str | None:
        m = self.model
        if threshold > len(chosen) or threshold > rules.MAX_THRESHOLD:
            return "R-GV-3"
        for name, v in chosen.items():
            kid = key(name, v).kid
            if m.version.get(name) == v:
                continue
            if kid in m.registered:
                return "R-GV-3"
            if name not in m.version and name in m.names:
                return "R-GV-3"
        return None

    @rule(days=st.integers(0, 3))
    def time_passes(self, days: int) -> None:
        self.now += days * DAY

    # -- invariants -------------------------------------------------------------------

    @invariant()
    def governance_is_the_models(self) -> None:
        gov = self.state.governance()
        assert gov is not None
        assert set(gov["governors"]) == self.model.kids()
        assert gov["threshold"] == self.model.threshold

    @invariant()
    def replay_rebuilds_the_state(self) -> None:
        result = replay.replay(self.rows)
        assert result.state.governance() == self.state.governance()


GovernanceMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestGovernanceModel = GovernanceMachine.TestCase
