"""What a ledger offers its callers, whether it is a file or a node (``LedgerAPI``).

:class:`ledger.ledger.Ledger` (a ledger file) and :class:`ledger.net.client.RemoteLedger`
(a node over HTTP) both implement :class:`LedgerAPI`; mypy checks it. The CLI, the demo
and any other caller are written against this protocol, so that every command works on a
file and on a node alike.

Here too are what a caller needs on top of the protocol, written once:
:func:`append_entries` (append, and sign a checkpoint that includes the entries),
:func:`verify_consistency` (two signed checkpoints of one log) and :func:`latest_failure`
(whether a bundle still shows an item's latest state), :func:`export_epcis` (the
ledger as GS1 EPCIS 2.0 events, specs/epcis.md) and :func:`entries_from_epcis` (signed
entries for EPCIS events, to append). Pure apart from what the ledger passed in does.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ledger.core import disclosure, epcis, merkle, note, rules
from ledger.core.disclosure import Opening
from ledger.core.journey import Step
from ledger.core.keys import PrivateKey
from ledger.core.model import Body, Record, SignedEntry, add_signature, sign_body
from ledger.core.proofs import BundleReport
from ledger.core.rules import VoidEntry
from ledger.errors import EncodingError, NotFoundError, ProofError, UsageError
from ledger.storage.store import Appended

__all__ = [
    "FILE_SCOPE",
    "GOVERNANCE_NOTE",
    "NODE_SCOPE",
    "Appended",
    "LedgerAPI",
    "Signing",
    "Trace",
    "VerifyReport",
    "append_entries",
    "entries_from_epcis",
    "entry_prefix",
    "export_epcis",
    "latest_failure",
    "proposal_status",
    "verify_consistency",
]

#: Why a ledger file keeps no pending proposals (a node does, specs/node.md §2.5).
GOVERNANCE_NOTE = (
    "pending proposals are kept by a node (--ledger URL); offline, pass the --out file from "
    "governor to governor ('kpledger governance sign FILE') and submit it"
)

#: What ``verify`` of a ledger file checks.
FILE_SCOPE = (
    "every record's encoding, chain link, signatures and rules; the cached columns, "
    "derived state, Merkle tiles and every stored checkpoint"
)
#: What ``verify`` against a node checks (a node's tables are not readable remotely).
NODE_SCOPE = (
    "every record the node serves, replayed locally (encoding, chain links, signatures, "
    "rules) and its latest checkpoint against the replayed tree; the node's own derived "
    "tables are not checked (sync a mirror and verify the mirror for that)"
)


@dataclass
class VerifyReport:
    """A valid log: its size, root, WARN counts by rule, checkpoints checked, and what
    exactly was checked (``scope``)."""

    size: int
    root: bytes
    warnings: Counter[str] = field(default_factory=Counter)
    checkpoints: int = 0
    scope: str = FILE_SCOPE
    #: Items whose ancestry holds an entry signed with a compromised key (R-ID-2), each
    #: with the first such entry; empty when no key was ever compromised.
    quarantined: dict[str, VoidEntry] = field(default_factory=dict)
    #: Accepted crossings whose import confirmation is overdue (R-KP-3, WARN): certificate
    #: number and days since acceptance.
    unconfirmed: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Trace:
    """An item's ancestry: its state, the steps back to every origin (log order), the KP
    certificates its rough crossed borders under, and the origin parcels."""

    item: dict[str, Any]
    steps: list[Step]
    certificates: list[dict[str, Any]]
    origins: list[dict[str, Any]]
    #: Entries of the ancestry signed with a compromised key (R-ID-2): quarantined if any.
    quarantine: list[VoidEntry] = field(default_factory=list)


def _fresh_salt() -> bytes:
    return secrets.token_bytes(disclosure.SALT_SIZE)


def entry_prefix(text: str) -> str:
    """A typed entry id or prefix, lower-cased.

    Raises:
        UsageError: fewer than 8 hex digits, or not hex.
    """
    t = text.lower()
    if len(t) < 8 or any(c not in "0123456789abcdef" for c in t):
        raise UsageError(f"entry id {text!r}: expected at least 8 hex digits")
    return t


class Signing:
    """Signing entries for a ledger's origin, shared by the file and the remote ledger.

    Money fields are committed, not signed in clear (specs/disclosure.md): :meth:`sign`
    replaces each by a salted commitment and keeps its opening in :attr:`pending` (by
    commitment) until the entry is appended (a ledger file keeps the openings of the
    entries it appends) or written to an entry file.
    """

    origin: str
    pending: dict[bytes, Opening]

    def sign(
        self,
        entry_type: str,
        fields: dict[str, Any],
        key: PrivateKey,
        *,
        now: int,
        cosigners: Sequence[PrivateKey] = (),
        salt: Callable[[], bytes] | None = None,
    ) -> SignedEntry:
        """Build and sign an entry for this ledger's origin (not appended); clear money
        fields are committed under fresh salts (``salt()``, by default 32 random bytes from
        the operating system)."""
        sealed, openings = disclosure.seal(entry_type, fields, salt or _fresh_salt)
        body = Body(entry_type, self.origin, key.kid, now, sealed)
        entry = sign_body(body, [key.seed, *(c.seed for c in cosigners)])
        self.hold(openings)
        return entry

    def hold(self, openings: Iterable[Opening]) -> None:
        """Hold ``openings`` (say, of an entry file being submitted) as :meth:`sign` holds
        its own: a ledger file keeps those of the entries it appends."""
        if not hasattr(self, "pending"):
            self.pending = {}
        self.pending.update((o.commitment(), o) for o in openings)

    def pending_openings(self, entries: Iterable[SignedEntry]) -> list[Opening]:
        """The held openings of the commitments of ``entries`` (each once)."""
        pending = getattr(self, "pending", {})
        found = {
            c: pending[c] for e in entries for _, c in disclosure.commitments(e) if c in pending
        }
        return list(found.values())

    def cosign(self, entry: SignedEntry, key: PrivateKey) -> SignedEntry:
        """Add ``key``'s signature to ``entry`` (the entry id changes with the envelope)."""
        return add_signature(entry, key.seed)


@runtime_checkable
class LedgerAPI(Protocol):
    """One ledger, local or remote: everything the CLI asks of it."""

    origin: str
    operator: bytes
    operator_name: str

    def close(self) -> None: ...

    def sign(
        self,
        entry_type: str,
        fields: dict[str, Any],
        key: PrivateKey,
        *,
        now: int,
        cosigners: Sequence[PrivateKey] = (),
        salt: Callable[[], bytes] | None = None,
    ) -> SignedEntry: ...

    def hold(self, openings: Iterable[Opening]) -> None: ...

    def pending_openings(self, entries: Iterable[SignedEntry]) -> list[Opening]: ...

    def cosign(self, entry: SignedEntry, key: PrivateKey) -> SignedEntry: ...

    def check(self, entries: Sequence[SignedEntry], *, now: int) -> list[Appended]: ...

    def append(
        self,
        entries: Sequence[SignedEntry],
        *,
        now: int,
        progress: Callable[[int], None] | None = None,
    ) -> list[Appended]: ...

    def append_checkpointed(
        self,
        entries: Sequence[SignedEntry],
        key: PrivateKey,
        *,
        now: int,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[list[Appended], str]: ...

    def parcel(self, pid: str) -> dict[str, Any]: ...

    def input_ref(self, pid: str) -> dict[str, Any]: ...

    def party(self, name_or_prefix: str) -> dict[str, Any]: ...

    def participants(self) -> list[dict[str, Any]]: ...

    def kp_statuses(self) -> dict[str, list[list[str]]]: ...

    def inventory(self, name: str) -> list[dict[str, Any]]: ...

    def transfer(self, transfer_id: bytes) -> dict[str, Any]: ...

    def certificate(self, number: str) -> dict[str, Any]: ...

    def parameters(self, day: str) -> list[dict[str, Any]]: ...

    def governance(self) -> dict[str, Any] | None: ...

    def proposals(self) -> list[dict[str, Any]]: ...

    def propose(self, entry: SignedEntry) -> dict[str, Any]: ...

    def warranties(self, name: str, start: str, end: str) -> dict[str, Any]: ...

    def resolve_entry(self, text: str) -> bytes: ...

    def certificate_fields(
        self,
        *,
        number: str,
        parcels: Sequence[str],
        exporter: str,
        importer: str,
        value_usd_cents: int,
        expires: str,
    ) -> dict[str, Any]: ...

    def size(self) -> int: ...

    def records(self, start: int = 0, end: int | None = None) -> Iterable[Record]: ...

    def entry(self, entry_id: bytes) -> tuple[Record, SignedEntry]: ...

    def findings(self, index: int | None = None) -> list[tuple[int, str, str]]: ...

    def signer_name(self, kid: bytes) -> str: ...

    def history(self, pid: str) -> list[tuple[Record, SignedEntry]]: ...

    def trace(self, pid: str) -> Trace: ...

    def verify(
        self,
        *,
        progress: Callable[[int], None] | None = None,
        jobs: int = 1,
        chunk: int = 0,
    ) -> VerifyReport: ...

    def checkpoint(self, key: PrivateKey) -> str: ...

    def latest_checkpoint(self) -> str: ...

    def verifier(self) -> note.Verifier: ...

    def inclusion_proof(self, index: int, size: int | None = None) -> dict[str, Any]: ...

    def consistency_proof(self, old: int, new: int) -> dict[str, Any]: ...

    def prove(self, pid: str, key: PrivateKey | None = None) -> bytes: ...


def append_entries(
    ledger: LedgerAPI,
    entries: Sequence[SignedEntry],
    *,
    now: int,
    checkpoint_key: PrivateKey | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Appended], str | None]:
    """Append ``entries``; with ``checkpoint_key``, also sign a checkpoint that includes them.

    A ledger file appends and signs in one transaction, so a checkpoint key that is not
    the operator's writes nothing. A node signs a checkpoint after every append itself;
    the operator's key then re-signs the node's latest one locally, which proves the node
    holds the same key.

    Returns:
        The appended records and the signed checkpoint (None without ``checkpoint_key``).

    Raises:
        LedgerError: an entry is rejected (nothing is appended), or the checkpoint key is
            not the operator's.
    """
    if checkpoint_key is None:
        return ledger.append(entries, now=now, progress=progress), None
    return ledger.append_checkpointed(entries, checkpoint_key, now=now, progress=progress)


def proposal_status(
    entry: SignedEntry,
    governance: dict[str, Any] | None,
    name_of: Callable[[bytes], str],
    *,
    now: int,
) -> dict[str, Any]:
    """Where a proposed registry change stands (specs/rules.md §3.9): who proposed and who
    signed it, how many of the k governor signatures it has, who has yet to sign, and when
    it expires. ``governance`` is ``LedgerAPI.governance()``; ``name_of`` names a key id."""
    members: dict[bytes, str] = {}
    threshold = 1
    if governance is not None:
        members = {bytes(g["kid"]): str(g["name"]) for g in governance["governors"]}
        threshold = int(governance["threshold"])
    approved = [s.kid for s in entry.sigs if s.kid in members]
    expires = entry.body.time + rules.PROPOSAL_TTL_MS
    return {
        "proposal": rules.proposal_id(entry).hex(),
        "entry": entry.id.hex(),
        "type": entry.type,
        "proposer": name_of(entry.body.signer),
        "signed_by": [name_of(s.kid) for s in entry.sigs],
        "approvals": len(approved),
        "threshold": threshold,
        "governors": len(members),
        "missing": [name for kid, name in members.items() if kid not in approved],
        "time": entry.body.time,
        "expires": expires,
        "expired": governance is not None and now > expires,
        "ready": governance is not None and len(approved) >= threshold,
    }


def verify_consistency(
    ledger: LedgerAPI, old_note: str, new_note: str, verifier: note.Verifier
) -> tuple[int, int]:
    """Check that the log only grew between two signed checkpoints; return both sizes.

    The consistency proof comes from ``ledger``; it is checked against the two roots,
    which the operator signed, so a ledger that answers falsely cannot make it pass.

    Raises:
        ProofError: a signature, the origins, the order of the sizes or the proof is bad.
    """
    old, _ = note.open_checkpoint(old_note, verifier)
    new, _ = note.open_checkpoint(new_note, verifier)
    if old.origin != new.origin:
        raise ProofError(f"checkpoints are of different logs: {old.origin} and {new.origin}")
    if old.size > new.size:
        raise ProofError(f"the old checkpoint ({old.size}) is larger than the new ({new.size})")
    proof = ledger.consistency_proof(old.size, new.size)["proof"]
    merkle.verify_consistency(old.size, new.size, old.root, new.root, proof)
    return old.size, new.size


def latest_failure(ledger: LedgerAPI, report: BundleReport) -> str | None:
    """Why a verified bundle no longer shows its item's latest state, or None if it does.

    ``ledger`` is a mirror or a node of the bundle's log, asked online.

    Raises:
        ProofError: ``ledger`` is another log than the bundle's.
        NotFoundError: ``ledger`` does not know the item.
    """
    if ledger.origin != report.origin:
        raise ProofError(f"--ledger is {ledger.origin!r}, the bundle is of {report.origin!r}")
    head = ledger.parcel(report.item)["head"]
    if head.hex() == report.head:
        return None
    record, entry = ledger.entry(head)
    return (
        f"the ledger has later events of {report.item} than the bundle shows "
        f"(latest: record {record.index}, {entry.type}); the bundle is stale or truncated"
    )


def _state_reader(ledger: LedgerAPI) -> epcis.StateReader:
    """The core's state lookups through the ledger's API (memoised: a node answers each
    lookup over HTTP)."""
    cache: dict[tuple[str, str], Any] = {}

    def lookup(kind: str, key: str) -> Any:
        if kind == "kid":
            return {"name": ledger.signer_name(bytes.fromhex(key))}
        if kind == "party":
            return ledger.party(key)
        if kind == "transfer":
            return ledger.transfer(bytes.fromhex(key))
        if kind == "parcel":
            return ledger.parcel(key)
        return None

    def read(kind: str, key: str) -> Any:
        if (kind, key) not in cache:
            try:
                cache[kind, key] = lookup(kind, key)
            except NotFoundError:
                cache[kind, key] = None
        return cache[kind, key]

    return read


def _ancestry(ledger: LedgerAPI, pid: str) -> list[tuple[Record, SignedEntry]]:
    """The entries of an item's ancestry (the walk ``Ledger.trace`` makes: every state its
    latest state consumed, back to the origins), plus the issue and confirmation of every
    KP certificate a transfer in it travelled under (as a provenance bundle carries them).

    Raises:
        NotFoundError: no such item.
    """
    found: dict[bytes, tuple[Record, SignedEntry]] = {}
    certificates: set[str] = set()
    todo = [ledger.parcel(pid)["head"]]
    while todo:
        eid = todo.pop()
        if eid in found:
            continue
        record, entry = ledger.entry(eid)
        found[eid] = (record, entry)
        number = entry.fields.get("certificate") if entry.type == "transfer" else None
        if number is not None and number not in certificates:
            certificates.add(number)
            try:
                cert = ledger.certificate(number)
            except NotFoundError:  # cited but issued elsewhere: nothing more to add
                cert = {}
            todo.extend(cert[k] for k in ("id", "confirmed") if cert.get(k) is not None)
        todo.extend(rules.entry_parents(entry))
    return list(found.values())


def export_epcis(
    ledger: LedgerAPI, item: str | None = None, openings: Sequence[Opening] = ()
) -> dict[str, Any]:
    """The ledger, or one item's ancestry, as a GS1 EPCIS 2.0 document (specs/epcis.md).

    Every exported event's ``eventID`` is ``ni:///sha-256;<entry id hex>``. The document's
    ``creationDate`` is the append time of the log's last record, so exporting the same
    log twice gives the same document.

    Args:
        ledger: a ledger file or a node.
        item: a parcel or stone id: export its ancestry; None: export the whole log.
        openings: openings to disclose; every other price and value is exported as its
            commitment (specs/disclosure.md).

    Returns:
        A JSON-ready dict; write it with its key order kept.

    Raises:
        NotFoundError: ``item`` is not in the ledger.
    """
    if item is None:
        size = ledger.size()
        pairs = [(r, r.entry()) for r in ledger.records(0, size)]
    else:
        pairs = _ancestry(ledger, item)
        size = ledger.size()
    last = pairs[-1][0] if item is None and pairs else next(iter(ledger.records(size - 1, size)))
    return epcis.to_document(
        pairs,
        _state_reader(ledger),
        origin=ledger.origin,
        size=size,
        created=last.time,
        item=item,
        openings=openings,
    )


def entries_from_epcis(ledger: LedgerAPI, document: Any, key: PrivateKey) -> list[SignedEntry]:
    """Sign, with ``key``, one entry for each event of an EPCIS document (specs/epcis.md §6).

    Nothing is appended: the caller appends the list in one call, so that the ledger
    takes all of it or none. Each entry claims its event's ``eventTime``. An event may
    name parcels, stones and offers that earlier events of the same document made: their
    heads are the new entries, and an offer named by its exported ``eventID`` is the new
    offer signed for that event.

    Raises:
        EncodingError: the document is not an EPCIS document, or an event (named by its
            position) maps to no entry or lacks what its entry needs.
        NotFoundError: an event names a parcel or offer this ledger does not know.
    """
    body = document.get("epcisBody") if isinstance(document, dict) else None
    events = body.get("eventList") if isinstance(body, dict) else None
    if not isinstance(events, list) or not events:
        raise EncodingError("not an EPCIS document with events (epcisBody.eventList)")
    heads: dict[str, bytes] = {}
    renamed: dict[bytes, bytes] = {}
    offers: dict[bytes, list[str]] = {}

    def head(pid: str) -> bytes:
        return heads[pid] if pid in heads else bytes(ledger.input_ref(pid)["head"])

    def offer_parcels(offer: bytes) -> list[str]:
        return offers[offer] if offer in offers else list(ledger.transfer(offer)["parcels"])

    out = []
    for n, event in enumerate(events):
        try:
            entry_type, fields, time = epcis.entry_of(event, head, lambda e: renamed.get(e, e))
            entry = ledger.sign(entry_type, fields, key, now=time)
            changed = epcis.items_changed(entry_type, fields, offer_parcels)
        except (EncodingError, NotFoundError) as exc:
            raise type(exc)(f"event {n}: {exc.message}", rule=exc.rule) from exc
        if entry_type == "transfer":
            offers[entry.id] = [i["parcel"] for i in fields["inputs"]]
        heads.update((pid, entry.id) for pid in changed)
        try:
            renamed[epcis.entry_id_of(event)] = entry.id
        except ValueError:  # an event ID of another form: nothing can name it as an entry
            pass
        out.append(entry)
    return out
