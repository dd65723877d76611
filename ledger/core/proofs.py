"""Provenance proof bundles for buyers (specs/proof-bundle.md). Pure: bytes in, report out.

A bundle holds the records of an item's whole ancestry DAG (back to every origin),
the registry and KP-status records the rules used, the genesis record, one
inclusion proof per record and one signed checkpoint. ``verify_bundle`` needs only
the operator's verifier key: it checks the checkpoint signature, every inclusion
proof, replays the records through the same rules engine as ``verify``, checks that
the DAG is closed, and evaluates the buyer's policy.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ledger.core import disclosure, merkle, note, replay, rules, statemap
from ledger.core.disclosure import Disclosed, Opening
from ledger.core.encoding import decode, encode, require_map
from ledger.core.journey import Step, narrate
from ledger.core.model import Record, SignedEntry
from ledger.core.rules import VoidEntry
from ledger.errors import EncodingError, LedgerError, PolicyError, ProofError

if TYPE_CHECKING:
    from ledger.core import policy

BUNDLE_TYPE = "kpledger-proof"
#: Bundle format version (specs/proof-bundle.md §2); 2 added the state-map proofs.
BUNDLE_VERSION = 2
MAX_BUNDLE_SIZE = 16 << 20
MAX_BUNDLE_RECORDS = 100_000
MAX_MAP_PROOFS = 10_000
#: Most openings a bundle discloses (specs/proof-bundle.md §2.4).
MAX_DISCLOSURES = 10_000


@dataclass(frozen=True)
class BundleRecord:
    index: int
    record: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class Evidence:
    """An earlier checkpoint, with its witnesses' cosignatures (timestamps), and the
    consistency proof from it to the bundle's checkpoint: proof that the log was at least
    that large by the cosignatures' time (specs/proof-bundle.md §2.2)."""

    checkpoint: str
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class Bundle:
    origin: str
    item: str
    checkpoint: str
    records: tuple[BundleRecord, ...]
    #: State-map proofs at the checkpoint, in (kind, key) order (specs/proof-bundle.md §2.3).
    map_proofs: tuple[statemap.MapProof, ...] = ()
    #: Optional operator-signed note: the item's latest state as of the checkpoint.
    attestation: str | None = None
    #: Witness-timestamped earlier checkpoints (time evidence, R-SA-3).
    evidence: tuple[Evidence, ...] = ()
    #: Openings of committed money fields the holder chose to disclose (§2.4).
    disclose: tuple[Opening, ...] = ()

    def encode(self) -> bytes:
        wire: dict[str, Any] = {
            "v": BUNDLE_VERSION,
            "type": BUNDLE_TYPE,
            "origin": self.origin,
            "item": self.item,
            "checkpoint": self.checkpoint,
            "records": [
                {"index": r.index, "record": r.record, "proof": list(r.proof)} for r in self.records
            ],
            "map": [p.to_wire() for p in self.map_proofs],
        }
        if self.attestation is not None:
            wire["attestation"] = self.attestation
        if self.evidence:
            wire["evidence"] = [
                {"checkpoint": e.checkpoint, "proof": list(e.proof)} for e in self.evidence
            ]
        if self.disclose:
            wire["disclose"] = [o.to_wire() for o in self.disclose]
        return encode(wire)

    @classmethod
    def decode(cls, data: bytes) -> Bundle:
        """Parse a bundle file.

        Raises:
            ProofError: not a canonical kpledger bundle, or over the size limits.
        """
        if len(data) > MAX_BUNDLE_SIZE:
            raise ProofError(f"bundle is {len(data)} bytes, the limit is {MAX_BUNDLE_SIZE}")
        try:
            m = require_map(decode(data, max_size=MAX_BUNDLE_SIZE), "bundle")
            if m.get("type") != BUNDLE_TYPE or type(m.get("v")) is not int:
                raise EncodingError("not a kpledger proof bundle (type/version)")
            if m["v"] != BUNDLE_VERSION:
                raise EncodingError(
                    f"bundle format version {m['v']} is not {BUNDLE_VERSION} (a version-1 "
                    "bundle proves no latest state; make a new one with 'kpledger prove')"
                )
            optional = {"attestation", "evidence", "disclose"}
            required = {"v", "type", "origin", "item", "checkpoint", "records", "map"}
            if set(m) - optional != required:
                raise EncodingError("bundle has missing or unknown fields")
            if "attestation" in m and not isinstance(m["attestation"], str):
                raise EncodingError("bundle attestation must be text (a signed note)")
            if not all(isinstance(m[k], str) for k in ("origin", "item", "checkpoint")):
                raise EncodingError("bundle origin, item and checkpoint must be text")
            raw = m["records"]
            if not isinstance(raw, list) or not 0 < len(raw) <= MAX_BUNDLE_RECORDS:
                raise EncodingError(
                    f"bundle records must be a list of 1 to {MAX_BUNDLE_RECORDS} records"
                )
            records = []
            for r in raw:
                r = require_map(r, "bundle record")
                if set(r) != {"index", "record", "proof"}:
                    raise EncodingError("bundle record has missing or unknown fields")
                if (
                    not isinstance(r["index"], int)
                    or isinstance(r["index"], bool)
                    or r["index"] < 0
                ):
                    raise EncodingError("bundle record index must be a non-negative integer")
                if not isinstance(r["record"], bytes) or not isinstance(r["proof"], list):
                    raise EncodingError("bundle record must carry bytes and a proof list")
                if (
                    not all(isinstance(h, bytes) and len(h) == 32 for h in r["proof"])
                    or len(r["proof"]) > 64
                ):
                    raise EncodingError("proof hashes must be 32 bytes, at most 64 of them")
                records.append(BundleRecord(r["index"], r["record"], tuple(r["proof"])))
            evidence = tuple(_evidence(e) for e in m.get("evidence", ()))
            if "evidence" in m and not (isinstance(m["evidence"], list) and 0 < len(evidence) <= 8):
                raise EncodingError("bundle evidence must be a list of 1 to 8 checkpoints")
            raw_map = m["map"]
            if not isinstance(raw_map, list) or not 0 < len(raw_map) <= MAX_MAP_PROOFS:
                raise EncodingError(f"bundle map must be a list of 1 to {MAX_MAP_PROOFS} proofs")
            raw_disclose = m.get("disclose", [None])
            if not isinstance(raw_disclose, list) or not 0 < len(raw_disclose) <= MAX_DISCLOSURES:
                raise EncodingError(
                    f"bundle disclose must be a list of 1 to {MAX_DISCLOSURES} openings"
                )
            disclose = tuple(
                Opening.from_wire(o, f"disclose[{i}]") for i, o in enumerate(m.get("disclose", ()))
            )
        except EncodingError as exc:
            raise ProofError(f"malformed bundle: {exc.message}") from exc
        try:
            map_proofs = tuple(statemap.MapProof.from_wire(p) for p in raw_map)
        except ProofError as exc:
            raise ProofError(f"malformed bundle: {exc.message}") from exc
        return cls(
            m["origin"],
            m["item"],
            m["checkpoint"],
            tuple(records),
            map_proofs,
            m.get("attestation"),
            evidence,
            disclose,
        )


def _evidence(value: Any) -> Evidence:
    e = require_map(value, "bundle evidence")
    if set(e) != {"checkpoint", "proof"} or not isinstance(e["checkpoint"], str):
        raise EncodingError("bundle evidence must carry a checkpoint note and a proof")
    proof = e["proof"]
    if not isinstance(proof, list) or len(proof) > 64:
        raise EncodingError("evidence proof must be a list of at most 64 hashes")
    if not all(isinstance(h, bytes) and len(h) == 32 for h in proof):
        raise EncodingError("evidence proof hashes must be 32 bytes")
    return Evidence(e["checkpoint"], tuple(proof))


#: First line of an item-state attestation (specs/proof-bundle.md §2.1). It can never be
#: read as a checkpoint: a checkpoint's second line is a decimal tree size.
ATTESTATION_HEADER = "kpledger/v1 item-state"


def format_attestation(origin: str, size: int, item: str, head: bytes) -> str:
    """The signed text: the item's state ``head`` is its latest in the tree of ``size``."""
    return f"{ATTESTATION_HEADER}\n{origin}\n{size}\n{item}\n{head.hex()}\n"


def attest(origin: str, size: int, item: str, head: bytes, seed: bytes) -> str:
    """Sign an item-state attestation with the operator key (a C2SP signed note)."""
    return note.sign_note(format_attestation(origin, size, item, head), origin, seed)


def check_attestation(text: str, verifier: note.Verifier) -> tuple[str, int, str, str]:
    """Verify an attestation note; return ``(origin, size, item, head hex)``.

    Raises:
        ProofError: bad signature or not an item-state attestation.
    """
    signed = note.verify_note(text, [verifier])
    lines = signed.text.split("\n")
    if len(lines) != 6 or lines[0] != ATTESTATION_HEADER or lines[5] != "":
        raise ProofError("the attestation is not a kpledger item-state attestation")
    origin, size, item, head = lines[1:5]
    if not size.isascii() or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise ProofError("the attestation's tree size is not a canonical decimal")
    return origin, int(size), item, head


@dataclass(frozen=True)
class TimeProof:
    """A witness's cosignature on an earlier checkpoint: the log had ``size`` records by
    ``timestamp`` (POSIX seconds)."""

    size: int
    witness: str
    timestamp: int


@dataclass(frozen=True)
class Failure:
    """Why an item fails: the rule ID and a plain-words message."""

    rule: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class BundleReport:
    """What a buyer is told: the item, its journey, certificates, origin and verdict."""

    item: str
    kind: str
    carats: int
    status: str
    holder: str
    composition: dict[str, int]
    may_contain: list[str]
    yield_permille: int | None
    report: str | None
    checkpoint_size: int
    origin: str
    #: Hex id of the entry that produced the item's state as the bundle shows it.
    head: str = ""
    #: Whether an operator-signed attestation says that state is the latest one (extra
    #: information: the state map proves it in every bundle).
    latest_attested: bool = False
    #: The record that last changed the item as of the checkpoint, proven by the state map.
    latest_index: int = -1
    #: When known witnesses cosigned the checkpoint (the latest of their POSIX times).
    checkpoint_time: int | None = None
    #: Set by an online check (``--latest``): why the item has changed since the checkpoint.
    stale: str | None = None
    journey: list[Step] = field(default_factory=list)
    certificates: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[tuple[int, str, str]] = field(default_factory=list)
    cosigners: dict[str, int] = field(default_factory=dict)
    #: Everything the item fails: quarantine (R-ID-2) and the buyer's policy, each with its
    #: rule ID.
    policy_failures: list[Failure] = field(default_factory=list)
    #: The registered roles of every participant the journey names (actor or counterparty).
    roles: dict[str, list[str]] = field(default_factory=dict)
    #: Entries of the ancestry signed with a compromised key (R-ID-2): the item is
    #: quarantined when this is not empty.
    quarantine: list[VoidEntry] = field(default_factory=list)
    #: Country -> [first, last] append dates of custody of the item's goods (R-SA-2).
    path: dict[str, list[str]] = field(default_factory=dict)
    #: Laboratory-grown goods (R-SW-3).
    grown: bool = False
    #: Some B2B transfer of the ancestry carried no warranty statement (R-SW-2).
    unwarranted: bool = False
    #: The date the policy was judged on.
    as_of: str = ""
    #: What the bundle's time evidence proves (known witnesses only).
    time_evidence: list[TimeProof] = field(default_factory=list)
    #: How the item's Russian content was proven outside Russia in time (R-SA-3), if it was.
    grandfathered: str | None = None
    #: Every committed money field of the journey and its certificates, with the value
    #: where the bundle discloses it (specs/disclosure.md; "committed, not disclosed" else).
    disclosures: list[Disclosed] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.policy_failures

    def fail(self, rule: str, message: str) -> None:
        self.policy_failures.append(Failure(rule, message))

    def raise_if_failed(self) -> None:
        """Raise the failures as one :class:`PolicyError` naming the first one's rule.

        Raises:
            PolicyError: the item is quarantined or fails the policy.
        """
        if self.policy_failures:
            rule = self.policy_failures[0].rule
            raise PolicyError("; ".join(f.message for f in self.policy_failures), rule=rule)


def bundle_digest(data: bytes) -> str:
    """The hex SHA-256 of a bundle file: how a buyer names exactly the bytes they checked
    (the HTML report prints it and carries it in its QR code)."""
    return hashlib.sha256(data).hexdigest()


def ancestry(head: bytes, entries: Mapping[bytes, SignedEntry]) -> list[bytes]:
    """Every entry id reachable from ``head`` through consumed states (the DAG).

    Raises:
        ProofError: an ancestor is missing from ``entries`` (the DAG is not closed).
    """
    seen: set[bytes] = set()
    todo = [head]
    while todo:
        eid = todo.pop()
        if eid in seen:
            continue
        entry = entries.get(eid)
        if entry is None:
            raise ProofError(f"entry {eid.hex()[:16]} of the ancestry is missing from the bundle")
        seen.add(eid)
        todo.extend(rules.entry_parents(entry))
    return sorted(seen)


def verify_bundle(
    data: bytes,
    verifier: note.Verifier,
    *,
    buyer_policy: policy.Policy | None = None,
    deny_origins: Sequence[str] = (),
    require_latest: bool = False,
    as_of: str | None = None,
) -> BundleReport:
    """Verify a bundle offline and require the item to pass the policy (judged on
    ``as_of``, see :func:`inspect_bundle`).

    Raises:
        ProofError: the checkpoint, an inclusion proof, an entry or the DAG is invalid.
        PolicyError: the proof is valid but the item fails the policy (every failure named).
    """
    report = inspect_bundle(
        data,
        verifier,
        buyer_policy=buyer_policy,
        deny_origins=deny_origins,
        require_latest=require_latest,
        as_of=as_of,
    )
    report.raise_if_failed()
    return report


def inspect_bundle(
    data: bytes,
    verifier: note.Verifier,
    *,
    buyer_policy: policy.Policy | None = None,
    deny_origins: Sequence[str] = (),
    require_latest: bool = False,
    as_of: str | None = None,
) -> BundleReport:
    """Verify a bundle offline and evaluate the policy, for display.

    ``as_of`` is the date (``YYYY-MM-DD``) the policy is judged on; by default the date of
    the last record the bundle carries.

    Unlike :func:`verify_bundle`, a policy failure does not raise: the report's
    ``policy_failures`` lists every policy the item fails, so that a caller can show the
    whole verdict. A caller that decides on the item must check ``report.ok``.

    With ``require_latest``, a bundle without the operator's attestation that it shows
    the item's latest state fails (a bundle cut short then cannot pass).

    Raises:
        ProofError: the checkpoint, an inclusion proof, an entry or the DAG is invalid.
    """
    with _check("decode"):
        bundle = Bundle.decode(data)
    with _check("checkpoint"):
        cp, signed = note.open_checkpoint(bundle.checkpoint, verifier)
    with _check("origin"):
        if cp.origin != bundle.origin:
            raise ProofError(f"checkpoint is for {cp.origin!r}, the bundle says {bundle.origin!r}")
    indexes = [r.index for r in bundle.records]
    with _check("order"):
        if indexes != sorted(set(indexes)):
            raise ProofError("bundle records are not in strictly increasing log order")
    with _check("genesis"):
        if indexes[0] != 0:
            raise ProofError("bundle lacks the genesis record (index 0)")
    with _check("inclusion"):
        for r in bundle.records:
            try:
                merkle.verify_inclusion(
                    merkle.leaf_hash(r.record), r.index, cp.size, r.proof, cp.root
                )
            except ProofError as exc:
                raise ProofError(
                    f"record {r.index} is not in the checkpointed log: {exc.message}"
                ) from exc
    replayed_map = statemap.MemoryMap()
    try:
        result = replay.replay(
            ((r.index, r.record) for r in bundle.records),
            contiguous=False,
            keep_entries=True,
            state_map=replayed_map,
        )
    except LedgerError as exc:
        # The rule the record breaks names the failure (specs/proof-bundle.md §4 step 5).
        failure = ProofError(f"bundle entries fail the rules: {exc}")
        failure.check = exc.rule or "R-EN-1"
        raise failure from exc
    state = result.state
    meta = state.get("meta", "ledger")
    with _check("ledger"):
        if meta is None or meta["origin"] != bundle.origin:
            raise ProofError("the genesis record does not name this ledger's origin")
    item = state.get("parcel", bundle.item)
    with _check("item"):
        if item is None:
            raise ProofError(f"the bundle does not contain item {bundle.item!r}")
    entries = {eid: e for eid, (_, e) in result.entries.items()}
    with _check("dag"):
        dag = ancestry(item["head"], entries)
    dag_set = set(dag)
    latest_index = check_latest_state(bundle, cp, state, replayed_map)
    attested = False
    if bundle.attestation is not None:
        with _check("attestation"):
            a_origin, a_size, a_item, a_head = check_attestation(bundle.attestation, verifier)
            if (a_origin, a_size, a_item) != (cp.origin, cp.size, bundle.item):
                raise ProofError(
                    f"the attestation is for {a_item!r} at size {a_size} of {a_origin!r}, "
                    f"not {bundle.item!r} at size {cp.size} of {cp.origin!r}"
                )
            if a_head != item["head"].hex():
                raise ProofError(
                    f"the bundle omits later events of {bundle.item!r}: the operator attests "
                    f"its latest state is entry {a_head[:16]}, the bundle ends at "
                    f"{item['head'].hex()[:16]}"
                )
        attested = True
    with _check("disclose"):
        opened = disclosure.check_openings(bundle.disclose, entries.values())
    report = BundleReport(
        item=bundle.item,
        kind=item["kind"],
        carats=item["carats"],
        status=item["status"],
        holder=item["holder"],
        composition=dict(item["comp"]),
        may_contain=list(item["may"]),
        yield_permille=item.get("yield"),
        report=item.get("report"),
        checkpoint_size=cp.size,
        head=item["head"].hex(),
        latest_attested=attested,
        latest_index=latest_index,
        origin=cp.origin,
        path={cc: list(span) for cc, span in item.get("path", {}).items()},
        grown=bool(item.get("grown")),
        unwarranted=bool(item.get("unwarranted")),
    )
    shown = []
    for eid, (record, entry) in sorted(result.entries.items(), key=lambda kv: kv[1][0].index):
        if entry.type == "certificate.issue":
            cert = state.get("cert", entry.fields["number"])
            if cert is None or cert["used"] not in dag_set:
                continue
            f = entry.fields
            report.certificates.append(
                {
                    "number": f["number"],
                    "issued": cert["issued"],
                    "expires": f["expires"],
                    "exporter": f["exporter"],
                    "exporter_country": f["exporter_country"],
                    "importer": f["importer"],
                    "importer_country": f["importer_country"],
                    "carats": f["carats"],
                    "origins": list(f["origins"]),
                    "authority": cert["authority"],
                    "value_usd_cents": _amount(f["value"], opened),
                    "confirmed": "confirmed" in cert,
                }
            )
        elif eid not in dag_set:
            continue
        shown.append((record, entry))
    report.journey = narrate(shown, state.get)
    report.disclosures = disclosure.disclosed_view((e for _, e in shown), opened)
    report.quarantine = rules.quarantine(shown, state.key)
    for void in report.quarantine:
        report.fail("R-ID-2", f"quarantined: {void.describe()}")
    for name in sorted({n for s in report.journey for n in (s.actor, s.counterparty) if n}):
        party = state.get("party", name)
        if party is not None:
            report.roles[name] = list(party["roles"])
    at_index = {record.index: eid for eid, (record, _) in result.entries.items()}
    report.warnings = [f for f in result.findings if at_index.get(f[0]) in dag_set]
    report.as_of = as_of or rules.date_of(max(r.time for r, _ in result.entries.values()))
    witnesses = buyer_policy.witness_verifiers() if buyer_policy else []
    with _check("evidence"):
        report.time_evidence = _time_evidence(bundle, cp, verifier, witnesses)
    if witnesses:
        with _check("cosignature"):
            report.cosigners = note.verify_cosignatures(signed, witnesses)
    if report.cosigners:
        report.checkpoint_time = max(report.cosigners.values())
    if buyer_policy is not None:
        _evaluate(report, buyer_policy, signed, state, dict(item))
    denied = set(deny_origins) | (set(buyer_policy.deny_origins) if buyer_policy else set())
    hit = sorted(denied & set(item["may"]))
    if hit:
        report.fail(
            "R-SA-1",
            f"may contain diamonds from denied origin {', '.join(hit)} "
            "(conservative may-contain set; no de minimis)",
        )
    del require_latest  # the state map proves the latest state in every bundle
    return report


def _amount(money: Mapping[str, Any], opened: Mapping[bytes, Opening]) -> int | None:
    """A money field's amount: in clear (an entry from before commitments), disclosed by
    an opening, or None (committed, not disclosed)."""
    if "amount" in money:
        return int(money["amount"])
    o = opened.get(bytes(money["commitment"]))
    return None if o is None else int(o.value["amount"])


def bundle_commitments(data: bytes) -> list[tuple[str, bytes]]:
    """``(label, commitment)`` of every committed money field in a bundle's records.

    Raises:
        ProofError: the bundle or one of its records is malformed.
    """
    bundle = Bundle.decode(data)
    found = []
    for r in bundle.records:
        try:
            entry = Record.from_wire(r.record).entry()
        except LedgerError as exc:
            raise ProofError(f"record {r.index} of the bundle: {exc}") from exc
        found.extend(disclosure.commitments(entry))
    return found


def add_disclosures(data: bytes, openings: Sequence[Opening]) -> bytes:
    """The bundle ``data`` with ``openings`` added to what it discloses (specs/proof-bundle.md
    §2.4). Each opening must open a commitment of the bundle's records.

    Raises:
        ProofError: malformed bundle, or an opening that opens nothing in it.
    """
    bundle = Bundle.decode(data)
    merged = list(bundle.disclose)
    have = {o.commitment() for o in merged}
    merged.extend(o for o in openings if o.commitment() not in have)
    merged.sort(key=lambda o: o.commitment())
    if len(merged) > MAX_DISCLOSURES:
        raise ProofError(f"a bundle discloses at most {MAX_DISCLOSURES} values")
    entries = [Record.from_wire(r.record).entry() for r in bundle.records]
    disclosure.check_openings(merged, entries)
    return dataclasses.replace(bundle, disclose=tuple(merged)).encode()


@contextmanager
def _check(name: str) -> Iterator[None]:
    """Name the check of specs/proof-bundle.md §4 a ProofError raised inside comes from."""
    try:
        yield
    except ProofError as exc:
        if exc.check is None:
            exc.check = name
        raise


#: Every check name :func:`verdict` can report for a bundle that does not verify, in the
#: order of specs/proof-bundle.md §4; a replay failure and a state-map failure report their
#: rule ID instead (``R-..``).
CHECKS = (
    "decode",
    "checkpoint",
    "origin",
    "order",
    "genesis",
    "inclusion",
    "ledger",
    "item",
    "dag",
    "attestation",
    "disclose",
    "evidence",
    "cosignature",
)


def verdict(
    data: bytes,
    verifier: note.Verifier,
    *,
    buyer_policy: policy.Policy | None = None,
    as_of: str | None = None,
) -> tuple[str, str | None]:
    """A bundle's verdict as the conformance corpus states it (specs/vectors/bundles):
    ``("valid", None)``; ``("rejected", RULE)``, a valid proof of an item that is
    quarantined or fails the policy, RULE being the first failure's; or ``("invalid",
    RULE_OR_CHECK)``, a bundle that does not verify, naming the rule its replay or state
    map breaks, else the check of specs/proof-bundle.md §4 that failed."""
    try:
        report = inspect_bundle(data, verifier, buyer_policy=buyer_policy, as_of=as_of)
    except ProofError as exc:
        return "invalid", exc.check or exc.rule or "unknown"
    if report.policy_failures:
        return "rejected", report.policy_failures[0].rule
    return "valid", None


def map_keys(state: rules.State, item: str) -> list[tuple[str, str]]:
    """The state keys a bundle proves at its checkpoint, in order (specs/proof-bundle.md
    §2.3): the item, every participant and key the records register, the KP status of
    those participants' countries and every rule parameter."""
    keys = {("parcel", item)}
    for name, party in state.items("party"):
        keys.add(("party", name))
        keys.add(("kp", party["country"]))
    keys.update(("kid", kid) for kid, _ in state.items("kid"))
    keys.update(("param", name) for name in rules.PARAMETERS)
    return sorted(keys)


def check_latest_state(
    bundle: Bundle, cp: note.Checkpoint, state: rules.State, replayed: statemap.MemoryMap
) -> int:
    """Check the bundle's state-map proofs against the checkpoint's map root and the state
    its records replay to (specs/proof-bundle.md §4 step 6); returns the record index of the
    item's latest change.

    Raises:
        ProofError: (R-SM-1) a proof is missing, extra, invalid, or shows another state than
            the records: the bundle was cut short, relabelled or forged.
    """
    committed = note.map_root(cp)
    wanted = map_keys(state, bundle.item)
    have = [(p.kind, p.key) for p in bundle.map_proofs]
    if have != wanted:
        missing = [f"{k}/{n}" for k, n in wanted if (k, n) not in set(have)]
        extra = [f"{k}/{n}" for k, n in have if (k, n) not in set(wanted)]
        raise ProofError(
            "state map: the bundle must prove exactly the keys its records use, in order"
            + (f"; missing {', '.join(missing[:5])}" if missing else "")
            + (f"; unexpected {', '.join(extra[:5])}" if extra else "")
            + ("" if missing or extra else "; out of order or repeated"),
            rule="R-SM-1",
        )
    latest = -1
    for p in bundle.map_proofs:
        name = f"{p.kind}/{p.key}"
        try:
            statemap.verify_proof(p, committed)
        except ProofError as exc:
            raise ProofError(f"state map: {exc.message}", rule="R-SM-1") from exc
        leaf = replayed.get(statemap.key_hash(p.kind, p.key))
        if not p.present:
            if leaf is not None:
                raise ProofError(
                    f"state map: {name} is absent from the map of checkpoint {cp.size}, yet the "
                    f"bundle's record {leaf.index} sets it",
                    rule="R-SM-1",
                )
            continue
        if leaf is None or (leaf.vh, leaf.index) != (p.value, p.index):
            shown = "no such state" if leaf is None else f"the state of record {leaf.index}"
            raise ProofError(
                f"state map: as of checkpoint {cp.size}, the latest state of {name} is the one "
                f"record {p.index} made; the bundle's records give {shown} (the bundle is cut "
                "short, omits a later change, or is about something else)",
                rule="R-SM-1",
            )
        if (p.kind, p.key) == ("parcel", bundle.item):
            latest = p.index
    return latest


def map_proofs_for(
    records: Sequence[Record], item: str, prove_key: Any
) -> tuple[statemap.MapProof, ...]:
    """The state-map proofs a bundle of ``records`` about ``item`` carries: replays them
    (signatures unchecked: the store holds verified records) for the keys of
    :func:`map_keys`; ``prove_key(kind, key)`` gives each proof at the checkpoint."""
    result = replay.replay(
        ((r.index, r.raw) for r in sorted(records, key=lambda r: r.index)),
        contiguous=False,
        verify_signatures=False,
    )
    return tuple(prove_key(kind, key) for kind, key in map_keys(result.state, item))


def _time_evidence(
    bundle: Bundle, cp: note.Checkpoint, verifier: note.Verifier, witnesses: Sequence[note.Verifier]
) -> list[TimeProof]:
    """Check each piece of evidence (the operator's signature, consistency with the bundle's
    checkpoint) and return what the known witnesses' cosignatures prove about time.

    Raises:
        ProofError: an evidence checkpoint does not verify or is not consistent.
    """
    out: list[TimeProof] = []
    for ev in bundle.evidence:
        old, signed = note.open_checkpoint(ev.checkpoint, verifier)
        if old.origin != cp.origin or old.size > cp.size:
            raise ProofError(
                f"time evidence: a checkpoint of size {old.size} of {old.origin!r} is not an "
                f"earlier state of this log (size {cp.size})"
            )
        try:
            # With the edge cases of specs/merkle.md §3.3: equal sizes need an empty proof
            # and equal roots, size 0 an empty proof and the empty tree's root.
            merkle.verify_consistency(old.size, cp.size, old.root, cp.root, list(ev.proof))
        except ProofError as exc:
            raise ProofError(
                f"time evidence: the checkpoint of size {old.size} is not consistent with the "
                f"bundle's: {exc.message}"
            ) from exc
        stamps = note.verify_cosignatures(signed, witnesses) if witnesses else {}
        out.extend(TimeProof(old.size, name, ts) for name, ts in sorted(stamps.items()))
    return out


def _evaluate(
    report: BundleReport,
    buyer_policy: policy.Policy,
    signed: note.Note,
    state: rules.State,
    item: Mapping[str, Any],
) -> None:
    """The buyer's policy on a verified item: witnesses, rule packs, custody, sanctioned
    parties (with grandfathering), warranties, nature, import confirmations."""
    from ledger.core import policy, sanctions

    report.cosigners = note.verify_cosignatures(signed, buyer_policy.witness_verifiers())
    try:
        policy.check_quorum(buyer_policy, set(report.cosigners))
    except PolicyError as exc:
        report.fail("R-CH-2", exc.message)
    facts = sanctions.Facts(
        item=report.item,
        kind=report.kind,
        carats=report.carats,
        hs=item.get("hs"),
        may=report.may_contain,
        path=report.path,
        grown=report.grown,
        journey=report.journey,
    )

    def listed(party: str, list_id: str, day: str) -> bool:
        return rules.listed(state.party(party), list_id, day)

    judged = sanctions.judge(
        facts,
        as_of=report.as_of,
        packs=buyer_policy.packs,
        deny_custody=sorted(buyer_policy.deny_custody),
        deny_listed=sorted(buyer_policy.deny_listed),
        listed=listed,
    )
    for rule, message in judged.failures:
        report.fail(rule, message)
    if judged.russian:
        before = buyer_policy.grandfather_before
        proof = _grandfathered(report, buyer_policy, before) if before else None
        if proof is not None:
            report.grandfathered = proof
        else:
            why = (
                f" (no witness-cosigned checkpoint older than {before} shows the goods outside "
                "Russia)"
                if before
                else ""
            )
            for rule, message in judged.russian:
                report.fail(rule, message + why)
    if buyer_policy.require_warranty:
        bare = [s.index for s in report.journey if s.type == "transfer" and s.warranty is None]
        if bare:
            report.fail(
                "R-SW-1",
                f"{len(bare)} B2B transfer(s) of the ancestry carry no System of Warranties "
                f"statement (records {', '.join(map(str, bare))})",
            )
    if buyer_policy.require_natural and report.grown:
        report.fail("R-SW-3", f"{report.item} is laboratory-grown, not natural")
    if buyer_policy.require_import_confirmed:
        unconfirmed = [c["number"] for c in report.certificates if not c["confirmed"]]
        if unconfirmed:
            report.fail(
                "R-KP-3",
                "the importing authority has not confirmed receipt of the crossing(s) under "
                f"KP certificate {', '.join(unconfirmed)}",
            )


def _grandfathered(report: BundleReport, buyer_policy: policy.Policy, before: str) -> str | None:
    """R-SA-3: the goods were outside Russia in a log that policy witnesses cosigned before
    ``before`` (a claimed time alone never grandfathers anything)."""
    from ledger.core import policy, sanctions

    left = sanctions.leaves_russia_at(report.journey)
    if left is None:
        return None
    limit = rules.date_start_ms(before) // 1000
    by_size: dict[int, dict[str, int]] = {}
    for proof in report.time_evidence:
        if proof.size > left and proof.timestamp < limit:
            by_size.setdefault(proof.size, {})[proof.witness] = proof.timestamp
    for size, stamps in sorted(by_size.items()):
        if buyer_policy.quorum != "none":
            try:
                policy.check_quorum(buyer_policy, set(stamps))
            except PolicyError:
                continue
        latest = max(stamps.values())
        return (
            f"outside Russia from record {left}, in a log of {size} records that "
            f"{', '.join(sorted(stamps))} cosigned by {rules.iso_time(latest * 1000)}, before "
            f"{before}"
        )
    return None


def collect(
    item: Mapping[str, Any],
    get_entry: Any,
    get_state: Any,
) -> set[bytes]:
    """Entry ids a bundle for ``item`` must carry (used by the store side).

    ``get_entry(entry_id) -> SignedEntry`` and ``get_state(kind, key)`` read the ledger.
    """
    ids: set[bytes] = set()
    todo = [item["head"]]
    parties: set[str] = set()
    while todo:
        eid = todo.pop()
        if eid in ids:
            continue
        ids.add(eid)
        entry: SignedEntry = get_entry(eid)
        info = get_state("kid", entry.body.signer.hex())
        if info:
            parties.add(info["name"])
        for sig in entry.sigs:
            sinfo = get_state("kid", sig.kid.hex())
            if sinfo:
                parties.add(sinfo["name"])
        f = entry.fields
        if entry.type == "transfer":
            parties.add(f["to"])
            if "certificate" in f:
                cert = get_state("cert", f["certificate"])
                if cert:
                    todo.append(cert["id"])
                    if "confirmed" in cert:
                        todo.append(cert["confirmed"])
        if entry.type == "certificate.issue":
            parties.update((f["exporter"], f["importer"]))
            # The certificate checks the exporter held its parcels: their states are ancestors
            # of the transfer it covers, so nothing more is needed here.
        todo.extend(rules.entry_parents(entry))
    # Each party's registry entries (designations included), and those of whoever signed
    # them (a sanctions list's publisher), until no new party appears.
    countries: set[str] = set()
    done: set[str] = set()
    pending = sorted(parties)
    while pending:
        name = pending.pop()
        if name in done:
            continue
        done.add(name)
        party = get_state("party", name)
        if not party:
            continue
        ids.update(party["entries"])
        countries.add(party["country"])
        for eid in party["entries"]:
            signer = get_state("kid", get_entry(eid).body.signer.hex())
            if signer and signer["name"] not in done:
                pending.append(signer["name"])
    for country in countries:
        ids.update(get_state("kp-entries", country) or [])
    for name in rules.PARAMETERS:  # the rule parameters the replay judges by
        ids.update(get_state("param-entries", name) or [])
    # The governance set at every record (specs/rules.md §3.9): the replay checks each
    # registry entry above against the governors in force, with their co-signatures.
    gov = get_state("gov", "set")
    if gov:
        ids.update(gov["entries"])
    return ids


def make_bundle(
    origin: str,
    item_id: str,
    checkpoint_note: str,
    size: int,
    records: Sequence[Record],
    reader: merkle.HashReader,
    attestation: str | None = None,
    evidence: Sequence[tuple[int, str]] = (),
    map_proofs: Sequence[statemap.MapProof] = (),
) -> Bundle:
    """Assemble a bundle from records (sorted here) and a hash reader at ``size``;
    ``evidence`` are earlier cosigned checkpoints ``(size, note)`` to prove time with."""
    out = []
    for r in sorted(records, key=lambda r: r.index):
        if r.index >= size:
            raise ProofError(
                f"record {r.index} is newer than the checkpoint (size {size}); "
                "sign a new checkpoint first"
            )
        out.append(
            BundleRecord(r.index, r.raw, tuple(merkle.inclusion_proof(r.index, size, reader)))
        )
    proofs = tuple(
        Evidence(text, tuple(merkle.consistency_proof(old, size, reader)) if 0 < old < size else ())
        for old, text in evidence
    )
    return Bundle(
        origin, item_id, checkpoint_note, tuple(out), tuple(map_proofs), attestation, proofs
    )


def evidence_for(
    journey: Sequence[Step], checkpoints: Sequence[tuple[int, str]], size: int
) -> list[tuple[int, str]]:
    """The time evidence a bundle of a journey carries (R-SA-3): the earliest stored
    checkpoint, cosigned by at least one witness, that holds the record from which the goods
    are outside Russia (none for goods that never were in Russia)."""
    from ledger.core import sanctions

    left = sanctions.leaves_russia_at(journey)
    if left is None:
        return []
    for cp_size, text in sorted(checkpoints):
        if left < cp_size <= size and len(note.parse_note(text).signatures) > 1:
            return [(cp_size, text)]
    return []
