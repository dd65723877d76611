"""Logs that break a rule behind the engine's back, and ``Ledger.verify`` naming the rule.

Each test writes a record straight into the SQLite ``records`` table: a correctly signed
entry in a correctly chained record (``Record.build``) whose cached columns match, but
which ``rules.apply`` never saw. The Merkle tiles and the ``state`` table are then stale
as well; ``verify`` replays the records before comparing those, so the replay's error
(the broken rule, located at its record) is the one reported.

The last tests tamper with the store itself: a missing append-only trigger (R-ST-1),
edited derived state (R-ST-2), edited tiles (R-CH-2), broken chain links (R-CH-1) and
bytes that are not a canonical record (R-EN-1).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from ledger.core.model import Record, SignedEntry, entry_to_json
from ledger.core.rules import MAX_SKEW_MS
from ledger.errors import ChainError, EncodingError, LedgerError, ProofError, RuleError
from tests.conftest import DAY, OPERATOR, World, fixed_key


def head(world: World) -> tuple[int, bytes]:
    """Size of the log and the hash of its last record."""
    row = world.ledger.store.conn.execute(
        "SELECT idx, hash FROM records ORDER BY idx DESC LIMIT 1"
    ).fetchone()
    return int(row[0]) + 1, bytes(row[1])


def insert_raw(world: World, idx: int, raw: bytes, *, entry: SignedEntry | None = None) -> None:
    """Insert record bytes at ``idx`` with cached columns derived from them (when possible)."""
    if entry is not None:
        record = Record.from_wire(raw)
        columns = (
            entry.id,
            record.hash,
            record.time,
            entry.type,
            json.dumps(entry_to_json(entry), separators=(",", ":")),
        )
    else:
        digest = hashlib.sha256(raw).digest()
        columns = (digest, digest, 0, "genesis", "{}")
    conn = world.ledger.store.conn
    conn.execute(
        "INSERT INTO records (idx, id, hash, time, type, json, record)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (idx, *columns, raw),
    )


def forge(
    world: World,
    entry: SignedEntry,
    *,
    now: int | None = None,
    index: int | None = None,
    prev: bytes | None = None,
    idx: int | None = None,
) -> int:
    """Append ``entry`` without the rules engine; return the record index it got."""
    size, last = head(world)
    index = size if index is None else index
    record = Record.build(index, last if prev is None else prev, now or world.now, entry.raw)
    insert_raw(world, size if idx is None else idx, record.raw, entry=entry)
    world.advance(1_000)
    return index


def expect_verify(world: World, rule: str, error: type[LedgerError] = RuleError) -> LedgerError:
    with pytest.raises(LedgerError) as info:
        world.verify()
    assert type(info.value) is error, f"expected {error.__name__}, got {info.value!r}"
    assert info.value.rule == rule, str(info.value)
    return info.value


@pytest.fixture
def p1(world: World) -> str:
    world.origin("Jwaneng", "P1", carats=10_000, stones=20)
    return "P1"


def split_fields(world: World, pid: str, *carats: int) -> dict[str, Any]:
    outputs = [{"parcel": f"{pid}-{i}", "carats": c} for i, c in enumerate(carats)]
    return {"input": world.ref(pid), "outputs": outputs}


# ---------------------------------------------------------------------------
# Rules broken behind the engine's back


Forger = Callable[[World], SignedEntry]


def _inflating_split(w: World) -> SignedEntry:
    return w.sign("split", split_fields(w, "P1", 6_000, 6_000), "Jwaneng")


def _inflating_cut(w: World) -> SignedEntry:
    w.ship("Jwaneng", "Surat Cutter", ["P1"])
    fields = {
        "inputs": [w.ref("P1")],
        "stones": [{"parcel": "S1", "carats": 5_000}],
        "byproducts": [{"parcel": "B1", "carats": 5_006}],  # 6 points over τ = 5
    }
    return w.sign("cut", fields, "Surat Cutter")


def _inflating_merge(w: World) -> SignedEntry:
    w.origin("Jwaneng", "P2", carats=1_000)
    fields = {
        "inputs": [w.ref("P1"), w.ref("P2")],
        "output": {"parcel": "M", "carats": 11_007},  # 7 points over τ = 5
    }
    return w.sign("merge", fields, "Jwaneng")


def _double_spend(w: World) -> SignedEntry:
    ref = w.ref("P1")
    w.split("Jwaneng", "P1", [("A", 5_000), ("B", 5_000)], ref=ref)
    fields = {"input": ref, "outputs": [{"parcel": "C", "carats": 1}, {"parcel": "D", "carats": 1}]}
    return w.sign("split", fields, "Jwaneng")


def _stale_transfer(w: World) -> SignedEntry:
    ref = w.ref("P1")
    w.ship("Jwaneng", "Gaborone Trader", ["P1"])
    return w.sign("transfer", {"to": "Antwerp Trader", "inputs": [ref]}, "Gaborone Trader")


def _not_custodian(w: World) -> SignedEntry:
    return w.sign("split", split_fields(w, "P1", 5_000, 5_000), "Diavik")


def _no_certificate(w: World) -> SignedEntry:
    return w.sign("transfer", {"to": "Antwerp Trader", "inputs": [w.ref("P1")]}, "Jwaneng")


def _revoked_key(w: World) -> SignedEntry:
    w.revoke("Jwaneng")
    return w.sign("split", split_fields(w, "P1", 5_000, 5_000), "Jwaneng")


def _registry_by_non_operator(w: World) -> SignedEntry:
    new = fixed_key("Rogue", 200)
    fields = {"name": "Rogue", "pub": new.public, "roles": ["mine"], "country": "BW"}
    return w.sign("participant.add", fields, "BW KP Authority")


def _suspended_origin(w: World) -> SignedEntry:
    fields = {"parcel": "CF1", "carats": 100, "stones": 1, "mine": "Carnot", "hs": "7102.10"}
    return w.sign("origin", fields, "Carnot")


def _kp_back_dating(w: World) -> SignedEntry:
    return w.sign(
        "kp-status.set", {"country": "CF", "status": "participant", "from": "2010-01-01"}, OPERATOR
    )


def _future_entry(w: World) -> SignedEntry:
    return w.sign("split", split_fields(w, "P1", 1, 1), "Jwaneng", time=w.now + MAX_SKEW_MS + 1)


def _stale_claim(w: World) -> SignedEntry:
    w.advance(31 * DAY)
    return w.sign("split", split_fields(w, "P1", 1, 1), "Jwaneng", time=w.now - 31 * DAY + 1)


def _other_ledger(w: World) -> SignedEntry:
    return w.sign("split", split_fields(w, "P1", 1, 1), "Jwaneng", origin="another.example/log")


def _expired_accept(w: World) -> SignedEntry:
    offer = w.transfer("Jwaneng", "Gaborone Trader", ["P1"])
    w.advance(31 * DAY)
    return w.sign("accept", {"transfer": offer.entry.id}, "Gaborone Trader")


def _second_genesis(w: World) -> SignedEntry:
    op = w.keys[OPERATOR]
    return w.sign("genesis", {"operator": op.public, "name": OPERATOR}, OPERATOR)


@pytest.mark.parametrize(
    ("rule", "make"),
    [
        ("R-MB-1", _inflating_split),
        ("R-MB-1", _inflating_merge),
        ("R-MB-2", _inflating_cut),
        ("R-CU-3", _double_spend),
        ("R-CU-3", _stale_transfer),
        ("R-CU-1", _not_custodian),
        ("R-KP-2", _no_certificate),
        ("R-KP-1", _suspended_origin),
        ("R-KP-7", _kp_back_dating),
        ("R-ID-2", _revoked_key),
        ("R-ID-3", _registry_by_non_operator),
        ("R-TM-1", _future_entry),
        ("R-TM-3", _expired_accept),
        ("R-TM-4", _stale_claim),
        ("R-EN-2", _other_ledger),
        ("R-CH-4", _second_genesis),
    ],
    ids=lambda v: v if isinstance(v, str) else v.__name__.strip("_"),
)
def test_verify_names_the_broken_rule(world: World, p1: str, rule: str, make: Forger) -> None:
    world.verify()
    entry = make(world)
    with pytest.raises(RuleError) as info:  # the engine refuses it through the front door
        world.append(entry)
    assert info.value.rule == rule
    # Appended at the entry's claimed time (before it, for the future-time case).
    now = {"R-TM-1": entry.body.time - MAX_SKEW_MS - 1, "R-TM-4": world.now}.get(
        rule, entry.body.time
    )
    index = forge(world, entry, now=now)
    error = expect_verify(world, rule)
    assert f"record {index}" in error.message


def test_rule_error_comes_before_stale_tiles_and_state(world: World, p1: str) -> None:
    index = forge(world, _inflating_split(world))
    # A valid entry after the forged one: the log is still invalid at the forged record.
    forge(
        world,
        world.sign(
            "origin",
            {"parcel": "Z", "carats": 1, "stones": 1, "mine": "x", "hs": "7102.10"},
            "Diavik",
        ),
    )
    error = expect_verify(world, "R-MB-1")
    assert f"record {index}" in error.message


def test_valid_record_behind_the_stores_back(world: World, p1: str) -> None:
    """A record the rules accept, but the state never saw: R-ST-2. (The partial level-0
    tile is the records' hashes, schema 3: the tree follows the records.)"""
    forge(world, world.sign("split", split_fields(world, "P1", 5_000, 5_000), "Jwaneng"))
    with pytest.raises(LedgerError) as info:
        world.verify()
    assert type(info.value) is ChainError
    assert info.value.rule == "R-ST-2", str(info.value)
    assert "derived state" in info.value.message


# ---------------------------------------------------------------------------
# The store and the chain


def test_R_ST_1_missing_trigger(world: World, p1: str) -> None:
    world.ledger.store.conn.execute("DROP TRIGGER records_no_update")
    expect_verify(world, "R-ST-1", ChainError)


def test_R_ST_2_edited_state(world: World, p1: str) -> None:
    conn = world.ledger.store.conn
    row = conn.execute(
        "SELECT value, json FROM state WHERE kind = 'parcel' AND key = 'P1'"
    ).fetchone()
    parcel = world.parcel("P1")
    parcel["holder"] = "Diavik"
    from ledger.core.encoding import encode  # the store's own encoding

    conn.execute(
        "UPDATE state SET value = ?, json = ? WHERE kind = 'parcel' AND key = 'P1'",
        (encode(parcel), row[1].replace('"Jwaneng"', '"Diavik"')),
    )
    assert world.parcel("P1")["holder"] == "Diavik"
    expect_verify(world, "R-ST-2", ChainError)


def test_R_ST_2_extra_state(world: World, p1: str) -> None:
    from ledger.core.encoding import encode

    world.ledger.store.conn.execute(
        "INSERT INTO state (kind, key, value, json) VALUES ('parcel', 'GHOST', ?, '{}')",
        (encode({}),),
    )
    expect_verify(world, "R-ST-2", ChainError)


def test_R_CH_2_edited_tiles(world: World, p1: str) -> None:
    """A tile row that is not what the records give. This log is one partial level-0
    tile, which schema 3 does not store: a row for it is read instead of the records."""
    conn = world.ledger.store.conn
    assert conn.execute("SELECT COUNT(*) FROM tiles").fetchone()[0] == 0
    blob = b"".join(r[0] for r in conn.execute("SELECT hash FROM records ORDER BY idx"))
    blob = bytes([blob[0] ^ 1]) + blob[1:]
    conn.execute("INSERT INTO tiles (level, idx, hashes) VALUES (0, 0, ?)", (blob,))
    expect_verify(world, "R-CH-2", ProofError)


def test_R_CH_1_broken_prev_link(world: World, p1: str) -> None:
    entry = world.sign("split", split_fields(world, "P1", 5_000, 5_000), "Jwaneng")
    forge(world, entry, prev=b"\x42" * 32)
    expect_verify(world, "R-CH-1", ChainError)


def test_R_CH_1_record_claims_another_index(world: World, p1: str) -> None:
    entry = world.sign("split", split_fields(world, "P1", 5_000, 5_000), "Jwaneng")
    size, _ = head(world)
    forge(world, entry, index=size + 7)
    expect_verify(world, "R-CH-1", ChainError)


def test_R_CH_1_gap_in_the_log(world: World, p1: str) -> None:
    entry = world.sign("split", split_fields(world, "P1", 5_000, 5_000), "Jwaneng")
    size, _ = head(world)
    forge(world, entry, index=size + 1, idx=size + 1)
    expect_verify(world, "R-CH-1", ChainError)


def test_R_EN_1_record_bytes_not_canonical(world: World, p1: str) -> None:
    size, _ = head(world)
    insert_raw(world, size, b"\x81\xa1v\x01 not a record")
    expect_verify(world, "R-EN-1", EncodingError)


def test_R_EN_1_entry_bytes_not_canonical(world: World, p1: str) -> None:
    size, last = head(world)
    record = Record.build(size, last, world.now, b"\xc0")  # msgpack nil, not an entry
    insert_raw(world, size, record.raw)
    expect_verify(world, "R-EN-1", EncodingError)


def test_untampered_world_verifies(world: World, p1: str) -> None:
    world.ship("Jwaneng", "Antwerp Trader", [p1])
    report = world.verify()
    assert report.size == world.ledger.size()
