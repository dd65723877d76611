"""The registry (R-ID-*, R-KP-7, R-PA-1, R-GV-*): genesis, participants and their keys, KP
statuses, rule parameters and the governance set. Every change is an entry signed by the
operator (R-ID-3) or, on a governed ledger, by k of its n governors (R-GV-1)."""

from __future__ import annotations

from ledger.core import ed25519
from ledger.core.model import SignedEntry, key_id
from ledger.core.rules.act import Act
from ledger.core.rules.calendar import days_between
from ledger.core.rules.governance import (
    install,
    require_migration,
    require_not_governor,
    require_registry,
)
from ledger.core.rules.params import OPERATOR_ROLE, PARAMETERS
from ledger.core.rules.signers import get_party, require_role, verify_sigs
from ledger.core.rules.state import KeyInfo, Outcome, Party, State, fail
from ledger.errors import SignatureError


def _usable(public: bytes, what: str) -> None:
    try:
        ed25519.check_public_key(public)
    except SignatureError as exc:
        raise fail("R-ID-6", f"{what} is unusable: {exc}") from exc


def genesis(state: State, entry: SignedEntry, index: int, now: int) -> Outcome:
    if index != 0 or state.meta() is not None:
        raise fail("R-CH-4", "a genesis entry may only be the first record")
    f = entry.fields
    operator = f["operator"]
    kid = key_id(operator)
    if entry.body.signer != kid:
        raise fail("R-ID-3", "the genesis entry must be signed by the operator key it names")
    _usable(operator, "operator key")
    verify_sigs(state, entry, {kid: operator})
    state.put(
        "meta",
        "ledger",
        {"origin": entry.body.ledger, "operator": kid, "name": f["name"], "genesis": entry.id},
    )
    state.put_key(kid, {"name": f["name"], "pub": operator, "from": 0, "until": None})
    state.put_party(
        {
            "name": f["name"],
            "kid": kid,
            "roles": [OPERATOR_ROLE],
            "country": "--",
            "revoked": None,
            "entries": [entry.id],
        }
    )
    if "governors" in f:
        install(state, f["governors"], f["threshold"], index=index, now=now, entry_id=entry.id)
    return Outcome()


def _registry(a: Act, action: str, *, also: bytes | None = None) -> None:
    require_registry(
        a.state, a.entry, a.signer.name, a.signer.kid, a.index, a.now, action, also=also
    )


def governance_set(a: Act) -> None:
    """Change the governance set or its threshold (k of the governors in force), or move a
    ledger without governance to one (the operator alone, R-ID-3)."""
    if a.state.governance() is None:
        require_migration(a.state, a.signer.name, a.signer.kid)
    else:
        _registry(a, "change the governance set")
    f = a.fields
    install(a.state, f["governors"], f["threshold"], index=a.index, now=a.now, entry_id=a.entry.id)


def participant_add(a: Act) -> None:
    _registry(a, "add participants")
    state, f = a.state, a.fields
    if state.party(f["name"]) is not None:
        raise fail("R-ID-6", f"participant name {f['name']!r} is already registered")
    kid = key_id(f["pub"])
    if state.key(kid) is not None:
        raise fail("R-ID-6", "this public key is already registered")
    _usable(f["pub"], "public key")
    state.put_key(kid, {"name": f["name"], "pub": f["pub"], "from": a.index, "until": None})
    state.put_party(
        {
            "name": f["name"],
            "kid": kid,
            "roles": list(f["roles"]),
            "country": f["country"],
            "revoked": None,
            "entries": [a.entry.id],
        }
    )


def participant_revoke(a: Act) -> None:
    """Revoke a participant; with ``compromised_since`` T, also void what its key signed
    from T on (R-ID-2): items descending from such an entry are quarantined."""
    _registry(a, "revoke participants")
    state, f = a.state, a.fields
    party = get_party(state, "R-ID-6", f["name"], "participant")
    require_not_governor(state, f["name"])
    if OPERATOR_ROLE in party["roles"]:
        raise fail("R-ID-3", "the operator cannot be revoked")
    since = f.get("compromised_since")
    if since is not None and since > a.now:
        raise fail(
            "R-ID-2",
            "a key cannot be compromised since a time after its revocation is appended",
        )
    party["revoked"] = a.index
    party["revoked_at"] = a.now
    party["entries"] = [*party["entries"], a.entry.id]
    if since is not None:
        party["compromised"] = since
    state.put_party(party)
    old = state.key(party["kid"])
    info: KeyInfo = (
        old.copy()
        if old is not None
        else {
            "name": party["name"],
            "pub": b"",
            "from": 0,
            "until": None,
        }
    )
    info.update({"until": a.index, "revoked": True})
    if since is not None:
        info["compromised"] = since
    state.put_key(party["kid"], info)


def participant_rotate(a: Act) -> None:
    state, f = a.state, a.fields
    named = state.party(f["name"])
    _registry(a, "rotate keys", also=named["kid"] if named is not None else None)
    party = get_party(state, "R-ID-6", f["name"], "participant")
    require_not_governor(state, f["name"])
    if OPERATOR_ROLE in party["roles"]:
        # meta.operator (and every checkpoint) names the genesis key; rotating it away
        # would leave no key able to change the registry.
        raise fail("R-ID-3", "the operator key cannot be rotated")
    if a.entry.signed_by(party["kid"]) is None:
        raise fail("R-ID-5", f"a key rotation must be co-signed by the old key of {f['name']!r}")
    new_kid = key_id(f["pub"])
    if state.key(new_kid) is not None:
        raise fail("R-ID-6", "the new public key is already registered")
    _usable(f["pub"], "the new public key")
    old = state.key(party["kid"])
    if old is not None:
        retired = old.copy()
        retired.update({"until": a.index, "revoked": False})
        state.put_key(party["kid"], retired)
    state.put_key(new_kid, {"name": f["name"], "pub": f["pub"], "from": a.index, "until": None})
    party["kid"] = new_kid
    party["entries"] = [*party["entries"], a.entry.id]
    state.put_party(party)


def kp_status_set(a: Act) -> None:
    _registry(a, "set KP status")
    state, f = a.state, a.fields
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
    state.put("kp-entries", f["country"], [*ids, a.entry.id])


def param_set(a: Act) -> None:
    """R-PA-1: set a rule parameter from a date on: never retroactively, never before or on
    the date of its last change, always within its range."""
    _registry(a, "set rule parameters")
    state, f = a.state, a.fields
    spec = PARAMETERS[f["name"]]
    if not spec.low <= f["value"] <= spec.high:
        raise fail(
            "R-PA-1",
            f"{f['name']} must be {spec.low} to {spec.high}, not {f['value']}",
        )
    if f["from"] < a.day:
        raise fail(
            "R-PA-1",
            f"a rule parameter cannot change retroactively: {f['from']} is before the "
            f"append date {a.day}",
        )
    periods = list(state.get("param", f["name"]) or [])
    if periods and f["from"] <= periods[-1][0]:
        raise fail(
            "R-PA-1",
            f"{f['name']} from {f['from']} must start after its last change ({periods[-1][0]})",
        )
    periods.append([f["from"], f["value"]])
    state.put("param", f["name"], periods)
    ids = list(state.get("param-entries", f["name"]) or [])
    state.put("param-entries", f["name"], [*ids, a.entry.id])


def _designation(a: Act, status: str) -> None:
    """R-SA-4: a sanctions list is kept by the one publisher that first published to it;
    each period of a party on a list starts after the last and within 30 days before its
    append date (a designation's legal date, never a rewriting of history)."""
    require_role(a.signer, "publisher", "publish sanctions designations")
    state, f = a.state, a.fields
    owner = state.get("list", f["list"])
    if owner is not None and owner["publisher"] != a.signer.name:
        raise fail(
            "R-SA-4",
            f"sanctions list {f['list']!r} is published by {owner['publisher']!r}, "
            f"not {a.signer.name!r}",
        )
    party = state.party(f["party"])
    if party is None:
        raise fail("R-SA-4", f"{f['party']!r} is not a registered participant")
    if days_between(f["from"], a.day) > 30:
        raise fail(
            "R-SA-4",
            f"a designation takes effect at most 30 days before it is published; {f['from']} "
            f"is more than that before {a.day}",
        )
    lists = {k: list(v) for k, v in party.get("lists", {}).items()}
    periods = lists.get(f["list"], [])
    if periods and f["from"] <= periods[-1][0]:
        raise fail(
            "R-SA-4",
            f"{f['party']!r} on {f['list']!r} from {f['from']} must start after its last "
            f"change ({periods[-1][0]})",
        )
    current = periods[-1][1] if periods else "delisted"
    if current == status:
        raise fail("R-SA-4", f"{f['party']!r} is already {status} on {f['list']!r}")
    lists[f["list"]] = [*periods, [f["from"], status]]
    party = party.copy()
    party["lists"] = lists
    party["entries"] = [*party["entries"], a.entry.id]
    state.put_party(party)
    if owner is None:
        state.put("list", f["list"], {"publisher": a.signer.name})


def sanction_designate(a: Act) -> None:
    _designation(a, "listed")


def sanction_delist(a: Act) -> None:
    _designation(a, "delisted")


def listed(party: Party | None, list_id: str, day: str) -> bool:
    """Whether ``party`` is designated on ``list_id`` on ``day``."""
    status = "delisted"
    periods = party.get("lists", {}).get(list_id, []) if party is not None else []
    for start, value in periods:
        if start <= day:
            status = value
    return status == "listed"
