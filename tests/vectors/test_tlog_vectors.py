"""Known-answer tests for ``ledger.merkle`` and ``ledger.tiles`` against public vectors.

The vectors are copied unchanged into ``tests/vectors/tlog/`` (``tests/vectors/README.md``
gives each file's source, commit and licence): transparency-dev/merkle's inclusion and
consistency probes, transcribed RFC 6962, C2SP and Go known answers, and the Tessera test log.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from ledger.core import merkle, tiles
from ledger.errors import ProofError
from tests.vectors import TLOG

TXMERKLE = TLOG / "transparency-dev-merkle" / "testdata"
TESSERA_LOG = TLOG / "transparency-dev-tessera" / "testdata" / "log"
KAT = TLOG / "kat"

#: Upstream probe counts (tests/vectors/README.md); a missing folder must fail loudly.
N_INCLUSION_PROBES = 98
N_CONSISTENCY_PROBES = 98

#: Probes whose upstream outcome kpledger deliberately does not share (specs/merkle.md §3.4).
DEVIATIONS = {
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json": (
        "the roots are 12-byte placeholders; kpledger requires every hash to be 32 bytes"
    ),
}


def _b64(s: str) -> bytes:
    return base64.b64decode(s, validate=True)


def _probe_files(kind: str) -> list[Path]:
    return sorted((TXMERKLE / kind).rglob("*.json"))


def _probe_id(path: Path) -> str:
    return path.relative_to(TXMERKLE).as_posix()


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _rfc_kat() -> dict[str, Any]:
    return _load(KAT / "rfc6962-tree-8-leaves.json")


# ------------------------------------------------------------------------------------------
# transparency-dev/merkle probes
# ------------------------------------------------------------------------------------------


def test_probe_counts() -> None:
    assert len(_probe_files("inclusion")) == N_INCLUSION_PROBES
    assert len(_probe_files("consistency")) == N_CONSISTENCY_PROBES


def _run_inclusion(p: Mapping[str, Any]) -> None:
    merkle.verify_inclusion(
        _b64(p["leafHash"]),
        p["leafIdx"],
        p["treeSize"],
        [_b64(h) for h in p["proof"] or []],
        _b64(p["root"]),
    )


def _run_consistency(p: Mapping[str, Any]) -> None:
    merkle.verify_consistency(
        p["size1"],
        p["size2"],
        _b64(p["root1"]),
        _b64(p["root2"]),
        [_b64(h) for h in p["proof"] or []],
    )


@pytest.mark.parametrize("path", _probe_files("inclusion"), ids=_probe_id)
def test_inclusion_probe(path: Path) -> None:
    probe = _load(path)
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            _run_inclusion(probe)
    else:
        _run_inclusion(probe)


@pytest.mark.parametrize("path", _probe_files("consistency"), ids=_probe_id)
def test_consistency_probe(path: Path) -> None:
    probe = _load(path)
    if _probe_id(path) in DEVIATIONS:
        assert not probe["wantErr"]
        with pytest.raises(ProofError, match="32-byte"):
            _run_consistency(probe)
        # The probe's intent (equal sizes, empty proof, equal roots) holds with real hashes.
        root = merkle.leaf_hash(b"")
        merkle.verify_consistency(probe["size1"], probe["size2"], root, root, [])
    elif probe["wantErr"]:
        with pytest.raises(ProofError):
            _run_consistency(probe)
    else:
        _run_consistency(probe)


def test_deviations_exist() -> None:
    for name in DEVIATIONS:
        assert (TXMERKLE / name).is_file(), name


# ------------------------------------------------------------------------------------------
# RFC 6962 8-leaf tree (transparency-dev/merkle testonly/constants.go)
# ------------------------------------------------------------------------------------------


def _kat_leaf_hashes() -> list[bytes]:
    return [merkle.leaf_hash(bytes.fromhex(x)) for x in _rfc_kat()["leaves_hex"]]


class _DictTiles(dict[tuple[int, int], bytes]):
    def read_tiles(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        return {k: self[k] for k in keys if k in self}


def test_rfc6962_roots_by_size() -> None:
    kat = _rfc_kat()
    hashes = _kat_leaf_hashes()
    assert len(kat["roots_hex_by_size"]) == 9
    store = _DictTiles()
    for size, want_hex in enumerate(kat["roots_hex_by_size"]):
        want = bytes.fromhex(want_hex)
        assert merkle.root_from_leaf_hashes(hashes[:size]) == want
        assert merkle.tree_root(size, merkle.ListHashReader(hashes[:size])) == want
        assert merkle.tree_root(size, tiles.TileHashReader(store, size)) == want
        if size < len(hashes):
            store.update(tiles.append_to_tiles(size, hashes[size : size + 1], store))
    assert merkle.EMPTY_ROOT.hex() == kat["roots_hex_by_size"][0]


def test_rfc6962_node_hashes() -> None:
    reader = merkle.ListHashReader(_kat_leaf_hashes())
    for level, row in enumerate(_rfc_kat()["node_hashes_hex_by_level"]):
        for index, want in enumerate(row):
            assert reader.subtree_hash(level, index).hex() == want


def test_rfc6962_example_paths() -> None:
    # RFC 6962 §2.1.3: the 7-leaf tree with leaves a..f, j and nodes g..l.
    h = _kat_leaf_hashes()[:7]
    a, b, c, d, e, f, j = h
    g, hh, i = merkle.node_hash(a, b), merkle.node_hash(c, d), merkle.node_hash(e, f)
    k, ell = merkle.node_hash(g, hh), merkle.node_hash(i, j)
    root = merkle.node_hash(k, ell)
    reader = merkle.ListHashReader(h)
    assert merkle.tree_root(7, reader) == root
    paths = {0: [b, hh, ell], 3: [c, g, ell], 4: [f, j, k], 6: [i, k]}
    for index, want in paths.items():
        assert merkle.inclusion_proof(index, 7, reader) == want
        merkle.verify_inclusion(h[index], index, 7, want, root)
    # RFC 6962 §2.1.3 consistency examples (PROOF(m, D[7])).
    proofs = {3: [c, d, g, ell], 4: [ell], 6: [i, j, k]}
    for old, want in proofs.items():
        assert merkle.consistency_proof(old, 7, reader) == want
        old_root = merkle.tree_root(old, reader)
        merkle.verify_consistency(old, 7, old_root, root, want)


# ------------------------------------------------------------------------------------------
# C2SP tlog-tiles and Go sumdb known answers
# ------------------------------------------------------------------------------------------


def test_c2sp_index_paths() -> None:
    kat = _load(KAT / "c2sp-tlog-tiles.json")
    for case in kat["index_paths"]:
        assert tiles.tile_path(0, case["N"]) == "tile/0/" + case["path"]
        assert tiles.entries_path(case["N"]) == "tile/entries/" + case["path"]


def test_c2sp_tile_paths() -> None:
    kat = _load(KAT / "c2sp-tlog-tiles.json")
    assert len(kat["tile_paths"]) == 6
    for case in kat["tile_paths"]:
        if case.get("entries"):
            assert tiles.entries_path(case["N"], case["W"]) == case["path"]
            assert tiles.parse_tile_path(case["path"]) == (None, case["N"], case["W"])
        else:
            assert tiles.tile_path(case["level"], case["N"], case["W"]) == case["path"]
            assert tiles.parse_tile_path(case["path"]) == (case["level"], case["N"], case["W"])


def test_c2sp_tree_shapes() -> None:
    kat = _load(KAT / "c2sp-tlog-tiles.json")
    assert len(kat["tree_shapes"]) == 2
    for case in kat["tree_shapes"]:
        got = tiles.tiles_for_size(case["size"])
        want: list[tuple[int, int, int]] = []
        for level in range(3):
            want += [(level, n, 256) for n in range(case["tiles"].get(f"level{level}_full", 0))]
            width = case["tiles"].get(f"level{level}_partial_width")
            if width:
                want.append((level, case["tiles"].get(f"level{level}_full", 0), width))
        assert got == want


def test_go_sumdb_record_hash_and_empty_tree() -> None:
    kat = _load(KAT / "go-sumdb-tlog.json")
    for case in kat["record_hash"]:
        assert merkle.leaf_hash(case["data_utf8"].encode()) == _b64(case["hash_b64"])
    for case in kat["tree_note"]:
        # The tree note's root line is RecordHash("hello world") (go tlog note_test.go).
        root_line = case["text"].split("\n")[2]
        assert _b64(root_line) == merkle.leaf_hash(b"hello world")
    assert merkle.EMPTY_ROOT.hex() == kat["empty_tree_hash_hex"]


def test_go_sumdb_paths_are_not_c2sp_paths() -> None:
    # Go paths carry the tile height (tile/H/L/N, "data"); the C2SP parser must refuse them.
    kat = _load(KAT / "go-sumdb-tlog.json")["go_tile_paths"]
    for case in kat["valid"]:
        with pytest.raises(ProofError):
            tiles.parse_tile_path(case["path"])
    for path in kat["invalid"]:
        with pytest.raises(ProofError):
            tiles.parse_tile_path(path)


# ------------------------------------------------------------------------------------------
# The real 15-entry Tessera log
# ------------------------------------------------------------------------------------------

TESSERA_ENTRIES = [
    b"one",
    b"two",
    b"three",
    b"four",
    b"five",
    b"six",
    b"seven",
    b"eit",
    b"nain",
    b"ten",
    b"ileven",
    b"twelf",
    b"threeten",
    b"fourten",
    b"fivten",
]


def _parse_bundle(data: bytes) -> list[bytes]:
    """C2SP tlog-tiles entry bundle: a concatenation of ``u16be(len) || entry``."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        assert pos + 2 <= len(data), "truncated length prefix"
        n = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        assert pos + n <= len(data), "truncated entry"
        out.append(data[pos : pos + n])
        pos += n
    return out


def _checkpoint_root(size: int) -> tuple[int, bytes]:
    text = (TESSERA_LOG / f"checkpoint.{size}").read_text()
    lines = text.split("\n")
    return int(lines[1]), _b64(lines[2])


class _TesseraTiles:
    """A TileReader over the log's files for one tree size (its partial tile 0/000.p/<W>)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def read_tiles(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        out: dict[tuple[int, int], bytes] = {}
        for level, index in keys:
            path = TESSERA_LOG / tiles.tile_path(level, index, self.size)
            if path.is_file():
                out[(level, index)] = path.read_bytes()
        return out


def test_tessera_log() -> None:
    leaf_hashes = [merkle.leaf_hash(e) for e in TESSERA_ENTRIES]
    assert _checkpoint_root(0) == (0, merkle.EMPTY_ROOT)
    roots = {0: merkle.EMPTY_ROOT}
    for size in range(1, 16):
        bundle_path = tiles.entries_path(0, size)
        tile_rel = tiles.tile_path(0, 0, size)
        assert tiles.parse_tile_path(bundle_path) == (None, 0, size)
        assert tiles.parse_tile_path(tile_rel) == (0, 0, size)
        entries = _parse_bundle((TESSERA_LOG / bundle_path).read_bytes())
        assert entries == TESSERA_ENTRIES[:size]
        hashes = [merkle.leaf_hash(e) for e in entries]
        assert b"".join(hashes) == (TESSERA_LOG / tile_rel).read_bytes()
        assert [(0, 0, size)] == tiles.tiles_for_size(size)

        want_size, want_root = _checkpoint_root(size)
        assert want_size == size
        assert merkle.root_from_leaf_hashes(hashes) == want_root
        reader = tiles.TileHashReader(_TesseraTiles(size), size)
        assert merkle.tree_root(size, reader) == want_root
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, reader)
            merkle.verify_inclusion(leaf_hashes[index], index, size, proof, want_root)
        roots[size] = want_root
    for new in range(16):
        reader_new = tiles.TileHashReader(_TesseraTiles(new), new)
        for old in range(new + 1):
            proof = merkle.consistency_proof(old, new, reader_new)
            merkle.verify_consistency(old, new, roots[old], roots[new], proof)
    # The unnumbered checkpoint is the latest one.
    assert (TESSERA_LOG / "checkpoint").read_text() == (TESSERA_LOG / "checkpoint.15").read_text()
