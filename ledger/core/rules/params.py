"""The numbers the rules use (specs/rules.md §2, §3.4): fixed constants and the ledger's
rule parameters.

Fixed constants are the same on every ledger. **Rule parameters** are set per ledger by
signed ``param.set`` entries, each with the date from which it holds (R-PA-1); a rule
reads the value in force on the date it judges (:func:`param`), or the default here when
none was set. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.core.rules.state import State

#: Allowed clock skew between a claimed entry time and the append time (R-TM-1).
MAX_SKEW_MS = 5 * 60 * 1000
#: Oldest claimed time accepted, relative to the append time (R-TM-4): room for offline
#: signing, but no back-dating an entry past a registry change made months ago.
MAX_AGE_MS = 30 * 24 * 3600 * 1000
#: Pending offers expire after 30 days (R-TM-3).
OFFER_TTL_MS = 30 * 24 * 3600 * 1000
#: Polished yield outside this window (per mille) is flagged (R-MB-5).
YIELD_MIN_PERMILLE = 150
YIELD_MAX_PERMILLE = 700
#: At most this many polished stones per rough stone (R-MB-3).
STONES_PER_ROUGH = 3

#: Roles that may take custody of goods (R-ID-1).
RECEIVER_ROLES = ("trader", "cutter", "grader", "retailer")
#: Kinds of goods that are rough diamonds under the KP (certificates, R-KP-2).
ROUGH_KINDS = ("rough", "byproduct")
#: The role of the genesis key.
OPERATOR_ROLE = "operator"
#: The role of a member of the governance set (specs/rules.md §3.9).
GOVERNOR_ROLE = "governor"
#: A registry change signed by k governors must be appended within this long of its
#: claimed time (R-GV-4): a proposal's signatures are gathered within 7 days.
PROPOSAL_TTL_MS = 7 * 24 * 3600 * 1000
#: Highest threshold k: an entry carries at most 8 signatures (specs/entries.md §4) and a
#: key rotation needs one more, by the participant's old key (R-ID-5).
MAX_THRESHOLD = 7
#: The entry types that change the registry: signed by the operator on a ledger without
#: governance (R-ID-3), by k of the n governors on one with (R-GV-1).
REGISTRY_TYPES = (
    "participant.add",
    "participant.revoke",
    "participant.rotate",
    "kp-status.set",
    "param.set",
    "governance.set",
)


@dataclass(frozen=True)
class Parameter:
    """A rule parameter: its default, its allowed range and what it governs."""

    default: int
    low: int
    high: int
    rule: str
    meaning: str


#: The rule parameters a ledger may set (specs/rules.md §3.4).
PARAMETERS: dict[str, Parameter] = {
    "cert-validity-days": Parameter(
        60, 1, 366, "R-KP-6", "longest validity of a KP certificate, issue to expiry, in days"
    ),
    "confirm-days": Parameter(
        30, 1, 366, "R-KP-3", "days after acceptance within which an import is confirmed"
    ),
    "mass-tolerance-points": Parameter(
        1, 0, 100, "R-MB-1", "weighing tolerance per weighed output, in points (1/100 ct)"
    ),
    "mass-tolerance-ppm": Parameter(
        500, 0, 10_000, "R-MB-1", "weighing tolerance relative to the input mass, in ppm"
    ),
}


def param(state: State, name: str, day: str) -> int:
    """The value of rule parameter ``name`` in force on ``day`` (its default if unset)."""
    value = PARAMETERS[name].default
    for start, v in state.get("param", name) or ():
        if start <= day:
            value = int(v)
        else:
            break
    return value


def tolerance(state: State, day: str, mass: int, weighings: int) -> int:
    """τ of R-MB-1 in points: ``max(points × weighings, mass × ppm / 10⁶)``."""
    per = param(state, "mass-tolerance-points", day)
    ppm = param(state, "mass-tolerance-ppm", day)
    return max(per * weighings, mass * ppm // 1_000_000)
