"""The numbers the rules use (specs/rules.md §1): skews, windows, yields and role sets.

Constants only; no logic. Each names the rule it serves.
"""

from __future__ import annotations

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
