"""Commitments to money fields and their openings (specs/disclosure.md): the vectors,
recomputed with hashlib and msgpack directly, round trips and every tampered opening."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.core import disclosure, ed25519
from ledger.core.disclosure import LABELS, Opening, check_openings, commit, seal
from ledger.core.model import Body, SignedEntry, check_fields, key_id, sign_body
from ledger.errors import EncodingError, ProofError

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "entries" / "disclosure.json"
SEED = bytes([9]) * 32
SIGNER = key_id(ed25519.public_key(SEED))


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"bin"}:
            return bytes.fromhex(value["bin"])
        return {k: _from_json(v) for k, v in value.items()}
    return value


def test_vectors_recomputed_with_hashlib_and_msgpack() -> None:
    v = json.loads(VECTORS.read_text())
    context = bytes.fromhex(v["context"])
    assert context == b"kpledger/v1 commitment\x00"
    for case in v["commitments"]:
        salt = bytes.fromhex(case["salt"])
        data = msgpack.packb(
            {"field": case["field"], "salt": salt, "value": case["value"]}, use_bin_type=True
        )
        assert (context + data).hex() == case["hash_input"]
        assert hashlib.sha256(context + data).hexdigest() == case["commitment"]
        assert commit(case["field"], case["value"], salt).hex() == case["commitment"]
    sealed = v["sealed_entry"]
    entry = SignedEntry.from_wire(bytes.fromhex(sealed["envelope"]))
    assert entry.id.hex() == sealed["entry_id"]
    assert dict(entry.fields) == _from_json(sealed["fields"])
    opening = Opening.from_wire(_from_json(sealed["opening"]))
    assert check_openings([opening], [entry]) == {opening.commitment(): opening}


@pytest.mark.parametrize("case", json.loads(VECTORS.read_text())["bad_openings"], ids=str)
def test_bad_opening_vectors_are_refused(case: dict[str, Any]) -> None:
    v = json.loads(VECTORS.read_text())
    entry = SignedEntry.from_wire(bytes.fromhex(v["sealed_entry"]["envelope"]))
    with pytest.raises((EncodingError, ProofError), match=case["expect"]):
        check_openings([Opening.from_wire(_from_json(case["opening"]))], [entry])


def _sealed(entry_type: str, fields: dict[str, Any], salt: bytes) -> tuple[SignedEntry, Opening]:
    sealed, openings = seal(entry_type, fields, lambda: salt)
    body = Body(entry_type, "test.example/ledger", SIGNER, 1, sealed)
    return sign_body(body, [SEED]), openings[0]


def _fields(label: str, money: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ref = {"parcel": "P1", "head": b"\x01" * 32}
    if label == "transfer.price":
        return "transfer", {"to": "Shop", "inputs": [ref], "price": money}
    if label == "sell.price":
        return "sell", {"input": ref, "price": money}
    return "certificate.issue", {
        "number": "BW-1",
        "parcels": ["P1"],
        "exporter": "Jwaneng",
        "importer": "Antwerp",
        "exporter_country": "BW",
        "importer_country": "BE",
        "value": money,
        "expires": "2030-01-01",
        "carats": 100,
        "count": 1,
        "hs": ["7102.10"],
        "origins": ["BW"],
    }


money_values = st.fixed_dictionaries(
    {
        "amount": st.integers(0, (1 << 63) - 1),
        "currency": st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3),
    }
)


@given(st.sampled_from(LABELS), money_values, st.binary(min_size=32, max_size=32))
def test_commitment_round_trip_and_tamper(label: str, money: dict[str, Any], salt: bytes) -> None:
    entry_type, fields = _fields(label, money)
    entry, opening = _sealed(entry_type, fields, salt)
    name = label.rsplit(".", 1)[1]
    # The clear amount is gone from the signed bytes; the currency stays for the rules.
    assert "amount" not in entry.fields[name]
    assert entry.fields[name]["currency"] == money["currency"]
    assert SignedEntry.from_wire(entry.raw) == entry
    wire = Opening.from_wire(msgpack.unpackb(msgpack.packb(opening.to_wire())))
    assert check_openings([wire], [entry]) == {opening.commitment(): opening}
    # Another salt, another amount, another field: each opens nothing.
    other_salt = bytes([salt[0] ^ 1]) + salt[1:]
    other_amount = {**money, "amount": money["amount"] ^ 1}
    other_label = next(x for x in LABELS if x != label)
    for bad in (
        Opening(label, other_salt, money),
        Opening(label, salt, other_amount),
        Opening(other_label, salt, money),
    ):
        with pytest.raises(ProofError, match="opens no commitment"):
            check_openings([bad], [entry])


def test_reused_salt_and_twice_opened_are_refused() -> None:
    salt = b"\x05" * 32
    a, oa = _sealed("sell", _fields("sell.price", {"amount": 10, "currency": "USD"})[1], salt)
    b, ob = _sealed("sell", _fields("sell.price", {"amount": 11, "currency": "USD"})[1], salt)
    with pytest.raises(ProofError, match="salt used twice"):
        check_openings([oa, ob], [a, b])
    with pytest.raises(ProofError, match="salt used twice"):
        check_openings([oa, oa], [a])


def test_clear_currency_must_match_the_opening() -> None:
    entry, opening = _sealed("sell", _fields("sell.price", {"amount": 10, "currency": "USD"})[1],
                             b"\x06" * 32)  # fmt: skip
    fields = dict(entry.fields)
    fields["price"] = {**fields["price"], "currency": "EUR"}  # the signer lies in clear
    body = Body("sell", entry.body.ledger, entry.body.signer, 1, fields)
    liar = sign_body(body, [SEED])
    with pytest.raises(ProofError, match="opens no commitment"):
        check_openings([opening], [liar])


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"commitment": b"\x01" * 31, "currency": "USD"}, r"fields.price.commitment: expected 32"),
        ({"commitment": "00" * 32, "currency": "USD"}, r"fields.price.commitment: expected 32"),
        ({"commitment": b"\x01" * 32, "currency": "usd"}, r"fields.price.currency"),
        ({"commitment": b"\x01" * 32}, r"fields.price.currency: missing"),
        ({"commitment": b"\x01" * 32, "currency": "USD", "amount": 1}, r"unknown field"),
        ({"amount": 1.5, "currency": "USD"}, r"fields.price.amount"),
    ],
)
def test_malformed_money_fields_name_the_field(value: Any, match: str) -> None:
    with pytest.raises(EncodingError, match=match):
        check_fields("sell", {"input": {"parcel": "P1", "head": b"\x01" * 32}, "price": value})


def test_clear_money_of_entries_before_commitments_stays_valid() -> None:
    price = {"amount": 5, "currency": "USD"}
    fields = {"input": {"parcel": "P1", "head": b"\x01" * 32}, "price": price}
    assert check_fields("sell", fields) == fields
    body = Body("sell", "test.example/ledger", SIGNER, 1, fields)
    assert disclosure.commitments(sign_body(body, [SEED])) == []


@pytest.mark.parametrize(
    ("names", "labels"),
    [
        (["price"], {"transfer.price", "sell.price"}),
        (["value"], {"certificate.issue.value"}),
        (["all"], set(LABELS)),
        (["sell.price", "value"], {"sell.price", "certificate.issue.value"}),
    ],
)
def test_disclose_names(names: list[str], labels: set[str]) -> None:
    assert disclosure.fields_named(names) == labels


def test_disclose_unknown_name_is_refused() -> None:
    with pytest.raises(EncodingError, match="'carats': not a committed field"):
        disclosure.fields_named(["carats"])
