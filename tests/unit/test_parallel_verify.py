"""verify(jobs=N): workers check signatures and cached columns, the main process the rules.

The verdict and the reported record must be the same as a one-process replay.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.core.model import Signature, SignedEntry
from ledger.errors import LedgerError
from ledger.ledger import Ledger
from tests.conftest import World
from tests.unit.test_chain_tamper import copy_of, pristine, put_record, raw_sql, rows
from tests.unit.test_tamper_rules import forge

__all__ = ["pristine"]  # the module-scoped fixture, shared with test_chain_tamper


def _origins(world: World, n: int) -> None:
    for i in range(n):
        fields = {
            "parcel": f"PV{i}",
            "carats": 100 + i,
            "stones": 3,
            "mine": "Pit",
            "hs": "7102.10",
        }
        world.act("origin", fields, "Jwaneng")


def _verdict(world: World, **kw: int) -> tuple[str | None, str]:
    try:
        world.ledger.verify(**kw)
    except LedgerError as exc:
        return exc.rule, exc.message
    return None, "valid"


def test_parallel_verify_matches_serial_on_a_valid_log(world: World) -> None:
    _origins(world, 30)
    serial = world.ledger.verify()
    parallel = world.ledger.verify(jobs=2, chunk=7)
    assert (parallel.size, parallel.root, parallel.warnings) == (
        serial.size,
        serial.root,
        serial.warnings,
    )


@pytest.mark.parametrize("at", [3, 25])
def test_parallel_verify_reports_the_first_bad_signature(world: World, at: int) -> None:
    _origins(world, at)
    good = world.sign(
        "origin",
        {"parcel": "BAD", "carats": 1, "stones": 1, "mine": "x", "hs": "7102.10"},
        "Jwaneng",
    )
    sig = good.sigs[0]
    flipped = Signature(sig.kid, sig.sig[:10] + bytes([sig.sig[10] ^ 1]) + sig.sig[11:])
    bad = SignedEntry.build(good.body_bytes, [flipped])
    index = forge(world, bad)
    serial = _verdict(world)
    parallel = _verdict(world, jobs=2, chunk=4)
    assert serial[0] == parallel[0] == "R-ID-1"
    assert f"record {index}" in serial[1] and f"record {index}" in parallel[1]


# --- any tamper: the same verdict, rule and message as a one-process verify ---------------

PARALLEL_EXAMPLES = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _file_verdict(path: Path, **kw: int) -> tuple[str, str | None, str]:
    led = Ledger.open(str(path))
    try:
        led.verify(**kw)
    except LedgerError as exc:
        return type(exc).__name__, exc.rule, exc.message
    finally:
        led.close()
    return "valid", None, ""


@PARALLEL_EXAMPLES
@given(data=st.data())
def test_parallel_verify_reports_what_serial_reports(
    pristine: tuple[Path, int], data: st.DataObject
) -> None:
    """A byte of a record flipped (cached columns kept consistent or not), or a cached
    column changed: the workers' checks and the unchecked replay find faults in different
    orders, yet the verdict must be the one-process verdict, word for word."""
    index = data.draw(st.integers(0, pristine[1] - 1), label="record")
    how = data.draw(st.sampled_from(["record, caches fixed", "record only", "column"]))
    with copy_of(pristine) as path:
        with raw_sql(path) as conn:
            if how == "column":
                column = data.draw(st.sampled_from(["id", "hash", "time", "type", "json"]))
                conn.execute(
                    f"UPDATE records SET {column} = CASE typeof({column}) "
                    f"WHEN 'integer' THEN {column} + 1 WHEN 'text' THEN {column} || ' ' "
                    f"ELSE CAST(X'00' || {column} AS BLOB) END WHERE idx = ?",
                    (index,),
                )
            else:
                raw = bytearray(dict(rows(conn))[index])
                at = data.draw(st.integers(0, len(raw) - 1), label="offset")
                raw[at] ^= data.draw(st.integers(1, 255), label="xor")
                if how == "record only":
                    conn.execute("UPDATE records SET record = ? WHERE idx = ?", (bytes(raw), index))
                else:
                    put_record(conn, index, bytes(raw))
        serial = _file_verdict(path)
        parallel = _file_verdict(path, jobs=2, chunk=2)
    assert serial[0] != "valid"
    assert parallel == serial


def test_registered_keys_name_every_signer_governors_included(tmp_path: Path) -> None:
    """A parallel verify's workers check the signatures of the keys registered_keys names
    (the main process skips them): a governor's key, named by the genesis or a
    governance.set rather than a participant entry, must be among them."""
    from ledger.core.model import Record
    from ledger.sim import simulate
    from ledger.storage.store import Store

    path = tmp_path / "gov.db"
    assert simulate(str(path), parcels=3, seed=5).ok
    store = Store.open(str(path))
    try:
        keys = store.registered_keys()
        genesis = Record.from_wire(next(iter(store.iter_rows()))[1]).entry()
        governors = genesis.fields.get("governors") or []
        assert governors, "the simulated genesis names governors"
        for g in governors:
            assert g["pub"] in keys.values()
        for _, raw in store.iter_rows():
            for sig in Record.from_wire(raw).entry().sigs:
                assert sig.kid in keys
    finally:
        store.close()
