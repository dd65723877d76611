"""RFC 6962 / RFC 9162 Merkle tree hashing, proof generation and proof verification.

This module is the byte-exact heart of the ledger's transparency log (``specs/merkle.md``):

* hashing: :func:`leaf_hash`, :func:`node_hash`, :func:`root_from_leaf_hashes`;
* proof generation over a :class:`HashReader` (the ``golang.org/x/mod/sumdb/tlog`` design):
  :func:`tree_root`, :func:`inclusion_proof`, :func:`consistency_proof`;
* verification: :func:`verify_inclusion`, :func:`verify_consistency`, which return ``None``
  or raise :class:`~ledger.errors.ProofError`.

It deliberately does no I/O: no files, SQL, network, clock or randomness. Storage arrives
as a :class:`HashReader`; the tile layout that the store uses lives in ``ledger.tiles``.
It imports only :mod:`hashlib` and :mod:`ledger.errors`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from ledger.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "HashReader",
    "ListHashReader",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
]

#: Size in bytes of every hash in the tree (SHA-256; specs/merkle.md §1).
HASH_SIZE = 32

_sha256 = hashlib.sha256
# Domain-separation prefixes, RFC 6962 §2.1 (second-preimage resistance).
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

#: MTH({}) = SHA-256("") (RFC 6962 §2.1), *not* 32 zero bytes (see specs/merkle.md §1.1).
EMPTY_ROOT: bytes = _sha256(b"").digest()


# --------------------------------------------------------------------------------------------
# Hashing (RFC 6962 §2.1, RFC 9162 §2.1.1)
# --------------------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash ``SHA-256(0x00 || data)``.

    Args:
        data: The raw entry bytes; the empty entry is allowed.

    Returns:
        The 32-byte leaf hash.

    Raises:
        TypeError: If ``data`` is not bytes-like.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"leaf data must be bytes, not {type(data).__name__}")
    return _sha256(_LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash ``SHA-256(0x01 || left || right)``.

    Args:
        left: The 32-byte hash of the left child.
        right: The 32-byte hash of the right child.

    Returns:
        The 32-byte node hash.

    Raises:
        ValueError: If either child is not exactly 32 bytes (the input must be 65 bytes).
    """
    if len(left) != HASH_SIZE or len(right) != HASH_SIZE:
        raise ValueError(
            f"node children must be {HASH_SIZE}-byte hashes, got {len(left)} and {len(right)}"
        )
    return _sha256(_NODE_PREFIX + left + right).digest()


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash (MTH) of a list of already-hashed leaves.

    The tree is built level by level; an unpaired last node is promoted unchanged, which
    gives exactly the RFC 6962 §2.1 shape (split at the largest power of two below ``n``).
    This is an independent implementation from :func:`tree_root`, which folds perfect
    subtrees, so the two can check each other.

    Args:
        hashes: The leaf hashes, each 32 bytes.

    Returns:
        The root hash; :data:`EMPTY_ROOT` for an empty list.

    Raises:
        ValueError: If any hash is not exactly 32 bytes.
    """
    level = list(hashes)
    for i, h in enumerate(level):
        if not isinstance(h, bytes | bytearray) or len(h) != HASH_SIZE:
            raise ValueError(f"leaf hash {i} is not a {HASH_SIZE}-byte hash")
    if not level:
        return EMPTY_ROOT
    level = [bytes(h) for h in level]
    while len(level) > 1:
        paired = [
            _sha256(_NODE_PREFIX + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


# --------------------------------------------------------------------------------------------
# Hash readers
# --------------------------------------------------------------------------------------------


class HashReader(Protocol):
    """Source of hashes of *perfect* subtrees, like Go ``sumdb/tlog.HashReader``.

    The proof generators below only ever ask for complete subtrees inside the tree they
    were given, so a reader never has to know the tree size.

    A reader may also offer ``inclusion_proof(index, size) -> list[bytes] | None``, a
    faster way to the same audit path (``ledger.tiles.TileHashReader`` does): after
    checking its arguments, :func:`inclusion_proof` returns what that method returns,
    unless it returns None, and then it uses the generic algorithm over
    :meth:`subtree_hash`.
    """

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Return MTH of the leaves ``[index * 2**level, (index + 1) * 2**level)``."""
        ...


class ListHashReader:
    """A :class:`HashReader` over an in-memory list of leaf hashes.

    All complete levels are computed once at construction (``n - 1`` node hashes), after
    which every :meth:`subtree_hash` is a list lookup. Meant for tests and small trees; the
    ledger's store uses ``ledger.tiles.TileHashReader``.
    """

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        """Build the reader.

        Args:
            leaf_hashes: The leaf hashes, each 32 bytes.

        Raises:
            ValueError: If any hash is not exactly 32 bytes.
        """
        level = [bytes(h) for h in leaf_hashes]
        for i, h in enumerate(level):
            if len(h) != HASH_SIZE:
                raise ValueError(f"leaf hash {i} is not a {HASH_SIZE}-byte hash")
        self._levels: list[list[bytes]] = [level]
        while len(level) > 1:
            level = [
                _sha256(_NODE_PREFIX + level[i] + level[i + 1]).digest()
                for i in range(0, len(level) - 1, 2)
            ]
            self._levels.append(level)

    def __len__(self) -> int:
        """Return the number of leaves."""
        return len(self._levels[0])

    def subtree_hash(self, level: int, index: int) -> bytes:
        """Return MTH of the perfect subtree ``(level, index)``.

        Raises:
            ValueError: If the subtree is not complete within the list.
        """
        if level < 0 or index < 0 or level >= len(self._levels):
            raise ValueError(f"no complete subtree at level {level}, index {index}")
        row = self._levels[level]
        if index >= len(row):
            raise ValueError(f"no complete subtree at level {level}, index {index}")
        return row[index]


# --------------------------------------------------------------------------------------------
# Proof generation (RFC 9162 §2.1.3.1, §2.1.4.1)
# --------------------------------------------------------------------------------------------


def _check_size(name: str, value: int | bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def _range_hash(start: int, end: int, reader: HashReader) -> bytes:
    """Return MTH(D[start:end]) for ``start < end`` where ``start`` is aligned.

    ``start`` must be a multiple of the largest power of two ``<= end - start`` (true for
    every range the RFC 6962 recursion produces). The range is the sequence of perfect
    subtrees given by the set bits of ``end - start``, largest first, folded right to left
    (RFC 6962 §2.1 split rule, "compact range").
    """
    parts: list[bytes] = []
    pos = start
    width = end - start
    level = width.bit_length() - 1
    while level >= 0:
        if width >> level & 1:
            parts.append(reader.subtree_hash(level, pos >> level))
            pos += 1 << level
        level -= 1
    h = parts.pop()
    while parts:
        h = _sha256(_NODE_PREFIX + parts.pop() + h).digest()
    return h


def tree_root(size: int | bool, reader: HashReader) -> bytes:
    """Return the root hash of the tree of the first ``size`` leaves.

    Args:
        size: The tree size.
        reader: Source of perfect-subtree hashes.

    Returns:
        MTH(D[0:size]); :data:`EMPTY_ROOT` for size 0.

    Raises:
        ValueError: If ``size`` is negative.
        TypeError: If ``size`` is not an int.
    """
    _check_size("size", size)
    if size == 0:
        return EMPTY_ROOT
    return _range_hash(0, size, reader)


def inclusion_proof(index: int | bool, size: int | bool, reader: HashReader) -> list[bytes]:
    """Return the RFC 9162 §2.1.3.1 inclusion proof (audit path) of leaf ``index``.

    The path is ordered from the leaf's sibling up to the child of the root. It is built
    bottom-up: at each level the sibling of the node holding the leaf is either a perfect
    subtree, absent (the node is the rightmost and is promoted), or the rightmost
    incomplete range ``[start, size)``, which is hashed from its perfect subtrees. A
    reader that offers its own ``inclusion_proof`` (see :class:`HashReader`) is asked
    first.

    Args:
        index: The leaf index, ``0 <= index < size``.
        size: The tree size.
        reader: Source of perfect-subtree hashes.

    Returns:
        The list of sibling hashes (empty for a tree of one leaf).

    Raises:
        ValueError: If ``index`` is not within ``[0, size)``.
        TypeError: If ``index`` or ``size`` is not an int.
    """
    if type(index) is not int or type(size) is not int or not 0 <= index < size:
        _check_size("index", index)
        _check_size("size", size)
        if index >= size:
            raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    prove = getattr(reader, "inclusion_proof", None)
    if prove is not None:
        fast: list[bytes] | None = prove(index, size)
        if fast is not None:
            return fast
    proof: list[bytes] = []
    last = size - 1
    level = 0
    while last >> level:
        sibling = (index >> level) ^ 1
        start = sibling << level
        if start < size:
            end = start + (1 << level)
            if end <= size:
                proof.append(reader.subtree_hash(level, sibling))
            else:
                proof.append(_range_hash(start, size, reader))
        level += 1
    return proof


def consistency_proof(old: int | bool, new: int | bool, reader: HashReader) -> list[bytes]:
    """Return the RFC 9162 §2.1.4.1 consistency proof between sizes ``old`` and ``new``.

    By the kpledger rules (specs/merkle.md §3.3) the proof is empty when ``old == 0`` or
    ``old == new``.

    Args:
        old: The smaller tree size.
        new: The larger tree size.
        reader: Source of perfect-subtree hashes of the larger tree.

    Returns:
        The proof hashes, in RFC order (deepest first).

    Raises:
        ValueError: If ``old > new`` or either size is negative.
        TypeError: If a size is not an int.
    """
    _check_size("old", old)
    _check_size("new", new)
    if old > new:
        raise ValueError(f"old size {old} is larger than new size {new}")
    if old == 0 or old == new:
        return []
    # Iterative form of SUBPROOF(m, D[lo:hi], b): each step records the hash of the half
    # that does not contain the boundary; the recursion's base case comes first in the
    # output, the outermost step last.
    outer: list[bytes] = []
    lo, hi, m, whole = 0, new, old, True
    while m != hi - lo:
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        if m <= k:
            outer.append(_range_hash(lo + k, hi, reader))
            hi = lo + k
        else:
            outer.append(reader.subtree_hash(k.bit_length() - 1, lo // k))
            lo += k
            m -= k
            whole = False
    proof = [] if whole else [_range_hash(lo, hi, reader)]
    proof.extend(reversed(outer))
    return proof


# --------------------------------------------------------------------------------------------
# Verification (RFC 9162 §2.1.3.2, §2.1.4.2)
# --------------------------------------------------------------------------------------------


def _check_hash(name: str, value: bytes) -> None:
    """Require a 32-byte hash (specs/merkle.md §3.1); a wrong length is bad data."""
    if not isinstance(value, bytes | bytearray):
        raise TypeError(f"{name} must be bytes, not {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name}: expected a {HASH_SIZE}-byte hash, got {len(value)} bytes")


def _check_proof(proof: Sequence[bytes]) -> list[bytes]:
    if isinstance(proof, bytes | bytearray | str):
        raise TypeError("proof must be a sequence of hashes, not a single bytes/str value")
    items = list(proof)
    for i, p in enumerate(items):
        _check_hash(f"proof[{i}]", p)
    return [bytes(p) for p in items]


def _check_int(name: str, value: int | bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ProofError(f"{name}: expected a non-negative integer, got {value}")


def _inclusion_proof_size(index: int, size: int) -> int:
    """Length of the audit path for (index, size): ``inner + border`` (tx merkle)."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner + border


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """Return the root implied by an inclusion proof (RFC 9162 §2.1.3.2, steps 1-3).

    Args:
        leaf_hash: The 32-byte leaf hash.
        index: The leaf index.
        size: The tree size.
        proof: The audit path, leaf sibling first.

    Returns:
        The calculated 32-byte root.

    Raises:
        ProofError: If ``index >= size``, a hash is not 32 bytes, or the proof has the
            wrong number of hashes for ``(index, size)``.
        TypeError: If an argument has the wrong type.
    """
    _check_int("index", index)
    _check_int("size", size)
    _check_hash("leaf hash", leaf_hash)
    path = _check_proof(proof)
    if index >= size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    want = _inclusion_proof_size(index, size)
    if len(path) != want:
        raise ProofError(
            f"inclusion proof for leaf {index} of {size}: expected {want} hashes, got {len(path)}"
        )
    # RFC 9162 §2.1.3.2 step by step; with the length fixed above, "sn == 0 before the
    # end" and "sn != 0 at the end" cannot happen, but the checks are kept as stated.
    fn, sn = index, size - 1
    r = bytes(leaf_hash)
    for p in path:
        if sn == 0:
            raise ProofError(f"inclusion proof for leaf {index} of {size} is too long")
        if fn & 1 or fn == sn:
            r = _sha256(_NODE_PREFIX + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(_NODE_PREFIX + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof for leaf {index} of {size} is too short")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int | bool, size: int | bool, proof: Sequence[bytes], root: bytes
) -> None:
    """Verify that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    Implements RFC 9162 §2.1.3.2 plus the kpledger rules of specs/merkle.md §3.2.

    Args:
        leaf_hash: The 32-byte leaf hash (see :func:`leaf_hash`).
        index: The leaf index.
        size: The tree size.
        proof: The audit path, leaf sibling first.
        root: The expected 32-byte root (from a verified checkpoint).

    Raises:
        ProofError: If the proof does not verify, including ``index >= size``, a hash that
            is not 32 bytes and a proof of the wrong length.
        TypeError: If an argument has the wrong type.
    """
    _check_hash("root", root)
    calculated = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if calculated != root:
        raise ProofError(
            f"inclusion proof for leaf {index} of {size}: expected root {bytes(root).hex()}, "
            f"calculated {calculated.hex()}"
        )


def verify_consistency(
    old: int | bool, new: int | bool, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Verify that the tree ``(new, new_root)`` extends the tree ``(old, old_root)``.

    Implements RFC 9162 §2.1.4.2 for ``0 < old < new`` plus the kpledger edge-case rules
    (specs/merkle.md §3.3): ``old == 0`` needs an empty proof and ``old_root ==
    EMPTY_ROOT``; ``old == new`` needs an empty proof and equal roots; ``old > new`` fails.

    Args:
        old: The size of the earlier tree.
        new: The size of the later tree.
        old_root: The 32-byte root of the earlier tree.
        new_root: The 32-byte root of the later tree.
        proof: The consistency proof, in RFC order.

    Raises:
        ProofError: If the proof does not verify or breaks one of the rules above.
        TypeError: If an argument has the wrong type.
    """
    _check_int("old size", old)
    _check_int("new size", new)
    _check_hash("old root", old_root)
    _check_hash("new root", new_root)
    path = _check_proof(proof)
    if old > new:
        raise ProofError(f"expected old size <= new size, got old {old} > new {new}")
    if old == 0 or old == new:
        if path:
            raise ProofError(
                f"consistency {old} -> {new}: expected an empty proof, got {len(path)} hashes"
            )
        if old == 0 and old_root != EMPTY_ROOT:
            raise ProofError(
                f"tree of size 0: expected root {EMPTY_ROOT.hex()}, "
                f"calculated {bytes(old_root).hex()}"
            )
        if old == new and old_root != new_root:
            raise ProofError(
                f"consistency {old} -> {new}: expected root {bytes(new_root).hex()}, "
                f"calculated {bytes(old_root).hex()}"
            )
        return

    # Expected length (tx merkle proof/verify.go): the proof is an inclusion proof of the
    # node covering the last leaf of `old`, plus that node itself unless `old` is a power
    # of two (then it is `old_root`, prepended below).
    shift = (old & -old).bit_length() - 1
    want = _inclusion_proof_size((old - 1) >> shift, ((new - 1) >> shift) + 1)
    power_of_two = old == 1 << shift
    if not power_of_two:
        want += 1
    if len(path) != want:
        raise ProofError(f"consistency {old} -> {new}: expected {want} hashes, got {len(path)}")

    # RFC 9162 §2.1.4.2 steps 2-6.
    if power_of_two:
        path.insert(0, bytes(old_root))
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof {old} -> {new} is too long")
        if fn & 1 or fn == sn:
            fr = _sha256(_NODE_PREFIX + c + fr).digest()
            sr = _sha256(_NODE_PREFIX + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(_NODE_PREFIX + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"consistency proof {old} -> {new} is too short")
    if fr != old_root:
        raise ProofError(
            f"consistency {old} -> {new}: expected old root {bytes(old_root).hex()}, "
            f"calculated {fr.hex()}"
        )
    if sr != new_root:
        raise ProofError(
            f"consistency {old} -> {new}: expected new root {bytes(new_root).hex()}, "
            f"calculated {sr.hex()}"
        )
