"""The registry (R-ID-*, R-KP-7): genesis, participants and their keys, KP statuses."""

from __future__ import annotations

from ledger.core import ed25519
from ledger.core.model import SignedEntry, key_id
from ledger.core.rules.params import OPERATOR_ROLE
from ledger.core.rules.signers import Signer, get_party, require_operator, verify_sigs
from ledger.core.rules.state import Outcome, State, fail
from ledger.errors import SignatureError


def genesis(state: State, entry: SignedEntry, index: int, now: int) -> Outcome:
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
    verify_sigs(state, entry, {kid: operator})
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


def participant_add(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    require_operator(state, signer, "add participants")
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


def participant_revoke(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    require_operator(state, signer, "revoke participants")
    name = entry.fields["name"]
    party = get_party(state, "R-ID-6", name, "participant")
    if OPERATOR_ROLE in party["roles"]:
        raise fail("R-ID-3", "the operator cannot be revoked")
    party["revoked"] = index
    party["entries"] = [*party["entries"], entry.id]
    state.put("party", name, party)
    info = dict(state.get("kid", party["kid"].hex()) or {})
    info.update({"until": index, "revoked": True})
    state.put("kid", party["kid"].hex(), info)


def participant_rotate(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    require_operator(state, signer, "rotate keys")
    f = entry.fields
    party = get_party(state, "R-ID-6", f["name"], "participant")
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


def kp_status_set(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    require_operator(state, signer, "set KP status")
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
