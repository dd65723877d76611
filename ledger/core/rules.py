"""The rules engine: which entries the ledger accepts (specs/rules.md).

``apply(state, entry, index=..., now=...)`` checks one signed entry against the
state built by every earlier entry and, when it is valid, updates the state. It
raises :class:`RuleError` naming the rule ID for an ERROR and returns the WARN
findings otherwise. Append, ``verify`` and offline proof verification all call
this same function; the only difference is where ``State`` keeps its values.

No I/O and no clock: the record's append time arrives as ``now`` and its log
position as ``index``. ``State`` is a journaled key-value view so that a caller
can roll back a rejected entry and persist exactly what changed.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ledger.core import ed25519
from ledger.core.model import SignedEntry, key_id
from ledger.errors import RuleError, SignatureError

#: Millions: origin shares are integer parts per million that sum to exactly 1,000,000.
PPM = 1_000_000
#: Allowed clock skew between a claimed entry time and the append time (specs/rules.md R-TM-1).
MAX_SKEW_MS = 5 * 60 * 1000
#: Oldest claimed time accepted, relative to the append time (R-TM-4): room for offline
#: signing, but no back-dating an entry past a registry change made months ago.
MAX_AGE_MS = 30 * 24 * 3600 * 1000
#: Pending offers expire after 30 days (R-TM-3).
OFFER_TTL_MS = 30 * 24 * 3600 * 1000
#: Polished yield outside this window (per mille) is flagged (R-MB-5).
YIELD_MIN_PERMILLE = 150
YIELD_MAX_PERMILLE = 700
#: At most this many polished stones per rough stone (R-MB-3).
STONES_PER_ROUGH = 3

RECEIVER_ROLES = ("trader", "cutter", "grader", "retailer")
ROUGH_KINDS = ("rough", "byproduct")
OPERATOR_ROLE = "operator"


@dataclass(frozen=True)
class Finding:
    """A WARN the engine attached to an accepted entry."""

    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


@dataclass
class Outcome:
    """What applying an entry did: its WARN findings and the items it touched."""

    warnings: list[Finding] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)


class Backing(Protocol):
    """Where a State reads values it has not cached (a database, or nothing)."""

    def load(self, kind: str, key: str) -> Any | None: ...


class State:
    """A journaled view of the ledger state, keyed by ``(kind, key)``.

    Values are plain msgpack-encodable structures. ``begin``/``rollback`` undo a
    rejected entry; ``take_changes`` hands the writes since the last call to a store.
    """

    def __init__(self, backing: Backing | None = None) -> None:
        #: False only when the caller verifies every signature itself (parallel replay);
        #: key registration, revocation and roles are still checked here.
        self.verify_signatures = True
        #: How far ``apply`` got with the current entry: 0 before the signatures, 1 while
        #: checking them, 2 after (a parallel verify orders its findings by it).
        self.phase = 0
        self._backing = backing
        self._data: dict[tuple[str, str], Any] = {}
        self._journal: list[tuple[tuple[str, str], Any, bool, bool]] | None = None
        self._dirty: set[tuple[str, str]] = set()

    def get(self, kind: str, key: str) -> Any | None:
        k = (kind, key)
        try:
            return self._data[k]
        except KeyError:
            pass
        value = self._backing.load(kind, key) if self._backing is not None else None
        if value is not None:
            self._data[k] = value
        return value

    def put(self, kind: str, key: str, value: Any) -> None:
        k = (kind, key)
        if self._journal is not None:
            present = k in self._data
            self._journal.append((k, self._data.get(k), present, k in self._dirty))
        self._data[k] = value
        self._dirty.add(k)

    def begin(self) -> None:
        self._journal = []

    def rollback(self) -> None:
        if self._journal is None:
            return
        for k, old, present, dirty in reversed(self._journal):
            if present:
                self._data[k] = old
            else:
                self._data.pop(k, None)
            # A rolled-back write is not a change: take_changes must not report it.
            if not dirty:
                self._dirty.discard(k)
        self._journal = None

    def commit(self) -> None:
        self._journal = None

    def take_changes(self) -> dict[tuple[str, str], Any]:
        changes = {k: self._data[k] for k in self._dirty}
        self._dirty = set()
        return changes

    def items(self, kind: str) -> Iterable[tuple[str, Any]]:
        """Cached values of one kind (complete only for a State without backing)."""
        for (k, key), value in self._data.items():
            if k == kind:
                yield key, value


# ---------------------------------------------------------------------------
# Helpers


def fail(rule: str, message: str) -> RuleError:
    return RuleError(message, rule=rule)


def date_of(ms: int) -> str:
    """UTC calendar date of a time in milliseconds."""
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.UTC).date().isoformat()


def date_start_ms(date: str) -> int:
    d = _dt.date.fromisoformat(date)
    return int(_dt.datetime(d.year, d.month, d.day, tzinfo=_dt.UTC).timestamp()) * 1000


def kp_status(state: State, country: str, date: str) -> str:
    """KP status of ``country`` on ``date``: participant, suspended, withdrawn or none."""
    periods = state.get("kp", country) or []
    status = "none"
    for start, value in periods:
        if start <= date:
            status = value
        else:
            break
    return str(status)


def require_good_standing(state: State, rule: str, country: str, date: str, what: str) -> None:
    status = kp_status(state, country, date)
    if status != "participant":
        shown = "not a KP participant" if status == "none" else status
        raise fail(rule, f"{what} {country} is {shown} on {date}")


def mix_compositions(parts: Sequence[tuple[int, Mapping[str, int]]]) -> dict[str, int]:
    """Mass-weighted origin shares in ppm that sum to exactly 1,000,000 (R-OR-1).

    ``parts`` are ``(carats, composition)`` pairs. The remainder of integer division is
    handed out by largest remainder, ties to the alphabetically first country.
    """
    total = sum(c for c, _ in parts)
    if total <= 0:
        raise ValueError("mixing needs a positive total mass")
    numer: dict[str, int] = {}
    for carats, comp in parts:
        for country, share in comp.items():
            numer[country] = numer.get(country, 0) + carats * share
    floors = {c: n // total for c, n in numer.items()}
    missing = PPM - sum(floors.values())
    order = sorted(numer, key=lambda c: (-(numer[c] % total), c))
    for c in order[:missing]:
        floors[c] += 1
    return {c: s for c, s in sorted(floors.items()) if s > 0}


def format_composition(comp: Mapping[str, int]) -> str:
    """``BW 62.50% · CA 37.50%`` (largest share first)."""
    # Round to hundredths of a percent by largest remainder so the shown shares add to 100.00%.
    total = sum(comp.values())
    if total <= 0:
        return ""
    scaled = {c: s * 10000 // total for c, s in comp.items()}
    rest = 10000 - sum(scaled.values())
    for c in sorted(comp, key=lambda c: (-(comp[c] * 10000 % total), c))[:rest]:
        scaled[c] += 1
    items = sorted(scaled.items(), key=lambda kv: (-kv[1], kv[0]))
    return " · ".join(f"{c} {s // 100}.{s % 100:02d}%" for c, s in items)


def entry_parents(entry: SignedEntry) -> list[bytes]:
    """Ids of the entries whose states this entry consumes (the edges of the ancestry DAG)."""
    f = entry.fields
    if "inputs" in f:
        return [i["head"] for i in f["inputs"]]
    if "input" in f:
        return [f["input"]["head"]]
    if entry.type in ("accept", "reject", "cancel"):
        return [f["transfer"]]
    return []


# ---------------------------------------------------------------------------
# Signer resolution (R-ID-*)


@dataclass(frozen=True)
class Signer:
    name: str
    kid: bytes
    roles: tuple[str, ...]
    country: str


def _party(state: State, rule: str, name: str, what: str) -> dict[str, Any]:
    party = state.get("party", name)
    if party is None:
        raise fail(rule, f"{what} {name!r} is not a registered participant")
    if party.get("revoked") is not None:
        raise fail("R-ID-2", f"{what} {name!r} was revoked at record {party['revoked']}")
    return dict(party)


def _verify_sigs(state: State, entry: SignedEntry, extra: Mapping[bytes, bytes]) -> None:
    """Every signature must be by a known key and verify (R-ID-1)."""
    for sig in entry.sigs:
        public = extra.get(sig.kid)
        if public is None:
            info = state.get("kid", sig.kid.hex())
            if info is None:
                raise fail("R-ID-1", f"signature by unknown key {sig.kid.hex()[:16]}")
            if info.get("until") is not None:
                # specs/entries.md §4: every signing key, co-signers included, must be in force.
                raise fail("R-ID-2", f"signature by key {sig.kid.hex()[:16]}, no longer in force")
            public = info["pub"]
        if not state.verify_signatures:
            continue  # checked by the caller in parallel (Ledger.verify with jobs > 1)
        try:
            entry.verify_signature(sig.kid, public)
        except SignatureError as exc:
            raise fail(
                "R-ID-1", f"signature by key {sig.kid.hex()[:16]} is invalid: {exc}"
            ) from exc


def _signer(state: State, entry: SignedEntry) -> Signer:
    info = state.get("kid", entry.body.signer.hex())
    if info is None:
        raise fail("R-ID-1", f"signer key {entry.body.signer.hex()[:16]} is not registered")
    if info.get("until") is not None:
        how = "revoked" if info.get("revoked") else "rotated out"
        raise fail("R-ID-2", f"signer key of {info['name']!r} was {how} at record {info['until']}")
    name = info["name"]
    party = state.get("party", name)
    if party is None:  # pragma: no cover - kid and party tables are written together
        raise fail("R-ID-1", f"signer {name!r} is not a registered participant")
    return Signer(name, entry.body.signer, tuple(party["roles"]), party["country"])


def _require_role(signer: Signer, role: str, action: str) -> None:
    if role not in signer.roles:
        raise fail("R-ID-1", f"{signer.name!r} lacks the {role} role needed to {action}")


def _require_operator(state: State, signer: Signer, action: str) -> None:
    meta = state.get("meta", "ledger")
    if meta is None or signer.kid != meta["operator"]:
        raise fail("R-ID-3", f"only the operator may {action}; signed by {signer.name!r}")


# ---------------------------------------------------------------------------
# Parcels (R-CU-*, R-TM-2)


def _live_input(
    state: State, signer: Signer, inp: Mapping[str, Any], entry_time: int
) -> dict[str, Any]:
    pid = inp["parcel"]
    parcel = state.get("parcel", pid)
    if parcel is None:
        raise fail("R-CU-6", f"unknown parcel {pid!r}")
    if parcel["status"] == "consumed":
        raise fail("R-CU-3", f"parcel {pid!r} was already consumed (double spend)")
    if parcel["status"] == "sold":
        raise fail("R-CU-3", f"stone {pid!r} was sold; it cannot be used again")
    if parcel["head"] != inp["head"]:
        raise fail(
            "R-CU-3",
            f"parcel {pid!r} is at state {parcel['head'].hex()[:16]}, "
            f"not {inp['head'].hex()[:16]} (stale or double spend)",
        )
    if parcel["holder"] != signer.name:
        raise fail("R-CU-1", f"{signer.name!r} is not the custodian of {pid!r}")
    if parcel["status"] == "locked":
        raise fail("R-CU-2", f"parcel {pid!r} is locked in a pending transfer")
    if entry_time + MAX_SKEW_MS < parcel["time"]:
        raise fail(
            "R-TM-2",
            f"entry time is earlier than the last event of {pid!r} beyond the allowed skew",
        )
    return dict(parcel)


def _new_id(state: State, pid: str) -> None:
    if state.get("parcel", pid) is not None:
        raise fail("R-CU-7", f"parcel or stone id {pid!r} is already in use")


def _consume(state: State, parcel: dict[str, Any], entry: SignedEntry) -> None:
    parcel = dict(parcel)
    parcel["status"] = "consumed"
    parcel["head"] = entry.id
    state.put("parcel", parcel["id"], parcel)


def _create(
    state: State,
    entry: SignedEntry,
    *,
    pid: str,
    kind: str,
    carats: int,
    stones: int | None,
    holder: str,
    comp: Mapping[str, int],
    may: Iterable[str],
    hs: str | None,
    yield_permille: int | None = None,
) -> None:
    state.put(
        "parcel",
        pid,
        {
            "id": pid,
            "kind": kind,
            "carats": carats,
            "stones": stones,
            "holder": holder,
            "head": entry.id,
            "status": "live",
            "transfer": None,
            "comp": dict(comp),
            "may": sorted(set(may)),
            "hs": hs,
            "time": entry.body.time,
            "created": entry.id,
            "yield": yield_permille,
            "report": None,
        },
    )


# ---------------------------------------------------------------------------
# The entry types


Handler = Callable[[State, SignedEntry, Signer, int, int, Outcome], None]


def _genesis(state: State, entry: SignedEntry, index: int, now: int) -> Outcome:
    if index != 0 or state.get("meta", "ledger") is not None:
        raise fail("R-CH-2", "a genesis entry may only be the first record")
    f = entry.fields
    operator = f["operator"]
    kid = key_id(operator)
    if entry.body.signer != kid:
        raise fail("R-ID-3", "the genesis entry must be signed by the operator key it names")
    try:
        ed25519.check_public_key(operator)
    except SignatureError as exc:
        raise fail("R-ID-6", f"operator key is unusable: {exc}") from exc
    _verify_sigs(state, entry, {kid: operator})
    state.put(
        "meta",
        "ledger",
        {"origin": entry.body.ledger, "operator": kid, "name": f["name"], "genesis": entry.id},
    )
    state.put("kid", kid.hex(), {"name": f["name"], "pub": operator, "from": 0, "until": None})
    state.put(
        "party",
        f["name"],
        {
            "name": f["name"],
            "kid": kid,
            "roles": [OPERATOR_ROLE],
            "country": "--",
            "revoked": None,
            "entries": [entry.id],
        },
    )
    return Outcome()


def _participant_add(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    _require_operator(state, signer, "add participants")
    f = entry.fields
    if state.get("party", f["name"]) is not None:
        raise fail("R-ID-6", f"participant name {f['name']!r} is already registered")
    kid = key_id(f["pub"])
    if state.get("kid", kid.hex()) is not None:
        raise fail("R-ID-6", "this public key is already registered")
    try:
        ed25519.check_public_key(f["pub"])
    except SignatureError as exc:
        raise fail("R-ID-6", f"unusable public key: {exc}") from exc
    state.put("kid", kid.hex(), {"name": f["name"], "pub": f["pub"], "from": index, "until": None})
    state.put(
        "party",
        f["name"],
        {
            "name": f["name"],
            "kid": kid,
            "roles": list(f["roles"]),
            "country": f["country"],
            "revoked": None,
            "entries": [entry.id],
        },
    )


def _participant_revoke(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    _require_operator(state, signer, "revoke participants")
    name = entry.fields["name"]
    party = _party(state, "R-ID-6", name, "participant")
    if OPERATOR_ROLE in party["roles"]:
        raise fail("R-ID-3", "the operator cannot be revoked")
    party["revoked"] = index
    party["entries"] = [*party["entries"], entry.id]
    state.put("party", name, party)
    info = dict(state.get("kid", party["kid"].hex()) or {})
    info.update({"until": index, "revoked": True})
    state.put("kid", party["kid"].hex(), info)


def _participant_rotate(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    _require_operator(state, signer, "rotate keys")
    f = entry.fields
    party = _party(state, "R-ID-6", f["name"], "participant")
    if OPERATOR_ROLE in party["roles"]:
        # meta.operator (and every checkpoint) names the genesis key; rotating it away
        # would leave no key able to change the registry.
        raise fail("R-ID-3", "the operator key cannot be rotated")
    if entry.signed_by(party["kid"]) is None:
        raise fail("R-ID-5", f"a key rotation must be co-signed by the old key of {f['name']!r}")
    new_kid = key_id(f["pub"])
    if state.get("kid", new_kid.hex()) is not None:
        raise fail("R-ID-6", "the new public key is already registered")
    try:
        ed25519.check_public_key(f["pub"])
    except SignatureError as exc:
        raise fail("R-ID-6", f"unusable public key: {exc}") from exc
    old = dict(state.get("kid", party["kid"].hex()) or {})
    old.update({"until": index, "revoked": False})
    state.put("kid", party["kid"].hex(), old)
    state.put(
        "kid", new_kid.hex(), {"name": f["name"], "pub": f["pub"], "from": index, "until": None}
    )
    party["kid"] = new_kid
    party["entries"] = [*party["entries"], entry.id]
    state.put("party", f["name"], party)


def _kp_status_set(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    _require_operator(state, signer, "set KP status")
    f = entry.fields
    periods = list(state.get("kp", f["country"]) or [])
    if periods and f["from"] <= periods[-1][0]:
        raise fail(
            "R-KP-7",
            f"KP status of {f['country']} from {f['from']} must start after the last "
            f"recorded period ({periods[-1][0]})",
        )
    periods.append([f["from"], f["status"]])
    state.put("kp", f["country"], periods)
    ids = list(state.get("kp-entries", f["country"]) or [])
    state.put("kp-entries", f["country"], [*ids, entry.id])


def _origin(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    _require_role(signer, "mine", "register an origin")
    f = entry.fields
    require_good_standing(
        state, "R-KP-1", signer.country, date_of(entry.body.time), "mining country"
    )
    # ... and on the day it is appended, so back-dating cannot escape a suspension.
    require_good_standing(state, "R-KP-1", signer.country, date_of(now), "mining country")
    _new_id(state, f["parcel"])
    _create(
        state,
        entry,
        pid=f["parcel"],
        kind="rough",
        carats=f["carats"],
        stones=f["stones"],
        holder=signer.name,
        comp={signer.country: PPM},
        may=[signer.country],
        hs=f["hs"],
    )
    state.put("mine", f["parcel"], {"mine": f["mine"], "by": signer.name})
    out.touched.append(f["parcel"])


def _certificate_issue(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    _require_role(signer, "authority", "issue KP certificates")
    f = entry.fields
    rule = "R-KP-6"
    exp_cc, imp_cc = f["exporter_country"], f["importer_country"]
    if signer.country != exp_cc:
        raise fail(rule, f"an authority of {signer.country} cannot certify exports from {exp_cc}")
    if not f["number"].startswith(exp_cc):
        raise fail(rule, f"certificate number {f['number']!r} must start with {exp_cc}")
    if state.get("cert", f["number"]) is not None:
        raise fail(rule, f"certificate number {f['number']!r} is already used")
    exporter = _party(state, rule, f["exporter"], "exporter")
    importer = _party(state, rule, f["importer"], "importer")
    if exporter["country"] != exp_cc:
        raise fail(rule, f"exporter {f['exporter']!r} is in {exporter['country']}, not {exp_cc}")
    if importer["country"] != imp_cc:
        raise fail(rule, f"importer {f['importer']!r} is in {importer['country']}, not {imp_cc}")
    if imp_cc == exp_cc:
        raise fail(rule, "a KP certificate covers an export to another country")
    issued = date_of(entry.body.time)
    if f["expires"] < issued:
        raise fail(rule, f"certificate expires {f['expires']}, before its issue date {issued}")
    require_good_standing(state, "R-KP-5", exp_cc, issued, "exporting country")
    require_good_standing(state, "R-KP-5", imp_cc, issued, "importing country")
    for cc, what in ((exp_cc, "exporting country"), (imp_cc, "importing country")):
        require_good_standing(state, "R-KP-5", cc, date_of(now), what)
    if f["value"]["currency"] != "USD":
        raise fail(rule, "the certificate value must be in USD")
    carats = 0
    hs: set[str] = set()
    may: set[str] = set()
    for pid in f["parcels"]:
        parcel = state.get("parcel", pid)
        if parcel is None:
            raise fail("R-CU-6", f"unknown parcel {pid!r}")
        if parcel["status"] != "live" or parcel["holder"] != f["exporter"]:
            raise fail(rule, f"exporter {f['exporter']!r} does not hold parcel {pid!r}")
        if parcel["kind"] not in ROUGH_KINDS:
            raise fail(rule, f"{pid!r} is polished; KP certificates cover rough diamonds only")
        carats += parcel["carats"]
        hs.add(parcel["hs"] or "7102.10")
        may.update(parcel["may"])
    if f["carats"] != carats:
        raise fail(rule, f"certificate states {f['carats']} points, the parcels weigh {carats}")
    if f["count"] != len(f["parcels"]):
        raise fail(rule, f"certificate states {f['count']} parcels, it lists {len(f['parcels'])}")
    if list(f["hs"]) != sorted(hs):
        raise fail(rule, f"certificate HS codes {f['hs']} do not match the parcels {sorted(hs)}")
    if list(f["origins"]) != sorted(may):
        raise fail(
            "R-KP-4",
            f"certificate origins {f['origins']} must list every mining country {sorted(may)}",
        )
    state.put(
        "cert",
        f["number"],
        {
            "number": f["number"],
            "id": entry.id,
            "issued": issued,
            "expires": f["expires"],
            "exporter": f["exporter"],
            "importer": f["importer"],
            "exporter_country": exp_cc,
            "importer_country": imp_cc,
            "parcels": sorted(f["parcels"]),
            "carats": carats,
            "authority": signer.name,
            "used": None,
        },
    )


def _transfer(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    f = entry.fields
    receiver = _party(state, "R-CU-8", f["to"], "receiver")
    if receiver["name"] == signer.name:
        raise fail("R-CU-8", "a transfer needs a different receiver")
    if not set(receiver["roles"]) & set(RECEIVER_ROLES):
        raise fail("R-ID-1", f"receiver {f['to']!r} has no role that can take custody")
    parcels = [_live_input(state, signer, i, entry.body.time) for i in f["inputs"]]
    rough = [p for p in parcels if p["kind"] in ROUGH_KINDS]
    polished = [p for p in parcels if p["kind"] == "polished"]
    cross_border = receiver["country"] != signer.country
    number = f.get("certificate")
    if rough and cross_border and number is None:
        raise fail(
            "R-KP-2",
            f"rough crossing from {signer.country} to {receiver['country']} needs a KP certificate",
        )
    if number is not None:
        _check_certificate(state, number, signer, receiver, parcels, entry)
    if polished and "warranty" not in f:
        out.warnings.append(
            Finding("R-SW-1", "transfer of polished goods without a System of Warranties statement")
        )
    for p in parcels:
        p = dict(p)
        p.update(
            {"status": "locked", "transfer": entry.id, "head": entry.id, "time": entry.body.time}
        )
        state.put("parcel", p["id"], p)
        out.touched.append(p["id"])
    state.put(
        "transfer",
        entry.id.hex(),
        {
            "from": signer.name,
            "to": receiver["name"],
            "parcels": [p["id"] for p in parcels],
            "status": "pending",
            "time": entry.body.time,
            "certificate": number,
        },
    )


def _check_certificate(
    state: State,
    number: str,
    sender: Signer,
    receiver: Mapping[str, Any],
    parcels: Sequence[Mapping[str, Any]],
    entry: SignedEntry,
) -> None:
    """R-KP-2: the certificate matches this shipment exactly and is used once."""
    cert = state.get("cert", number)
    if cert is None:
        raise fail("R-KP-2", f"no KP certificate {number!r} was issued on this ledger")
    if cert["used"] is not None:
        raise fail("R-KP-2", f"KP certificate {number!r} was already used for another shipment")
    if cert["exporter"] != sender.name or cert["importer"] != receiver["name"]:
        raise fail(
            "R-KP-2",
            f"KP certificate {number!r} is for {cert['exporter']} -> {cert['importer']}, "
            f"not {sender.name} -> {receiver['name']}",
        )
    if (
        cert["exporter_country"] != sender.country
        or cert["importer_country"] != receiver["country"]
    ):
        raise fail("R-KP-2", f"KP certificate {number!r} names other countries")
    if sorted(p["id"] for p in parcels) != cert["parcels"]:
        raise fail("R-KP-2", f"KP certificate {number!r} covers other parcels")
    if sum(p["carats"] for p in parcels) != cert["carats"]:
        raise fail("R-KP-2", f"KP certificate {number!r} states another carat weight")
    day = date_of(entry.body.time)
    if not cert["issued"] <= day <= cert["expires"]:
        raise fail(
            "R-KP-2",
            f"KP certificate {number!r} is valid {cert['issued']} to {cert['expires']}, "
            f"not on {day}",
        )
    require_good_standing(state, "R-KP-5", sender.country, cert["issued"], "exporting country")
    require_good_standing(state, "R-KP-5", receiver["country"], cert["issued"], "importing country")
    cert = dict(cert)
    cert["used"] = entry.id
    state.put("cert", number, cert)


def _pending(state: State, entry: SignedEntry) -> tuple[str, dict[str, Any]]:
    tid = entry.fields["transfer"].hex()
    transfer = state.get("transfer", tid)
    if transfer is None:
        raise fail("R-CU-6", f"no transfer offer {tid[:16]}")
    if transfer["status"] != "pending":
        raise fail("R-CU-2", f"transfer {tid[:16]} is already {transfer['status']}")
    return tid, dict(transfer)


def _settle(
    state: State, entry: SignedEntry, out: Outcome, status: str, holder: str | None
) -> None:
    tid, transfer = _pending(state, entry)
    for pid in transfer["parcels"]:
        parcel = dict(state.get("parcel", pid) or {})
        if entry.body.time + MAX_SKEW_MS < parcel["time"]:
            raise fail("R-TM-3", "the answer to a transfer must follow the offer")
        parcel.update({"status": "live", "transfer": None, "head": entry.id})
        parcel["time"] = max(parcel["time"], entry.body.time)
        if holder is not None:
            parcel["holder"] = holder
        state.put("parcel", pid, parcel)
        out.touched.append(pid)
    transfer["status"] = status
    state.put("transfer", tid, transfer)


def _accept(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    _tid, transfer = _pending(state, entry)
    if transfer["to"] != signer.name:
        raise fail("R-CU-2", f"only {transfer['to']!r} can accept this transfer")
    # Judged at the append time too (specs/log.md §2): a back-dated claimed time must not
    # revive an expired offer.
    if max(entry.body.time, now) > transfer["time"] + OFFER_TTL_MS:
        raise fail("R-TM-3", "the offer expired (30 days) before it was accepted")
    _settle(state, entry, out, "accepted", signer.name)


def _reject(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    _tid, transfer = _pending(state, entry)
    if transfer["to"] != signer.name:
        raise fail("R-CU-2", f"only {transfer['to']!r} can reject this transfer")
    _settle(state, entry, out, "rejected", None)


def _cancel(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    _tid, transfer = _pending(state, entry)
    if transfer["from"] != signer.name:
        raise fail("R-CU-2", f"only {transfer['from']!r} can cancel this transfer")
    _settle(state, entry, out, "cancelled", None)


def _split(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    f = entry.fields
    parcel = _live_input(state, signer, f["input"], entry.body.time)
    if parcel["kind"] == "polished":
        raise fail("R-MB-4", f"{parcel['id']!r} is a polished stone; it cannot be split")
    outputs = f["outputs"]
    total = sum(o["carats"] for o in outputs)
    if total > parcel["carats"]:
        raise fail(
            "R-MB-1",
            f"split outputs weigh {total} points, more than the {parcel['carats']} of "
            f"{parcel['id']!r} (mass inflation)",
        )
    # Outputs that state no count still cannot make the stated ones exceed the input.
    known = parcel["stones"] is not None
    if known and sum(o.get("stones", 0) for o in outputs) > parcel["stones"]:
        raise fail("R-MB-3", f"split outputs hold more stones than {parcel['id']!r}")
    _consume(state, parcel, entry)
    out.touched.append(parcel["id"])
    for o in outputs:
        _new_id(state, o["parcel"])
        _create(
            state,
            entry,
            pid=o["parcel"],
            kind=parcel["kind"],
            carats=o["carats"],
            stones=o.get("stones"),
            holder=signer.name,
            comp=parcel["comp"],
            may=parcel["may"],
            hs=parcel["hs"],
        )
        out.touched.append(o["parcel"])


def _merge(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    f = entry.fields
    if len(f["inputs"]) < 2:
        raise fail("R-MB-1", "a merge needs at least two parcels")
    parcels = [_live_input(state, signer, i, entry.body.time) for i in f["inputs"]]
    if any(p["kind"] == "polished" for p in parcels):
        raise fail("R-MB-4", "polished stones cannot be merged into a parcel")
    total = sum(p["carats"] for p in parcels)
    o = f["output"]
    if o["carats"] > total:
        raise fail("R-MB-1", f"merge output weighs {o['carats']} points, inputs only {total}")
    stones: int | None = None
    if all(p["stones"] is not None for p in parcels):
        stones = sum(p["stones"] for p in parcels)
        if "stones" in o and o["stones"] > stones:
            raise fail("R-MB-3", "merge output holds more stones than its inputs")
        stones = o.get("stones", stones)
    comp = mix_compositions([(p["carats"], p["comp"]) for p in parcels])
    may = set().union(*(p["may"] for p in parcels))
    hs_codes = {p["hs"] for p in parcels}
    for p in parcels:
        _consume(state, p, entry)
        out.touched.append(p["id"])
    _new_id(state, o["parcel"])
    _create(
        state,
        entry,
        pid=o["parcel"],
        kind="byproduct" if all(p["kind"] == "byproduct" for p in parcels) else "rough",
        carats=o["carats"],
        stones=stones,
        holder=signer.name,
        comp=comp,
        may=may,
        hs=hs_codes.pop() if len(hs_codes) == 1 else "7102.10",
    )
    out.touched.append(o["parcel"])


def _cut(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    _require_role(signer, "cutter", "cut rough into polished stones")
    f = entry.fields
    parcels = [_live_input(state, signer, i, entry.body.time) for i in f["inputs"]]
    if any(p["kind"] != "rough" for p in parcels):
        raise fail("R-MB-4", "only rough parcels can be cut")
    total_in = sum(p["carats"] for p in parcels)
    stones = f["stones"]
    byproducts = f.get("byproducts", [])
    polished = sum(s["carats"] for s in stones)
    total_out = polished + sum(b["carats"] for b in byproducts)
    if total_out > total_in:
        raise fail(
            "R-MB-2",
            f"cut outputs weigh {total_out} points, more than the {total_in} of rough cut",
        )
    rough_stones = [p["stones"] for p in parcels]
    if all(n is not None for n in rough_stones):
        limit = STONES_PER_ROUGH * sum(n for n in rough_stones if n is not None)
        if len(stones) > limit:
            raise fail("R-MB-3", f"{len(stones)} polished stones from at most {limit // 3} rough")
    permille = polished * 1000 // total_in
    if not YIELD_MIN_PERMILLE <= permille <= YIELD_MAX_PERMILLE:
        out.warnings.append(
            Finding(
                "R-MB-5",
                f"polished yield {permille / 10:.1f}% is outside the usual 15-70% "
                "(check the declared weights)",
            )
        )
    comp = mix_compositions([(p["carats"], p["comp"]) for p in parcels])
    may = set().union(*(p["may"] for p in parcels))
    for p in parcels:
        _consume(state, p, entry)
        out.touched.append(p["id"])
    for s in stones:
        _new_id(state, s["parcel"])
        if s.get("stones", 1) != 1:
            raise fail("R-MB-3", f"polished stone {s['parcel']!r} must be a single stone")
        _create(
            state,
            entry,
            pid=s["parcel"],
            kind="polished",
            carats=s["carats"],
            stones=1,
            holder=signer.name,
            comp=comp,
            may=may,
            hs=None,
            yield_permille=permille,
        )
        out.touched.append(s["parcel"])
    for b in byproducts:
        _new_id(state, b["parcel"])
        _create(
            state,
            entry,
            pid=b["parcel"],
            kind="byproduct",
            carats=b["carats"],
            stones=b.get("stones"),
            holder=signer.name,
            comp=comp,
            may=may,
            hs="7102.21",
        )
        out.touched.append(b["parcel"])


def _grade(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    _require_role(signer, "grader", "grade stones")
    f = entry.fields
    stone = _live_input(state, signer, f["input"], entry.body.time)
    if stone["kind"] != "polished":
        raise fail("R-GR-1", f"{stone['id']!r} is not a polished stone")
    if "carats" in f and f["carats"] > stone["carats"]:
        raise fail("R-MB-1", f"graded weight {f['carats']} exceeds the recorded {stone['carats']}")
    stone.update({"head": entry.id, "time": entry.body.time, "report": f["report"]})
    if "carats" in f:
        stone["carats"] = f["carats"]
    state.put("parcel", stone["id"], stone)
    out.touched.append(stone["id"])


def _sell(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    _require_role(signer, "retailer", "sell to consumers")
    stone = _live_input(state, signer, entry.fields["input"], entry.body.time)
    if stone["kind"] != "polished":
        raise fail("R-SL-1", f"{stone['id']!r} is not a polished stone; retail sales are of stones")
    stone.update({"status": "sold", "head": entry.id, "time": entry.body.time})
    state.put("parcel", stone["id"], stone)
    out.touched.append(stone["id"])


HANDLERS: dict[str, Handler] = {
    "participant.add": _participant_add,
    "participant.revoke": _participant_revoke,
    "participant.rotate": _participant_rotate,
    "kp-status.set": _kp_status_set,
    "origin": _origin,
    "certificate.issue": _certificate_issue,
    "transfer": _transfer,
    "accept": _accept,
    "reject": _reject,
    "cancel": _cancel,
    "split": _split,
    "merge": _merge,
    "cut": _cut,
    "grade": _grade,
    "sell": _sell,
}


def apply(state: State, entry: SignedEntry, *, index: int, now: int) -> Outcome:
    """Check ``entry`` as record ``index`` appended at ``now`` (ms) and update ``state``.

    On a RuleError the state is left exactly as it was.

    Raises:
        RuleError: the entry breaks a rule; ``rule`` holds its ID (specs/rules.md).
    """
    state.begin()
    state.phase = 0
    try:
        out = _apply(state, entry, index=index, now=now)
    except BaseException:
        state.rollback()
        raise
    state.commit()
    return out


def _apply(state: State, entry: SignedEntry, *, index: int, now: int) -> Outcome:
    if entry.body.time > now + MAX_SKEW_MS:
        raise fail("R-TM-1", "the entry's claimed time is in the future beyond the allowed skew")
    if entry.body.time + MAX_AGE_MS < now and entry.type != "genesis":
        raise fail("R-TM-4", "the entry's claimed time is more than 30 days before its append time")
    if entry.type == "genesis":
        return _genesis(state, entry, index, now)
    meta = state.get("meta", "ledger")
    if meta is None:
        raise fail("R-CH-2", "the first record must be the genesis entry")
    if entry.body.ledger != meta["origin"]:
        raise fail(
            "R-EN-2",
            f"entry was signed for ledger {entry.body.ledger!r}, this is {meta['origin']!r}",
        )
    signer = _signer(state, entry)
    state.phase = 1
    _verify_sigs(state, entry, {})
    state.phase = 2
    out = Outcome()
    HANDLERS[entry.type](state, entry, signer, index, now, out)
    return out
