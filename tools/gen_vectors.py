"""Write the entry, record and key-file vectors (specs/entries.md §9, specs/log.md §6).

    .venv/bin/python tools/gen_vectors.py            # (re)write tests/vectors/entries/
    .venv/bin/python tools/gen_vectors.py --check    # exit 1 if a file is stale

Everything is deterministic: fixed seeds (``bytes([1]) * 32`` …), fixed times, and
Ed25519 signatures, which are deterministic, so the files never change unless a format
does. ``tests/vectors/test_entry_vectors.py`` calls :func:`build` and compares its output
with the committed files byte for byte.

In the JSON, bytes are hex strings; inside ``fields`` a bytes value is written as
``{"bin": "<hex>"}`` so that text and bytes stay distinct (no field map of any entry type
has a key ``bin``).
"""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: make the repository's ledger importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgpack

from ledger.core import ed25519, keys
from ledger.core.encoding import encode
from ledger.core.model import (
    ENTRY_SIG_CONTEXT,
    ENTRY_TYPES,
    ZERO_HASH,
    Body,
    Record,
    SignedEntry,
    add_signature,
    check_fields,
    key_id,
    sign_body,
)

OUT = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "entries"

LEDGER = "example.org/kpledger-vectors"
#: 2024-06-01T00:00:00Z; vector i is signed at T0 + i minutes and appended 1 s later.
T0 = 1_717_200_000_000
APPEND_DELAY = 1_000

#: name -> seed. The seeds are the brief's "bytes([1]) * 32 ...".
SEEDS = {
    "operator": bytes([1]) * 32,
    "jwaneng": bytes([2]) * 32,
    "bw-authority": bytes([3]) * 32,
    "antwerp": bytes([4]) * 32,
    "jwaneng-new": bytes([5]) * 32,
    "surat": bytes([6]) * 32,
    "lab": bytes([7]) * 32,
    "be-authority": bytes([8]) * 32,
    "lab-grown": bytes([9]) * 32,
    "eu-list": bytes([10]) * 32,
    "gov-chair": bytes([11]) * 32,
    "gov-producers": bytes([12]) * 32,
    "gov-consumers": bytes([13]) * 32,
    "gov-traders": bytes([14]) * 32,
}
NAMES = {
    "operator": "KP Ledger Operator",
    "jwaneng": "Debswana Jwaneng",
    "bw-authority": "Botswana KP Authority",
    "antwerp": "Antwerp Rough Trading",
    "surat": "Surat Cutting Works",
    "lab": "Gemological Lab",
    "be-authority": "Belgian KP Authority",
    "lab-grown": "Surat CVD Growers",
    "eu-list": "EU Consolidated List",
    "gov-chair": "KP Chair",
    "gov-producers": "Producing Participants",
    "gov-consumers": "Consuming Participants",
    "gov-traders": "Trading Participants",
}


def pub(who: str) -> bytes:
    return ed25519.public_key(SEEDS[who])


def kid(who: str) -> bytes:
    return key_id(pub(who))


# ------------------------------------------------------------------------------------------
# JSON helpers


def to_json(value: Any) -> Any:
    """Field values for JSON: bytes become ``{"bin": hex}``."""
    if isinstance(value, bytes):
        return {"bin": value.hex()}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def from_json(value: Any) -> Any:
    """Inverse of :func:`to_json`."""
    if isinstance(value, dict):
        if set(value) == {"bin"} and isinstance(value["bin"], str):
            return bytes.fromhex(value["bin"])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=True) + "\n"


# ------------------------------------------------------------------------------------------
# Positive vectors: one per entry type, chained into one log


def _steps(ids: dict[str, bytes]) -> list[tuple[str, list[str], Callable[[], dict[str, Any]]]]:
    """``(type, signers, fields)`` in log order; ``fields`` may read ids of earlier steps."""

    def ref(parcel: str, step: str) -> dict[str, Any]:
        return {"parcel": parcel, "head": ids[step]}

    return [
        ("genesis", ["operator"], lambda: {"operator": pub("operator"), "name": NAMES["operator"]}),
        (
            "participant.add",
            ["operator"],
            lambda: {
                "name": NAMES["jwaneng"],
                "pub": pub("jwaneng"),
                "roles": ["mine"],
                "country": "BW",
            },
        ),
        (
            "kp-status.set",
            ["operator"],
            lambda: {"country": "BW", "status": "participant", "from": "2003-01-01"},
        ),
        (
            "origin",
            ["jwaneng"],
            lambda: {
                "parcel": "BW-JW-2024-0001",
                "carats": 125_000,
                "stones": 420,
                "mine": "Jwaneng open pit, Southern District",
                "hs": "7102.10",
            },
        ),
        (
            "certificate.issue",
            ["bw-authority"],
            lambda: {
                "number": "BW0012345",
                "parcels": ["BW-JW-2024-0001"],
                "exporter": NAMES["jwaneng"],
                "importer": NAMES["antwerp"],
                "exporter_country": "BW",
                "importer_country": "BE",
                "value": {"amount": 125_000_000, "currency": "USD"},
                "expires": "2024-08-30",
                "carats": 125_000,
                "count": 1,
                "hs": ["7102.10"],
                "origins": ["BW"],
            },
        ),
        (
            "transfer",
            ["jwaneng"],
            lambda: {
                "to": NAMES["antwerp"],
                "inputs": [ref("BW-JW-2024-0001", "origin")],
                "certificate": "BW0012345",
                "price": {"amount": 125_000_000, "currency": "USD"},
                "warranty": "2021",
                "wdc": "WDC-BW-0042",
            },
        ),
        ("accept", ["antwerp"], lambda: {"transfer": ids["transfer"]}),
        ("reject", ["antwerp"], lambda: {"transfer": ids["transfer"], "reason": "weight differs"}),
        ("cancel", ["jwaneng"], lambda: {"transfer": ids["transfer"]}),
        (
            "split",
            ["antwerp"],
            lambda: {
                "input": ref("BW-JW-2024-0001", "accept"),
                "outputs": [
                    {"parcel": "BW-JW-2024-0001-A", "carats": 60_000, "stones": 200},
                    {"parcel": "BW-JW-2024-0001-B", "carats": 65_000},
                ],
            },
        ),
        (
            "merge",
            ["antwerp"],
            lambda: {
                "inputs": [ref("BW-JW-2024-0001-A", "split"), ref("BW-JW-2024-0001-B", "split")],
                "output": {"parcel": "ANT-LOT-7", "carats": 125_000, "stones": 420},
            },
        ),
        (
            "cut",
            ["surat"],
            lambda: {
                "inputs": [ref("ANT-LOT-7", "merge")],
                "stones": [
                    {"parcel": "SRT-0001", "carats": 151, "stones": 1},
                    {"parcel": "SRT-0002", "carats": 98, "stones": 1},
                ],
                "byproducts": [{"parcel": "SRT-BYP-0001", "carats": 1_200}],
            },
        ),
        (
            "grade",
            ["lab"],
            lambda: {"input": ref("SRT-0001", "cut"), "report": "GL-2141234567", "carats": 150},
        ),
        (
            "sell",
            ["surat"],
            lambda: {
                "input": ref("SRT-0001", "grade"),
                "price": {"amount": 1_890_000, "currency": "USD"},
            },
        ),
        (
            "participant.rotate",
            ["operator", "jwaneng"],
            lambda: {"name": NAMES["jwaneng"], "pub": pub("jwaneng-new")},
        ),
        (
            "participant.revoke",
            ["operator"],
            lambda: {"name": NAMES["jwaneng"], "reason": "mine closed"},
        ),
        (
            "param.set",
            ["operator"],
            lambda: {"name": "cert-validity-days", "value": 90, "from": "2024-07-01"},
        ),
        (
            "certificate.confirm",
            ["be-authority"],
            lambda: {
                "number": "BW0012345",
                "shipment": ids["transfer"],
                "carats": 124_995,
                "count": 1,
            },
        ),
        (
            "grow",
            ["lab-grown"],
            lambda: {
                "parcel": "IN-LG-2024-0001",
                "carats": 30_000,
                "stones": 900,
                "facility": "CVD hall 2, Surat",
            },
        ),
        (
            "sanction.designate",
            ["eu-list"],
            lambda: {
                "list": "EU-CONSOLIDATED",
                "party": NAMES["antwerp"],
                "from": "2024-06-01",
                "reason": "Reg. 269/2014 Annex I",
            },
        ),
        (
            "sanction.delist",
            ["eu-list"],
            lambda: {"list": "EU-CONSOLIDATED", "party": NAMES["antwerp"], "from": "2024-07-01"},
        ),
        # The migration to governance: the last registry change the operator makes alone.
        (
            "governance.set",
            ["operator"],
            lambda: {
                "governors": [governor(w) for w in ("gov-chair", "gov-producers", "gov-consumers")],
                "threshold": 2,
            },
        ),
    ]


def governor(who: str) -> dict[str, Any]:
    return {"name": NAMES[who], "pub": pub(who)}


def _entry_vector(
    index: int, entry_type: str, signers: list[str], fields: dict[str, Any], prev: bytes
) -> tuple[dict[str, Any], SignedEntry, Record]:
    time = T0 + index * 60_000
    check_fields(entry_type, fields)
    body = Body(entry_type, LEDGER, kid(signers[0]), time, fields)
    entry = sign_body(body, [SEEDS[signers[0]]])
    for cosigner in signers[1:]:  # co-signing appends a signature (specs/entries.md §4)
        entry = add_signature(entry, SEEDS[cosigner])
    record = Record.build(index, prev, time + APPEND_DELAY, entry.raw)
    vector = {
        "description": f"an entry of type {entry_type}, appended as record {index}",
        "input": {
            "ledger": LEDGER,
            "type": entry_type,
            "time": time,
            "signers": [
                {"who": w, "seed": SEEDS[w].hex(), "public": pub(w).hex(), "kid": kid(w).hex()}
                for w in signers
            ],
            "fields": to_json(fields),
            "record": {"index": index, "prev": prev.hex(), "time": time + APPEND_DELAY},
        },
        "body": entry.body_bytes.hex(),
        "signing_message": (ENTRY_SIG_CONTEXT + entry.body_bytes).hex(),
        "sigs": [{"kid": s.kid.hex(), "sig": s.sig.hex()} for s in entry.sigs],
        "envelope": entry.raw.hex(),
        "entry_id": entry.id.hex(),
        "record": record.raw.hex(),
        "leaf_hash": record.hash.hex(),
        "expect": "ok",
    }
    return vector, entry, record


def build_entries() -> tuple[dict[str, dict[str, Any]], list[Record], dict[str, SignedEntry]]:
    ids: dict[str, bytes] = {}
    entries: dict[str, SignedEntry] = {}
    vectors: dict[str, dict[str, Any]] = {}
    records: list[Record] = []
    prev = ZERO_HASH
    for index, (entry_type, signers, fields) in enumerate(_steps(ids)):
        vector, entry, record = _entry_vector(index, entry_type, signers, fields(), prev)
        ids[entry_type] = entry.id
        entries[entry_type] = entry
        vectors[entry_type] = vector
        records.append(record)
        prev = record.hash
    missing = set(ENTRY_TYPES) - set(vectors)
    if missing:  # pragma: no cover - a new entry type needs a vector
        raise SystemExit(f"no vector for entry types {sorted(missing)}")
    return vectors, records, entries


def build_record(records: list[Record]) -> dict[str, Any]:
    return {
        "description": (
            "the log the entry vectors form: record i holds the vector whose input.record.index "
            "is i; prev of record 0 is 32 zero bytes, then the previous leaf hash"
        ),
        "records": [
            {
                "index": r.index,
                "prev": r.prev.hex(),
                "time": r.time,
                "entry_id": r.entry().id.hex(),
                "record": r.raw.hex(),
                "leaf_hash": r.hash.hex(),
            }
            for r in records[:2]
        ],
        "chain": [r.hash.hex() for r in records],
        "expect": "ok",
    }


# ------------------------------------------------------------------------------------------
# Negative vectors


class Raw(bytes):
    """Bytes to splice into a hand-built msgpack map as they are (already encoded)."""


def pack_pairs(pairs: list[tuple[str, Any]]) -> bytes:
    """A msgpack map of ``pairs`` in the order given; values are packed unless Raw."""
    if len(pairs) > 15:  # pragma: no cover
        raise ValueError("fixmap only")
    out = bytes([0x80 | len(pairs)])
    for key, value in pairs:
        out += msgpack.packb(key, use_bin_type=True)
        out += value if isinstance(value, Raw) else encode(value)
    return out


def _envelope(body_bytes: bytes, sigs: list[tuple[bytes, bytes]]) -> bytes:
    return encode({"v": 1, "body": body_bytes, "sigs": [{"kid": k, "sig": s} for k, s in sigs]})


def _signed(body_bytes: bytes, who: str = "jwaneng") -> bytes:
    sig = ed25519.sign(SEEDS[who], ENTRY_SIG_CONTEXT + body_bytes)
    return _envelope(body_bytes, [(kid(who), sig)])


def _body_pairs(fields: dict[str, Any], **overrides: Any) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = [
        ("fields", fields),
        ("ledger", LEDGER),
        ("signer", kid("jwaneng")),
        ("time", T0),
        ("type", "origin"),
        ("v", 1),
    ]
    return [(k, overrides.get(k, v)) for k, v in pairs]


def build_negative(entries: dict[str, SignedEntry]) -> dict[str, Any]:
    origin = entries["origin"]
    good_body = origin.body_bytes
    fields = dict(origin.fields)
    good_sig = origin.sigs[0].sig
    body_kid = kid("jwaneng")
    cases: list[dict[str, Any]] = []

    def case(name: str, kind: str, data: bytes, expect: str, why: str, match: str) -> None:
        vector = {"name": name, "kind": kind, "data": data.hex(), "expect": expect}
        cases.append({**vector, "why": why, "match": match})

    # The reference: the canonical origin entry; every case below differs from it.
    case("reference_ok", "envelope", origin.raw, "ok", "the origin vector, unchanged", "")

    reordered = pack_pairs([(k, v) for k, v in reversed(_body_pairs(fields))])
    case(
        "body_reordered_keys",
        "envelope",
        _signed(reordered),
        "EncodingError",
        "body keys in reverse order (signed correctly over those bytes)",
        "not the canonical encoding",
    )
    env = origin.raw
    env_reordered = pack_pairs(
        [
            ("v", 1),
            ("sigs", [{"kid": body_kid, "sig": good_sig}]),
            ("body", good_body),
        ]
    )
    case(
        "envelope_reordered_keys",
        "envelope",
        env_reordered,
        "EncodingError",
        "envelope keys v, sigs, body instead of body, sigs, v",
        "not the canonical encoding",
    )
    case(
        "body_wide_int_v",
        "envelope",
        _signed(pack_pairs(_body_pairs(fields, v=Raw(b"\xcc\x01")))),
        "EncodingError",
        "v = 1 as uint 8 (cc 01) instead of positive fixint 01",
        "not the canonical encoding",
    )
    case(
        "body_wide_int_time",
        "envelope",
        _signed(pack_pairs(_body_pairs(fields, time=Raw(b"\xd3" + struct.pack(">q", T0))))),
        "EncodingError",
        "time as int 64 (d3) instead of uint 64 (cf): a signed form of a non-negative integer",
        "not the canonical encoding",
    )
    case(
        "body_float_time",
        "envelope",
        _signed(pack_pairs(_body_pairs(fields, time=Raw(b"\xcb" + struct.pack(">d", T0))))),
        "EncodingError",
        "time as float 64",
        "floats are not allowed",
    )
    case(
        "record_float32_index",
        "record",
        pack_pairs(
            [
                ("entry", origin.raw),
                ("index", Raw(b"\xca" + struct.pack(">f", 3.0))),
                ("prev", ZERO_HASH),
                ("time", T0),
                ("v", 1),
            ]
        ),
        "EncodingError",
        "record index as float 32",
        "floats are not allowed",
    )
    case(
        "envelope_trailing_bytes",
        "envelope",
        env + b"\xc0",
        "EncodingError",
        "a nil after the envelope",
        "trailing bytes",
    )
    case(
        "body_str8_where_fixstr_fits",
        "envelope",
        _signed(pack_pairs(_body_pairs(fields, type=Raw(b"\xd9\x06origin")))),
        "EncodingError",
        "type 'origin' as str 8 (d9 06) instead of fixstr (a6)",
        "not the canonical encoding",
    )
    case(
        "body_duplicate_key",
        "envelope",
        _signed(bytes([0x87]) + pack_pairs(_body_pairs(fields))[1:] + msgpack.packb("v") + b"\x01"),
        "EncodingError",
        "the key v twice (a 7-pair map whose last pair repeats v)",
        "not the canonical encoding",
    )
    case(
        "body_signer_as_str",
        "envelope",
        _signed(pack_pairs(_body_pairs(fields, signer=body_kid.hex()[:32]))),
        "EncodingError",
        "signer as 32 characters of text instead of 32 bytes (str/bin swap)",
        "field signer: expected 32 bytes",
    )
    case(
        "envelope_body_as_str",
        "envelope",
        encode({"v": 1, "body": good_body.hex(), "sigs": [{"kid": body_kid, "sig": good_sig}]}),
        "EncodingError",
        "body as text (its hex) instead of bin",
        "field body: expected bytes",
    )
    case(
        "field_head_as_str",
        "envelope",
        _signed(
            encode(
                {
                    "v": 1,
                    "type": "sell",
                    "ledger": LEDGER,
                    "signer": body_kid,
                    "time": T0,
                    "fields": {"input": {"parcel": "SRT-0001", "head": "00" * 16}},
                }
            )
        ),
        "EncodingError",
        "fields.input.head as text instead of 32 bytes",
        "field fields.input.head: expected 32 bytes",
    )
    case(
        "body_version_2",
        "envelope",
        _signed(pack_pairs(_body_pairs(fields, v=2))),
        "EncodingError",
        "an unknown format version",
        "unsupported format version 2",
    )
    bad_sig = bytes([good_sig[0] ^ 0x01]) + good_sig[1:]
    case(
        "wrong_signature",
        "envelope",
        _envelope(good_body, [(body_kid, bad_sig)]),
        "SignatureError",
        "the reference signature with its first bit flipped",
        "does not verify",
    )
    case(
        "signature_over_bare_body",
        "envelope",
        _envelope(good_body, [(body_kid, ed25519.sign(SEEDS["jwaneng"], good_body))]),
        "SignatureError",
        "a signature over the body without ENTRY_SIG_CONTEXT (domain separation)",
        "does not verify",
    )
    case(
        "signature_by_other_key",
        "envelope",
        _envelope(
            good_body,
            [(body_kid, ed25519.sign(SEEDS["antwerp"], ENTRY_SIG_CONTEXT + good_body))],
        ),
        "SignatureError",
        "signed by antwerp's key but labelled with jwaneng's key id",
        "does not verify",
    )
    # Regression vectors, named after the bug they cover.
    case(
        "regression_signer_without_signature",
        "envelope",
        _envelope(
            good_body,
            [(kid("antwerp"), ed25519.sign(SEEDS["antwerp"], ENTRY_SIG_CONTEXT + good_body))],
        ),
        "EncodingError",
        "body.signer is jwaneng but only antwerp signed: it must not count as jwaneng's act",
        "no signature by the body's signer",
    )
    case(
        "regression_date_non_ascii_digits",
        "envelope",
        _signed(
            encode(
                {
                    "v": 1,
                    "type": "kp-status.set",
                    "ledger": LEDGER,
                    "signer": body_kid,
                    "time": T0,
                    "fields": {"country": "BW", "status": "participant", "from": "٢٠٠٣-٠١-٠١"},
                }
            )
        ),
        "EncodingError",
        "a date in Arabic-Indic digits, which Python's \\d accepted",
        "field fields.from: expected a date",
    )
    case(
        "regression_msgpack_unpackb_keyword",
        "value",
        encode({"v": 1}),
        "ok",
        "decode() of a canonical value failed on msgpack >= 1.0 (unpackb got max_buffer_size)",
        "",
    )
    return {
        "description": (
            "non-canonical, malformed or wrongly signed variants of the origin vector. kind "
            "'envelope': SignedEntry.from_wire, then every signature verified with the public "
            "keys below; 'record': Record.from_wire then its entry; 'value': decode. expect "
            "is 'ok' or the error class; match is a substring of the message."
        ),
        "public_keys": {kid(w).hex(): pub(w).hex() for w in sorted(SEEDS)},
        "cases": cases,
    }


# ------------------------------------------------------------------------------------------
# Key-file vectors

KEY_PASSPHRASE = "correct horse battery staple"
KEY_SALT = bytes(range(16))
KEY_NONCE = bytes(range(100, 112))
KEY_N = 1 << 14  # the smallest cost a reader accepts, so the test is fast


def build_keyfile() -> dict[str, Any]:
    seed = SEEDS["jwaneng"]
    name = "jwaneng"
    encrypted = keys.encode_private(
        name, seed, KEY_PASSPHRASE, salt=KEY_SALT, nonce=KEY_NONCE, n=KEY_N
    )
    clear = keys.encode_private(name, seed, None, salt=KEY_SALT, nonce=KEY_NONCE)
    return {
        "description": "private key files of both forms and the public key file (specs/keys.md)",
        "input": {
            "name": name,
            "seed": seed.hex(),
            "passphrase": KEY_PASSPHRASE,
            "salt": KEY_SALT.hex(),
            "nonce": KEY_NONCE.hex(),
            "n": KEY_N,
        },
        "public": pub("jwaneng").hex(),
        "kid": kid("jwaneng").hex(),
        "private_file_scrypt": encrypted.decode("ascii"),
        "private_file_none": clear.decode("ascii"),
        "public_file": keys.encode_public(name, pub("jwaneng")).decode("ascii"),
        "expect": "ok",
    }


# ------------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------------
# Governance rule vectors (specs/rules.md §3.9)

GOV_LEDGER = "example.org/kpledger-governed"
HOUR = 3_600_000
DAY = 24 * HOUR


def build_governance() -> dict[str, Any]:
    """A ledger governed by 2 of 3 from its genesis: each step is a record that the rules
    must accept (``ok``, the chain advances) or refuse with the rule named (the next step
    is tried at the same index)."""
    steps: list[dict[str, Any]] = []
    prev = ZERO_HASH
    index = 0
    clock = T0

    def step(
        name: str,
        entry_type: str,
        signers: list[str],
        fields: dict[str, Any],
        expect: str,
        why: str,
        *,
        claimed: int | None = None,
        appended: int | None = None,
    ) -> SignedEntry:
        nonlocal prev, index, clock
        clock += 60_000
        time = clock if claimed is None else claimed
        check_fields(entry_type, fields)
        body = Body(entry_type, GOV_LEDGER, kid(signers[0]), time, fields)
        entry = sign_body(body, [SEEDS[w] for w in signers])
        at = (clock if appended is None else appended) + APPEND_DELAY
        clock = max(clock, at)
        record = Record.build(index, prev, at, entry.raw)
        steps.append(
            {
                "name": name,
                "why": why,
                "signers": signers,
                "record": record.raw.hex(),
                "expect": expect,
            }
        )
        if expect == "ok":
            prev, index = record.hash, index + 1
        return entry

    trio = [governor(w) for w in ("gov-chair", "gov-producers", "gov-consumers")]
    add = {"name": NAMES["jwaneng"], "pub": pub("jwaneng"), "roles": ["mine"], "country": "BW"}
    status = {"country": "BW", "status": "participant", "from": "2003-01-01"}
    step(
        "genesis_2_of_3",
        "genesis",
        ["operator"],
        {"operator": pub("operator"), "name": NAMES["operator"], "governors": trio, "threshold": 2},
        "ok",
        "the genesis names three governors and k = 2",
    )
    step(
        "operator_alone",
        "participant.add",
        ["operator"],
        add,
        "R-GV-1",
        "the operator alone admits a participant: no governor signed",
    )
    step(
        "one_governor",
        "participant.add",
        ["gov-chair"],
        add,
        "R-GV-1",
        "one governor signature of the two needed",
    )
    step(
        "two_governors",
        "participant.add",
        ["gov-chair", "gov-producers"],
        add,
        "ok",
        "two of the three governors sign",
    )
    step(
        "stranger_cosigns",
        "kp-status.set",
        ["gov-chair", "gov-producers", "jwaneng"],
        status,
        "R-GV-2",
        "a participant who is not a governor co-signs a registry change",
    )
    step(
        "proposed_by_stranger",
        "kp-status.set",
        ["jwaneng", "gov-chair", "gov-producers"],
        status,
        "R-GV-2",
        "k governors signed, but the proposer (body.signer) is not a governor",
    )
    step(
        "expired_proposal",
        "kp-status.set",
        ["gov-chair", "gov-consumers"],
        status,
        "R-GV-4",
        "appended more than 7 days after its claimed time",
        claimed=clock - 8 * DAY,
    )
    status_entry = step(
        "kp_status_by_two",
        "kp-status.set",
        ["gov-chair", "gov-consumers"],
        status,
        "ok",
        "a KP status set by two governors",
    )
    steps.append(
        {
            "name": "replayed_proposal",
            "why": "the same body again, co-signed by another pair of governors",
            "signers": ["gov-chair", "gov-producers"],
            "record": Record.build(
                index,
                prev,
                clock + APPEND_DELAY,
                add_signature(
                    SignedEntry.build(status_entry.body_bytes, status_entry.sigs[:1]),
                    SEEDS["gov-producers"],
                ).raw,
            ).raw.hex(),
            "expect": "R-GV-5",
        }
    )
    step(
        "threshold_above_n",
        "governance.set",
        ["gov-chair", "gov-producers"],
        {"governors": trio, "threshold": 4},
        "R-GV-3",
        "k = 4 of 3 governors",
    )
    four = [*trio, governor("gov-traders")]
    step(
        "add_governor_k3",
        "governance.set",
        ["gov-chair", "gov-producers"],
        {"governors": four, "threshold": 3},
        "ok",
        "two of three add a fourth governor and raise k to 3",
    )
    step(
        "two_of_new_three",
        "param.set",
        ["gov-chair", "gov-traders"],
        {"name": "confirm-days", "value": 45, "from": "2030-01-01"},
        "R-GV-1",
        "two signatures no longer reach k = 3",
    )
    step(
        "three_of_four",
        "param.set",
        ["gov-chair", "gov-traders", "gov-consumers"],
        {"name": "confirm-days", "value": 45, "from": "2030-01-01"},
        "ok",
        "three of the four governors set a rule parameter",
    )
    return {
        "description": (
            "governance rule vectors (specs/rules.md §3.9): records of a ledger governed by "
            "2 of 3 from its genesis. Apply each record's entry with rules.apply at its index "
            "and append time; 'ok' must be accepted (the chain advances), any other expect is "
            "the rule ID of the refusal (the next step reuses the index)."
        ),
        "ledger": GOV_LEDGER,
        "public_keys": {kid(w).hex(): pub(w).hex() for w in sorted(SEEDS)},
        "steps": steps,
    }


def build_disclosure() -> dict[str, Any]:
    """Commitments to money fields and their openings (specs/disclosure.md §6)."""
    from ledger.core import disclosure
    from ledger.core.encoding import encode as canonical
    from ledger.core.model import Body, sign_body

    cases = []
    for label, salt_byte, amount, currency in (
        ("transfer.price", 0x11, 125_000_000, "USD"),
        ("sell.price", 0x22, 1_890_000, "USD"),
        ("certificate.issue.value", 0x33, 125_000_000, "USD"),
        ("sell.price", 0x44, 0, "JPY"),
    ):
        salt = bytes([salt_byte]) * 32
        value = {"amount": amount, "currency": currency}
        data = canonical({"field": label, "salt": salt, "value": value})
        cases.append(
            {
                "field": label,
                "salt": salt.hex(),
                "value": value,
                "hash_input": (disclosure.COMMIT_CONTEXT + data).hex(),
                "commitment": disclosure.commit(label, value, salt).hex(),
            }
        )
    fields, openings = disclosure.seal(
        "sell",
        {"input": {"parcel": "SRT-0001", "head": b"\x07" * 32}, "price": cases[1]["value"]},
        lambda: bytes.fromhex(cases[1]["salt"]),
    )
    body = Body("sell", LEDGER, kid("surat"), T0, fields)
    entry = sign_body(body, [SEEDS["surat"]])
    good = openings[0]
    bad = [
        ("wrong-salt", {**good.to_wire(), "salt": b"\x12" * 32}, "opens no commitment"),
        (
            "wrong-value",
            {**good.to_wire(), "value": {"amount": 1_890_001, "currency": "USD"}},
            "opens no commitment",
        ),
        (
            "wrong-currency",
            {**good.to_wire(), "value": {"amount": 1_890_000, "currency": "EUR"}},
            "opens no commitment",
        ),
        ("other-field", {**good.to_wire(), "field": "transfer.price"}, "opens no commitment"),
        ("short-salt", {**good.to_wire(), "salt": b"\x22" * 31}, "expected 32 bytes"),
        ("unknown-field", {**good.to_wire(), "field": "sell.discount"}, "expected one of"),
        (
            "float-amount",
            {**good.to_wire(), "value": {"amount": 18900.0, "currency": "USD"}},
            "non-negative integer",
        ),
    ]
    return {
        "context": disclosure.COMMIT_CONTEXT.hex(),
        "commitments": cases,
        "sealed_entry": {
            "fields": to_json(fields),
            "opening": to_json(good.to_wire()),
            "envelope": entry.raw.hex(),
            "entry_id": entry.id.hex(),
        },
        "bad_openings": [{"name": n, "opening": to_json(o), "expect": e} for n, o, e in bad],
    }


def build() -> dict[str, str]:
    """Every vector file: ``{file name: exact text}``."""
    vectors, records, entries = build_entries()
    files = {f"{t}.json": dump(v) for t, v in vectors.items()}
    files["record.json"] = dump(build_record(records))
    files["negative.json"] = dump(build_negative(entries))
    files["keyfile.json"] = dump(build_keyfile())
    files["governance.json"] = dump(build_governance())
    files["disclosure.json"] = dump(build_disclosure())
    return files


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def main(argv: list[str]) -> int:
    files = build()
    if "--check" in argv:
        stale = [n for n, text in files.items() if _read(OUT / n) != text]
        for n in stale:
            print(f"stale: {OUT / n}", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
