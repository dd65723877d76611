"""An in-memory kpledger log for the bundle conformance corpus (tools/gen_bundle_corpus.py).

It signs entries with keys derived from participant names, appends them as records through
the rules engine (or, for a record that must break a rule, without it), keeps the RFC 6962
leaves and the state map, signs checkpoints (with witness cosignatures) and assembles
bundles exactly as ``Ledger.prove`` does (``proofs.collect``, ``proofs.make_bundle``).
Deterministic: the same calls give the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from ledger.core import ed25519, merkle, note, proofs, rules, statemap
from ledger.core.model import Body, Record, SignedEntry, key_id, sign_body

ORIGIN = "corpus.kpledger.example/log"
OPERATOR = "Corpus Operator"
#: 2025-03-03T00:00:00Z: every date of the corpus is after the G7 measures took effect.
START_MS = 1_740_960_000_000
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def seed_of(name: str) -> bytes:
    """The Ed25519 seed of a corpus participant, witness or governor (public by design)."""
    return hashlib.sha256(b"kpledger bundle corpus/" + name.encode()).digest()


def pub_of(name: str) -> bytes:
    return ed25519.public_key(seed_of(name))


def kid_of(name: str) -> bytes:
    return key_id(pub_of(name))


def witness_vkey(name: str) -> str:
    return note.format_vkey(name, pub_of(name), sig_type=note.SIG_TYPE_COSIGNATURE_V1)


class Log:
    """A log being written; ``emit`` appends one entry."""

    def __init__(
        self,
        *,
        origin: str = ORIGIN,
        operator: str = OPERATOR,
        governors: Sequence[str] = (),
        threshold: int = 0,
        genesis_ledger: str | None = None,
    ) -> None:
        self.origin = origin
        self.operator = operator
        self.clock = START_MS
        self.records: list[Record] = []
        self.entries: dict[bytes, tuple[Record, SignedEntry]] = {}
        self.state = rules.State()
        self.state.writes = []
        self.map = statemap.MemoryMap()
        self.map_roots: dict[int, bytes] = {0: statemap.EMPTY}
        self.signing_key: dict[str, str] = {}  # participant -> name of its current key seed
        self.governors = list(governors)
        self.threshold = threshold
        self.checkpoints: dict[int, str] = {}
        fields: dict[str, Any] = {"operator": pub_of(operator), "name": operator}
        if governors:
            fields["governors"] = [{"name": g, "pub": pub_of(g)} for g in governors]
            fields["threshold"] = threshold
        self.emit("genesis", fields, operator, ledger=genesis_ledger)

    # -- keys ------------------------------------------------------------------------

    def key(self, name: str) -> str:
        """The seed name of ``name``'s key in force (rotations change it)."""
        return self.signing_key.get(name, name)

    def kid(self, name: str) -> bytes:
        return kid_of(self.key(name))

    # -- entries -----------------------------------------------------------------------

    def tick(self, ms: int = HOUR) -> int:
        self.clock += ms
        return self.clock

    def sign(
        self,
        entry_type: str,
        fields: dict[str, Any],
        signer: str,
        *,
        cosigners: Sequence[str] = (),
        time: int | None = None,
        ledger: str | None = None,
        signer_kid: bytes | None = None,
        seeds: Sequence[bytes] | None = None,
    ) -> SignedEntry:
        body = Body(
            entry_type,
            ledger or self.origin,
            signer_kid if signer_kid is not None else self.kid(signer),
            self.clock if time is None else time,
            fields,
        )
        if seeds is None:
            seeds = [seed_of(self.key(n)) for n in (signer, *cosigners)]
        return sign_body(body, seeds)

    def append(
        self, entry: SignedEntry, *, now: int | None = None, force: bool = False, **raw: Any
    ) -> Record:
        """Append ``entry`` as the next record at ``now`` (default: the clock). With
        ``force`` the rules are not applied (a record that must break one); ``raw`` may set
        the record's ``index``, ``prev`` or ``entry_bytes`` to forge it."""
        index = len(self.records)
        prev = self.records[-1].hash if self.records else bytes(32)
        when = self.clock if now is None else now
        record = Record.build(
            raw.get("index", index),
            raw.get("prev", prev),
            when,
            raw.get("entry_bytes", entry.raw),
        )
        if not force:
            rules.apply(self.state, entry, index=index, now=when)
            self.map.record(self.state.take_writes(), self.state.get, index)
        self.records.append(record)
        self.entries[entry.id] = (record, entry)
        self.map_roots[len(self.records)] = self.map.root()
        return record

    def emit(
        self,
        entry_type: str,
        fields: dict[str, Any],
        signer: str,
        *,
        cosigners: Sequence[str] | None = None,
        time: int | None = None,
        now: int | None = None,
        force: bool = False,
        ledger: str | None = None,
    ) -> SignedEntry:
        if cosigners is None:
            cosigners = self.registry_cosigners(entry_type)
            if entry_type in rules.REGISTRY_TYPES and self.governors and signer == self.operator:
                signer = self.governors[0]
        entry = self.sign(entry_type, fields, signer, cosigners=cosigners, time=time, ledger=ledger)
        self.append(entry, now=now, force=force)
        return entry

    def registry_cosigners(self, entry_type: str) -> list[str]:
        if entry_type in rules.REGISTRY_TYPES and self.governors:
            return self.governors[1 : self.threshold]
        return []

    # -- the registry ------------------------------------------------------------------

    def add(self, name: str, roles: Iterable[str], country: str, **kw: Any) -> SignedEntry:
        self.tick(MINUTE)
        fields = {"name": name, "pub": pub_of(name), "roles": list(roles), "country": country}
        return self.emit("participant.add", fields, self.operator, **kw)

    def kp(self, country: str, status: str = "participant", start: str = "2024-01-01") -> None:
        self.tick(MINUTE)
        fields = {"country": country, "status": status, "from": start}
        self.emit("kp-status.set", fields, self.operator)

    def rotate(self, name: str, new_seed_name: str) -> None:
        self.tick(MINUTE)
        fields = {"name": name, "pub": pub_of(new_seed_name)}
        entry = self.sign(
            "participant.rotate",
            fields,
            self.governors[0] if self.governors else self.operator,
            cosigners=[*self.registry_cosigners("participant.rotate"), name],
        )
        self.append(entry)
        self.signing_key[name] = new_seed_name

    # -- goods ---------------------------------------------------------------------------

    def parcel(self, pid: str) -> dict[str, Any]:
        p = self.state.get("parcel", pid)
        assert p is not None, pid
        return dict(p)

    def inp(self, pid: str) -> dict[str, Any]:
        return {"parcel": pid, "head": self.parcel(pid)["head"]}

    def mint(self, mine: str, pid: str, carats: int = 1000, stones: int = 10, **kw: Any) -> Any:
        self.tick()
        fields = {"parcel": pid, "carats": carats, "stones": stones, "mine": f"{mine} pit"}
        fields["hs"] = kw.pop("hs", "7102.10")
        return self.emit("origin", fields, mine, **kw)

    def issue(
        self,
        authority: str,
        number: str,
        exporter: str,
        importer: str,
        pids: Sequence[str],
        *,
        days: int = 30,
        **kw: Any,
    ) -> SignedEntry:
        self.tick()
        parcels = [self.parcel(p) for p in pids]
        exp = self.state.get("party", exporter)
        imp = self.state.get("party", importer)
        assert exp is not None and imp is not None
        fields = {
            "number": number,
            "parcels": list(pids),
            "exporter": exporter,
            "importer": importer,
            "exporter_country": exp["country"],
            "importer_country": imp["country"],
            "value": {"amount": 1_000_000, "currency": "USD"},
            "expires": rules.date_of(self.clock + days * DAY),
            "carats": sum(p["carats"] for p in parcels),
            "count": len(parcels),
            "hs": sorted({p["hs"] or "7102.10" for p in parcels}),
            "origins": sorted({c for p in parcels for c in p["may"]}),
        }
        fields.update(kw.pop("override", {}))
        return self.emit("certificate.issue", fields, authority, **kw)

    def transfer(
        self,
        sender: str,
        to: str,
        pids: Sequence[str],
        *,
        cert: str | None = None,
        warranty: str | None = "2021",
        **kw: Any,
    ) -> SignedEntry:
        self.tick()
        fields: dict[str, Any] = {"to": to, "inputs": [self.inp(p) for p in pids]}
        if cert is not None:
            fields["certificate"] = cert
        if warranty is not None:
            fields["warranty"] = warranty
        fields.update(kw.pop("override", {}))
        return self.emit("transfer", fields, sender, **kw)

    def answer(self, kind: str, who: str, offer: SignedEntry, **kw: Any) -> SignedEntry:
        self.tick()
        return self.emit(kind, {"transfer": offer.id}, who, **kw)

    def ship(
        self,
        sender: str,
        to: str,
        pids: Sequence[str],
        *,
        authority: str | None = None,
        number: str | None = None,
        warranty: str | None = "2021",
    ) -> SignedEntry:
        """Offer and accept (under a new KP certificate when ``authority`` is given)."""
        if authority is not None and number is not None:
            self.issue(authority, number, sender, to, pids)
        offer = self.transfer(sender, to, pids, cert=number, warranty=warranty)
        self.answer("accept", to, offer)
        return offer

    def confirm(self, authority: str, number: str, offer: SignedEntry, **kw: Any) -> SignedEntry:
        self.tick()
        cert = self.state.get("cert", number)
        assert cert is not None
        fields = {
            "number": number,
            "shipment": offer.id,
            "carats": cert["carats"],
            "count": len(cert["parcels"]),
        }
        fields.update(kw.pop("override", {}))
        return self.emit("certificate.confirm", fields, authority, **kw)

    def split(self, holder: str, pid: str, outs: Sequence[tuple[str, int, int]], **kw: Any) -> Any:
        self.tick()
        fields = {
            "input": self.inp(pid),
            "outputs": [{"parcel": o, "carats": c, "stones": n} for o, c, n in outs],
        }
        return self.emit("split", fields, holder, **kw)

    def merge(self, holder: str, pids: Sequence[str], out: str, carats: int, **kw: Any) -> Any:
        self.tick()
        fields = {
            "inputs": [self.inp(p) for p in pids],
            "output": {"parcel": out, "carats": carats},
        }
        fields.update(kw.pop("override", {}))
        return self.emit("merge", fields, holder, **kw)

    def cut(
        self,
        cutter: str,
        pids: Sequence[str],
        stones: Sequence[tuple[str, int]],
        byproducts: Sequence[tuple[str, int]] = (),
        **kw: Any,
    ) -> SignedEntry:
        self.tick()
        fields: dict[str, Any] = {
            "inputs": [self.inp(p) for p in pids],
            "stones": [{"parcel": s, "carats": c} for s, c in stones],
        }
        if byproducts:
            fields["byproducts"] = [{"parcel": b, "carats": c} for b, c in byproducts]
        fields.update(kw.pop("override", {}))
        return self.emit("cut", fields, cutter, **kw)

    def grade(
        self, grader: str, pid: str, report: str, carats: int | None = None, **kw: Any
    ) -> Any:
        self.tick()
        fields: dict[str, Any] = {"input": self.inp(pid), "report": report}
        if carats is not None:
            fields["carats"] = carats
        return self.emit("grade", fields, grader, **kw)

    def sell(self, retailer: str, pid: str, **kw: Any) -> SignedEntry:
        self.tick()
        return self.emit("sell", {"input": self.inp(pid)}, retailer, **kw)

    # -- checkpoints and bundles -------------------------------------------------------

    def leaves(self, size: int) -> merkle.ListHashReader:
        return merkle.ListHashReader([r.hash for r in self.records[:size]])

    def checkpoint(
        self,
        size: int | None = None,
        *,
        witnesses: Sequence[tuple[str, int]] = (),
        map_root: bytes | None = None,
        key: str | None = None,
    ) -> str:
        """Sign the checkpoint of ``size`` records; ``witnesses`` are ``(name, POSIX
        time)`` cosignatures."""
        n = len(self.records) if size is None else size
        root = merkle.tree_root(n, self.leaves(n))
        mroot = self.map_roots.get(n, statemap.EMPTY) if map_root is None else map_root
        cp = note.kpledger_checkpoint(self.origin, n, root, mroot)
        text = note.sign_checkpoint(cp, self.origin, seed_of(key or self.operator))
        for name, ts in witnesses:
            text = note.add_signature(text, note.cosign(text, name, seed_of(name), ts))
        self.checkpoints[n] = text
        return text

    def vkey(self) -> str:
        return note.format_vkey(self.origin, pub_of(self.operator))

    def bundle(
        self,
        item: str,
        *,
        everything: bool = False,
        checkpoint: str | None = None,
        attest: bool = False,
        evidence: Sequence[int] = (),
        drop: Iterable[int] = (),
    ) -> bytes:
        """The bundle ``prove`` would make for ``item`` at the current size (``everything``:
        every record of the log instead of the item's)."""
        size = len(self.records)
        if checkpoint is None:
            checkpoint = self.checkpoints.get(size) or self.checkpoint()
        if everything:
            positions = set(range(size))
        else:
            state = self.parcel(item)
            ids = proofs.collect(state, lambda eid: self.entries[eid][1], self.state.get)
            positions = {0, *(self.entries[i][0].index for i in ids)}
        chosen = sorted(positions - set(drop))
        records = [self.records[i] for i in chosen]
        try:
            map_proofs = proofs.map_proofs_for(records, item, self.map.prove)
        except Exception:  # a record breaks a rule: prove the keys of the valid state
            map_proofs = tuple(self.map.prove(k, n) for k, n in proofs.map_keys(self.state, item))
        attestation = None
        if attest:
            head = self.parcel(item)["head"]
            attestation = proofs.attest(self.origin, size, item, head, seed_of(self.operator))
        reader = self.leaves(size)
        ev = tuple(
            proofs.Evidence(
                self.checkpoints[n],
                tuple(merkle.consistency_proof(n, size, reader)) if 0 < n < size else (),
            )
            for n in evidence
        )
        return proofs.Bundle(
            self.origin,
            item,
            checkpoint,
            tuple(
                proofs.BundleRecord(
                    i, self.records[i].raw, tuple(merkle.inclusion_proof(i, size, reader))
                )
                for i in chosen
            ),
            tuple(map_proofs),
            attestation,
            ev,
        ).encode()
