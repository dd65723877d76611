"""Unit tests for ``ledger.merkle``: hashing, proof generation, verification, edge cases.

Proofs are compared with a direct transcription of the recursive RFC 6962 §2.1
definitions, and every proof for trees of up to 64 leaves is checked to verify and to
fail after corruption (the way Go ``sumdb/tlog`` tests do).
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import merkle
from ledger.errors import ProofError

MAX_N = 64
LEAVES = [merkle.leaf_hash(b"leaf %d" % i) for i in range(2 * MAX_N + 2)]
READERS = {n: merkle.ListHashReader(LEAVES[:n]) for n in range(MAX_N + 1)}
ROOTS = {n: merkle.root_from_leaf_hashes(LEAVES[:n]) for n in range(MAX_N + 1)}


# ------------------------------------------------------------------------------------------
# Reference implementation: RFC 6962 §2.1, §2.1.1, §2.1.2 word for word (recursive)
# ------------------------------------------------------------------------------------------


def _k(n: int) -> int:
    """Largest power of two strictly less than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: Sequence[bytes]) -> list[tuple[bytes, bool]]:
    """PATH(m, D[n]) as (hash, sibling_is_left) pairs."""
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), (ref_mth(d[k:]), False)]
    return [*ref_path(m - k, d[k:]), (ref_mth(d[:k]), True)]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def _sides(m: int, n: int) -> list[bool]:
    """The shape of PATH(m, D[n]): for each proof hash, whether it is the left sibling."""
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*_sides(m, k), False]
    return [*_sides(m - k, n - k), True]


def _flip(h: bytes, bit: int) -> bytes:
    b = bytearray(h)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


def _bits_to_flip(size: int, salt: int) -> range | list[int]:
    """All 256 bits for small trees; 8 bits (one per 4 bytes, rotating) otherwise."""
    if size <= 8:
        return range(256)
    return [(byte * 8 + (salt + byte) % 8) for byte in range(0, 32, 4)]


# ------------------------------------------------------------------------------------------
# Hashing
# ------------------------------------------------------------------------------------------


def test_known_hashes() -> None:
    # specs/merkle.md §1.1 (tlog-formats §1.1).
    assert merkle.HASH_SIZE == 32
    assert merkle.EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    a, b = LEAVES[0], LEAVES[1]
    assert merkle.node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert merkle.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()


def test_domain_separation() -> None:
    # A 64-byte "leaf" is not a node: H(0x00||l||r) != H(0x01||l||r).
    a, b = LEAVES[0], LEAVES[1]
    assert merkle.leaf_hash(a + b) != merkle.node_hash(a, b)


def test_hashing_argument_errors() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        merkle.node_hash(b"\x00" * 31, LEAVES[0])
    with pytest.raises(ValueError, match="32-byte"):
        merkle.node_hash(LEAVES[0], b"\x00" * 33)
    with pytest.raises(TypeError):
        merkle.leaf_hash("text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="leaf hash 1"):
        merkle.root_from_leaf_hashes([LEAVES[0], b"short"])
    with pytest.raises(ValueError):
        merkle.ListHashReader([b"short"])


def test_roots_match_reference() -> None:
    for n in range(2 * MAX_N + 3):
        want = ref_mth(LEAVES[:n])
        assert merkle.root_from_leaf_hashes(LEAVES[:n]) == want
        assert merkle.tree_root(n, merkle.ListHashReader(LEAVES[:n])) == want


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=1500))
def test_roots_agree_for_larger_trees(n: int) -> None:
    hashes = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    assert merkle.root_from_leaf_hashes(hashes) == merkle.tree_root(
        n, merkle.ListHashReader(hashes)
    )


def test_list_hash_reader() -> None:
    reader = merkle.ListHashReader(LEAVES[:5])
    assert len(reader) == 5
    assert reader.subtree_hash(0, 4) == LEAVES[4]
    assert reader.subtree_hash(2, 0) == ref_mth(LEAVES[:4])
    for level, index in [(0, 5), (2, 1), (3, 0), (-1, 0), (0, -1)]:
        with pytest.raises(ValueError):
            reader.subtree_hash(level, index)


# ------------------------------------------------------------------------------------------
# Inclusion proofs (RFC 9162 §2.1.3)
# ------------------------------------------------------------------------------------------


def test_inclusion_proofs_match_reference() -> None:
    for n in range(1, MAX_N + 1):
        for m in range(n):
            path = ref_path(m, LEAVES[:n])
            assert merkle.inclusion_proof(m, n, READERS[n]) == [h for h, _ in path], (m, n)
            assert [left for _, left in path] == _sides(m, n)


def test_inclusion_exhaustive() -> None:
    """Every leaf of every tree up to 64 leaves: verifies, and every corruption fails."""
    for n in range(1, MAX_N + 1):
        root = ROOTS[n]
        for m in range(n):
            leaf = LEAVES[m]
            proof = merkle.inclusion_proof(m, n, READERS[n])
            merkle.verify_inclusion(leaf, m, n, proof, root)
            assert merkle.root_from_inclusion_proof(leaf, m, n, proof) == root

            # One-bit flips in every proof hash, in the leaf hash and in the root.
            for j in range(len(proof)):
                for bit in _bits_to_flip(n, m + j):
                    bad = [*proof[:j], _flip(proof[j], bit), *proof[j + 1 :]]
                    with pytest.raises(ProofError):
                        merkle.verify_inclusion(leaf, m, n, bad, root)
            for bit in _bits_to_flip(n, m):
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(_flip(leaf, bit), m, n, proof, root)
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(leaf, m, n, proof, _flip(root, bit))

            # Truncated and extended proofs.
            variants = [proof[:-1], proof[1:], [*proof, root], [root, *proof], [*proof, leaf]]
            for bad in variants:
                if bad != proof:
                    with pytest.raises(ProofError):
                        merkle.verify_inclusion(leaf, m, n, bad, root)

            # Any other index fails, including past the end.
            for other in range(n + 2):
                if other != m:
                    with pytest.raises(ProofError):
                        merkle.verify_inclusion(leaf, other, n, proof, root)

            # Another size verifies exactly when the audit path has the same shape (the
            # computation is then identical): the size is bound only by the signed
            # checkpoint, see specs/merkle.md §3.2.
            for other in range(2 * n + 2):
                if other == n:
                    continue
                same_shape = other > m and _sides(m, other) == _sides(m, n)
                if same_shape:
                    merkle.verify_inclusion(leaf, m, other, proof, root)
                else:
                    with pytest.raises(ProofError):
                        merkle.verify_inclusion(leaf, m, other, proof, root)


def test_inclusion_proof_arguments() -> None:
    reader = READERS[8]
    for index, size in [(8, 8), (0, 0), (-1, 8), (9, 8)]:
        with pytest.raises(ValueError):
            merkle.inclusion_proof(index, size, reader)
    with pytest.raises(TypeError):
        merkle.inclusion_proof(True, 8, reader)
    with pytest.raises(ValueError):
        merkle.tree_root(-1, reader)
    assert merkle.tree_root(0, reader) == merkle.EMPTY_ROOT
    assert merkle.inclusion_proof(0, 1, READERS[1]) == []


def test_verify_inclusion_bad_input_is_proof_error() -> None:
    n, m = 8, 3
    proof = merkle.inclusion_proof(m, n, READERS[n])
    leaf, root = LEAVES[m], ROOTS[n]
    cases = [
        (leaf[:31], m, n, proof, root),
        (leaf, m, n, proof, root + b"\x00"),
        (b"", m, n, proof, root),
        (leaf, m, n, [*proof[:1], b"", *proof[2:]], root),
        (leaf, m, n, [*proof[:1], proof[1][:16], *proof[2:]], root),
        (leaf, -1, n, proof, root),
        (leaf, m, -1, proof, root),
        (leaf, m, 0, [], merkle.EMPTY_ROOT),
        (leaf, 2**64 - 1, n, proof, root),
        (leaf, m, 2**64 - 1, proof, root),
        (leaf, m, n, [], root),
    ]
    for args in cases:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*args)
    with pytest.raises(ProofError, match=r"expected root .*, calculated "):
        merkle.verify_inclusion(leaf, m, n, proof, ROOTS[7])
    with pytest.raises(ProofError, match="expected 3 hashes, got 2"):
        merkle.verify_inclusion(leaf, m, n, proof[:2], root)
    # Programmer errors stay TypeError.
    with pytest.raises(TypeError):
        merkle.verify_inclusion(leaf.hex(), m, n, proof, root)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        merkle.verify_inclusion(leaf, m, n, b"".join(proof), root)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        merkle.verify_inclusion(leaf, "3", n, proof, root)  # type: ignore[arg-type]
    # A single-leaf tree: empty proof, the root is the leaf hash.
    merkle.verify_inclusion(leaf, 0, 1, [], leaf)


# ------------------------------------------------------------------------------------------
# Consistency proofs (RFC 9162 §2.1.4)
# ------------------------------------------------------------------------------------------


def test_consistency_proofs_match_reference() -> None:
    for n in range(1, MAX_N + 1):
        for m in range(1, n):
            want = ref_subproof(m, LEAVES[:n], True)
            assert merkle.consistency_proof(m, n, READERS[n]) == want, (m, n)


def test_consistency_exhaustive() -> None:
    """Every pair 1 <= m <= n <= 64 verifies and fails after any corruption."""
    for n in range(1, MAX_N + 1):
        new_root = ROOTS[n]
        for m in range(1, n + 1):
            old_root = ROOTS[m]
            proof = merkle.consistency_proof(m, n, READERS[n])
            assert len(proof) <= (n - 1).bit_length() + 1
            merkle.verify_consistency(m, n, old_root, new_root, proof)

            for j in range(len(proof)):
                for bit in _bits_to_flip(n, m + j):
                    bad = [*proof[:j], _flip(proof[j], bit), *proof[j + 1 :]]
                    with pytest.raises(ProofError):
                        merkle.verify_consistency(m, n, old_root, new_root, bad)
            for bit in _bits_to_flip(n, m):
                with pytest.raises(ProofError):
                    merkle.verify_consistency(m, n, _flip(old_root, bit), new_root, proof)
                with pytest.raises(ProofError):
                    merkle.verify_consistency(m, n, old_root, _flip(new_root, bit), proof)

            variants = [proof[:-1], proof[1:], [*proof, new_root], [old_root, *proof]]
            for bad in variants:
                if bad != proof:
                    with pytest.raises(ProofError):
                        merkle.verify_consistency(m, n, old_root, new_root, bad)
            if m != n:
                with pytest.raises(ProofError):
                    merkle.verify_consistency(m, n, new_root, old_root, proof)
                with pytest.raises(ProofError):
                    merkle.verify_consistency(n, m, new_root, old_root, proof)


def test_consistency_edge_rules() -> None:
    """specs/merkle.md §3.3: the kpledger rules where RFC 9162 is silent."""
    r3, r5 = ROOTS[3], ROOTS[5]
    empty = merkle.EMPTY_ROOT
    # old == 0: only an empty proof and the empty-tree root.
    merkle.verify_consistency(0, 5, empty, r5, [])
    merkle.verify_consistency(0, 0, empty, empty, [])
    with pytest.raises(ProofError, match="expected an empty proof"):
        merkle.verify_consistency(0, 5, empty, r5, [r5])
    with pytest.raises(ProofError, match="expected root e3b0"):
        merkle.verify_consistency(0, 5, b"\x00" * 32, r5, [])
    with pytest.raises(ProofError):
        merkle.verify_consistency(0, 0, empty, r5, [])
    # old == new: only an empty proof and equal roots.
    merkle.verify_consistency(3, 3, r3, r3, [])
    with pytest.raises(ProofError):
        merkle.verify_consistency(3, 3, r3, r5, [])
    with pytest.raises(ProofError):
        merkle.verify_consistency(3, 3, r3, r3, [r3])
    # old > new, negative sizes, empty proof for a real extension.
    bad_cases: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (5, 3, r5, r3, []),
        (-1, 3, empty, r3, []),
        (1, 5, LEAVES[0], r5, []),
    ]
    for args in bad_cases:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*args)
    # Wrong-length hashes are ProofError, never IndexError.
    proof = merkle.consistency_proof(3, 5, READERS[5])
    for bad in ([*proof[:-1], proof[-1][:31]], [b"", *proof[1:]]):
        with pytest.raises(ProofError, match="32-byte"):
            merkle.verify_consistency(3, 5, r3, r5, bad)
    with pytest.raises(ProofError, match="32-byte"):
        merkle.verify_consistency(3, 5, r3[:12], r5, proof)
    with pytest.raises(ProofError, match="32-byte"):
        merkle.verify_consistency(1, 1, b"x" * 12, b"x" * 12, [])
    with pytest.raises(ProofError, match=r"expected new root .*, calculated "):
        merkle.verify_consistency(3, 5, r3, ROOTS[6], proof)
    with pytest.raises(TypeError):
        merkle.verify_consistency(3, 5, r3, r5, b"".join(proof))  # type: ignore[arg-type]


def test_consistency_proof_arguments() -> None:
    reader = READERS[8]
    assert merkle.consistency_proof(0, 8, reader) == []
    assert merkle.consistency_proof(8, 8, reader) == []
    assert merkle.consistency_proof(0, 0, reader) == []
    for old, new in [(9, 8), (-1, 8), (1, -1)]:
        with pytest.raises(ValueError):
            merkle.consistency_proof(old, new, reader)


# ------------------------------------------------------------------------------------------
# Layering
# ------------------------------------------------------------------------------------------


def test_merkle_imports_only_stdlib_hashing_and_errors() -> None:
    """The module is pure (STYLE.md): no I/O libraries, no other ledger module."""
    source = (Path(merkle.__file__).parent / "merkle.py").read_text()  # compiled or not
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= {"__future__", "hashlib", "collections.abc", "typing", "ledger.errors"}
