"""The state-map vectors (specs/state-map.md §7), recomputed from the spec's formulas with
code independent of ``ledger.core.statemap``, and checked against it."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ledger.core import statemap
from ledger.core.encoding import encode

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "tests" / "vectors" / "state-map" / "state-map.json").read_text())


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf(kh: bytes, vh: bytes, index: int) -> bytes:
    return sha(b"\x02" + kh + vh + index.to_bytes(8, "big"))


def root_of(leaves: dict[bytes, bytes], depth: int = 0) -> bytes:
    """leaves: key hash -> leaf hash."""
    if not leaves:
        return bytes(32)
    if len(leaves) == 1:
        return next(iter(leaves.values()))
    left = {k: v for k, v in leaves.items() if not (k[depth // 8] >> (7 - depth % 8)) & 1}
    right = {k: v for k, v in leaves.items() if k not in left}
    return sha(b"\x03" + root_of(left, depth + 1) + root_of(right, depth + 1))


def test_hashes_and_roots() -> None:
    assert VECTORS["empty_root"] == "00" * 32
    ex = VECTORS["node_hash_example"]
    assert sha(b"\x03" + bytes.fromhex(ex["left"]) + bytes.fromhex(ex["right"])).hex() == ex["hash"]
    value: dict[str, Any] = dict(VECTORS["value_hash_example"]["value"])
    value["head"] = bytes.fromhex(value["head"].removeprefix("bin:"))
    assert sha(encode(value)).hex() == VECTORS["value_hash_example"]["hash"]
    leaves: dict[bytes, bytes] = {}
    for step in VECTORS["updates"]:
        kh = sha(step["kind"].encode() + b"\x00" + step["key"].encode())
        assert kh.hex() == step["key_hash"]
        lh = leaf(kh, bytes.fromhex(step["value_hash"]), step["index"])
        assert lh.hex() == step["leaf_hash"]
        leaves[kh] = lh
        assert root_of(leaves).hex() == step["root"]
    final = VECTORS["updates"][-1]["root"]
    line = "kpledger/v1 state-map " + base64.b64encode(bytes.fromhex(final)).decode()
    assert VECTORS["extension_line"] == line
    assert statemap.parse_extension(line) == bytes.fromhex(final)


def test_proofs_verify_and_match_the_library() -> None:
    root = bytes.fromhex(VECTORS["updates"][-1]["root"])
    for p in VECTORS["proofs"]:
        wire = {
            "kind": p["kind"],
            "key": p["key"],
            "value": bytes.fromhex(p["value"]),
            "index": p["index"],
            "other": bytes.fromhex(p["other"]),
            "path": [bytes.fromhex(h) for h in p["path"]],
        }
        # Independent fold (specs/state-map.md §4.2).
        kh = sha(p["kind"].encode() + b"\x00" + p["key"].encode())
        if wire["value"]:
            acc = leaf(kh, wire["value"], p["index"])
        elif wire["other"]:
            o = wire["other"]
            acc = leaf(o[:32], o[32:64], int.from_bytes(o[64:], "big"))
        else:
            acc = bytes(32)
        depth = len(wire["path"])
        for i, sib in enumerate(wire["path"]):
            d = depth - 1 - i
            s = sib or bytes(32)
            acc = (
                sha(b"\x03" + s + acc)
                if (kh[d // 8] >> (7 - d % 8)) & 1
                else sha(b"\x03" + acc + s)
            )
        assert acc == root, p
        statemap.verify_proof(statemap.MapProof.from_wire(wire), root)
    kinds = {(bool(p["value"]), bool(p["other"])) for p in VECTORS["proofs"]}
    assert kinds == {(True, False), (False, True), (False, False)}  # all three shapes


def test_the_file_is_current() -> None:
    tool = ROOT / "tools" / "gen_state_map_vectors.py"
    done = subprocess.run([sys.executable, str(tool), "--check"], check=False)
    assert done.returncode == 0
