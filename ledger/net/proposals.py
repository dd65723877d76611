"""Pending proposals on a node: registry changes gathering governor signatures
(specs/node.md §2.5, specs/rules.md §3.9).

A governor posts a registry change signed with its key; other governors fetch it, co-sign
the same body and post it again. The pool merges the signatures of one body (the
proposal id is the SHA-256 of the body bytes) and, once k governors in force have signed,
appends the entry through the rules engine like any other. Every signature is checked
when it arrives: by a governor in force (or, for a key rotation, the rotated key), valid,
not already on the proposal; a proposal past its expiry (PROPOSAL_TTL_MS after its
claimed time, R-GV-4) or already applied (R-GV-5) is refused. Each pending proposal is
kept in the node's ledger file as well (``ledger.storage.pending``, outside the log), so a
node that restarts gathers on where it stopped (:meth:`ProposalPool.restore`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ledger.api import proposal_status
from ledger.core import rules
from ledger.core.model import MAX_SIGNATURES, SignedEntry
from ledger.errors import LedgerError, RuleError, SignatureError, UsageError
from ledger.ledger import Ledger
from ledger.storage import pending as kept

__all__ = ["MAX_PENDING", "ProposalPool"]

#: Most proposals a node keeps pending at once.
MAX_PENDING = 256

log = logging.getLogger("kpledger.node")


def _expired(entry: SignedEntry, now: int) -> bool:
    """Past the proposal's expiry: PROPOSAL_TTL_MS after its claimed time (R-GV-4)."""
    return now > entry.body.time + rules.PROPOSAL_TTL_MS


@dataclass
class _Pending:
    entry: SignedEntry


class ProposalPool:
    """The pending proposals of one ledger file."""

    def __init__(self, ledger: Ledger, limit: int = MAX_PENDING) -> None:
        self.ledger = ledger
        self.limit = limit
        self._pending: dict[bytes, _Pending] = {}

    def _name(self, kid: bytes) -> str:
        return self.ledger.signer_name(kid)

    def status(self, entry: SignedEntry, now: int) -> dict[str, Any]:
        out = proposal_status(entry, self.ledger.governance(), self._name, now=now)
        out["envelope"] = entry.raw
        return out

    def restore(self, now: int) -> int:
        """Take up the proposals kept in the ledger file (a restarted node); returns how
        many. A kept proposal that expired, was applied meanwhile, or does not read as a
        pending registry change of this ledger is dropped from the file, with a warning
        in the node's log for the last; its signatures are checked again, by the rules
        engine, when it is appended.

        Raises:
            StoreError: the file's table cannot be read or changed.
        """
        led = self.ledger
        gone: list[object] = []
        for pid, envelope in kept.load(led.store):
            try:
                entry = self._readable(pid, envelope)
            except LedgerError as exc:
                shown = pid.hex()[:16] if isinstance(pid, bytes) else repr(pid)[:16]
                log.warning("dropping unreadable pending proposal %s: %s", shown, exc.message)
                gone.append(pid)
                continue
            proposal = rules.proposal_id(entry)  # the row's id, as bytes
            if (
                _expired(entry, now)
                or self._applied(proposal) is not None
                or len(self._pending) >= self.limit
            ):
                gone.append(pid)
            else:
                self._pending[proposal] = _Pending(entry)
        kept.drop(led.store, gone)
        return len(self._pending)

    def _readable(self, pid: object, envelope: object) -> SignedEntry:
        """The kept ``envelope`` of proposal ``pid``, if it is this ledger's registry change
        with that id.

        Raises:
            LedgerError: why it is not (an undecodable envelope included).
        """
        if not isinstance(pid, bytes):
            raise UsageError("the id is not a blob")
        if not isinstance(envelope, bytes):
            raise UsageError("the envelope is not a blob")
        entry = SignedEntry.from_wire(envelope)
        if rules.proposal_id(entry) != pid:
            raise UsageError("the envelope is not the proposal of this id")
        if entry.type not in rules.REGISTRY_TYPES or entry.body.ledger != self.ledger.origin:
            raise UsageError("not a registry change of this ledger")
        return entry

    def _applied(self, pid: bytes) -> Any:
        """The record that applied proposal ``pid``, or None."""
        return self.ledger.store.state_value("proposal", pid.hex())

    def prune(self, now: int) -> None:
        """Forget expired proposals."""
        expired = [pid for pid, p in self._pending.items() if _expired(p.entry, now)]
        if expired:
            kept.drop(self.ledger.store, expired)
            for pid in expired:
                del self._pending[pid]

    def pending(self, now: int) -> list[dict[str, Any]]:
        self.prune(now)
        return [self.status(p.entry, now) for p in self._pending.values()]

    def merge(self, entry: SignedEntry, now: int) -> SignedEntry:
        """Check ``entry``'s signatures and merge them into the pending proposal of its body.

        Returns:
            The proposal with every signature gathered so far (not appended).

        Raises:
            UsageError: not a registry change, another ledger, no governance, pool full.
            RuleError: R-GV-2 (a signer who is not a governor, or every signature already
                there), R-ID-1 (a signature that does not verify), R-GV-4 (expired),
                R-GV-5 (already applied).
        """
        led = self.ledger
        if entry.type not in rules.REGISTRY_TYPES:
            raise UsageError(
                f"only registry changes are proposals ({', '.join(rules.REGISTRY_TYPES)}), "
                f"not {entry.type}"
            )
        if entry.body.ledger != led.origin:
            raise RuleError(
                f"entry was signed for ledger {entry.body.ledger!r}, this is {led.origin!r}",
                rule="R-EN-2",
            )
        gov = led.governance()
        if gov is None:
            raise UsageError(
                "this ledger has no governance set: the operator appends registry changes "
                "directly (POST /api/entries)"
            )
        self.prune(now)
        pid = rules.proposal_id(entry)
        if _expired(entry, now):
            raise RuleError(
                f"the proposal expired: it was signed at {rules.iso_time(entry.body.time)}, "
                "more than 7 days ago",
                rule="R-GV-4",
            )
        seen = self._applied(pid)
        if seen is not None:
            raise RuleError(
                f"this proposal (body {pid.hex()[:16]}) was already applied at record {seen}",
                rule="R-GV-5",
            )
        members = {bytes(g["kid"]): g for g in gov["governors"]}
        if entry.body.signer not in members:
            raise RuleError(
                f"a registry change is proposed by a governor, not by "
                f"{self._name(entry.body.signer)!r}",
                rule="R-GV-2",
            )
        also = None
        if entry.type == "participant.rotate":
            party = led.store.state_value("party", entry.fields["name"])
            also = party["kid"] if party is not None else None
        held = self._pending.get(pid)
        have = {s.kid for s in held.entry.sigs} if held is not None else set()
        fresh = [s for s in entry.sigs if s.kid not in have]
        if not fresh:
            raise RuleError(
                "every signature on this entry is already on the pending proposal "
                f"({', '.join(self._name(s.kid) for s in entry.sigs)}): a governor signs once",
                rule="R-GV-2",
            )
        for sig in fresh:
            if sig.kid in members:
                public = bytes(members[sig.kid]["pub"])
            elif sig.kid == also:
                info = led.store.state_value("kid", sig.kid.hex()) or {}
                public = bytes(info.get("pub", b""))
            else:
                raise RuleError(
                    f"signature by {self._name(sig.kid)!r}, who is not a governor",
                    rule="R-GV-2",
                )
            try:
                entry.verify_signature(sig.kid, public)
            except SignatureError as exc:
                raise RuleError(
                    f"signature by {self._name(sig.kid)!r} is invalid: {exc}", rule="R-ID-1"
                ) from exc
        if held is None and len(self._pending) >= self.limit:
            raise UsageError(f"this node already holds {self.limit} pending proposals; retry later")
        sigs = [*(held.entry.sigs if held is not None else ()), *fresh]
        if len(sigs) > MAX_SIGNATURES:
            raise RuleError(
                f"a proposal carries at most {MAX_SIGNATURES} signatures", rule="R-GV-2"
            )
        merged = SignedEntry.build(entry.body_bytes, sigs)
        kept.keep(led.store, pid, merged.raw, entry.body.time)  # first: a failure keeps nothing
        self._pending[pid] = _Pending(merged)
        return merged

    def ready(self, entry: SignedEntry) -> bool:
        gov = self.ledger.governance()
        if gov is None:
            return False
        members = {bytes(g["kid"]) for g in gov["governors"]}
        return sum(1 for s in entry.sigs if s.kid in members) >= int(gov["threshold"])

    def done(self, entry: SignedEntry) -> None:
        """Forget a proposal (appended, or refused by the rules when appended)."""
        pid = rules.proposal_id(entry)
        self._pending.pop(pid, None)
        kept.drop(self.ledger.store, [pid])
