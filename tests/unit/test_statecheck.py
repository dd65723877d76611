"""``Ledger.verify`` compares the stored state in bounded memory (ledger/statecheck.py).

Values idle for ``IDLE`` entries are compared with their stored rows during the replay,
dropped when equal and parked as bytes when not. These tests shrink ``IDLE`` and ``SWEEP``
to a few entries so a small simulated ledger goes through many sweeps, and check that
(1) a valid ledger still verifies while memory holds only recent or live values, (2) every
read the rules make returns what a plain State returns, (3) every kind of change to the
stored state gets the same verdict, naming the same row, as comparing everything at the
end (``IDLE`` larger than the log), and (4) a failed verify leaves no temporary table.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import replay, rules
from ledger.core.encoding import decode, encode
from ledger.errors import LedgerError
from ledger.ledger import Ledger
from ledger.sim import simulate
from ledger.storage import statecheck
from ledger.storage.store import state_json


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("statecheck") / "sim.db"
    report = simulate(str(path), parcels=12, seed=7)
    assert report.ok and report.entries > 200
    return path


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statecheck, "IDLE", 5)
    monkeypatch.setattr(statecheck, "SWEEP", 3)
    monkeypatch.setattr(statecheck, "_BATCH", 7)


def _verdict(path: Path) -> str:
    led = Ledger.open(str(path))
    try:
        led.verify()
    except LedgerError as exc:
        return f"{exc.rule}: {exc.message}"
    finally:
        led.close()
    return "valid"


def test_sweeps_drop_values_and_the_ledger_still_verifies(
    simulated: Path, small_windows: None
) -> None:
    led = Ledger.open(str(simulated))
    try:
        total = led.store.conn.execute("SELECT count(*) FROM state").fetchone()[0]
        with led.store.snapshot():
            state = statecheck.CheckedState(led.store.conn)
            peak = 0

            def watch(_: int) -> None:
                nonlocal peak
                peak = max(peak, len(state._data))

            replay.replay(led.store.iter_rows(), state=state, progress=watch)
            state.finish()
        assert state._matched == total
        assert state.compared >= total
        # Live parcels and recent writes only: far fewer values than the state table holds.
        assert peak < total / 2, (peak, total)
        assert led.verify().size == led.size()
    finally:
        led.close()


def _copy(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    return dst


def _edit(path: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(sql, params)
    finally:
        conn.close()


def _rows(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return [(str(k), str(n)) for k, n in conn.execute("SELECT kind, key FROM state")]
    finally:
        conn.close()


def _tamper(path: Path, how: str, kind: str, key: str) -> None:
    conn = sqlite3.connect(path)
    try:
        raw, text = conn.execute(
            "SELECT value, json FROM state WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
    finally:
        conn.close()
    value = decode(bytes(raw))
    where = (kind, key)
    if how == "delete":
        _edit(path, "DELETE FROM state WHERE kind = ? AND key = ?", where)
    elif how == "value":
        changed = dict(value) if isinstance(value, dict) else {"was": value}
        changed["tampered"] = 1
        _edit(
            path,
            "UPDATE state SET value = ?, json = ? WHERE kind = ? AND key = ?",
            (encode(changed), state_json(changed), *where),
        )
    elif how == "json":
        _edit(
            path,
            "UPDATE state SET json = ? WHERE kind = ? AND key = ?",
            (text + " ", *where),
        )
    elif how == "extra":
        _edit(
            path,
            "INSERT INTO state (kind, key, value, json) VALUES (?, ?, ?, ?)",
            (kind, key + "-ghost", bytes(raw), text),
        )
    else:  # pragma: no cover
        raise AssertionError(how)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_a_changed_state_row_gets_the_verdict_of_a_final_comparison(
    simulated: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    rows = sorted(_rows(simulated))
    kind, key = data.draw(st.sampled_from(rows), label="row")
    how = data.draw(st.sampled_from(["delete", "value", "json", "extra"]), label="change")
    path = _copy(simulated, tmp_path_factory.mktemp("tamper") / "t.db")
    _tamper(path, how, kind, key)
    with pytest.MonkeyPatch.context() as mp:  # everything compared at the end
        mp.setattr(statecheck, "IDLE", 10**9)
        final = _verdict(path)
    with pytest.MonkeyPatch.context() as mp:  # many sweeps
        mp.setattr(statecheck, "IDLE", 5)
        mp.setattr(statecheck, "SWEEP", 3)
        mp.setattr(statecheck, "_BATCH", 7)
        swept = _verdict(path)
    assert final.startswith("R-ST-2: ")
    assert swept == final
    assert f"{kind}/{key}" in final


Read = tuple[tuple[str, str], object]


def _reads(
    cls: type[rules.State], rows: list[tuple[int, bytes]], *args: Any
) -> tuple[rules.State, list[Read]]:
    """A replay into a ``cls(*args)`` spied on: the state and every ``get`` the rules make
    during the replay, with its answer. The spy is a subclass: the compiled core calls a
    State's methods directly, past any attribute set on the instance."""
    reads: list[Read] = []

    class Spy(cls):  # type: ignore[misc,valid-type]
        def get(self, kind: str, key: str) -> Any | None:
            value = super().get(kind, key)
            reads.append(((kind, key), value))
            return value

    state = Spy(*args)
    replay.replay(rows, verify_signatures=False, state=state)
    return state, reads


def test_values_parked_and_read_back_are_the_replayed_values(
    simulated: Path, small_windows: None
) -> None:
    """Every get() of a CheckedState returns what a plain State returns at that point."""
    led = Ledger.open(str(simulated))
    try:
        rows = list(led.store.iter_rows())
        with led.store.snapshot():
            state, seen = _reads(statecheck.CheckedState, rows, led.store.conn)
            assert isinstance(state, statecheck.CheckedState)
            state.finish()
        assert state.compared > 0 and seen
        assert seen == _reads(rules.State, rows)[1]
    finally:
        led.close()


@pytest.mark.parametrize("where", ["at the end", "mid-replay"])
def test_a_failed_verify_drops_its_temporary_table(
    simulated: Path, tmp_path: Path, small_windows: None, where: str
) -> None:
    path = _copy(simulated, tmp_path / "bad.db")
    led = Ledger.open(str(path))
    try:
        with pytest.MonkeyPatch.context() as mp:
            if where == "at the end":
                kind, key = sorted(_rows(path))[-1]
                _tamper(path, "value", kind, key)
            else:
                from ledger.errors import RuleError
                from ledger.storage.indexcheck import CheckedIndexes

                # A failure from inside the replay loop (its per-record callback: the
                # compiled replay calls the rules engine directly, past a patched
                # rules.apply).
                real = CheckedIndexes.touched

                def touched(self: CheckedIndexes, index: int, *args: Any) -> None:
                    if index == 100:
                        raise RuleError("injected", rule="R-TEST")
                    real(self, index, *args)

                mp.setattr(CheckedIndexes, "touched", touched)
            with pytest.raises(LedgerError):
                led.verify()
        tables = led.store.conn.execute("SELECT name FROM sqlite_temp_master").fetchall()
        assert tables == []
    finally:
        led.close()
