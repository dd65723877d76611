"""Governance by k of n (R-GV-*, specs/rules.md §3.9): the governor set in force and the
signatures every registry change needs.

A ledger whose genesis names governors, or that moved to governance with one
``governance.set`` signed by the operator, accepts a registry change (``REGISTRY_TYPES``)
only when at least k distinct governors in force signed it, its proposer being one of
them. The operator keeps sequencing the log and signing checkpoints; it gains no power
over the registry. Pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.core import ed25519
from ledger.core.model import SignedEntry, key_id
from ledger.core.rules.calendar import iso_time
from ledger.core.rules.params import GOVERNOR_ROLE, MAX_THRESHOLD, PROPOSAL_TTL_MS
from ledger.core.rules.state import Governance, State, fail
from ledger.errors import SignatureError

__all__ = [
    "approvals",
    "check_set",
    "install",
    "proposal_id",
    "require_migration",
    "require_not_governor",
    "require_registry",
]


def proposal_id(entry: SignedEntry) -> bytes:
    """A proposal's identity: SHA-256 of its body bytes, the same whoever signed it (the
    entry id changes with every co-signature, the proposal does not)."""
    return hashlib.sha256(entry.body_bytes).digest()


def check_set(governors: Sequence[Mapping[str, Any]], threshold: int) -> None:
    """R-GV-3: a governance set's threshold is reachable and fits in one entry.

    Raises:
        RuleError: ``threshold`` is above the number of governors or above MAX_THRESHOLD.
    """
    n = len(governors)
    if threshold < 1:
        raise fail("R-GV-3", f"threshold k must be at least 1, not {threshold}")
    if threshold > n:
        raise fail("R-GV-3", f"threshold k = {threshold} is more than the n = {n} governors named")
    if threshold > MAX_THRESHOLD:
        raise fail(
            "R-GV-3",
            f"threshold k = {threshold} is above {MAX_THRESHOLD}: an entry carries at most 8 "
            "signatures and a key rotation also needs the old key's",
        )


def _name(state: State, kid: bytes) -> str:
    info = state.key(kid)
    return info["name"] if info is not None else kid.hex()[:16]


def approvals(state: State, entry: SignedEntry, gov: Governance) -> list[bytes]:
    """Key ids of the governors in force who signed ``entry``, in signature order."""
    members = set(gov["governors"])
    return [s.kid for s in entry.sigs if s.kid in members]


def require_registry(
    state: State,
    entry: SignedEntry,
    signer_name: str,
    signer_kid: bytes,
    index: int,
    now: int,
    action: str,
    *,
    also: bytes | None = None,
) -> None:
    """Who may change the registry: the operator on a ledger without governance (R-ID-3),
    else k governors in force (R-GV-1) and no one else (R-GV-2, ``also`` excepted: the old
    key that co-signs its own rotation), within PROPOSAL_TTL_MS of the claimed time
    (R-GV-4), never the same proposal twice (R-GV-5)."""
    gov = state.governance()
    if gov is None:
        meta = state.meta()
        if meta is None or signer_kid != meta["operator"]:
            raise fail("R-ID-3", f"only the operator may {action}; signed by {signer_name!r}")
        return
    members = set(gov["governors"])
    k, n = gov["threshold"], len(gov["governors"])
    approved = approvals(state, entry, gov)
    if len(approved) < k:
        who = ", ".join(_name(state, kid) for kid in approved) or "none"
        raise fail(
            "R-GV-1",
            f"to {action} needs the signatures of {k} of the {n} governors; this entry has "
            f"{len(approved)} (governors who signed: {who}; proposed by {signer_name!r})",
        )
    if signer_kid not in members:
        raise fail("R-GV-2", f"a registry change is proposed by a governor, not by {signer_name!r}")
    for sig in entry.sigs:
        if sig.kid not in members and sig.kid != also:
            raise fail(
                "R-GV-2",
                f"signature by {_name(state, sig.kid)!r}, who is not a governor, on a registry "
                "change",
            )
    if now > entry.body.time + PROPOSAL_TTL_MS:
        raise fail(
            "R-GV-4",
            f"the proposal expired: signed {iso_time(entry.body.time)}, appended "
            f"{iso_time(now)}, more than 7 days later",
        )
    pid = proposal_id(entry).hex()
    seen = state.get("proposal", pid)
    if seen is not None:
        raise fail(
            "R-GV-5",
            f"this proposal (body {pid[:16]}) was already applied at record {seen}: "
            "a registry change is applied once",
        )
    state.put("proposal", pid, index)


def install(
    state: State,
    governors: Sequence[Mapping[str, Any]],
    threshold: int,
    *,
    index: int,
    now: int,
    entry_id: bytes,
) -> None:
    """Put a governance set in force at record ``index`` (R-GV-3).

    A governor named with the key it has keeps it; named with another key, its old key
    goes out of force (a rotation); a new name joins with a fresh key; a governor left out
    leaves (its key out of force, the name never reused).
    """
    check_set(governors, threshold)
    old = state.governance()
    current = {_name(state, kid): kid for kid in (old["governors"] if old else ())}
    kids: list[bytes] = []
    named: set[str] = set()
    for g in governors:
        name, public = g["name"], g["pub"]
        kid = key_id(public)
        named.add(name)
        kids.append(kid)
        if current.get(name) == kid:
            continue
        holder = state.key(kid)
        if holder is not None:
            raise fail(
                "R-GV-3",
                f"the key of governor {name!r} is already registered (to {holder['name']!r}): "
                "a governor has a key of its own",
            )
        try:
            ed25519.check_public_key(public)
        except SignatureError as exc:
            raise fail("R-GV-3", f"the key of governor {name!r} is unusable: {exc}") from exc
        if name in current:  # the governor's key is replaced
            party = state.party(name)
            retired = state.key(current[name])
            if party is None or retired is None:  # pragma: no cover - written together
                raise fail("R-GV-3", f"governor {name!r} is missing from the registry")
            gone = retired.copy()
            gone.update({"until": index, "revoked": False})
            state.put_key(current[name], gone)
            party = party.copy()
            party["kid"] = kid
            party["entries"] = [*party["entries"], entry_id]
        else:
            if state.party(name) is not None:
                raise fail(
                    "R-GV-3",
                    f"governor name {name!r} is already registered: a governor joins under a "
                    "name of its own, never a participant's or a former governor's",
                )
            party = {
                "name": name,
                "kid": kid,
                "roles": [GOVERNOR_ROLE],
                "country": "--",
                "revoked": None,
                "entries": [entry_id],
            }
        state.put_key(kid, {"name": name, "pub": public, "from": index, "until": None})
        state.put_party(party)
    for name, kid in current.items():
        if name in named:
            continue
        left = state.party(name)
        info = state.key(kid)
        if left is None or info is None:  # pragma: no cover - written together
            continue
        left = left.copy()
        left.update({"revoked": index, "revoked_at": now})
        left["entries"] = [*left["entries"], entry_id]
        state.put_party(left)
        info = info.copy()
        info.update({"until": index, "revoked": True})
        state.put_key(kid, info)
    history = old["entries"] if old else []
    state.put(
        "gov",
        "set",
        Governance(governors=kids, threshold=threshold, since=index, entries=[*history, entry_id]),
    )


def require_not_governor(state: State, name: str) -> None:
    """R-GV-3: governors change by ``governance.set`` only, never by a participant entry."""
    party = state.party(name)
    if party is not None and GOVERNOR_ROLE in party["roles"]:
        raise fail(
            "R-GV-3",
            f"{name!r} is a governor: governors change only by a governance.set entry",
        )


def require_migration(state: State, signer_name: str, signer_kid: bytes) -> None:
    """A ledger without governance moves to it by one ``governance.set`` signed by the
    operator (R-ID-3): the last registry change the operator makes alone."""
    meta = state.meta()
    if meta is None or signer_kid != meta["operator"]:
        raise fail(
            "R-ID-3",
            f"only the operator may move this ledger to governance; signed by {signer_name!r}",
        )
