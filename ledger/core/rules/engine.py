"""The rules engine's entry point: ``apply`` one entry to the state (specs/rules.md).

``apply(state, entry, index=..., now=...)`` checks one signed entry against the state
built by every earlier entry and, when it is valid, updates the state. It raises
:class:`RuleError` naming the rule ID for an ERROR and returns the WARN findings
otherwise. Append, ``verify`` and offline proof verification all call this same
function; the only difference is where ``State`` keeps its values.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.core.model import SignedEntry
from ledger.core.rules import custody, kp, registry, transform
from ledger.core.rules.act import Act
from ledger.core.rules.params import MAX_AGE_MS, MAX_SKEW_MS
from ledger.core.rules.signers import signer_of, verify_sigs
from ledger.core.rules.state import Outcome, State, fail

Handler = Callable[[Act], None]

HANDLERS: dict[str, Handler] = {
    "participant.add": registry.participant_add,
    "participant.revoke": registry.participant_revoke,
    "participant.rotate": registry.participant_rotate,
    "kp-status.set": registry.kp_status_set,
    "param.set": registry.param_set,
    "governance.set": registry.governance_set,
    "sanction.designate": registry.sanction_designate,
    "sanction.delist": registry.sanction_delist,
    "origin": transform.origin,
    "grow": transform.grow,
    "certificate.issue": kp.certificate_issue,
    "certificate.confirm": kp.certificate_confirm,
    "transfer": custody.transfer,
    "accept": custody.accept,
    "reject": custody.reject,
    "cancel": custody.cancel,
    "split": transform.split,
    "merge": transform.merge,
    "cut": transform.cut,
    "grade": transform.grade,
    "sell": transform.sell,
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
        return registry.genesis(state, entry, index, now)
    meta = state.meta()
    if meta is None:
        raise fail("R-CH-4", "the first record must be the genesis entry")
    if entry.body.ledger != meta["origin"]:
        raise fail(
            "R-EN-2",
            f"entry was signed for ledger {entry.body.ledger!r}, this is {meta['origin']!r}",
        )
    signer = signer_of(state, entry)
    state.phase = 1
    verify_sigs(state, entry, {})
    state.phase = 2
    out = Outcome()
    HANDLERS[entry.type](Act(state, entry, signer, index, now, out))
    return out
