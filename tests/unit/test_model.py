"""Entry bodies, envelopes, records and field shapes (specs/entries.md, specs/log.md §2)."""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.core import ed25519
from ledger.core.encoding import decode, encode
from ledger.core.model import (
    ENTRY_SIG_CONTEXT,
    ENTRY_TYPES,
    MAX_ENTRY_SIZE,
    MAX_LIST,
    MAX_RECORD_SIZE,
    ZERO_HASH,
    Body,
    Record,
    Signature,
    SignedEntry,
    add_signature,
    check_date,
    check_fields,
    entry_id,
    entry_to_json,
    key_id,
    leaf_hash,
    sign_body,
    signing_message,
)
from ledger.errors import EncodingError, LimitError, SignatureError

ALICE = bytes([2]) * 32
BOB = bytes([3]) * 32
CAROL = bytes([4]) * 32
LEDGER = "example.org/kp"
T = 1_717_200_000_000
HEAD = bytes(range(32))


def kid(seed: bytes) -> bytes:
    return key_id(ed25519.public_key(seed))


def inp(parcel: str = "P-1") -> dict[str, Any]:
    return {"parcel": parcel, "head": HEAD}


#: One accepted ``fields`` map per entry type, using every optional field.
VALID: dict[str, dict[str, Any]] = {
    "genesis": {
        "operator": ed25519.public_key(ALICE),
        "name": "KP Ledger Operator",
        "governors": [
            {"name": "KP Chair", "pub": ed25519.public_key(BOB)},
            {"name": "Producers", "pub": ed25519.public_key(CAROL)},
        ],
        "threshold": 2,
    },
    "governance.set": {
        "governors": [{"name": "KP Chair", "pub": ed25519.public_key(BOB)}],
        "threshold": 1,
    },
    "participant.add": {
        "name": "Debswana Jwaneng",
        "pub": ed25519.public_key(BOB),
        "roles": ["mine", "trader"],
        "country": "BW",
    },
    "participant.revoke": {
        "name": "Debswana Jwaneng",
        "reason": "key stolen",
        "compromised_since": 1_700_000_000_000,
    },
    "participant.rotate": {"name": "Debswana Jwaneng", "pub": ed25519.public_key(CAROL)},
    "kp-status.set": {"country": "BW", "status": "participant", "from": "2003-01-01"},
    "param.set": {"name": "cert-validity-days", "value": 90, "from": "2026-01-01"},
    "origin": {
        "parcel": "P-1",
        "carats": 125_000,
        "stones": 420,
        "mine": "Jwaneng",
        "hs": "7102.10",
    },
    "grow": {"parcel": "LG-1", "carats": 5_000, "stones": 100, "facility": "Surat reactor 4"},
    "sanction.designate": {
        "list": "EU",
        "party": "Debswana Jwaneng",
        "from": "2024-06-24",
        "reason": "Council decision",
    },
    "sanction.delist": {"list": "EU", "party": "Debswana Jwaneng", "from": "2025-01-01"},
    "certificate.issue": {
        "number": "BW0012345",
        "parcels": ["P-1", "P-2"],
        "exporter": "Debswana Jwaneng",
        "importer": "Antwerp Rough Trading",
        "exporter_country": "BW",
        "importer_country": "BE",
        "value": {"amount": 125_000_000, "currency": "USD"},
        "expires": "2024-08-30",
        "carats": 125_000,
        "count": 2,
        "hs": ["7102.10", "7102.21"],
        "origins": ["BW", "ZA"],
    },
    "certificate.confirm": {
        "number": "BW0012345",
        "shipment": HEAD,
        "carats": 124_990,
        "count": 2,
    },
    "transfer": {
        "to": "Antwerp Rough Trading",
        "inputs": [inp("P-1"), inp("P-2")],
        "certificate": "BW0012345",
        "price": {"amount": 1, "currency": "EUR"},
        "warranty": "2021",
        "wdc": "WDC-BE-0001",
    },
    "accept": {"transfer": HEAD},
    "reject": {"transfer": HEAD, "reason": "weight differs"},
    "cancel": {"transfer": HEAD},
    "split": {
        "input": inp(),
        "outputs": [{"parcel": "P-1a", "carats": 1, "stones": 1}, {"parcel": "P-1b", "carats": 2}],
    },
    "merge": {"inputs": [inp("A"), inp("B")], "output": {"parcel": "C", "carats": 3}},
    "cut": {
        "inputs": [inp()],
        "stones": [{"parcel": "S-1", "carats": 150, "stones": 1}],
        "byproducts": [{"parcel": "BY-1", "carats": 1_000}],
    },
    "grade": {"input": inp("S-1"), "report": "GIA-2141234567", "carats": 148},
    "sell": {"input": inp("S-1"), "price": {"amount": 1_890_000, "currency": "USD"}},
}


def test_every_entry_type_has_a_valid_example() -> None:
    assert set(VALID) == set(ENTRY_TYPES)


@pytest.mark.parametrize("entry_type", sorted(ENTRY_TYPES))
def test_valid_fields_accepted_and_round_trip(entry_type: str) -> None:
    fields = VALID[entry_type]
    assert check_fields(entry_type, fields) == fields
    entry = sign_body(Body(entry_type, LEDGER, kid(ALICE), T, fields), [ALICE])
    again = SignedEntry.from_wire(entry.raw)
    assert again == entry
    assert again.type == entry_type
    assert dict(again.fields) == fields
    again.verify_signature(kid(ALICE), ed25519.public_key(ALICE))


@pytest.mark.parametrize("entry_type", sorted(ENTRY_TYPES))
def test_required_fields_only_accepted(entry_type: str) -> None:
    required, optional = ENTRY_TYPES[entry_type]
    fields = {k: v for k, v in VALID[entry_type].items() if k in required}
    check_fields(entry_type, fields)
    for name in optional:
        assert name in VALID[entry_type], f"VALID[{entry_type!r}] should use {name}"


# --- malformed fields name their path ------------------------------------------------------


def leaves(value: Any, path: str) -> Iterator[str]:
    """Every path in a fields value, containers included."""
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{path}[{i}]")


def replace(fields: dict[str, Any], path: str, new: Any) -> dict[str, Any]:
    """A deep copy of ``fields`` with the value at ``path`` (``fields.a[0].b``) replaced."""
    out = copy.deepcopy(fields)
    steps: list[str | int] = []
    for part in path.removeprefix("fields.").split("."):
        name, *indexes = part.replace("]", "").split("[")
        steps.append(name)
        steps.extend(int(i) for i in indexes)
    node: Any = out
    for step in steps[:-1]:
        node = node[step]
    node[steps[-1]] = new
    return out


MALFORMED_CASES = [
    (t, p) for t in sorted(ENTRY_TYPES) for p in leaves(VALID[t], "fields") if p != "fields"
]


@pytest.mark.parametrize(("entry_type", "path"), MALFORMED_CASES)
def test_malformed_field_names_its_path(entry_type: str, path: str) -> None:
    bad = replace(VALID[entry_type], path, None)
    with pytest.raises(EncodingError, match=rf"^field {_re(path)}: expected "):
        check_fields(entry_type, bad)


def _re(path: str) -> str:
    return path.replace(".", r"\.").replace("[", r"\[").replace("]", r"\]")


def test_genesis_governors_and_threshold_come_together() -> None:
    base = {"operator": ed25519.public_key(ALICE), "name": "Op"}
    members = VALID["genesis"]["governors"]
    with pytest.raises(EncodingError, match=r"^field fields\.threshold: missing"):
        check_fields("genesis", {**base, "governors": members})
    with pytest.raises(EncodingError, match=r"^field fields\.governors: missing"):
        check_fields("genesis", {**base, "threshold": 1})


@pytest.mark.parametrize("entry_type", sorted(ENTRY_TYPES))
def test_missing_and_unknown_fields(entry_type: str) -> None:
    required, _ = ENTRY_TYPES[entry_type]
    for name in required:
        fields = {k: v for k, v in VALID[entry_type].items() if k != name}
        with pytest.raises(EncodingError, match=rf"^field fields\.{name}: missing$"):
            check_fields(entry_type, fields)
    with pytest.raises(EncodingError, match=r"^field fields\.colour: unknown field$"):
        check_fields(entry_type, {**VALID[entry_type], "colour": "D"})


@pytest.mark.parametrize(
    ("entry_type", "path", "value", "message"),
    [
        ("transfer", "fields.inputs[1].head", b"\x01\x02", "expected 32 bytes"),
        ("transfer", "fields.inputs[0].extra", 1, "unknown field"),
        ("transfer", "fields.price.currency", "usd", "expected an ISO 4217 code"),
        ("transfer", "fields.price.amount", -1, "expected a non-negative integer"),
        ("transfer", "fields.warranty", "2020", "expected one of 2021, 2002"),
        ("transfer", "fields.inputs", [], "expected a list of 1-1000 items"),
        ("transfer", "fields.inputs", [inp("X"), inp("X")], "duplicate items"),
        ("governance.set", "fields.governors", [], "expected a list of 1-100 governors"),
        ("governance.set", "fields.threshold", 0, "expected a positive integer"),
        (
            "governance.set",
            "fields.governors",
            [{"name": "A", "pub": HEAD}, {"name": "A", "pub": bytes(32)}],
            "duplicate items",
        ),
        (
            "governance.set",
            "fields.governors",
            [{"name": "A", "pub": HEAD}, {"name": "B", "pub": HEAD}],
            "duplicate items",
        ),
        ("participant.add", "fields.roles[0]", "miner", "expected one of authority, mine"),
        ("participant.add", "fields.roles", ["mine", "mine"], "duplicate items"),
        ("participant.add", "fields.country", "bw", "ISO 3166-1 alpha-2"),
        ("participant.add", "fields.country", "BWA", "ISO 3166-1 alpha-2"),
        ("participant.add", "fields.pub", "ab" * 16, "expected 32 bytes"),
        ("participant.add", "fields.name", " leading space", "a name of 1-64"),
        ("participant.add", "fields.name", "x" * 65, "a name of 1-64"),
        ("participant.add", "fields.name", "semi;colon", "a name of 1-64"),
        ("participant.revoke", "fields.reason", "", "text of 1-256"),
        ("participant.revoke", "fields.reason", "x" * 257, "text of 1-256"),
        ("participant.revoke", "fields.reason", "tab\there", "without control characters"),
        ("participant.revoke", "fields.reason", "del\x7f", "without control characters"),
        ("origin", "fields.carats", 0, "a positive integer"),
        ("origin", "fields.carats", True, "a positive integer"),
        ("origin", "fields.carats", 2**63, "an integer below 2^63"),
        ("origin", "fields.stones", "5", "a positive integer"),
        ("origin", "fields.parcel", "-leading-dash", "an id of 1-64"),
        ("origin", "fields.parcel", "a" * 65, "an id of 1-64"),
        ("origin", "fields.parcel", "has space", "an id of 1-64"),
        ("origin", "fields.hs", "7102.39", "one of 7102.10"),
        ("kp-status.set", "fields.status", "member", "one of participant"),
        ("kp-status.set", "fields.from", "2003-1-1", "a date YYYY-MM-DD"),
        ("kp-status.set", "fields.from", "2023-02-29", "a real calendar date"),
        ("kp-status.set", "fields.from", "1899-12-31", "a real calendar date"),
        ("kp-status.set", "fields.from", "٢٠٠٣-٠١-٠١", "a date YYYY-MM-DD"),  # regression
        ("kp-status.set", "fields.from", "2003-01-01\n", "a date YYYY-MM-DD"),
        ("certificate.issue", "fields.parcels", ["P-1", "P-1"], "duplicate items"),
        ("certificate.issue", "fields.origins[1]", "Z", "ISO 3166-1 alpha-2"),
        ("certificate.issue", "fields.value", {"amount": 1}, None),
        ("split", "fields.outputs", [{"parcel": "A", "carats": 1}], "a list of 2-1000 items"),
        ("split", "fields.outputs[0].stones", 0, "a positive integer"),
        ("cut", "fields.byproducts", [], "a list of 1-1000 items"),
        ("merge", "fields.output.colour", "D", "unknown field"),
        ("grade", "fields.carats", 0, "a positive integer"),
    ],
)
def test_specific_malformations(
    entry_type: str, path: str, value: Any, message: str | None
) -> None:
    bad = replace(VALID[entry_type], path, value)
    with pytest.raises(EncodingError) as info:
        check_fields(entry_type, bad)
    text = str(info.value)
    if message is None:  # a map missing a member: the member's path is named
        assert text == f"field {path}.currency: missing"
    else:
        assert text.startswith(f"field {path}"), text
        assert message in text, text


SPEC = Path(__file__).resolve().parents[2] / "specs" / "entries.md"


def test_spec_table_matches_entry_types() -> None:
    """specs/entries.md §7.2 lists exactly the required and optional fields of ENTRY_TYPES."""
    text = SPEC.read_text(encoding="utf-8")
    section = text[text.index("### 7.2 Types") : text.index("## 8. Errors")]
    rows = re.findall(r"^\| `([a-z.-]+)` \| (.*) \|$", section, re.M)
    table = {}
    for entry_type, cells in rows:
        required, _, optional = cells.partition("*opt.*")
        table[entry_type] = (
            set(re.findall(r"`([a-z_]+)` \*", required)),
            set(re.findall(r"`([a-z_]+)` \*", optional)),
        )
    expected = {t: (set(req), set(opt)) for t, (req, opt) in ENTRY_TYPES.items()}
    assert table == expected


def test_list_size_limit() -> None:
    many = [f"P-{i}" for i in range(MAX_LIST + 1)]
    fields = {**VALID["certificate.issue"], "parcels": many}
    with pytest.raises(EncodingError, match=r"fields\.parcels: expected a list of 1-1000"):
        check_fields("certificate.issue", fields)
    check_fields("certificate.issue", {**fields, "parcels": many[:MAX_LIST]})


@pytest.mark.parametrize("date", ["2024-02-29", "2000-02-29", "1900-01-01", "9999-12-31"])
def test_real_dates(date: str) -> None:
    assert check_date(date, "d") == date


@pytest.mark.parametrize(
    "date", ["1900-02-29", "2100-02-29", "2024-04-31", "2024-13-01", "2024-00-10"]
)
def test_unreal_dates(date: str) -> None:
    with pytest.raises(EncodingError, match="a real calendar date"):
        check_date(date, "d")


def test_unknown_entry_type() -> None:
    with pytest.raises(EncodingError, match="field type: unknown entry type 'mint'"):
        check_fields("mint", {})
    with pytest.raises(EncodingError, match="field fields: expected a map"):
        check_fields("accept", [HEAD])


# --- body -----------------------------------------------------------------------------------


def body_wire(**overrides: Any) -> dict[str, Any]:
    wire = {
        "v": 1,
        "type": "accept",
        "ledger": LEDGER,
        "signer": kid(ALICE),
        "time": T,
        "fields": {"transfer": HEAD},
    }
    wire.update(overrides)
    return wire


def test_body_wire_order_and_version() -> None:
    body = Body("accept", LEDGER, kid(ALICE), T, {"transfer": HEAD})
    raw = body.encode()
    assert raw[0] == 0x86
    assert list(decode(raw)) == ["fields", "ledger", "signer", "time", "type", "v"]
    assert Body.from_wire(decode(raw)) == Body("accept", LEDGER, kid(ALICE), T, {"transfer": HEAD})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"v": 2}, "entry body: unsupported format version 2"),
        ({"v": None}, "unsupported format version None"),
        ({"extra": 1}, "field body.extra: unknown field"),
        ({"type": 7}, "field type: expected text"),
        ({"type": "mint"}, "unknown entry type"),
        ({"ledger": ""}, "field ledger: expected text of 1-256"),
        ({"signer": kid(ALICE)[:31]}, "field signer: expected 32 bytes"),
        ({"time": -1}, "field time: expected a non-negative integer"),
        ({"time": 2**63}, r"field time: expected an integer below 2\^63"),
        ({"fields": {"transfer": "x"}}, "field fields.transfer: expected 32 bytes"),
    ],
)
def test_malformed_body(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        Body.from_wire(body_wire(**overrides))


def test_body_missing_field() -> None:
    wire = body_wire()
    del wire["time"]
    with pytest.raises(EncodingError, match=r"field body\.time: missing"):
        Body.from_wire(wire)
    with pytest.raises(EncodingError, match="entry body must be a map"):
        Body.from_wire([1])


# --- envelopes, signatures, co-signing ------------------------------------------------------


def entry_of(seed: bytes = ALICE, signer: bytes | None = None) -> SignedEntry:
    body = Body("accept", LEDGER, signer or kid(seed), T, {"transfer": HEAD})
    return sign_body(body, [seed])


def envelope(body: bytes, sigs: list[tuple[bytes, bytes]], **extra: Any) -> bytes:
    wire: dict[str, Any] = {"v": 1, "body": body, "sigs": [{"kid": k, "sig": s} for k, s in sigs]}
    wire.update(extra)
    return encode(wire)


def test_context_bytes() -> None:
    assert ENTRY_SIG_CONTEXT == b"kpledger/v1 entry signature\x00"
    assert len(ENTRY_SIG_CONTEXT) == 28
    assert signing_message(b"body") == ENTRY_SIG_CONTEXT + b"body"


def test_envelope_shape_and_ids() -> None:
    entry = entry_of()
    assert list(decode(entry.raw)) == ["body", "sigs", "v"]
    assert entry.id == hashlib.sha256(entry.raw).digest() == entry_id(entry.raw)
    assert entry.sigs[0].kid == kid(ALICE) == hashlib.sha256(ed25519.public_key(ALICE)).digest()
    assert entry.body_bytes == entry.body.encode()
    ed25519.verify(
        ed25519.public_key(ALICE), ENTRY_SIG_CONTEXT + entry.body_bytes, entry.sigs[0].sig
    )


def test_signature_verifies_and_tampering_fails() -> None:
    entry = entry_of()
    entry.verify_signature(kid(ALICE), ed25519.public_key(ALICE))
    with pytest.raises(SignatureError, match="no signature by key"):
        entry.verify_signature(kid(BOB), ed25519.public_key(BOB))
    with pytest.raises(SignatureError):  # the right kid, another public key
        entry.verify_signature(kid(ALICE), ed25519.public_key(BOB))
    sig = entry.sigs[0].sig
    for i in (0, 31, 32, 63):
        bad = sig[:i] + bytes([sig[i] ^ 0x80]) + sig[i + 1 :]
        forged = SignedEntry.from_wire(envelope(entry.body_bytes, [(kid(ALICE), bad)]))
        with pytest.raises(SignatureError):
            forged.verify_signature(kid(ALICE), ed25519.public_key(ALICE))


def test_domain_separation_bare_body_signature_rejected() -> None:
    entry = entry_of()
    bare = ed25519.sign(ALICE, entry.body_bytes)
    forged = SignedEntry.from_wire(envelope(entry.body_bytes, [(kid(ALICE), bare)]))
    with pytest.raises(SignatureError, match="does not verify"):
        forged.verify_signature(kid(ALICE), ed25519.public_key(ALICE))
    # ... and an entry signature is no signature over the bare body either.
    with pytest.raises(SignatureError):
        ed25519.verify(ed25519.public_key(ALICE), entry.body_bytes, entry.sigs[0].sig)


def test_cosigning_changes_the_id() -> None:
    entry = entry_of()
    both = add_signature(entry, BOB)
    assert both.id != entry.id
    assert both.body_bytes == entry.body_bytes
    assert [s.kid for s in both.sigs] == [kid(ALICE), kid(BOB)]  # signer first
    both.verify_signature(kid(ALICE), ed25519.public_key(ALICE))
    both.verify_signature(kid(BOB), ed25519.public_key(BOB))
    assert add_signature(both, BOB) is both  # signing twice changes nothing
    assert sign_body(entry.body, [ALICE, BOB]) == both
    assert add_signature(add_signature(both, CAROL), BOB).id != both.id


def test_signature_count_limits() -> None:
    entry = entry_of()
    seeds = [bytes([i]) * 32 for i in range(10, 18)]
    eight = entry
    for s in seeds[1:]:
        eight = add_signature(eight, s)
    assert len(eight.sigs) == 8
    with pytest.raises(EncodingError, match="a list of 1-8 signatures"):
        add_signature(eight, bytes([99]) * 32)
    with pytest.raises(EncodingError, match="a list of 1-8 signatures"):
        SignedEntry.from_wire(envelope(entry.body_bytes, []))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda e: envelope(e.body_bytes, [(kid(ALICE), e.sigs[0].sig)] * 2),
            "the same key signs twice",
        ),
        (lambda e: envelope(e.body_bytes, [(kid(ALICE)[:16], e.sigs[0].sig)]), r"sigs\[0\]\.kid"),
        (lambda e: envelope(e.body_bytes, [(kid(ALICE), e.sigs[0].sig[:63])]), r"sigs\[0\]\.sig"),
        (lambda e: envelope(e.body_bytes, [(kid(ALICE), e.sigs[0].sig)], x=1), "entry.x: unknown"),
        (lambda e: envelope(e.body_bytes, [(kid(ALICE), e.sigs[0].sig)], v=2), "version 2"),
        (
            lambda e: envelope(e.body_bytes.hex(), [(kid(ALICE), e.sigs[0].sig)]),
            "body: expected bytes",
        ),
        (lambda e: encode({"v": 1, "body": e.body_bytes, "sigs": {}}), "sigs: expected a list"),
        (lambda e: encode([e.raw]), "entry must be a map"),
        (lambda e: e.raw + b"\x00", "trailing bytes"),
        (lambda e: envelope(e.body_bytes + b"\x00", [(kid(ALICE), e.sigs[0].sig)]), "trailing"),
    ],
)
def test_malformed_envelope(make: Any, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        SignedEntry.from_wire(make(entry_of()))


def test_body_signer_must_sign() -> None:
    # Regression: an entry naming ALICE as signer but signed only by BOB (a registered
    # key) was accepted as ALICE's act. The model now refuses it.
    body = Body("accept", LEDGER, kid(ALICE), T, {"transfer": HEAD}).encode()
    bob_sig = ed25519.sign(BOB, signing_message(body))
    with pytest.raises(EncodingError, match="no signature by the body's signer"):
        SignedEntry.from_wire(envelope(body, [(kid(BOB), bob_sig)]))
    with pytest.raises(EncodingError, match="no signature by the body's signer"):
        sign_body(Body("accept", LEDGER, kid(ALICE), T, {"transfer": HEAD}), [BOB])
    # The signer may come second (a co-signed entry someone else assembled).
    alice_sig = ed25519.sign(ALICE, signing_message(body))
    SignedEntry.from_wire(envelope(body, [(kid(BOB), bob_sig), (kid(ALICE), alice_sig)]))


def test_entry_size_limit() -> None:
    with pytest.raises(LimitError, match=f"the limit is {MAX_ENTRY_SIZE}"):
        SignedEntry.from_wire(b"\x00" * (MAX_ENTRY_SIZE + 1))


def test_signature_dataclass_and_json_view() -> None:
    entry = entry_of()
    assert entry.sigs == (Signature(kid(ALICE), entry.sigs[0].sig),)
    view = entry_to_json(entry)
    assert view["id"] == entry.id.hex()
    assert view["fields"] == {"transfer": HEAD.hex()}
    assert view["sigs"][0]["kid"] == kid(ALICE).hex()
    assert "raw=" not in repr(entry)


# --- records --------------------------------------------------------------------------------


def test_record_round_trip_and_hash() -> None:
    entry = entry_of()
    record = Record.build(0, ZERO_HASH, T + 1, entry.raw)
    assert list(decode(record.raw)) == ["entry", "index", "prev", "time", "v"]
    assert record.hash == hashlib.sha256(b"\x00" + record.raw).digest() == leaf_hash(record.raw)
    again = Record.from_wire(record.raw)
    assert again == record
    assert again.entry() == entry
    nxt = Record.build(1, record.hash, T + 2, entry_of(BOB).raw)
    assert Record.from_wire(nxt.raw).prev == record.hash


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"v": 0}, "record: unsupported format version 0"),
        ({"index": -1}, "field index: expected a non-negative integer"),
        ({"prev": b"\x00" * 31}, "field prev: expected 32 bytes"),
        ({"time": "now"}, "field time"),
        ({"entry": "text"}, "field entry: expected bytes"),
        ({"extra": 1}, "field record.extra: unknown field"),
    ],
)
def test_malformed_record(changes: dict[str, Any], message: str) -> None:
    wire = {"v": 1, "index": 0, "prev": ZERO_HASH, "time": T, "entry": entry_of().raw}
    wire.update(changes)
    with pytest.raises(EncodingError, match=message):
        Record.from_wire(encode(wire))


def test_record_size_limit() -> None:
    assert MAX_RECORD_SIZE == 65_535
    with pytest.raises(LimitError, match="the limit is 65535"):
        Record.from_wire(b"\x00" * (MAX_RECORD_SIZE + 1))
    # The largest allowed envelope fits a record with room to spare.
    big = Record.build(2**62, b"\xff" * 32, 2**62, b"\x00" * MAX_ENTRY_SIZE)
    assert len(big.raw) <= MAX_RECORD_SIZE
