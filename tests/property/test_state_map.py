"""The state map (specs/state-map.md) against a deliberately simple second implementation.

``simple_root`` recomputes the root from scratch from a dict of leaves, straight from the
spec's recursive definition (no stored nodes, no batching, no versions). Hypothesis drives
random update sequences through the incremental :class:`statemap.MemoryMap` and compares
every root; proofs of present and absent keys verify, and every tampered proof fails.
Simulated ledgers are checked the same way at every size: the store's map tables (the
current version and every earlier one), the verify replay's map and the simple
recomputation from the replayed state agree, and verify refuses a false commitment.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import note, replay, rules, statemap
from ledger.core.encoding import encode
from ledger.errors import ProofError
from ledger.ledger import Ledger
from ledger.sim import simulate


def simple_root(leaves: dict[bytes, tuple[bytes, int]], depth: int = 0) -> bytes:
    """Root of the map holding ``leaves`` (key hash -> (value hash, index)), from scratch."""
    if not leaves:
        return bytes(32)
    if len(leaves) == 1:
        ((kh, (vh, index)),) = leaves.items()
        return hashlib.sha256(b"\x02" + kh + vh + index.to_bytes(8, "big")).digest()
    left = {k: v for k, v in leaves.items() if not (k[depth // 8] >> (7 - depth % 8)) & 1}
    right = {k: v for k, v in leaves.items() if k not in left}
    return hashlib.sha256(
        b"\x03" + simple_root(left, depth + 1) + simple_root(right, depth + 1)
    ).digest()


KEYS = st.tuples(st.sampled_from(["parcel", "party", "kid", "kp"]), st.integers(0, 40))
UPDATES = st.lists(
    st.lists(st.tuples(KEYS, st.binary(min_size=1, max_size=4)), min_size=1, max_size=6),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(batches=UPDATES, check_every=st.booleans())
def test_incremental_map_agrees_with_recomputation(
    batches: list[list[tuple[tuple[str, int], bytes]]], check_every: bool
) -> None:
    m = statemap.MemoryMap()
    ref: dict[bytes, tuple[bytes, int]] = {}
    for index, batch in enumerate(batches):
        for (kind, n), value in batch:
            kh = statemap.key_hash(kind, f"K{n}")
            vh = hashlib.sha256(value).digest()
            m.set(kh, vh, index)
            ref[kh] = (vh, index)
        if check_every or index == len(batches) - 1:
            assert m.root() == simple_root(ref)
    root = m.root()
    for kind in ("parcel", "party"):
        for n in range(0, 41, 5):
            proof = m.prove(kind, f"K{n}")
            statemap.verify_proof(proof, root)
            kh = statemap.key_hash(kind, f"K{n}")
            assert proof.present == (kh in ref)
            if proof.present:
                assert (proof.value, proof.index) == ref[kh]
            assert statemap.MapProof.from_wire(proof.to_wire()) == proof


@settings(max_examples=150, deadline=None)
@given(
    keys=st.sets(st.integers(0, 300), min_size=1, max_size=60),
    target=st.integers(0, 300),
    data=st.data(),
)
def test_tampered_proofs_fail(keys: set[int], target: int, data: st.DataObject) -> None:
    m = statemap.MemoryMap()
    for n in keys:
        m.set(statemap.key_hash("parcel", f"P{n}"), hashlib.sha256(b"%d" % n).digest(), n)
    root = m.root()
    proof = m.prove("parcel", f"P{target}")
    statemap.verify_proof(proof, root)
    how = data.draw(
        st.sampled_from(["value", "index", "key", "path", "drop", "add", "absent", "root"])
    )
    if how == "value" and proof.present:
        bad = replace(proof, value=bytes(b ^ 1 for b in proof.value))
    elif how == "index" and proof.present:
        bad = replace(proof, index=proof.index + data.draw(st.integers(1, 5)))
    elif how == "key" and (proof.present or keys - {target}):
        # A proof relabelled to another key (an absent key's proof to a present one: an
        # absence proof of one absent key may well also prove another's absence).
        pool = st.integers(0, 300) if proof.present else st.sampled_from(sorted(keys))
        other = data.draw(pool.filter(lambda n: n != target))
        bad = replace(proof, key=f"P{other}")
    elif how == "path" and proof.path:
        i = data.draw(st.integers(0, len(proof.path) - 1))
        old = proof.path[i] or bytes(32)
        flipped = old[:-1] + bytes([old[-1] ^ 1])
        bad = replace(proof, path=(*proof.path[:i], flipped, *proof.path[i + 1 :]))
    elif how == "drop" and proof.path:
        bad = replace(proof, path=proof.path[1:])
    elif how == "add":
        bad = replace(proof, path=(data.draw(st.binary(min_size=32, max_size=32)), *proof.path))
    elif how == "absent" and proof.present:
        bad = replace(proof, value=b"", index=0)
    else:
        with pytest.raises(ProofError):
            statemap.verify_proof(proof, hashlib.sha256(root).digest())
        return
    with pytest.raises(ProofError):
        statemap.verify_proof(bad, root)


def test_malformed_wire_proofs_are_refused() -> None:
    m = statemap.MemoryMap()
    m.set(statemap.key_hash("parcel", "A"), bytes(32), 1)
    good = m.prove("parcel", "A").to_wire()
    for change in (
        {"index": -1},
        {"value": b"x"},
        {"other": b"y" * 5},
        {"path": [b"z"]},
        {"path": [bytes(32)]},
        {"kind": ""},
        {"key": "a\x00b"},
        {"extra": 1},
    ):
        with pytest.raises(ProofError, match="map proof"):
            statemap.MapProof.from_wire({**good, **change})


# --- simulated ledgers ----------------------------------------------------------------------


KINDS = ("meta", "kid", "party", "parcel", "transfer", "cert", "kp", "kp-entries", "param")
KINDS += ("param-entries", "list", "mine", "gov", "proposal")


def replayed_leaves(records: list[tuple[int, bytes]]) -> list[dict[bytes, tuple[bytes, int]]]:
    """For every size, the map's leaves by brute force: after each record, hash every value
    of the whole state and keep the index of the last record that changed the hash."""
    state = rules.State()
    out: list[dict[bytes, tuple[bytes, int]]] = []
    leaves: dict[bytes, tuple[bytes, int]] = {}
    for index, raw in records:
        replay.replay([(index, raw)], contiguous=False, verify_signatures=False, state=state)
        for kind in KINDS:
            for key, value in state.items(kind):
                kh = statemap.key_hash(kind, key)
                vh = hashlib.sha256(encode(value)).digest()
                if leaves.get(kh, (None, 0))[0] != vh:
                    leaves[kh] = (vh, index)
        out.append(dict(leaves))
    return out


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("map") / "sim.db"
    simulate(str(path), parcels=3, seed=5, batch=7)
    return path


def test_every_root_of_a_simulated_ledger_agrees(simulated: Path) -> None:
    led = Ledger.open(str(simulated))
    try:
        rows = list(led.store.iter_rows())
        brute = replayed_leaves(rows)
        memory = statemap.MemoryMap()
        roots: dict[int, bytes] = {}
        replay.replay(rows, state_map=memory, on_size=lambda n: roots.__setitem__(n, memory.root()))
        for size in range(1, len(rows) + 1):
            expected = simple_root(brute[size - 1])
            assert roots[size] == expected, size
            assert led.store.map_root(size) == expected, size
        # Proofs at an earlier size come from the current tables with later changes undone.
        for size in (1, len(rows) // 3, len(rows) // 2, len(rows)):
            for kind, key in (("meta", "ledger"), ("param", "confirm-days"), ("parcel", "x")):
                proof = led.store.map_proof(size, kind, key)
                statemap.verify_proof(proof, simple_root(brute[size - 1]))
    finally:
        led.close()


def test_verify_refuses_a_false_commitment(tmp_path: Path) -> None:
    from tests.conftest import fixed_key

    op = fixed_key("Operator", 1)
    led = Ledger.create(str(tmp_path / "l.db"), op, "kpledger.test/map", now=1_700_000_000_000)
    try:
        good = led.checkpoint(op)
        assert note.map_root(note.parse_checkpoint(note.parse_note(good).text)) == (
            led.store.map_root(1)
        )
        led.verify()
        body = note.kpledger_checkpoint(led.origin, 1, led.store.root(1), bytes(range(32)))
        led.store.add_checkpoint(1, note.sign_checkpoint(body, led.origin, op.seed))
        with pytest.raises(
            ProofError, match="checkpoint at size 1 commits to state-map root"
        ) as info:
            led.verify()
        assert info.value.rule == "R-SM-1"
    finally:
        led.close()


def test_verify_refuses_tampered_map_tables(simulated: Path, tmp_path: Path) -> None:
    for sql in (
        "UPDATE map_leaf SET idx = idx + 1 WHERE k = (SELECT min(k) FROM map_leaf)",
        "UPDATE map_node SET h = zeroblob(32) WHERE id = (SELECT min(id) FROM map_node)",
        "DELETE FROM map_leaf WHERE k = (SELECT max(k) FROM map_leaf)",
        "UPDATE map_root SET root = zeroblob(32) WHERE size = (SELECT max(size) FROM map_root)",
    ):
        copy = tmp_path / "copy.db"
        copy.write_bytes(simulated.read_bytes())
        conn = sqlite3.connect(copy)
        conn.execute(sql)
        conn.commit()
        conn.close()
        led = Ledger.open(str(copy))
        try:
            with pytest.raises(ProofError, match="state-map") as info:
                led.verify()
            assert info.value.rule == "R-SM-1", sql
        finally:
            led.close()
