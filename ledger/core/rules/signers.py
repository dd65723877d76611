"""Who signed an entry, and may they (R-ID-*): signer resolution, signatures, roles."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ledger.core.model import SignedEntry
from ledger.core.rules.state import Party, State, fail
from ledger.errors import SignatureError


@dataclass(frozen=True)
class Signer:
    """The participant acting through ``body.signer``, as the registry has it now."""

    name: str
    kid: bytes
    roles: tuple[str, ...]
    country: str


def get_party(state: State, rule: str, name: str, what: str) -> Party:
    """A participant an entry names, which must be registered (``rule``) and not revoked
    (R-ID-2). Returns a copy the caller may change and put back."""
    party = state.party(name)
    if party is None:
        raise fail(rule, f"{what} {name!r} is not a registered participant")
    if party["revoked"] is not None:
        raise fail("R-ID-2", f"{what} {name!r} was revoked at record {party['revoked']}")
    return party.copy()


def verify_sigs(state: State, entry: SignedEntry, extra: Mapping[bytes, bytes]) -> None:
    """Every signature must be by a known key in force and verify (R-ID-1, R-ID-2)."""
    for sig in entry.sigs:
        public = extra.get(sig.kid)
        if public is None:
            info = state.key(sig.kid)
            if info is None:
                raise fail("R-ID-1", f"signature by unknown key {sig.kid.hex()[:16]}")
            if info["until"] is not None:
                # specs/entries.md §4: every signing key, co-signers included, must be in force.
                raise fail("R-ID-2", f"signature by key {sig.kid.hex()[:16]}, no longer in force")
            public = info["pub"]
        if not state.verify_signatures:
            continue  # checked by the caller in parallel (verify with jobs > 1)
        try:
            entry.verify_signature(sig.kid, public)
        except SignatureError as exc:
            raise fail(
                "R-ID-1", f"signature by key {sig.kid.hex()[:16]} is invalid: {exc}"
            ) from exc


def signer_of(state: State, entry: SignedEntry) -> Signer:
    """The participant whose key is ``body.signer``, which must be in force (R-ID-1/2)."""
    info = state.key(entry.body.signer)
    if info is None:
        raise fail("R-ID-1", f"signer key {entry.body.signer.hex()[:16]} is not registered")
    if info["until"] is not None:
        how = "revoked" if info.get("revoked") else "rotated out"
        raise fail("R-ID-2", f"signer key of {info['name']!r} was {how} at record {info['until']}")
    name = info["name"]
    party = state.party(name)
    if party is None:  # pragma: no cover - kid and party tables are written together
        raise fail("R-ID-1", f"signer {name!r} is not a registered participant")
    return Signer(name, entry.body.signer, tuple(party["roles"]), party["country"])


def require_role(signer: Signer, role: str, action: str) -> None:
    """R-ID-1: the signer holds ``role``."""
    if role not in signer.roles:
        raise fail("R-ID-1", f"{signer.name!r} lacks the {role} role needed to {action}")


def require_operator(state: State, signer: Signer, action: str) -> None:
    """R-ID-3: the signer is the operator (the genesis key)."""
    meta = state.meta()
    if meta is None or signer.kid != meta["operator"]:
        raise fail("R-ID-3", f"only the operator may {action}; signed by {signer.name!r}")
