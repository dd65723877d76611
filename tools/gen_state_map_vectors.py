"""Write the state-map vectors (specs/state-map.md §7).

    .venv/bin/python tools/gen_state_map_vectors.py            # (re)write the file
    .venv/bin/python tools/gen_state_map_vectors.py --check    # exit 1 if it is stale

Deterministic: fixed keys, value hashes ``SHA-256("value <n>")`` and indexes.
``tests/vectors/test_state_map_vectors.py`` recomputes every hash, root and proof from the
spec's formulas with its own code and compares them with this file.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: make the repository's ledger importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger.core import statemap

OUT = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "state-map" / "state-map.json"

#: (kind, key, index) in insertion order; value hash = SHA-256("value <position>").
UPDATES = [
    ("meta", "ledger", 0),
    ("party", "Jwaneng Mine", 1),
    ("parcel", "BW-2024-0001", 2),
    ("kid", "8a" * 32, 3),
    ("parcel", "BW-2024-0001", 4),
    ("kp", "BW", 5),
    ("param", "confirm-days", 6),
    ("parcel", "STONE-0001", 7),
]
PROVE = [
    ("parcel", "BW-2024-0001"),
    ("parcel", "STONE-0001"),
    ("meta", "ledger"),
    ("parcel", "NOT-THERE"),
    ("kp", "RU"),
    ("param", "cert-validity-days"),
]


def _proof(p: statemap.MapProof) -> dict[str, Any]:
    w = p.to_wire()
    return {
        "kind": w["kind"],
        "key": w["key"],
        "value": w["value"].hex(),
        "index": w["index"],
        "other": w["other"].hex(),
        "path": [h.hex() for h in w["path"]],
    }


def _empty_ended(m: statemap.MemoryMap) -> tuple[str, str]:
    """The first absent key ``parcel/ABSENT-<n>`` whose path ends at an empty subtree."""
    n = 0
    while True:
        p = m.prove("parcel", f"ABSENT-{n}")
        if not p.present and p.other is None:
            return ("parcel", f"ABSENT-{n}")
        n += 1


def build() -> str:
    m = statemap.MemoryMap()
    steps = []
    for n, (kind, key, index) in enumerate(UPDATES):
        kh = statemap.key_hash(kind, key)
        vh = hashlib.sha256(f"value {n}".encode()).digest()
        m.set(kh, vh, index)
        steps.append(
            {
                "kind": kind,
                "key": key,
                "key_hash": kh.hex(),
                "value_hash": vh.hex(),
                "index": index,
                "leaf_hash": statemap.leaf_hash(kh, vh, index).hex(),
                "root": m.root().hex(),
            }
        )
    doc = {
        "description": "kpledger state map (specs/state-map.md): hashes, roots, proofs",
        "empty_root": statemap.EMPTY.hex(),
        "node_hash_example": {
            "left": "00" * 32,
            "right": "11" * 32,
            "hash": statemap.node_hash(bytes(32), b"\x11" * 32).hex(),
        },
        "value_hash_example": {
            "value": {"id": "P1", "carats": 1250, "head": "bin:" + "22" * 32},
            "hash": statemap.value_hash({"id": "P1", "carats": 1250, "head": b"\x22" * 32}).hex(),
        },
        "updates": steps,
        "extension_line": statemap.extension_line(m.root()),
        "proofs": [_proof(m.prove(kind, key)) for kind, key in [*PROVE, _empty_ended(m)]],
    }
    return json.dumps(doc, indent=1) + "\n"


def main() -> int:
    text = build()
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is stale: run tools/gen_state_map_vectors.py", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
