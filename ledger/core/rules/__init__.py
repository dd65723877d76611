"""The rules engine: which entries the ledger accepts (specs/rules.md).

One module per concern: ``state`` (the journaled state, findings), ``params`` (the
numbers), ``calendar`` and ``composition`` (dates and origin shares), ``signers`` (R-ID),
``parcels`` (UTXO discipline), ``registry``, ``kp`` (the KP scheme), ``custody`` and
``transform`` (the entry types), and ``engine`` (``apply``, the one entry point).

No I/O and no clock: the record's append time arrives as ``now`` and its log position
as ``index``. Append, ``verify`` and offline proof verification all call ``apply``.
"""

from __future__ import annotations

from ledger.core.rules.act import Act
from ledger.core.rules.calendar import (
    DAY_MS,
    date_of,
    date_start_ms,
    days_between,
    iso_time,
    judged_days,
)
from ledger.core.rules.composition import PPM, format_composition, mix_compositions
from ledger.core.rules.engine import HANDLERS, apply
from ledger.core.rules.governance import approvals, check_set, proposal_id
from ledger.core.rules.kp import kp_status, overdue_confirmations, require_good_standing
from ledger.core.rules.params import (
    GOVERNOR_ROLE,
    MAX_AGE_MS,
    MAX_SKEW_MS,
    MAX_THRESHOLD,
    OFFER_TTL_MS,
    OPERATOR_ROLE,
    PARAMETERS,
    PROPOSAL_TTL_MS,
    RECEIVER_ROLES,
    REGISTRY_TYPES,
    ROUGH_KINDS,
    STONES_PER_ROUGH,
    YIELD_MAX_PERMILLE,
    YIELD_MIN_PERMILLE,
    Parameter,
    param,
    tolerance,
)
from ledger.core.rules.parcels import entry_parents
from ledger.core.rules.quarantine import (
    Propagation,
    VoidEntry,
    find_void,
    quarantine,
    void_from_json,
    void_to_json,
)
from ledger.core.rules.registry import listed
from ledger.core.rules.signers import Signer
from ledger.core.rules.state import (
    Backing,
    Certificate,
    Finding,
    Governance,
    KeyInfo,
    Meta,
    Outcome,
    Parcel,
    Party,
    State,
    Transfer,
    fail,
)

__all__ = [
    "DAY_MS",
    "GOVERNOR_ROLE",
    "HANDLERS",
    "MAX_AGE_MS",
    "MAX_SKEW_MS",
    "MAX_THRESHOLD",
    "OFFER_TTL_MS",
    "OPERATOR_ROLE",
    "PARAMETERS",
    "PPM",
    "PROPOSAL_TTL_MS",
    "RECEIVER_ROLES",
    "REGISTRY_TYPES",
    "ROUGH_KINDS",
    "STONES_PER_ROUGH",
    "YIELD_MAX_PERMILLE",
    "YIELD_MIN_PERMILLE",
    "Act",
    "Backing",
    "Certificate",
    "Finding",
    "Governance",
    "KeyInfo",
    "Meta",
    "Outcome",
    "Parameter",
    "Parcel",
    "Party",
    "Propagation",
    "Signer",
    "State",
    "Transfer",
    "VoidEntry",
    "apply",
    "approvals",
    "check_set",
    "date_of",
    "date_start_ms",
    "days_between",
    "entry_parents",
    "fail",
    "find_void",
    "format_composition",
    "iso_time",
    "judged_days",
    "kp_status",
    "listed",
    "mix_compositions",
    "overdue_confirmations",
    "param",
    "proposal_id",
    "quarantine",
    "require_good_standing",
    "tolerance",
    "void_from_json",
    "void_to_json",
]
