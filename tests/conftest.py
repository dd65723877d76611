"""Shared test fixtures: fixed keys, a frozen clock and a populated ledger (``world``).

Everything here is deterministic. Keys come from fixed seeds (``bytes([i]) * 32``),
so every signature, entry id and Merkle root is the same on every run; time starts
at :data:`BASE_TIME` and only moves when a helper moves it. Each test has a trust file
of its own (``KPLEDGER_TRUST_FILE``), never the user's node pins. Nothing reads the OS
clock or random source.

The :class:`World` helper wraps one :class:`ledger.ledger.Ledger` file with a cast
of participants (:data:`PARTIES`) and KP statuses (:data:`KP_STATUSES`), and offers
one method per entry type that signs with the right key and appends. Use it from
any test::

    def test_something(world):
        world.origin("Jwaneng", "P1", carats=10_000)
        world.ship("Jwaneng", "Antwerp Trader", ["P1"])  # certificate, offer, accept
        assert world.parcel("P1")["holder"] == "Antwerp Trader"

        with world.rejected("R-CU-1"):  # asserts the rule and an unchanged ledger
            world.split("Jwaneng", "P1", [("A", 5_000), ("B", 5_000)])

It does not hide the rules: a helper never retries or repairs an entry, it raises
whatever ``Ledger.append`` raises. Hypothesis profiles ``dev`` (fast) and ``ci``
(more examples) are registered here; select one with ``HYPOTHESIS_PROFILE``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from ledger.core import disclosure
from ledger.core.disclosure import Opening
from ledger.core.keys import PrivateKey
from ledger.core.model import Body, SignedEntry, sign_body
from ledger.core.rules import date_of
from ledger.errors import LedgerError, RuleError
from ledger.ledger import Ledger
from ledger.storage.store import Appended

settings.register_profile("dev", max_examples=20, deadline=None)
settings.register_profile(
    "ci", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# ---------------------------------------------------------------------------
# Time (integer milliseconds UTC)

SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

#: 2026-03-02T10:00:00Z: the frozen "now" every test starts from.
BASE_TIME = int(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC).timestamp()) * SECOND
#: The registry (participants, KP statuses) is written this long before BASE_TIME.
SETUP_LEAD = HOUR

#: Origin line of every test ledger.
ORIGIN = "kpledger.test/rules"


def fixed_key(name: str, seed: int) -> PrivateKey:
    """A deterministic Ed25519 key: the seed is the byte ``seed`` repeated 32 times."""
    if not 0 <= seed <= 255:
        raise ValueError("seed index must fit in one byte")
    return PrivateKey(name, bytes([seed]) * 32)


def date_at(ms: int) -> str:
    """The UTC date ``YYYY-MM-DD`` of a time in milliseconds."""
    return date_of(ms)


# ---------------------------------------------------------------------------
# The cast


@dataclass(frozen=True)
class Party:
    """A participant of the test world and the seed index of its key."""

    name: str
    roles: tuple[str, ...]
    country: str
    seed: int


#: Seed index of the operator key (the genesis signer).
OPERATOR_SEED = 1
OPERATOR = "KP Ledger Operator"

#: Countries with a KP authority in the world, each a participant from 2003-01-01.
COUNTRIES = ("BW", "CA", "RU", "BE", "AE", "IN", "US", "CF")

PARTIES: tuple[Party, ...] = (
    *(Party(f"{cc} KP Authority", ("authority",), cc, 10 + i) for i, cc in enumerate(COUNTRIES)),
    Party("Jwaneng", ("mine",), "BW", 30),
    Party("Diavik", ("mine",), "CA", 31),
    Party("Mir", ("mine",), "RU", 32),
    Party("Carnot", ("mine",), "CF", 33),
    Party("Gaborone Trader", ("trader",), "BW", 40),
    Party("Antwerp Trader", ("trader",), "BE", 41),
    Party("Dubai Trader", ("trader",), "AE", 42),
    Party("Bangui Trader", ("trader",), "CF", 43),
    Party("Surat Cutter", ("cutter",), "IN", 44),
    Party("New York Lab", ("grader",), "US", 45),
    Party("New York Retailer", ("retailer",), "US", 46),
)

#: ``(country, status, from)`` in log order. CF was suspended on 23 May 2013 (domain.md §1.4).
KP_STATUSES: tuple[tuple[str, str, str], ...] = (
    *((cc, "participant", "2003-01-01") for cc in COUNTRIES),
    ("CF", "suspended", "2013-05-23"),
)


def authority_of(country: str) -> str:
    """Name of the KP authority of ``country`` in :data:`PARTIES`."""
    return f"{country} KP Authority"


# ---------------------------------------------------------------------------
# The World helper


Output = tuple[str, int] | tuple[str, int, int] | Mapping[str, Any]
Offer = Appended | SignedEntry | bytes


class World:
    """A ledger file plus its participants' keys and a controllable clock.

    ``now`` is the time (ms) used both as an entry's claimed time and as its append
    time; every append moves it forward by ``step`` (one minute by default), even a
    rejected one, so two identical actions never produce the same entry id.

    Attributes:
        ledger: the :class:`Ledger` under test.
        keys: every participant's current private key, by name.
        parties: the :class:`Party` rows, by name (country and roles).
        now: the next entry's time in milliseconds.
    """

    def __init__(
        self, ledger: Ledger, keys: dict[str, PrivateKey], parties: dict[str, Party], now: int
    ) -> None:
        self.ledger = ledger
        self.keys = keys
        self.parties = parties
        self.now = now
        self.step = MINUTE
        self._serial = 0
        self._salts = 0
        #: The openings of the money this world signed (as the signers would keep them).
        self.openings: list[Opening] = []

    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        now: int = BASE_TIME,
        parties: Sequence[Party] = PARTIES,
        statuses: Sequence[tuple[str, str, str]] = KP_STATUSES,
    ) -> World:
        """Create a ledger at ``path`` with ``parties`` and ``statuses`` registered.

        The genesis and registry entries are written ``SETUP_LEAD`` before ``now``.
        """
        operator = fixed_key(OPERATOR, OPERATOR_SEED)
        setup = now - SETUP_LEAD
        ledger = Ledger.create(str(path), operator, ORIGIN, now=setup)
        world = cls(ledger, {OPERATOR: operator}, {}, setup)
        entries = []
        for p in parties:
            key = fixed_key(p.name, p.seed)
            world.keys[p.name] = key
            world.parties[p.name] = p
            fields = {
                "name": p.name,
                "pub": key.public,
                "roles": list(p.roles),
                "country": p.country,
            }
            entries.append(world.sign("participant.add", fields, OPERATOR))
        for country, status, start in statuses:
            fields = {"country": country, "status": status, "from": start}
            entries.append(world.sign("kp-status.set", fields, OPERATOR))
        if entries:
            ledger.append(entries, now=setup)
        world.now = now
        return world

    def close(self) -> None:
        self.ledger.close()

    # -- clock ------------------------------------------------------------------

    def advance(self, ms: int) -> int:
        """Move the clock forward by ``ms`` and return the new time."""
        self.now += ms
        return self.now

    @property
    def today(self) -> str:
        """The UTC date of ``now``."""
        return date_of(self.now)

    # -- signing and appending ----------------------------------------------------

    def _salt(self) -> bytes:
        self._salts += 1
        return hashlib.sha256(b"test salt" + self._salts.to_bytes(8, "big")).digest()

    def key(self, who: str | PrivateKey) -> PrivateKey:
        return who if isinstance(who, PrivateKey) else self.keys[who]

    def sign(
        self,
        entry_type: str,
        fields: Mapping[str, Any],
        signer: str | PrivateKey,
        *,
        time: int | None = None,
        cosigners: Sequence[str | PrivateKey] = (),
        origin: str | None = None,
    ) -> SignedEntry:
        """Sign an entry without appending it.

        ``time`` defaults to ``now``; ``origin`` overrides the ledger origin the entry
        is signed for (to build entries meant for another ledger).
        """
        key = self.key(signer)
        # Money is signed as salted commitments, as kpledger signs it (specs/disclosure.md);
        # the salts are numbered so that a test's entries are the same on every run.
        sealed, openings = disclosure.seal(entry_type, fields, self._salt)
        self.openings.extend(openings)
        body = Body(
            entry_type,
            self.ledger.origin if origin is None else origin,
            key.kid,
            self.now if time is None else time,
            sealed,
        )
        return sign_body(body, [key.seed, *(self.key(c).seed for c in cosigners)])

    def append_all(
        self, entries: Sequence[SignedEntry], *, now: int | None = None
    ) -> list[Appended]:
        """Append ``entries`` in one transaction at ``now`` (default: the clock)."""
        try:
            return self.ledger.append(list(entries), now=self.now if now is None else now)
        finally:
            self.now += self.step

    def append(self, entry: SignedEntry, *, now: int | None = None) -> Appended:
        return self.append_all([entry], now=now)[0]

    def act(
        self,
        entry_type: str,
        fields: Mapping[str, Any],
        signer: str | PrivateKey,
        *,
        time: int | None = None,
        now: int | None = None,
        cosigners: Sequence[str | PrivateKey] = (),
    ) -> Appended:
        """Sign one entry as ``signer`` and append it; raises what the ledger raises."""
        entry = self.sign(entry_type, fields, signer, time=time, cosigners=cosigners)
        return self.append(entry, now=now)

    # -- lookups -----------------------------------------------------------------

    def parcel(self, pid: str) -> dict[str, Any]:
        return self.ledger.parcel(pid)

    def ref(self, pid: str) -> dict[str, Any]:
        """``{parcel, head}`` naming the parcel's current state."""
        return self.ledger.input_ref(pid)

    def country(self, name: str) -> str:
        return self.parties[name].country

    def snapshot(self) -> tuple[int, bytes, list[tuple[str, str, bytes]]]:
        """Size, Merkle root and derived state: equal before and after a rejection."""
        store = self.ledger.store
        state = [(k, key, bytes(v)) for k, key, v, _ in store.state_rows()]
        return store.size(), store.root(), state

    @contextmanager
    def rejected(
        self, rule: str, error: type[LedgerError] = RuleError
    ) -> Iterator[pytest.ExceptionInfo[LedgerError]]:
        """Expect the block to raise ``error`` for ``rule`` and leave the ledger unchanged."""
        before = self.snapshot()
        with pytest.raises(error) as info:
            yield info
        assert info.value.rule == rule, f"expected {rule}, got {info.value}"
        assert self.snapshot() == before, "a rejected append changed the ledger"

    # -- registry ----------------------------------------------------------------

    def add_participant(
        self, name: str, roles: Sequence[str], country: str, *, seed: int
    ) -> Appended:
        """Register a new participant (signed by the operator) with key ``fixed_key(seed)``."""
        key = fixed_key(name, seed)
        fields = {"name": name, "pub": key.public, "roles": list(roles), "country": country}
        appended = self.act("participant.add", fields, OPERATOR)
        self.keys[name] = key
        self.parties[name] = Party(name, tuple(roles), country, seed)
        return appended

    def revoke(
        self, name: str, *, reason: str | None = None, compromised_since: int | None = None
    ) -> Appended:
        fields: dict[str, Any] = {"name": name}
        if reason is not None:
            fields["reason"] = reason
        if compromised_since is not None:
            fields["compromised_since"] = compromised_since
        return self.act("participant.revoke", fields, OPERATOR)

    def rotate(self, name: str, *, seed: int, cosign_old: bool = True) -> Appended:
        """Rotate ``name`` to ``fixed_key(seed)``; the old key co-signs unless told not to."""
        new = fixed_key(name, seed)
        cosigners = [self.keys[name]] if cosign_old else []
        appended = self.act(
            "participant.rotate", {"name": name, "pub": new.public}, OPERATOR, cosigners=cosigners
        )
        self.keys[name] = new
        return appended

    def set_kp_status(self, country: str, status: str, start: str) -> Appended:
        """Record that ``country`` has KP ``status`` from the date ``start``."""
        return self.act(
            "kp-status.set", {"country": country, "status": status, "from": start}, OPERATOR
        )

    # -- parcels -------------------------------------------------------------------

    def set_param(self, name: str, value: int, start: str) -> Appended:
        """Set rule parameter ``name`` to ``value`` from date ``start`` (operator)."""
        fields = {"name": name, "value": value, "from": start}
        return self.act("param.set", fields, OPERATOR)

    def origin(
        self,
        mine: str,
        parcel: str,
        *,
        carats: int = 10_000,
        stones: int = 20,
        hs: str = "7102.10",
        site: str | None = None,
    ) -> Appended:
        """Register a rough parcel at ``mine`` (``carats`` in points, 1/100 ct)."""
        fields = {
            "parcel": parcel,
            "carats": carats,
            "stones": stones,
            "mine": site or mine,
            "hs": hs,
        }
        return self.act("origin", fields, mine)

    def next_certificate_number(self, country: str) -> str:
        self._serial += 1
        return f"{country}{self._serial:06d}"

    def certificate_fields(
        self,
        exporter: str,
        importer: str,
        parcels: Sequence[str],
        *,
        number: str | None = None,
        expires: str | None = None,
        value_usd_cents: int = 1_000_000,
    ) -> dict[str, Any]:
        """Fields of a correct KP certificate for the parcels as they are now."""
        return self.ledger.certificate_fields(
            number=number or self.next_certificate_number(self.country(exporter)),
            parcels=list(parcels),
            exporter=exporter,
            importer=importer,
            value_usd_cents=value_usd_cents,
            expires=expires or date_of(self.now + 60 * DAY),
        )

    def certify(
        self,
        exporter: str,
        importer: str,
        parcels: Sequence[str],
        *,
        authority: str | None = None,
        number: str | None = None,
        expires: str | None = None,
        override: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Appended:
        """Issue a KP certificate (by the exporter country's authority unless told otherwise).

        The fields are those of a correct certificate for the parcels as they are now;
        ``fields`` (such as ``origins=[...]``) and then ``override`` (for names that clash
        with the parameters, such as ``exporter``) replace some of them. The certificate
        number is ``appended.entry.fields["number"]``.
        """
        values = self.certificate_fields(
            exporter, importer, parcels, number=number, expires=expires
        )
        values.update(fields)
        values.update(override or {})
        signer = authority or authority_of(self.country(exporter))
        return self.act("certificate.issue", values, signer)

    def transfer(
        self,
        sender: str,
        receiver: str,
        parcels: Sequence[str],
        *,
        certificate: str | None = None,
        warranty: str | None = "2021",
        price_usd_cents: int | None = None,
        refs: Sequence[Mapping[str, Any]] | None = None,
        time: int | None = None,
    ) -> Appended:
        """Offer ``parcels`` to ``receiver`` (their current heads unless ``refs`` is given),
        with the 2021 System of Warranties statement unless ``warranty`` says otherwise."""
        fields: dict[str, Any] = {
            "to": receiver,
            "inputs": list(refs) if refs is not None else [self.ref(p) for p in parcels],
        }
        if certificate is not None:
            fields["certificate"] = certificate
        if warranty is not None:
            fields["warranty"] = warranty
        if price_usd_cents is not None:
            fields["price"] = {"amount": price_usd_cents, "currency": "USD"}
        return self.act("transfer", fields, sender, time=time)

    @staticmethod
    def offer_id(offer: Offer) -> bytes:
        if isinstance(offer, Appended):
            return offer.entry.id
        if isinstance(offer, SignedEntry):
            return offer.id
        return offer

    def accept(self, receiver: str, offer: Offer, *, time: int | None = None) -> Appended:
        return self.act("accept", {"transfer": self.offer_id(offer)}, receiver, time=time)

    def reject(self, receiver: str, offer: Offer, *, reason: str | None = None) -> Appended:
        fields: dict[str, Any] = {"transfer": self.offer_id(offer)}
        if reason is not None:
            fields["reason"] = reason
        return self.act("reject", fields, receiver)

    def cancel(self, sender: str, offer: Offer) -> Appended:
        return self.act("cancel", {"transfer": self.offer_id(offer)}, sender)

    def ship(
        self,
        sender: str,
        receiver: str,
        parcels: Sequence[str],
        *,
        warranty: str | None = "2021",
    ) -> Appended:
        """Move parcels to ``receiver`` in full: certificate when rough crosses a border,
        offer, acceptance. Returns the acceptance."""
        certificate = None
        # Natural rough crosses under a KP certificate; grown goods are outside the KP.
        rough = any(
            self.parcel(p)["kind"] != "polished" and not self.parcel(p).get("grown")
            for p in parcels
        )
        if rough and self.country(sender) != self.country(receiver):
            cert = self.certify(sender, receiver, parcels)
            certificate = cert.entry.fields["number"]
        offer = self.transfer(sender, receiver, parcels, certificate=certificate, warranty=warranty)
        return self.accept(receiver, offer)

    def confirm(
        self,
        authority: str,
        number: str,
        *,
        carats: int | None = None,
        count: int | None = None,
        shipment: bytes | None = None,
    ) -> Appended:
        """The importing ``authority`` confirms receipt under certificate ``number``; the
        figures default to the certificate's."""
        cert = self.ledger.certificate(number)
        fields = {
            "number": number,
            "shipment": cert["used"] if shipment is None else shipment,
            "carats": cert["carats"] if carats is None else carats,
            "count": len(cert["parcels"]) if count is None else count,
        }
        return self.act("certificate.confirm", fields, authority)

    @staticmethod
    def _outputs(outputs: Sequence[Output]) -> list[dict[str, Any]]:
        out = []
        for o in outputs:
            if isinstance(o, Mapping):
                out.append(dict(o))
            elif len(o) == 2:
                out.append({"parcel": o[0], "carats": o[1]})
            else:
                out.append({"parcel": o[0], "carats": o[1], "stones": o[2]})
        return out

    def split(
        self,
        holder: str,
        parcel: str,
        outputs: Sequence[Output],
        *,
        ref: Mapping[str, Any] | None = None,
    ) -> Appended:
        """Split ``parcel`` into ``outputs``: ``(id, carats)`` or ``(id, carats, stones)``."""
        fields: dict[str, Any] = {
            "input": dict(ref) if ref is not None else self.ref(parcel),
            "outputs": self._outputs(outputs),
        }
        return self.act("split", fields, holder)

    def merge(
        self,
        holder: str,
        parcels: Sequence[str],
        output: str,
        *,
        carats: int | None = None,
        stones: int | None = None,
    ) -> Appended:
        """Merge ``parcels`` into ``output`` (by default weighing the sum of the inputs)."""
        if carats is None:
            carats = sum(self.parcel(p)["carats"] for p in parcels)
        out: dict[str, Any] = {"parcel": output, "carats": carats}
        if stones is not None:
            out["stones"] = stones
        fields = {"inputs": [self.ref(p) for p in parcels], "output": out}
        return self.act("merge", fields, holder)

    def cut(
        self,
        cutter: str,
        parcels: Sequence[str],
        stones: Sequence[Output],
        *,
        byproducts: Sequence[Output] = (),
    ) -> Appended:
        """Cut rough ``parcels`` into polished ``stones`` (and optional rough ``byproducts``)."""
        fields: dict[str, Any] = {
            "inputs": [self.ref(p) for p in parcels],
            "stones": self._outputs(stones),
        }
        if byproducts:
            fields["byproducts"] = self._outputs(byproducts)
        return self.act("cut", fields, cutter)

    def grade(
        self, grader: str, stone: str, *, report: str = "GIA-0001", carats: int | None = None
    ) -> Appended:
        fields: dict[str, Any] = {"input": self.ref(stone), "report": report}
        if carats is not None:
            fields["carats"] = carats
        return self.act("grade", fields, grader)

    def sell(self, retailer: str, stone: str, *, price_usd_cents: int | None = None) -> Appended:
        fields: dict[str, Any] = {"input": self.ref(stone)}
        if price_usd_cents is not None:
            fields["price"] = {"amount": price_usd_cents, "currency": "USD"}
        return self.act("sell", fields, retailer)

    def verify(self) -> Any:
        """Replay the whole ledger (``Ledger.verify``) and return its report."""
        return self.ledger.verify()


@pytest.fixture(autouse=True)
def _own_trust_file(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets an empty trust file of its own (never the user's pins in
    ``~/.config/kpledger/trust``), inherited by the processes it starts, and no
    ``KPLEDGER_TRUST`` pin from the environment."""
    folder = tmp_path_factory.mktemp("trust")
    monkeypatch.setenv("KPLEDGER_TRUST_FILE", str(folder / "trust"))
    monkeypatch.delenv("KPLEDGER_TRUST", raising=False)
    monkeypatch.delenv("KPLEDGER_CA_FILE", raising=False)


@pytest.fixture
def base_time() -> int:
    """The frozen "now" of every test (2026-03-02T10:00Z, in ms)."""
    return BASE_TIME


@pytest.fixture
def operator_key() -> PrivateKey:
    return fixed_key(OPERATOR, OPERATOR_SEED)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A fresh ledger in ``tmp_path`` with :data:`PARTIES` and :data:`KP_STATUSES`."""
    w = World.create(tmp_path / "world.kpl")
    try:
        yield w
    finally:
        w.close()
