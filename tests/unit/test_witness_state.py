"""A witness's state file (ledger/storage/witness_state.py, specs/node.md §6.1)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ledger.errors import StoreError
from ledger.storage.witness_state import Cosigned, WitnessState

LOGS = {
    "b.example/log": Cosigned(3, b"\x02" * 32, "b.example/log\n3\nAgIC\n\n— sig\n"),
    "a.example/log": Cosigned(7, b"\x01" * 32, "a.example/log\n7\nAQEB\n\n— sig\n"),
}


def test_save_then_load(tmp_path: Path) -> None:
    state = WitnessState(tmp_path / "w.json")
    assert state.load() == {}
    with state.locked():
        state.save(LOGS)
    assert state.load() == LOGS
    # The file format: version 1, origins sorted, roots in base64, indented by one.
    data = json.loads((tmp_path / "w.json").read_text(encoding="utf-8"))
    assert data["version"] == 1 and list(data["logs"]) == ["a.example/log", "b.example/log"]
    assert data["logs"]["a.example/log"] == {
        "size": 7,
        "root": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        "checkpoint": LOGS["a.example/log"].checkpoint,
    }
    assert (tmp_path / "w.json").read_text(encoding="utf-8") == json.dumps(data, indent=1)
    # Only the state and its lock file: no temporary file is left beside them.
    assert sorted(os.listdir(tmp_path)) == ["w.json", "w.json.lock"]


def test_a_save_that_cannot_write_is_a_store_error(tmp_path: Path) -> None:
    missing = WitnessState(tmp_path / "no-such-dir" / "w.json")
    with pytest.raises(StoreError, match="cannot write witness state"):
        missing.save(LOGS)
    assert os.listdir(tmp_path) == []


def test_an_unreadable_state_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "w.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(StoreError, match="cannot read witness state"):
        WitnessState(tmp_path / "w.json").load()
