"""The state map: an authenticated map of every state key's latest value (specs/state-map.md).

A sparse Merkle tree over 256-bit key hashes with compressed subtrees: a subtree holding no
key hashes to 32 zero bytes, a subtree holding one key hashes to that key's leaf hash,
any other subtree is the node hash of its two halves. The map commits, for every
``(kind, key)`` of the rules engine's state (specs/rules.md §2), to the SHA-256 of the
value's canonical encoding and to the index of the last record that changed it.
Updates and proofs visit the O(log2 n) subtrees on a key's path.

Pure: the tree is read through a :class:`Reader` (the store's tables, or the in-memory
:class:`MemoryMap`), and an update hands its new node hashes to a callback.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ledger.core.encoding import encode
from ledger.errors import ProofError

#: The hash of a subtree holding no key (and the root of the empty map).
EMPTY = bytes(32)
#: Domain-separation prefixes; RFC 6962 uses 0x00 (leaf) and 0x01 (node).
LEAF_PREFIX = b"\x02"
NODE_PREFIX = b"\x03"
#: Depth of the tree: key hashes are 256 bits.
DEPTH = 256
#: The checkpoint extension line that commits to the map root (specs/checkpoint.md §4.2).
EXTENSION_PREFIX = "kpledger/v1 state-map "

_sha = hashlib.sha256


def key_hash(kind: str, key: str) -> bytes:
    """``SHA-256(UTF-8(kind) || 0x00 || UTF-8(key))``: where a state key sits in the tree."""
    return _sha(kind.encode() + b"\x00" + key.encode()).digest()


def value_hash(value: Any) -> bytes:
    """SHA-256 of the value's canonical encoding (specs/encoding.md)."""
    return _sha(encode(value)).digest()


def leaf_hash(kh: bytes, vh: bytes, index: int) -> bytes:
    """``SHA-256(0x02 || key hash || value hash || u64be(index))``."""
    return _sha(LEAF_PREFIX + kh + vh + index.to_bytes(8, "big")).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x03 || left || right)``."""
    return _sha(NODE_PREFIX + left + right).digest()


def bit(kh: bytes, depth: int) -> int:
    """Bit ``depth`` of a key hash, most significant first: 0 goes left, 1 right."""
    return (kh[depth >> 3] >> (7 - (depth & 7))) & 1


def common_prefix(a: bytes, b: bytes) -> int:
    """Number of leading bits two key hashes share."""
    x = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return DEPTH - x.bit_length()


def span(kh: bytes, depth: int) -> tuple[bytes, bytes]:
    """The lowest and highest key hash of the subtree at ``depth`` on ``kh``'s path."""
    n = int.from_bytes(kh, "big")
    low_bits = DEPTH - depth
    lo = (n >> low_bits) << low_bits
    hi = lo | ((1 << low_bits) - 1)
    return lo.to_bytes(32, "big"), hi.to_bytes(32, "big")


def node_id(kh: bytes, depth: int) -> bytes:
    """The stored name of the subtree at ``depth`` on ``kh``'s path: depth byte || low end."""
    return bytes([depth]) + span(kh, depth)[0]


def sibling(kh: bytes, depth: int) -> bytes:
    """A key hash in the sibling of the subtree at ``depth + 1`` on ``kh``'s path."""
    n = int.from_bytes(kh, "big") ^ (1 << (DEPTH - 1 - depth))
    return n.to_bytes(32, "big")


@dataclass(frozen=True, slots=True)
class Leaf:
    """One key of the map: its key hash, value hash and last-change record index."""

    kh: bytes
    vh: bytes
    index: int

    @property
    def hash(self) -> bytes:
        return leaf_hash(self.kh, self.vh, self.index)


class Reader(Protocol):
    """Read access to one version of the map."""

    def leaves(self, lo: bytes, hi: bytes, limit: int) -> list[Leaf]:
        """Up to ``limit`` leaves with ``lo <= kh <= hi``, in key-hash order."""
        ...

    def node(self, nid: bytes) -> bytes | None:
        """The hash of a subtree of two or more leaves if known (None: compute it)."""
        ...


def subtree_hash(reader: Reader, kh: bytes, depth: int) -> bytes:
    """The hash of the subtree at ``depth`` on ``kh``'s path."""
    lo, hi = span(kh, depth)
    found = reader.leaves(lo, hi, 2)
    if not found:
        return EMPTY
    if len(found) == 1:
        return found[0].hash
    stored = reader.node(node_id(kh, depth))
    if stored is not None:
        return stored
    left = subtree_hash(reader, lo, depth + 1)
    right = subtree_hash(reader, hi, depth + 1)
    return node_hash(left, right)


def root(reader: Reader) -> bytes:
    return subtree_hash(reader, EMPTY, 0)


def update(
    reader: Reader, changed: Iterable[bytes], put_node: Callable[[bytes, bytes], None]
) -> bytes:
    """Recompute the subtrees holding the ``changed`` key hashes; returns the new root.

    ``reader`` must already show the new leaves, and its stored nodes must be those of the
    previous version; every recomputed node of two or more leaves goes to ``put_node``.
    """
    keys = sorted(set(changed))
    if not keys:
        return root(reader)
    return _rebuild(reader, keys, 0, put_node)


def _rebuild(
    reader: Reader, keys: list[bytes], depth: int, put_node: Callable[[bytes, bytes], None]
) -> bytes:
    kh = keys[0]
    lo, hi = span(kh, depth)
    found = reader.leaves(lo, hi, 2)
    if len(found) < 2:
        return found[0].hash if found else EMPTY
    mid = span(hi, depth + 1)[0]  # the lowest key hash of the right half
    cut = bisect.bisect_left(keys, mid)
    left_keys, right_keys = keys[:cut], keys[cut:]
    left = (
        _rebuild(reader, left_keys, depth + 1, put_node)
        if left_keys
        else subtree_hash(reader, lo, depth + 1)
    )
    right = (
        _rebuild(reader, right_keys, depth + 1, put_node)
        if right_keys
        else subtree_hash(reader, hi, depth + 1)
    )
    h = node_hash(left, right)
    put_node(node_id(kh, depth), h)
    return h


def update_paths(
    reader: Reader,
    changed: dict[bytes, Leaf],
    shared: Callable[[bytes], int],
    put_node: Callable[[bytes, bytes], None],
) -> bytes:
    """:func:`update` with fewer reads: the same root and nodes, for a reader that already
    shows the ``changed`` leaves and whose nodes are those of the previous version.

    ``shared(kh)`` is the most leading bits another key of the new version shares with
    ``kh`` (-1 if it is the only key): the key sharing the most is ``kh``'s neighbour below
    or above it, so the subtrees on ``kh``'s path hold other keys exactly down to that
    depth, and below it hash to ``kh``'s leaf. Every sibling met on the way holds no
    changed key, so it is unchanged: its node if it has two or more leaves, else its one
    leaf or nothing.
    """
    if not changed:
        return root(reader)
    keys = [int.from_bytes(k, "big") for k in sorted(changed)]
    return _PathUpdate(reader, changed, shared, put_node).rebuild(keys, 0)


#: Bit position of the top bit of a key hash read as an integer.
_TOP = DEPTH - 1


class _PathUpdate:
    def __init__(
        self,
        reader: Reader,
        changed: dict[bytes, Leaf],
        shared: Callable[[bytes], int],
        put: Callable[[bytes, bytes], None],
    ) -> None:
        self.reader = reader
        self.changed = changed
        self.shared = shared
        self.put = put

    def rebuild(self, keys: list[int], depth: int) -> bytes:
        """The hash of the subtree at ``depth`` holding the changed keys ``keys``."""
        if len(keys) == 1:
            return self.path(keys[0], depth)
        shift = _TOP - depth
        cut = bisect.bisect_left(keys, ((keys[0] >> shift) | 1) << shift)
        left, right = keys[:cut], keys[cut:]
        lh = self.rebuild(left, depth + 1) if left else self.sibling(right[0], depth)
        rh = self.rebuild(right, depth + 1) if right else self.sibling(left[0], depth)
        h = node_hash(lh, rh)
        self.put(_nid(keys[0], depth), h)
        return h

    def path(self, n: int, depth: int) -> bytes:
        """The hash of the subtree at ``depth`` whose only changed key is ``n``."""
        kh = n.to_bytes(32, "big")
        acc = self.changed[kh].hash
        for d in range(self.shared(kh), depth - 1, -1):
            sib = self.sibling(n, d)
            acc = node_hash(sib, acc) if (n >> (_TOP - d)) & 1 else node_hash(acc, sib)
            self.put(_nid(n, d), acc)
        return acc

    def sibling(self, n: int, depth: int) -> bytes:
        """The hash of the sibling, at ``depth + 1``, of the subtree on ``n``'s path."""
        shift = _TOP - depth
        lo = ((n >> shift) ^ 1) << shift
        lo_b = lo.to_bytes(32, "big")
        h = self.reader.node(bytes([depth + 1]) + lo_b)
        if h is not None:
            return h
        found = self.reader.leaves(lo_b, (lo | ((1 << shift) - 1)).to_bytes(32, "big"), 2)
        if not found:
            return EMPTY
        if len(found) == 1:
            return found[0].hash
        return subtree_hash(self.reader, lo_b, depth + 1)  # no node stored: compute it


def _nid(n: int, depth: int) -> bytes:
    """:func:`node_id` of the subtree at ``depth`` on the path of key hash ``n``."""
    shift = DEPTH - depth
    return bytes([depth]) + ((n >> shift) << shift).to_bytes(32, "big")


# ---------------------------------------------------------------------------
# Proofs


@dataclass(frozen=True)
class MapProof:
    """A key's value in one version of the map, or its absence (specs/state-map.md §4).

    ``value``/``index`` are the key's value hash and last-change index (``value`` empty: the
    key is absent); ``other`` is, for an absent key whose path ends at another key's leaf,
    that leaf; ``path`` the sibling hashes from the deepest up to the root's child, each
    32 bytes, or empty for an empty subtree.
    """

    kind: str
    key: str
    value: bytes
    index: int
    other: Leaf | None
    path: tuple[bytes, ...]

    @property
    def present(self) -> bool:
        return bool(self.value)

    def to_wire(self) -> dict[str, Any]:
        other = b""
        if self.other is not None:
            o = self.other
            other = o.kh + o.vh + o.index.to_bytes(8, "big")
        return {
            "kind": self.kind,
            "key": self.key,
            "value": self.value,
            "index": self.index,
            "other": other,
            "path": list(self.path),
        }

    @classmethod
    def from_wire(cls, value: Any) -> MapProof:
        """Raises ProofError for anything but the exact shape of specs/state-map.md §4.1."""
        fields = ("index", "key", "kind", "other", "path", "value")
        if not isinstance(value, dict) or sorted(value) != list(fields):
            raise ProofError("map proof: expected exactly the fields " + ", ".join(fields))
        kind, key, vh, index, other, path = (
            value["kind"],
            value["key"],
            value["value"],
            value["index"],
            value["other"],
            value["path"],
        )
        if not isinstance(kind, str) or not isinstance(key, str) or not kind or not key:
            raise ProofError("map proof: kind and key must be non-empty text")
        if "\x00" in kind or "\x00" in key:
            raise ProofError("map proof: kind and key must not contain NUL")
        if type(index) is not int or not 0 <= index < 1 << 63:
            raise ProofError("map proof: index must be an integer in [0, 2^63)")
        if not isinstance(vh, bytes) or len(vh) not in (0, 32):
            raise ProofError("map proof: value must be 32 bytes, or empty for an absent key")
        if not isinstance(other, bytes) or len(other) not in (0, 72):
            raise ProofError("map proof: other must be 72 bytes or empty")
        if vh and other:
            raise ProofError("map proof: a present key has no other leaf")
        if not vh and index != 0:
            raise ProofError("map proof: an absent key has index 0")
        if not isinstance(path, list) or len(path) > DEPTH:
            raise ProofError(f"map proof: path must be a list of at most {DEPTH} hashes")
        if not all(isinstance(h, bytes) and len(h) in (0, 32) for h in path):
            raise ProofError("map proof: path hashes must be 32 bytes (empty: empty subtree)")
        if any(h == EMPTY for h in path):
            raise ProofError("map proof: an empty subtree is written as an empty hash")
        leaf = None
        if other:
            leaf = Leaf(other[:32], other[32:64], int.from_bytes(other[64:], "big"))
        return cls(kind, key, vh, index, leaf, tuple(path))


def root_from_proof(proof: MapProof) -> bytes:
    """The map root a proof implies.

    Raises:
        ProofError: the proof is not canonical (a leaf or an empty terminal below an empty
            sibling, another leaf off the key's path or equal to it).
    """
    kh = key_hash(proof.kind, proof.key)
    depth = len(proof.path)
    if proof.present:
        acc = leaf_hash(kh, proof.value, proof.index)
    elif proof.other is not None:
        if proof.other.kh == kh:
            raise ProofError(f"map proof for {proof.kind}/{proof.key}: 'other' is the key itself")
        if common_prefix(proof.other.kh, kh) < depth:
            raise ProofError(
                f"map proof for {proof.kind}/{proof.key}: the other leaf is not on the key's path"
            )
        acc = proof.other.hash
    else:
        acc = EMPTY
    if depth and not proof.path[0]:
        raise ProofError(
            f"map proof for {proof.kind}/{proof.key}: not canonical (the deepest sibling is "
            "empty, so the subtree would be compressed)"
        )
    for i, sib in enumerate(proof.path):
        d = depth - 1 - i
        s = sib or EMPTY
        acc = node_hash(s, acc) if bit(kh, d) else node_hash(acc, s)
    return acc


def verify_proof(proof: MapProof, expected_root: bytes) -> None:
    """Check ``proof`` against a committed map root.

    Raises:
        ProofError: the proof is not canonical or implies another root.
    """
    got = root_from_proof(proof)
    if got != expected_root:
        raise ProofError(
            f"map proof for {proof.kind}/{proof.key} does not match the committed map root: "
            f"expected {expected_root.hex()[:16]}, calculated {got.hex()[:16]}"
        )


def prove(reader: Reader, kind: str, key: str) -> MapProof:
    """The proof of ``(kind, key)`` in the version ``reader`` shows."""
    kh = key_hash(kind, key)
    path: list[bytes] = []
    depth = 0
    while True:
        lo, hi = span(kh, depth)
        found = reader.leaves(lo, hi, 2)
        if len(found) < 2:
            break
        sib = subtree_hash(reader, sibling(kh, depth), depth + 1)
        path.append(b"" if sib == EMPTY else sib)
        depth += 1
    path.reverse()
    if found and found[0].kh == kh:
        leaf = found[0]
        return MapProof(kind, key, leaf.vh, leaf.index, None, tuple(path))
    return MapProof(kind, key, b"", 0, found[0] if found else None, tuple(path))


# ---------------------------------------------------------------------------
# An in-memory map (verify, bundles, tests)


class MemoryMap:
    """A map held in memory: sorted key hashes, leaves by key hash, cached node hashes.

    ``set`` records changes; ``root`` folds the pending ones in (batched: the nodes above
    many changed keys are hashed once).
    """

    def __init__(self) -> None:
        self._keys: list[bytes] = []
        self._leaves: dict[bytes, Leaf] = {}
        self._nodes: dict[bytes, bytes] = {}
        self._pending: set[bytes] = set()
        self._new: list[bytes] = []  # keys set but not yet in _keys (sorted in by _sorted)
        self._root = EMPTY

    def __len__(self) -> int:
        return len(self._leaves)

    def get(self, kh: bytes) -> Leaf | None:
        return self._leaves.get(kh)

    def set(self, kh: bytes, vh: bytes, index: int) -> None:
        if kh not in self._leaves:
            # Sorted in when next needed: one insort per new key would move the whole
            # list each time (quadratic over a long replay).
            self._new.append(kh)
        self._leaves[kh] = Leaf(kh, vh, index)
        self._pending.add(kh)

    def record(
        self,
        writes: Iterable[tuple[str, str]],
        get: Callable[[str, str], Any],
        index: int,
        encoded: Callable[[str, str, bytes], None] | None = None,
    ) -> None:
        """Fold in the keys record ``index`` wrote: those whose value hash changed now
        carry ``index`` (specs/state-map.md §3). ``encoded(kind, key, raw)`` receives each
        written value's canonical bytes, so that a caller comparing values does not encode
        them again."""
        leaves = self._leaves
        for kind, key in writes:
            kh = key_hash(kind, key)
            raw = encode(get(kind, key))
            if encoded is not None:
                encoded(kind, key, raw)
            vh = _sha(raw).digest()  # value_hash
            leaf = leaves.get(kh)
            if leaf is None or leaf.vh != vh:
                self.set(kh, vh, index)

    def leaves(self, lo: bytes, hi: bytes, limit: int) -> list[Leaf]:
        keys = self._sorted()
        i = bisect.bisect_left(keys, lo)
        out: list[Leaf] = []
        while i < len(keys) and len(out) < limit and keys[i] <= hi:
            out.append(self._leaves[keys[i]])
            i += 1
        return out

    def node(self, nid: bytes) -> bytes | None:
        return self._nodes.get(nid)

    def root(self) -> bytes:
        if self._pending:
            self._sorted()
            leaves = self._leaves
            changed = {kh: leaves[kh] for kh in self._pending}
            self._root = update_paths(self, changed, self._shared, self._nodes.__setitem__)
            self._pending = set()
        return self._root

    def _sorted(self) -> list[bytes]:
        """The key hashes in order, with the keys set since the last call sorted in."""
        if self._new:
            self._keys.extend(self._new)
            self._keys.sort()  # a sorted run and a shorter one: about one merge
            self._new = []
        return self._keys

    def _shared(self, kh: bytes) -> int:
        keys = self._keys
        i = bisect.bisect_left(keys, kh)
        best = -1
        if i > 0:
            best = common_prefix(kh, keys[i - 1])
        if i + 1 < len(keys):
            best = max(best, common_prefix(kh, keys[i + 1]))
        return best

    def prove(self, kind: str, key: str) -> MapProof:
        self.root()
        return prove(self, kind, key)

    def items(self) -> Iterable[Leaf]:
        return (self._leaves[k] for k in self._sorted())

    def nodes(self) -> dict[bytes, bytes]:
        self.root()
        return self._nodes


def extension_line(map_root: bytes) -> str:
    """The checkpoint extension line committing to ``map_root`` (specs/checkpoint.md §4.2)."""
    return EXTENSION_PREFIX + base64.b64encode(map_root).decode()


def parse_extension(line: str) -> bytes | None:
    """The map root of a state-map extension line; None if the line is not one."""
    if not line.startswith(EXTENSION_PREFIX):
        return None
    text = line[len(EXTENSION_PREFIX) :]
    if len(text) != 44:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    if len(raw) != 32 or base64.b64encode(raw).decode() != text:
        return None
    return raw
