"""Entry, record and key-file vectors (specs/entries.md §9, specs/log.md §6, specs/keys.md §6).

1. ``tools/gen_vectors.py`` is re-run in memory and must reproduce every committed file
   byte for byte (so a format change cannot slip in without new vectors).
2. Every vector decodes, or fails, exactly as it declares, through ``ledger``.
3. The positive vectors are checked again by an independent implementation that shares no
   code with ``ledger``: ``msgpack`` in strict mode (with the canonical rules re-stated
   below), ``hashlib`` for ids and leaf hashes, ``cryptography`` for Ed25519 and
   ChaCha20-Poly1305, with the context string and magic lines written out literally.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import msgpack
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from ledger import errors
from ledger.core import keys
from ledger.core.encoding import decode
from ledger.core.model import ENTRY_TYPES, Body, Record, SignedEntry, check_fields

ROOT = Path(__file__).resolve().parents[2]
DIR = Path(__file__).resolve().parent / "entries"
GENERATOR = ROOT / "tools" / "gen_vectors.py"

# Written out here, not imported, so that the cross-check does not trust ledger's constants.
CONTEXT = b"kpledger/v1 entry signature\x00"
PRIVATE_MAGIC = b"kpledger-private-key-v1\n"


@cache
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kpledger_gen_vectors", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(name: str) -> Any:
    return json.loads((DIR / name).read_text(encoding="utf-8"))


ENTRY_VECTORS = sorted(f"{t}.json" for t in ENTRY_TYPES)
NEGATIVE_CASES = [c["name"] for c in load("negative.json")["cases"]]


# --- 1. regeneration ------------------------------------------------------------------------


def test_committed_files_are_exactly_what_the_generator_writes() -> None:
    files = generator().build()
    committed = {p.name for p in DIR.glob("*.json")}
    assert committed == set(files), "run: .venv/bin/python tools/gen_vectors.py"
    for name, text in files.items():
        assert (DIR / name).read_text(encoding="utf-8") == text, f"{name} is stale"


def test_one_vector_per_entry_type() -> None:
    assert {p.stem for p in DIR.glob("*.json")} >= set(ENTRY_TYPES)


# --- 2. through ledger ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ENTRY_VECTORS)
def test_entry_vector_through_ledger(name: str) -> None:
    v = load(name)
    assert v["expect"] == "ok"
    inp = v["input"]
    fields = generator().from_json(inp["fields"])
    signer = bytes.fromhex(inp["signers"][0]["kid"])
    body = Body(inp["type"], inp["ledger"], signer, inp["time"], fields)
    assert body.encode().hex() == v["body"]
    check_fields(inp["type"], fields)

    entry = SignedEntry.from_wire(bytes.fromhex(v["envelope"]))
    assert entry.body_bytes.hex() == v["body"]
    assert entry.body == body
    assert entry.id.hex() == v["entry_id"]
    assert [(s.kid.hex(), s.sig.hex()) for s in entry.sigs] == [
        (s["kid"], s["sig"]) for s in v["sigs"]
    ]
    for s in inp["signers"]:
        entry.verify_signature(bytes.fromhex(s["kid"]), bytes.fromhex(s["public"]))

    record = Record.from_wire(bytes.fromhex(v["record"]))
    assert record.hash.hex() == v["leaf_hash"]
    assert (record.index, record.prev.hex(), record.time) == (
        inp["record"]["index"],
        inp["record"]["prev"],
        inp["record"]["time"],
    )
    assert record.entry() == entry


def test_record_vector_chain() -> None:
    rec = load("record.json")
    assert rec["expect"] == "ok"
    by_index = {load(n)["input"]["record"]["index"]: load(n) for n in ENTRY_VECTORS}
    assert sorted(by_index) == list(range(len(rec["chain"])))
    prev = "00" * 32
    for i, leaf in enumerate(rec["chain"]):
        v = by_index[i]
        assert v["input"]["record"]["prev"] == prev
        assert v["leaf_hash"] == leaf
        prev = leaf
    for r in rec["records"]:
        record = Record.from_wire(bytes.fromhex(r["record"]))
        assert record.hash.hex() == r["leaf_hash"] == rec["chain"][r["index"]]
        assert record.prev.hex() == r["prev"]
        assert record.entry().id.hex() == r["entry_id"]


def run_case(kind: str, data: bytes, public_keys: dict[str, str]) -> None:
    if kind == "value":
        decode(data)
    elif kind == "record":
        Record.from_wire(data).entry()
    elif kind == "envelope":
        entry = SignedEntry.from_wire(data)
        for s in entry.sigs:
            entry.verify_signature(s.kid, bytes.fromhex(public_keys[s.kid.hex()]))
    else:  # pragma: no cover
        raise AssertionError(f"unknown kind {kind}")


@pytest.mark.parametrize("name", NEGATIVE_CASES)
def test_negative_vector(name: str) -> None:
    doc = load("negative.json")
    case = next(c for c in doc["cases"] if c["name"] == name)
    data = bytes.fromhex(case["data"])
    if case["expect"] == "ok":
        run_case(case["kind"], data, doc["public_keys"])
        return
    with pytest.raises(errors.LedgerError) as info:
        run_case(case["kind"], data, doc["public_keys"])
    assert type(info.value).__name__ == case["expect"], info.value
    assert case["match"] in str(info.value)


def test_keyfile_vector_through_ledger() -> None:
    v = load("keyfile.json")
    inp = v["input"]
    seed = bytes.fromhex(inp["seed"])
    for text, passphrase in (
        (v["private_file_scrypt"], inp["passphrase"]),
        (v["private_file_none"], None),
    ):
        key = keys.decode_private(text.encode("ascii"), passphrase)
        assert (key.name, key.seed) == (inp["name"], seed)
        assert key.kid.hex() == v["kid"]
    assert keys.decode_public(v["public_file"].encode()) == (
        inp["name"],
        bytes.fromhex(v["public"]),
    )
    with pytest.raises(errors.KeyFileError, match="wrong passphrase"):
        keys.decode_private(v["private_file_scrypt"].encode(), inp["passphrase"] + "!")


# --- 3. independent cross-check -----------------------------------------------------------


class Pairs(list[tuple[Any, Any]]):
    """A map as msgpack read it: its pairs in wire order."""


def strict_unpack(data: bytes) -> Any:
    """Decode with msgpack alone and re-check the profile without ledger.encoding.

    Maps come back as lists of pairs so that the wire order is visible; each must have
    text keys in strictly increasing UTF-8 order. Floats and ext types are refused, and
    re-packing the value must give the input back (smallest forms, no trailing bytes).
    """
    unpacker = msgpack.Unpacker(
        raw=False,
        strict_map_key=True,
        object_pairs_hook=Pairs,
        use_list=True,
        max_buffer_size=len(data) or 1,
    )
    unpacker.feed(data)
    value = unpacker.unpack()
    assert unpacker.tell() == len(data), "trailing bytes"

    def check(x: Any, depth: int) -> Any:
        assert depth <= 16
        assert not isinstance(x, (float, msgpack.ExtType, msgpack.Timestamp))
        if isinstance(x, Pairs):
            assert all(isinstance(k, str) for k, _ in x), "map keys must be text"
            keys_ = [k.encode("utf-8") for k, _ in x]
            assert keys_ == sorted(set(keys_)), "map keys not in canonical order"
            return {k: check(val, depth + 1) for k, val in x}
        if isinstance(x, list):
            return [check(i, depth + 1) for i in x]
        return x

    plain = check(value, 0)
    assert msgpack.packb(plain, use_bin_type=True) == data, "not the smallest forms"
    return plain


@pytest.mark.parametrize("name", ENTRY_VECTORS)
def test_entry_vector_independently(name: str) -> None:
    v = load(name)
    envelope = bytes.fromhex(v["envelope"])
    body = bytes.fromhex(v["body"])
    record = bytes.fromhex(v["record"])

    env = strict_unpack(envelope)
    assert list(env) == ["body", "sigs", "v"] and env["v"] == 1
    assert env["body"] == body
    parsed = strict_unpack(body)
    assert list(parsed) == ["fields", "ledger", "signer", "time", "type", "v"]
    assert parsed["v"] == 1 and parsed["type"] == v["input"]["type"]
    assert parsed["signer"] == bytes.fromhex(v["input"]["signers"][0]["kid"])
    assert hashlib.sha256(envelope).hexdigest() == v["entry_id"]
    assert bytes.fromhex(v["signing_message"]) == CONTEXT + body

    assert len(env["sigs"]) == len(v["input"]["signers"])
    for sig, signer in zip(env["sigs"], v["input"]["signers"], strict=True):
        seed = bytes.fromhex(signer["seed"])
        private = Ed25519PrivateKey.from_private_bytes(seed)
        public = private.public_key().public_bytes_raw()
        assert public.hex() == signer["public"]
        assert sig["kid"] == hashlib.sha256(public).digest()
        Ed25519PublicKey.from_public_bytes(public).verify(sig["sig"], CONTEXT + body)
        assert private.sign(CONTEXT + body) == sig["sig"]  # Ed25519 is deterministic

    rec = strict_unpack(record)
    assert list(rec) == ["entry", "index", "prev", "time", "v"]
    assert rec["entry"] == envelope and rec["v"] == 1
    assert rec["index"] == v["input"]["record"]["index"]
    assert hashlib.sha256(b"\x00" + record).hexdigest() == v["leaf_hash"]


ENCODING_CASES = [
    c["name"]
    for c in load("negative.json")["cases"]
    if "canonical" in c["match"] or "floats" in c["match"] or "trailing" in c["match"]
]


@pytest.mark.parametrize("name", ENCODING_CASES)
def test_non_canonical_vectors_fail_the_independent_check(name: str) -> None:
    case = next(c for c in load("negative.json")["cases"] if c["name"] == name)
    data = bytes.fromhex(case["data"])

    def walk(data: bytes) -> None:
        value = strict_unpack(data)
        for inner in (value.get("body"), value.get("entry")):
            if isinstance(inner, bytes):
                walk(inner)

    with pytest.raises((AssertionError, ValueError, msgpack.UnpackException)):
        walk(data)


def test_keyfile_vector_independently() -> None:
    v = load("keyfile.json")
    inp = v["input"]
    data = v["private_file_scrypt"].encode("ascii")
    assert data.startswith(PRIVATE_MAGIC) and data.endswith(b"\n") and data.count(b"\n") == 2
    header = strict_unpack(base64.b64decode(data[len(PRIVATE_MAGIC) : -1], validate=True))
    assert list(header) == ["box", "kdf", "n", "name", "nonce", "p", "pub", "r", "salt", "v"]
    assert (header["kdf"], header["n"], header["r"], header["p"]) == ("scrypt", inp["n"], 8, 1)
    key = hashlib.scrypt(
        inp["passphrase"].encode("utf-8"),
        salt=header["salt"],
        n=header["n"],
        r=8,
        p=1,
        dklen=32,
        maxmem=64 * 1024 * 1024,
    )
    aad = PRIVATE_MAGIC + msgpack.packb(
        {k: header[k] for k in sorted(header) if k != "box"}, use_bin_type=True
    )
    seed = ChaCha20Poly1305(key).decrypt(header["nonce"], header["box"], aad)
    assert seed.hex() == inp["seed"]
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    assert header["pub"] == public
    assert hashlib.sha256(public).hexdigest() == v["kid"]

    clear = v["private_file_none"].encode("ascii")
    plain = strict_unpack(base64.b64decode(clear[len(PRIVATE_MAGIC) : -1], validate=True))
    assert plain == {"kdf": "none", "name": inp["name"], "pub": public, "seed": seed, "v": 1}

    line = v["public_file"]
    assert re.fullmatch(r"kpledger-public-key-v1 [^ \n]+ [A-Za-z0-9+/]{43}=\n", line)
    assert line.split(" ")[2].strip() == base64.b64encode(public).decode()
