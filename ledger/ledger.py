"""``Ledger``: one ledger file, the :class:`ledger.api.LedgerAPI` of the library.

It composes the pure core (model, rules, replay, merkle, note, proofs) with the store.
Each method does one user-level operation; the clock arrives as ``now`` (milliseconds)
so callers, tests and the simulator control time. ``verify`` is :mod:`ledger.verify`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

from ledger.api import GOVERNANCE_NOTE, LedgerAPI, Signing, Trace, VerifyReport, entry_prefix
from ledger.core import disclosure, merkle, note, proofs, rules
from ledger.core.disclosure import Opening
from ledger.core.journey import narrate
from ledger.core.keys import PrivateKey
from ledger.core.model import Body, Record, SignedEntry, did_you_mean, key_id, sign_body
from ledger.errors import LedgerError, NotFoundError, ProofError, StoreError, UsageError
from ledger.storage import context
from ledger.storage.openings import OpeningStore
from ledger.storage.store import Appended, Store


class Ledger(Signing):
    """One ledger file."""

    def __init__(self, store: Store) -> None:
        self.store = store
        identity = _genesis_identity(store)
        if identity is None:
            raise StoreError(
                f"ledger {store.path} has no readable genesis record (record 0); "
                "'kpledger verify' names what is wrong with it"
            )
        self.origin, self.operator_name, self._operator_pub = identity
        self.operator: bytes = key_id(self._operator_pub)

    # -- life cycle ---------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str,
        operator: PrivateKey,
        origin: str,
        *,
        now: int,
        governors: Sequence[tuple[str, bytes]] = (),
        threshold: int | None = None,
    ) -> Ledger:
        """Create ``path`` with a genesis entry naming the operator key and origin and, with
        ``governors`` (name, public key) and ``threshold`` k, the governance set: every
        registry change then needs k of their signatures (specs/rules.md §3.9).

        Raises:
            StoreError: the file exists.
            UsageError: the origin is not a valid C2SP origin line; governors without a
                threshold or the reverse.
            RuleError: R-GV-3, the governance set is invalid (nothing is written).
        """
        if not origin or any(c.isspace() for c in origin) or "+" in origin or len(origin) > 200:
            raise UsageError("origin must be non-empty, at most 200 characters, no spaces or '+'")
        fields: dict[str, Any] = {"operator": operator.public, "name": operator.name}
        if bool(governors) != (threshold is not None):
            raise UsageError("--governors and --threshold go together")
        if threshold is not None:
            members = [{"name": n, "pub": p} for n, p in governors]
            rules.check_set(members, threshold)
            fields.update({"governors": members, "threshold": threshold})
        body = Body("genesis", origin, operator.kid, now, fields)
        entry = sign_body(body, [operator.seed])
        store = Store.create(path)
        try:
            store.append([entry], now=now)
        except BaseException:
            store.discard()  # no half-made ledger is left behind
            raise
        return cls(store)

    @classmethod
    def open(cls, path: str) -> Ledger:
        return cls(Store.open(path))

    def close(self) -> None:
        self.store.close()

    def _refuse_context(self, what: str) -> None:
        """A context file (``kpledger context export``) holds no log to verify or sign.

        Raises:
            UsageError: this is a context file.
        """
        found = self.store.context()
        if found is not None:
            raise UsageError(
                f"{self.store.path} is a context file for offline signing (state of a ledger "
                f"of {found.get('size')} records), not a ledger: {what} needs the ledger itself"
            )

    # -- writing --------------------------------------------------------------

    def append(
        self,
        entries: Sequence[SignedEntry],
        *,
        now: int,
        progress: Callable[[int], None] | None = None,
    ) -> list[Appended]:
        """Validate and append ``entries`` in one transaction (all or nothing), keeping the
        openings of their commitments that :meth:`sign` made or :meth:`hold` was given in
        the file, outside the log (specs/disclosure.md §4).

        Raises:
            ProofError: a held opening contradicts its entry (nothing is written).
        """
        kept = self._openings_of(entries)
        return self.store.append(entries, now=now, progress=progress, openings=kept)

    def _openings_of(self, entries: Sequence[SignedEntry]) -> list[Opening]:
        kept = self.pending_openings(entries)
        if kept:
            disclosure.check_openings(kept, entries)
        return kept

    def openings(self) -> OpeningStore:
        """The openings this party keeps in the file (never in the log)."""
        return self.store.openings()

    def export_context(self, path: str, holder: str | None, *, now: int) -> dict[str, Any]:
        """Write a context file for offline signing (``ledger.storage.context``).

        Raises:
            StoreError: ``path`` exists or cannot be written.
            UsageError: this is a context file already, or the ledger is empty.
            NotFoundError: ``holder`` is no participant.
        """
        name = self.party(holder)["name"] if holder is not None else None
        with self.store.snapshot():
            return context.export_context(self.store.conn, path, name, now)

    def check(self, entries: Sequence[SignedEntry], *, now: int) -> list[Appended]:
        """Validate ``entries`` as :meth:`append` would and return what it would append;
        nothing is written (``--dry-run``)."""
        return self.store.append(entries, now=now, dry_run=True)

    def append_checkpointed(
        self,
        entries: Sequence[SignedEntry],
        key: PrivateKey,
        *,
        now: int,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[list[Appended], str]:
        """Append and sign a checkpoint that includes the entries, in one transaction.

        Raises:
            ProofError: the key is not the operator's (nothing is written).
        """
        if key.kid != self.operator:
            raise ProofError("only the operator key signs checkpoints")
        notes: list[str] = []

        def sign(size: int, root: bytes, map_root: bytes) -> str:
            notes.append(
                note.sign_checkpoint(
                    note.kpledger_checkpoint(self.origin, size, root, map_root),
                    self.origin,
                    key.seed,
                )
            )
            return notes[-1]

        kept = self._openings_of(entries)
        done = self.store.append(
            entries, now=now, progress=progress, checkpoint=sign, openings=kept
        )
        return done, notes[-1]

    # -- state lookups ----------------------------------------------------------

    def parcel(self, pid: str) -> dict[str, Any]:
        value = self.store.state_value("parcel", pid)
        if value is None:
            hint = did_you_mean(pid, self.store.near_keys("parcel", pid))
            raise NotFoundError(f"no parcel or stone {pid!r} in this ledger{hint}", rule="R-CU-6")
        return dict(value)

    def input_ref(self, pid: str) -> dict[str, Any]:
        """``{parcel, head}``: what a consuming entry names for the parcel's current state."""
        return {"parcel": pid, "head": self.parcel(pid)["head"]}

    def party(self, name_or_prefix: str) -> dict[str, Any]:
        """A participant by name or by a key-id hex prefix (at least 8 digits).

        Raises:
            NotFoundError: no such participant, or the prefix is ambiguous.
        """
        value = self.store.state_value("party", name_or_prefix)
        if value is not None:
            return dict(value)
        prefix = name_or_prefix.lower()
        if len(prefix) >= 8 and all(c in "0123456789abcdef" for c in prefix):
            hits = [
                p for _, p in self.store.state_items("party") if p["kid"].hex().startswith(prefix)
            ]
            if len(hits) == 1:
                return dict(hits[0])
            if len(hits) > 1:
                raise NotFoundError(
                    f"key-id prefix {name_or_prefix!r} matches several participants"
                )
        hint = did_you_mean(name_or_prefix, (k for k, _ in self.store.state_items("party")))
        raise NotFoundError(
            f"no participant {name_or_prefix!r}{hint} (see 'kpledger participant list')"
        )

    def participants(self) -> list[dict[str, Any]]:
        return [p for _, p in self.store.state_items("party")]

    def kp_statuses(self) -> dict[str, list[list[str]]]:
        return {k: v for k, v in self.store.state_items("kp")}

    def inventory(self, name: str) -> list[dict[str, Any]]:
        holder = self.party(name)["name"]
        return [
            p
            for _, p in self.store.state_items("parcel")
            if p["holder"] == holder and p["status"] in ("live", "locked")
        ]

    def transfer(self, transfer_id: bytes) -> dict[str, Any]:
        value = self.store.state_value("transfer", transfer_id.hex())
        if value is None:
            raise NotFoundError(f"no transfer {transfer_id.hex()[:16]}")
        return dict(value)

    def certificate(self, number: str) -> dict[str, Any]:
        """A KP certificate as the ledger holds it (issue, shipment, confirmation).

        Raises:
            NotFoundError: no certificate of that number.
        """
        value = self.store.state_value("cert", number)
        if value is None:
            raise NotFoundError(f"no KP certificate {number!r} in this ledger", rule="R-KP-2")
        return dict(value)

    def parameters(self, day: str) -> list[dict[str, Any]]:
        """Every rule parameter: its value in force on ``day``, default, meaning, changes."""
        state = rules.State(_StoreBacking(self.store))
        return [
            {
                "name": name,
                "value": rules.param(state, name, day),
                "default": spec.default,
                "meaning": spec.meaning,
                "rule": spec.rule,
                "changes": [list(c) for c in state.get("param", name) or ()],
            }
            for name, spec in sorted(rules.PARAMETERS.items())
        ]

    def governance(self) -> dict[str, Any] | None:
        """The governance set in force (specs/rules.md §3.9), or None (operator-governed)."""
        return governance_view(self.store.state_value("gov", "set"), self.store.state_value)

    def proposals(self) -> list[dict[str, Any]]:
        """Pending proposals: none in a file (a node keeps them)."""
        return []

    def propose(self, entry: SignedEntry) -> dict[str, Any]:
        """Raises UsageError: a file keeps no pending proposals (:data:`GOVERNANCE_NOTE`)."""
        raise UsageError(GOVERNANCE_NOTE)

    def warranties(self, name: str, start: str, end: str) -> dict[str, Any]:
        """The System of Warranties reconciliation of participant ``name`` (R-SW-1/2): the
        warranties it received and issued on accepted transfers appended from ``start`` to
        ``end`` (dates, inclusive), the goods it produced, and what it issued beyond what it
        received and produced."""
        who = self.party(name)["name"]
        t0 = rules.date_start_ms(start)
        t1 = rules.date_start_ms(end) + rules.DAY_MS
        received: list[dict[str, Any]] = []
        issued: list[dict[str, Any]] = []
        produced = 0
        for record in self.store.records_of_types(("transfer", "origin", "grow"), t0, t1):
            entry = record.entry()
            f = entry.fields
            signer = self.signer_name(entry.body.signer)
            if entry.type in ("origin", "grow"):
                produced += f["carats"] if signer == who else 0
                continue
            offer = self.store.state_value("transfer", entry.id.hex()) or {}
            if offer.get("status") != "accepted" or who not in (signer, f["to"]):
                continue
            carats = sum(self.parcel(i["parcel"])["carats"] for i in f["inputs"])
            row = {
                "index": record.index,
                "entry": entry.id.hex(),
                "day": rules.date_of(record.time),
                "from": signer,
                "to": f["to"],
                "parcels": [i["parcel"] for i in f["inputs"]],
                "carats": carats,
                "warranty": f.get("warranty"),
                "wdc": f.get("wdc"),
            }
            (issued if signer == who else received).append(row)
        warranted_in = sum(r["carats"] for r in received if r["warranty"])
        warranted_out = sum(r["carats"] for r in issued if r["warranty"])
        return {
            "participant": who,
            "from": start,
            "to": end,
            "received": received,
            "issued": issued,
            "produced": produced,
            "warranted_in": warranted_in,
            "warranted_out": warranted_out,
            "unbacked": max(0, warranted_out - warranted_in - produced),
            "without_warranty_in": [r["entry"] for r in received if not r["warranty"]],
            "without_warranty_out": [r["entry"] for r in issued if not r["warranty"]],
        }

    def resolve_entry(self, text: str) -> bytes:
        """An entry id from its hex or a unique hex prefix (at least 8 digits)."""
        t = entry_prefix(text)
        hits = self.store.find_ids(t)
        if not hits:
            raise NotFoundError(f"no entry {text}")
        if len(hits) > 1:
            raise UsageError(f"entry id prefix {text} is ambiguous; give more digits")
        return hits[0]

    def certificate_fields(
        self,
        *,
        number: str,
        parcels: Sequence[str],
        exporter: str,
        importer: str,
        value_usd_cents: int,
        expires: str,
    ) -> dict[str, Any]:
        """Fields of a certificate entry, with carats, count, HS codes and origins computed."""
        exp = self.party(exporter)
        imp = self.party(importer)
        items = [self.parcel(p) for p in parcels]
        return {
            "number": number,
            "parcels": list(parcels),
            "exporter": exp["name"],
            "importer": imp["name"],
            "exporter_country": exp["country"],
            "importer_country": imp["country"],
            "value": {"amount": value_usd_cents, "currency": "USD"},
            "expires": expires,
            "carats": sum(p["carats"] for p in items),
            "count": len(items),
            "hs": sorted({p["hs"] or "7102.10" for p in items}),
            "origins": sorted({c for p in items for c in p["may"]}),
        }

    # -- reading the log ----------------------------------------------------------

    def size(self) -> int:
        return self.store.size()

    def records(self, start: int = 0, end: int | None = None) -> Iterable[Record]:
        for raw in self.store.iter_records(start, end):
            yield Record.from_wire(raw)

    def entry(self, entry_id: bytes) -> tuple[Record, SignedEntry]:
        record = self.store.record_by_id(entry_id)
        return record, record.entry()

    def findings(self, index: int | None = None) -> list[tuple[int, str, str]]:
        """WARN findings ``(record index, rule, message)``, of one record or of all."""
        return self.store.findings(index)

    def signer_name(self, kid: bytes) -> str:
        info = self.store.state_value("kid", kid.hex())
        return str(info["name"]) if info else kid.hex()[:16]

    def history(self, pid: str) -> list[tuple[Record, SignedEntry]]:
        self.parcel(pid)
        out = []
        for idx in self.store.touching(pid):
            record = self.store.record(idx)
            out.append((record, record.entry()))
        return out

    def trace(self, pid: str) -> Trace:
        """The ancestry DAG of an item back to every origin, in log order."""
        item = self.parcel(pid)
        ids = set()
        todo = [item["head"]]
        while todo:
            eid = todo.pop()
            if eid in ids:
                continue
            ids.add(eid)
            _, entry = self.entry(eid)
            todo.extend(rules.entry_parents(entry))
        pairs = [self.entry(eid) for eid in ids]
        steps = narrate(pairs, self.store.state_value)
        certs = []
        origins = []
        issues = []
        for step in steps:
            if step.type == "transfer" and step.certificate is not None:
                cert = self.store.state_value("cert", step.certificate) or {}
                shown = {k: v for k, v in cert.items() if k not in ("id", "used", "accepted")}
                shown["confirmed"] = "confirmed" in cert
                certs.append(shown)
                if "id" in cert:
                    issues.append(self.entry(cert["id"]))
            if step.type in ("origin", "grow"):
                parcel, points = step.outputs[0]
                origins.append(
                    {
                        "parcel": parcel,
                        "mine": step.mine,
                        "country": step.country,
                        "carats": points,
                        "by": step.actor,
                        "grown": step.type == "grow",
                    }
                )
        void = rules.quarantine([*pairs, *issues], self._key)
        return Trace(item, steps, certs, origins, void)

    def _key(self, kid: bytes) -> rules.KeyInfo | None:
        return cast("rules.KeyInfo | None", self.store.state_value("kid", kid.hex()))

    # -- verification -------------------------------------------------------------

    def verify(
        self,
        *,
        progress: Callable[[int], None] | None = None,
        jobs: int = 1,
        chunk: int = 0,
    ) -> VerifyReport:
        """Replay the whole log and compare every derived table.

        With ``jobs > 1``, ``jobs`` worker processes check every record's encoding, field
        shapes, cached columns and signatures while this process replays the rules on
        records parsed without those checks; the first error by record index is reported
        either way. The stored state is compared as the replay goes
        (:class:`ledger.statecheck.CheckedState`), in memory bounded by the live items.

        Raises:
            ChainError, EncodingError, RuleError: the first invalid record (named).
            ProofError: the stored tree or a stored checkpoint disagrees with the records.
        """
        self._refuse_context("verify")
        from ledger.verify import verify_store

        return verify_store(self.store, self.verifier(), progress=progress, jobs=jobs, chunk=chunk)

    # -- checkpoints and proofs ---------------------------------------------------

    def checkpoint(self, key: PrivateKey) -> str:
        """Sign the current tree head as a C2SP checkpoint and store it.

        Raises:
            ProofError: the key is not the operator's.
        """
        self._refuse_context("a checkpoint")
        if key.kid != self.operator:
            raise ProofError("only the operator key signs checkpoints")
        size = self.size()
        cp = note.kpledger_checkpoint(
            self.origin, size, self.store.root(size), self.store.map_root(size)
        )
        text = note.sign_checkpoint(cp, self.origin, key.seed)
        self.store.add_checkpoint(size, text)
        return text

    def latest_checkpoint(self) -> str:
        latest = self.store.latest_checkpoint()
        if latest is None:
            raise NotFoundError("no checkpoint yet; sign one with 'kpledger checkpoint --key'")
        return latest[1]

    def verifier(self) -> note.Verifier:
        """The operator's checkpoint verifier, as the genesis record names it."""
        return note.Verifier.for_ed25519(self.origin, self._operator_pub)

    def inclusion_proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        n = self.size() if size is None else size
        if not 0 <= index < n <= self.size():
            raise UsageError(f"need 0 <= index < size <= {self.size()}; got {index}, {n}")
        reader = self.store.hash_reader(n)
        return {
            "leaf_index": index,
            "tree_size": n,
            "leaf_hash": self.store.record(index).hash,
            "root": merkle.tree_root(n, reader),
            "proof": merkle.inclusion_proof(index, n, reader),
        }

    def consistency_proof(self, old: int, new: int) -> dict[str, Any]:
        if not 0 <= old <= new <= self.size():
            raise UsageError(f"need 0 <= old <= new <= {self.size()}; got {old}, {new}")
        reader = self.store.hash_reader(new)
        proof = [] if old in (0, new) else merkle.consistency_proof(old, new, reader)
        return {
            "size1": old,
            "size2": new,
            "root1": self.store.root(old),
            "root2": self.store.root(new),
            "proof": proof,
        }

    def prove(self, pid: str, key: PrivateKey | None = None) -> bytes:
        """The provenance bundle of an item against the latest checkpoint.

        With the operator ``key``, the bundle also carries a signed attestation that the
        item's state in it is its latest as of the checkpoint (specs/proof-bundle.md §2.1).

        Raises:
            NotFoundError: unknown item or no checkpoint.
            ProofError: the checkpoint does not cover the item's latest state.
        """
        item = self.parcel(pid)
        latest = self.store.latest_checkpoint()
        if latest is None:
            raise NotFoundError("no checkpoint yet; sign one with 'kpledger checkpoint --key'")
        size, text = latest
        ids = proofs.collect(
            item,
            lambda eid: self.entry(eid)[1],
            self.store.state_value,
        )
        records = [self.store.record(0)] + [self.entry(eid)[0] for eid in ids]
        # Registry changes after the checkpoint are not part of the proven log prefix.
        unique = {r.index: r for r in records if r.index < size}
        head_index = self.entry(item["head"])[0].index
        if head_index >= size:
            raise ProofError(
                f"the latest checkpoint (size {size}) predates {pid!r}'s last event "
                f"(record {head_index}); run 'kpledger checkpoint --key OPERATOR_KEY' first"
            )
        attestation = None
        if key is not None:
            if key.kid != self.operator:
                raise ProofError("only the operator key attests an item's latest state")
            attestation = proofs.attest(self.origin, size, pid, item["head"], key.seed)
        journey = self.trace(pid).steps
        bundle = proofs.make_bundle(
            self.origin,
            pid,
            text,
            size,
            list(unique.values()),
            self.store.hash_reader(size),
            attestation,
            proofs.evidence_for(journey, self.store.checkpoints(), size),
            proofs.map_proofs_for(
                list(unique.values()),
                pid,
                lambda kind, key: self.store.map_proof(size, kind, key),
            ),
        )
        return bundle.encode()


def _genesis_identity(store: Store) -> tuple[str, str, bytes] | None:
    """``(origin, operator name, operator public key)`` as the log's first record names
    them (the operator key can never be rotated, R-ID-3), or as the derived state holds
    them if that record cannot be read (``verify`` then names the damage); None if
    neither can be read.
    """
    try:
        entry = store.record(0).entry()
        f = entry.fields
        if entry.type == "genesis" and isinstance(f.get("operator"), bytes):
            if isinstance(f.get("name"), str):
                return entry.body.ledger, f["name"], f["operator"]
    except LedgerError:
        pass
    try:
        meta = store.state_value("meta", "ledger")
        if isinstance(meta, dict) and isinstance(meta.get("operator"), bytes):
            info = store.state_value("kid", meta["operator"].hex())
            if isinstance(info, dict) and isinstance(info.get("pub"), bytes):
                if isinstance(meta.get("origin"), str) and isinstance(meta.get("name"), str):
                    return meta["origin"], meta["name"], info["pub"]
    except LedgerError:
        pass
    return None


def governance_view(gov: Any, get: Callable[[str, str], Any]) -> dict[str, Any] | None:
    """``LedgerAPI.governance()`` from the ``gov/set`` state value and a state reader."""
    if gov is None:
        return None
    members = []
    for kid in gov["governors"]:
        info = get("kid", kid.hex()) or {}
        members.append(
            {"name": info.get("name", kid.hex()[:16]), "kid": kid, "pub": info.get("pub")}
        )
    return {
        "governors": members,
        "threshold": gov["threshold"],
        "since": gov["since"],
        "entries": list(gov["entries"]),
    }


class _StoreBacking:
    """The state table as the rules engine's backing (read-only lookups)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self, kind: str, key: str) -> Any | None:
        return self.store.state_value(kind, key)


if TYPE_CHECKING:  # mypy checks that a ledger file is a LedgerAPI

    def _conforms(ledger: Ledger) -> LedgerAPI:
        return ledger
