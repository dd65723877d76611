"""``Act``: one entry being applied, with what every handler needs to judge it.

The state, the entry, the acting participant, the record's position and **append time**
(the log's clock, trusted) and the outcome being built. The dates an act is judged on are
its claimed date and its append date (specs/rules.md §2): a rule that holds "on a date"
holds on both, so back-dating can neither extend a validity nor escape a suspension.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger.core.model import SignedEntry
from ledger.core.rules.calendar import date_of, judged_days
from ledger.core.rules.signers import Signer
from ledger.core.rules.state import Finding, Outcome, State


@dataclass
class Act:
    state: State
    entry: SignedEntry
    signer: Signer
    index: int
    now: int
    out: Outcome

    @property
    def fields(self) -> Mapping[str, Any]:
        return self.entry.fields

    @property
    def time(self) -> int:
        """The claimed time (the signer's word)."""
        return self.entry.body.time

    @property
    def day(self) -> str:
        """The append date: the date of the log's own clock."""
        return date_of(self.now)

    @property
    def days(self) -> tuple[str, ...]:
        """The claimed date and the append date (once each)."""
        return judged_days(self.entry.body.time, self.now)

    def warn(self, rule: str, message: str) -> None:
        self.out.warnings.append(Finding(rule, message))

    def affect(self, pid: str) -> None:
        """Record that this entry touched item ``pid`` (its history lists the entry)."""
        self.out.touched.append(pid)
