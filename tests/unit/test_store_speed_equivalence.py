"""The fast paths of ``ledger.store`` give exactly what the straightforward code gave.

The JSON columns (``state.json``, ``records.json``) and the canonical bytes of state values
must stay byte-identical, or ledgers written before would stop verifying. Each fast path is
compared here with a frozen copy of the code it replaced, on every row of a simulated
ledger and on hypothesis-generated values, including values the fast paths hand over to
the general code (floats, wide integers, odd keys and types, deep nesting, surrogates).

The rest checks that what a :class:`Store` remembers between its own appends never hides
a write made by anyone else (another connection, its own connection used directly, a
callback), and that a rejected or failed append leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sqlite3
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ledger
from ledger.core.encoding import decode, encode, encode_general
from ledger.core.model import Record, SignedEntry
from ledger.errors import ChainError, RuleError
from ledger.ledger import Ledger
from ledger.sim import simulate
from ledger.storage import columns
from ledger.storage.store import (
    Store,
    check_row_cache,
    state_json,
)

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------
# Frozen copies of the code the fast paths replaced


def _old_store_jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _old_store_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_old_store_jsonable(v) for v in value]
    return value


def old_state_json(value: Any) -> str:
    return json.dumps(_old_store_jsonable(value), separators=(",", ":"), sort_keys=True)


def _old_model_jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _old_model_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_old_model_jsonable(v) for v in value]
    return value


def old_entry_json(entry: SignedEntry) -> str:
    view = {
        "id": entry.id.hex(),
        "type": entry.type,
        "ledger": entry.body.ledger,
        "signer": entry.body.signer.hex(),
        "time": entry.body.time,
        "fields": _old_model_jsonable(dict(entry.fields)),
        "sigs": [{"kid": s.kid.hex(), "sig": s.sig.hex()} for s in entry.sigs],
    }
    return json.dumps(view, separators=(",", ":"))


def old_check_row_cache(record: Record, entry: SignedEntry, cached: Any) -> None:
    expected = (entry.id, record.hash, record.time, entry.type, old_entry_json(entry))
    names = ("id", "hash", "time", "type", "json")
    stored = (
        bytes(cached[0]) if len(cached) and isinstance(cached[0], (bytes, memoryview)) else None
    )
    for name, want, got in zip(names, expected, cached, strict=True):
        if (bytes(got) if isinstance(got, (bytes, memoryview)) else got) != want:
            if name == "id" and stored is not None:  # the id the user knows, then what it became
                raise ChainError(
                    f"entry {stored.hex()[:16]} was altered: its record's bytes now hash to "
                    f"entry {entry.id.hex()[:16]}",
                    rule="R-ST-2",
                )
            where = f"entry {entry.id.hex()[:16]}: " if stored is not None else ""
            raise ChainError(f"{where}stored column {name} differs from the record", rule="R-ST-2")


def outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    """What ``fn(*args)`` does: ``("ok", result)`` or ``("raise", (type, message))``."""
    try:
        return "ok", fn(*args)
    except Exception as exc:  # the verdicts are compared, whatever they are
        return "raise", (type(exc), str(exc))


# ---------------------------------------------------------------------------------------
# Values

_INT64 = st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
# Keys and text beyond ASCII (2-, 3- and 4-byte UTF-8) to exercise the key order.
_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "Cc")),
    max_size=8,
)
_LEAVES = st.none() | st.booleans() | _INT64 | _TEXT | st.binary(max_size=40)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(_TEXT, children, max_size=6)
    )


#: What the rules engine stores: maps with text keys (in any insertion order), lists,
#: tuples, text, bytes, 64-bit integers, booleans and None.
PLAIN = st.recursive(_LEAVES, _containers, max_leaves=40)


class _DictChild(dict):  # type: ignore[type-arg]
    pass


class _IntChild(int):
    pass


class _StrChild(str):
    __slots__ = ()


_ODD_LEAVES = (
    _LEAVES
    | st.floats(allow_nan=False)
    | st.integers(min_value=-(1 << 70), max_value=1 << 70)
    | st.binary(max_size=8).map(bytearray)
    | st.binary(max_size=8).map(memoryview)
    | st.sets(st.integers(0, 3), max_size=2)
    | st.integers(0, 9).map(_IntChild)
    | _TEXT.map(_StrChild)
    | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
)
_ODD_KEYS = (
    _TEXT
    | st.integers(-3, 3)
    | st.binary(max_size=3)
    | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
    | st.none()
)


def _odd_containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return (
        _containers(children)
        | st.dictionaries(_ODD_KEYS, children, max_size=4)
        | st.dictionaries(_TEXT, children, max_size=4).map(_DictChild)
        | st.dictionaries(_TEXT, children, max_size=4).map(OrderedDict)
    )


#: Anything: what the fast paths must hand to the general code, or reject the same way.
ODD = st.recursive(_ODD_LEAVES, _odd_containers, max_leaves=30)


def nested(depth: int, leaf: Any, kind: str) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


# ---------------------------------------------------------------------------------------
# state_json, and encode's fast path against its general walk


@PROPS
@given(PLAIN)
def test_state_json_is_the_old_rendering(value: Any) -> None:
    assert state_json(value) == old_state_json(value)


@PROPS
@given(ODD)
def test_state_json_agrees_on_unusual_values(value: Any) -> None:
    assert outcome(state_json, value) == outcome(old_state_json, value)


@PROPS
@given(PLAIN)
def test_encode_is_its_general_walk(value: Any) -> None:
    assert encode(value) == encode_general(value)


@PROPS
@given(ODD)
def test_encode_agrees_with_its_general_walk_on_unusual_values(value: Any) -> None:
    assert outcome(encode, value) == outcome(encode_general, value)


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("depth", range(13, 20))
@pytest.mark.parametrize("leaf", [1, [], {}, b"\x00", "x"])
def test_deep_nesting_gets_the_same_verdict(kind: str, depth: int, leaf: Any) -> None:
    value = nested(depth, leaf, kind)
    assert outcome(encode, value) == outcome(encode_general, value)
    assert outcome(state_json, value) == outcome(old_state_json, value)


def test_key_order_is_utf8_order() -> None:
    # Code point order is UTF-8 order (not UTF-16 order: "\U0001f600" sorts after "\uff5e").
    value = {"\uff5e": 1, "\U0001f600": 2, "b": 3, "a": {"\u00e9": 4, "e": 5}, "": 6}
    assert encode(value) == encode_general(value)
    assert state_json(value) == old_state_json(value)


def test_circular_values_fail_as_before() -> None:
    loop: list[Any] = []
    loop.append(loop)
    cycle: dict[str, Any] = {}
    cycle["a"] = [cycle]
    for value in (loop, cycle):
        # The old rendering's pre-pass hit the recursion limit; so does the C encoder.
        for render in (state_json, old_state_json):
            with pytest.raises(RecursionError):
                render(value)
        assert outcome(encode, value) == outcome(encode_general, value)


def test_encode_does_not_change_its_argument() -> None:
    value = {"b": {"z": 1, "a": [{"y": 2, "x": 3}]}, "a": (b"\x01", {"d": 4, "c": 5})}
    before = repr(value)
    assert encode(value) == encode_general(value)
    assert repr(value) == before


# ---------------------------------------------------------------------------------------
# A simulated ledger: every entry type, every state kind


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("sim") / "sim.db"
    simulate(str(path), parcels=8, seed=5)
    store = Store.open(str(path))
    yield store
    store.close()


@pytest.fixture(scope="module")
def sim_records(sim: Store) -> list[Record]:
    return [Record.from_wire(raw) for _, raw in sim.iter_rows()]


def test_every_stored_row_renders_as_before(sim: Store, sim_records: list[Record]) -> None:
    rows = list(sim.iter_rows_cached())
    assert len(rows) == len(sim_records) > 300
    types = set()
    for (idx, raw, cached), record in zip(rows, sim_records, strict=True):
        entry = record.entry()
        types.add(entry.type)
        assert idx == record.index and raw == record.raw
        assert columns.entry_json(entry) == old_entry_json(entry) == cached[4]
        check_row_cache(record, entry, cached)
        old_check_row_cache(record, entry, cached)
    assert len(types) >= 14


def test_every_state_row_encodes_as_stored(sim: Store) -> None:
    kinds = set()
    for kind, _key, raw, text in sim.state_rows():
        kinds.add(kind)
        value = decode(raw)
        assert encode(value) == raw
        assert state_json(value) == old_state_json(value) == text
    assert {"parcel", "party", "kid", "cert", "transfer", "meta", "kp"} <= kinds


_FIELDS = st.dictionaries(
    _TEXT,
    st.recursive(
        _LEAVES,
        lambda c: st.lists(c, max_size=4) | st.dictionaries(_TEXT, c, max_size=4),
        max_leaves=20,
    ),
    max_size=8,
)


@PROPS
@given(fields=_FIELDS, which=st.integers(0, 10_000))
def test_entry_json_is_the_old_rendering(
    sim_records: list[Record], fields: dict[str, Any], which: int
) -> None:
    entry = sim_records[which % len(sim_records)].entry()
    entry = dataclasses.replace(entry, body=dataclasses.replace(entry.body, fields=fields))
    assert columns.entry_json(entry) == old_entry_json(entry)


def test_check_row_cache_reports_the_same_errors(sim_records: list[Record]) -> None:
    record = sim_records[42]
    entry = record.entry()
    good = (entry.id, record.hash, record.time, entry.type, old_entry_json(entry))
    variants: list[Any] = [good, list(good), (), good[:4], (*good, 1)]
    for i in range(5):
        bad = list(good)
        bad[i] = {0: b"\x00" * 32, 1: b"\x01" * 32, 2: record.time + 1, 3: "sell", 4: "{}"}[i]
        variants.append(tuple(bad))
    variants.append((memoryview(entry.id), *good[1:]))
    variants.append((entry.id, record.hash, float(record.time), entry.type, good[4]))
    for cached in variants:
        new = outcome(check_row_cache, record, entry, cached)
        old = outcome(old_check_row_cache, record, entry, cached)
        assert new == old, cached


@PROPS
@given(
    # A bool index only in pure Python: compiled (mypyc), Record.build's int parameter
    # receives True as 1, before any code of it runs.
    index=st.integers(min_value=-1, max_value=(1 << 64) + 1)
    | (st.booleans() if ledger.build() == "pure" else st.nothing()),
    time=st.integers(min_value=-(1 << 64), max_value=(1 << 64) + 1),
    prev=st.binary(min_size=0, max_size=40),
    entry=st.binary(max_size=300),
)
def test_record_build_is_the_general_encoding(
    index: int, time: int, prev: bytes, entry: bytes
) -> None:
    def general(index: int, prev: bytes, time: int, entry: bytes) -> bytes:
        return encode_general({"v": 1, "index": index, "prev": prev, "time": time, "entry": entry})

    assert outcome(lambda *a: Record.build(*a).raw, index, prev, time, entry) == outcome(
        general, index, prev, time, entry
    )


def test_row_iterators_return_what_is_stored(sim: Store) -> None:
    conn = sim.conn
    stored = conn.execute(
        "SELECT idx, record, id, hash, time, type, json FROM records ORDER BY idx"
    ).fetchall()
    assert list(sim.iter_rows()) == [(r[0], r[1]) for r in stored]
    assert list(sim.iter_records(5, 9)) == [r[1] for r in stored[5:9]]
    assert list(sim.iter_rows_cached(10, 20)) == [(r[0], r[1], tuple(r[2:])) for r in stored[10:20]]
    assert list(sim.iter_rows(len(stored) - 2)) == [(r[0], r[1]) for r in stored[-2:]]
    for row in sim.iter_rows_cached(0, 3):
        assert type(row[1]) is bytes and type(row[2]) is tuple


def test_an_abandoned_iterator_after_close_is_harmless(
    sim_records: list[Record], tmp_path: Path
) -> None:
    store = _fresh(tmp_path / "abandon.db", sim_records)
    rows = store.iter_rows()
    assert next(rows)[0] == 0
    store.close()
    rows.close()  # must not try to close the cursor of a closed connection


# ---------------------------------------------------------------------------------------
# Appends: what a Store remembers never hides another writer


def _fresh(path: Path, records: list[Record]) -> Store:
    store = Store.create(str(path))
    store.append([records[0].entry()], now=records[0].time)
    return store


def _replay(stores: list[Store], records: list[Record], start: int, end: int) -> None:
    """Append ``records[start:end]`` one per transaction, turn by turn through ``stores``."""
    for i in range(start, end):
        r = records[i]
        done = stores[i % len(stores)].append([r.entry()], now=r.time)
        assert done[0].index == i and done[0].record.raw == r.raw


def _contents(store: Store) -> tuple[Any, ...]:
    conn = store.conn
    return (
        conn.execute("SELECT * FROM records ORDER BY idx").fetchall(),
        conn.execute("SELECT kind, key, value, json FROM state ORDER BY kind, key").fetchall(),
        conn.execute("SELECT level, idx, hashes FROM tiles ORDER BY level, idx").fetchall(),
        conn.execute("SELECT item, idx FROM touches ORDER BY item, idx").fetchall(),
        conn.execute("SELECT idx, rule, message FROM findings ORDER BY idx, rule").fetchall(),
    )


def test_two_handles_appending_in_turn_write_the_source_ledger(
    sim: Store, sim_records: list[Record], tmp_path: Path
) -> None:
    a = _fresh(tmp_path / "turns.db", sim_records)
    b = Store.open(str(tmp_path / "turns.db"))
    try:
        # One handle alone for a while (it remembers), then both in turn, crossing tile
        # boundaries (256 leaves) with the other handle's appends in between.
        _replay([a], sim_records, 1, 120)
        _replay([a, b], sim_records, 120, 300)
        _replay([b, b, a], sim_records, 300, len(sim_records))
        assert _contents(a) == _contents(sim)
        assert a.root() == b.root() == sim.root()
        Ledger(a).verify()
    finally:
        a.close()
        b.close()


def test_batches_write_the_source_ledger(
    sim: Store, sim_records: list[Record], tmp_path: Path
) -> None:
    store = _fresh(tmp_path / "batches.db", sim_records)
    try:
        i = 1
        for size in (1, 7, 1, 1, 60, 2, 200, 1000):
            batch = sim_records[i : i + size]
            if not batch:
                break
            # The simulator appended at each record's time: keep batches within one time.
            first = batch[0].time
            batch = [r for r in itertools.takewhile(lambda r, t=first: r.time == t, batch)]
            store.append([r.entry() for r in batch], now=batch[0].time)
            i += len(batch)
        _replay([store], sim_records, i, len(sim_records))
        assert _contents(store) == _contents(sim)
    finally:
        store.close()


def test_import_style_batches_verify(sim_records: list[Record], tmp_path: Path) -> None:
    """Batches of entries with different claimed times, appended at the last one's time."""
    store = _fresh(tmp_path / "import.db", sim_records)
    try:
        i = 1
        while i < len(sim_records):
            start = sim_records[i].time
            batch = [
                r
                for r in itertools.takewhile(
                    lambda r, t=start: r.time - t <= 3_600_000, sim_records[i : i + 40]
                )
            ]
            store.append([r.entry() for r in batch], now=batch[-1].time)
            i += len(batch)
        assert store.size() == len(sim_records)
        report = Ledger(store).verify()
        assert report.size == len(sim_records)
    finally:
        store.close()


def _set_origin(conn: sqlite3.Connection, origin: str) -> None:
    meta = decode(
        conn.execute("SELECT value FROM state WHERE kind='meta' AND key='ledger'").fetchone()[0]
    )
    meta["origin"] = origin
    conn.execute(
        "UPDATE state SET value = ?, json = ? WHERE kind = 'meta' AND key = 'ledger'",
        (encode(meta), old_state_json(meta)),
    )


def _origin(store: Store) -> str:
    meta = store.state_value("meta", "ledger")
    assert meta is not None
    return str(meta["origin"])


@pytest.mark.parametrize("how", ["other connection", "own connection", "other handle"])
def test_a_write_by_anyone_else_is_seen_by_the_next_append(
    sim_records: list[Record], tmp_path: Path, how: str
) -> None:
    path = tmp_path / "seen.db"
    store = _fresh(path, sim_records)
    try:
        _replay([store], sim_records, 1, 30)
        origin = _origin(store)
        if how == "other connection":
            other = sqlite3.connect(str(path), isolation_level=None)
            _set_origin(other, "somewhere else")
            other.close()
        elif how == "own connection":
            _set_origin(store.conn, "somewhere else")
        else:
            handle = Store.open(str(path))
            _set_origin(handle.conn, "somewhere else")
            handle.close()
        with pytest.raises(RuleError) as info:
            _replay([store], sim_records, 30, 31)
        assert info.value.rule == "R-EN-2"
        _set_origin(store.conn, origin)
        _replay([store], sim_records, 30, 60)
        Ledger(store).verify()
    finally:
        store.close()


def test_a_callback_writing_through_the_connection_is_seen(
    sim_records: list[Record], tmp_path: Path
) -> None:
    store = _fresh(tmp_path / "callback.db", sim_records)
    try:
        _replay([store], sim_records, 1, 30)
        origin = _origin(store)
        r = sim_records[30]
        store.append(
            [r.entry()], now=r.time, progress=lambda n: _set_origin(store.conn, "elsewhere")
        )
        with pytest.raises(RuleError) as info:
            _replay([store], sim_records, 31, 32)
        assert info.value.rule == "R-EN-2"
        _set_origin(store.conn, origin)
        _replay([store], sim_records, 31, 40)
    finally:
        store.close()


def test_a_rejected_or_failed_append_leaves_nothing_behind(
    sim: Store, sim_records: list[Record], tmp_path: Path
) -> None:
    store = _fresh(tmp_path / "rejected.db", sim_records)
    try:
        _replay([store], sim_records, 1, 100)
        before = _contents(store)
        # A duplicate, a bad batch (the second entry repeats the first), a failing callback.
        r = sim_records[100]
        with pytest.raises(ChainError):
            store.append([sim_records[50].entry()], now=r.time)
        with pytest.raises(ChainError):
            store.append([r.entry(), r.entry()], now=r.time)

        def boom(size: int, root: bytes, map_root: bytes) -> str:
            raise RuntimeError("no signer")

        with pytest.raises(RuntimeError):
            store.append([r.entry()], now=r.time, checkpoint=boom)
        with pytest.raises(RuleError):  # an entry from further on: its inputs do not exist yet
            store.append([sim_records[-1].entry()], now=sim_records[-1].time)
        assert _contents(store) == before
        _replay([store], sim_records, 100, len(sim_records))
        assert _contents(store) == _contents(sim)
    finally:
        store.close()


def test_unchanged_state_rows_are_not_rewritten(tmp_path: Path) -> None:
    store = Store.create(str(tmp_path / "unchanged.db"))
    try:
        conn = store.conn
        a, b = {"x": 1, "b": b"\x01"}, {"y": [1, 2]}
        written = Store._write_state(conn, {("t", "a"): a, ("t", "b"): b})
        assert written == {("t", "a"): encode(a), ("t", "b"): encode(b)}
        changes = conn.total_changes
        b2 = {"y": [1, 2, 3]}
        again = Store._write_state(conn, {("t", "a"): a, ("t", "b"): b2}, written)
        assert again == {("t", "a"): encode(a), ("t", "b"): encode(b2)}
        assert conn.total_changes == changes + 1  # only b
        assert store.state_items("t") == [("a", a), ("b", b2)]
        rows = conn.execute("SELECT key, json FROM state ORDER BY key").fetchall()
        assert rows == [("a", old_state_json(a)), ("b", old_state_json(b2))]
    finally:
        store.close()


def _tamper(path: Path, sql: str, *args: Any) -> None:
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("DROP TRIGGER records_no_update")
        conn.execute(sql, args)
        conn.execute(
            "CREATE TRIGGER records_no_update BEFORE UPDATE ON records "
            "BEGIN SELECT RAISE(ABORT, 'kpledger records are append-only'); END"
        )
    finally:
        conn.close()


def test_rows_with_text_that_is_not_utf8_come_as_stored(
    sim: Store, sim_records: list[Record], tmp_path: Path
) -> None:
    """A tampered file may hold a TEXT value that is not UTF-8, which sqlite3 cannot fetch:
    the iterators hand such a row over as stored (its bytes) and go on with the next."""
    path = tmp_path / "utf8.db"
    sim.conn.execute(f"VACUUM INTO '{path}'")
    _tamper(path, "UPDATE records SET id = X'00' || id WHERE idx = 3")
    _tamper(path, "UPDATE records SET json = CAST(X'7bff7d' AS TEXT) WHERE idx = 7")
    _tamper(path, "UPDATE records SET record = CAST(X'ff' || record AS TEXT) WHERE idx = 9")
    _tamper(path, "UPDATE records SET type = CAST(X'c3a9' AS TEXT) WHERE idx = 11")  # UTF-8
    store = Store.open(str(path))
    try:
        rows = {idx: (raw, cached) for idx, raw, cached in store.iter_rows_cached(0, 20)}
        assert sorted(rows) == list(range(20))
        assert rows[3][1][0] == b"\x00" + sim_records[3].entry().id
        assert rows[7][1][4] == b"{\xff}"
        assert rows[9][0] == b"\xff" + sim_records[9].raw
        assert rows[11][1][3] == "\u00e9"
        for idx in (0, 5, 10, 19):
            assert rows[idx][0] == sim_records[idx].raw
        assert [i for i, _ in store.iter_rows(8)][:3] == [8, 9, 10]
        assert list(store.iter_records(9, 10)) == [b"\xff" + sim_records[9].raw]
        for idx, says in ((3, "was altered: its record's bytes"), (7, "stored column json differs"),
                          (11, "stored column type differs")):  # fmt: skip
            record = sim_records[idx]
            with pytest.raises(ChainError, match=says):
                check_row_cache(record, record.entry(), rows[idx][1])
        with pytest.raises(ChainError) as info:
            Ledger(store).verify()
        assert info.value.rule == "R-ST-2"
    finally:
        store.close()


def test_entries_may_come_from_any_iterable(sim_records: list[Record], tmp_path: Path) -> None:
    store = _fresh(tmp_path / "iterable.db", sim_records)
    try:
        r = sim_records[1]
        done = store.append((e for e in [r.entry()]), now=r.time)  # type: ignore[arg-type]
        assert [a.index for a in done] == [1] and store.size() == 2
    finally:
        store.close()
