"""Governance rule vectors (specs/rules.md §3.9, ``tests/vectors/entries/governance.json``):
every record of a governed ledger is accepted or refused with the rule the file names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.core import rules
from ledger.core.model import Record
from ledger.errors import RuleError

VECTORS = json.loads(
    (Path(__file__).resolve().parent / "entries" / "governance.json").read_text(encoding="utf-8")
)


def test_governance_vectors_cover_every_governance_rule() -> None:
    expected = {s["expect"] for s in VECTORS["steps"]}
    assert expected >= {"ok", "R-GV-1", "R-GV-2", "R-GV-3", "R-GV-4", "R-GV-5"}


def test_governance_vectors_replay() -> None:
    state = rules.State()
    for step in VECTORS["steps"]:
        record = Record.from_wire(bytes.fromhex(step["record"]))
        entry = record.entry()
        if step["expect"] == "ok":
            rules.apply(state, entry, index=record.index, now=record.time)
            continue
        before = dict(state.items("party")), state.governance()
        with pytest.raises(RuleError) as info:
            rules.apply(state, entry, index=record.index, now=record.time)
        assert info.value.rule == step["expect"], step["name"]
        assert (dict(state.items("party")), state.governance()) == before, step["name"]
    gov = state.governance()
    assert gov is not None and gov["threshold"] == 3 and len(gov["governors"]) == 4
