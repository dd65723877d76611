"""The wire model: entry bodies, signed envelopes and log records (specs/entries.md, specs/log.md).

Frozen dataclasses with ``to_wire``/``from_wire``; every object carries the format
version ``v``. Field *shapes* of every entry type are checked here (so a malformed
entry is an ``EncodingError`` naming the field); what an entry *means* against the
ledger state is the rules engine's business (``ledger.rules``). No I/O, no clock.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgpack

from ledger.core import ed25519
from ledger.core.encoding import decode, encode, require_map
from ledger.errors import EncodingError, LimitError, SignatureError

FORMAT_VERSION = 1

#: Domain-separation prefix of entry signatures (specs/entries.md §3). The NUL byte makes
#: it impossible for a signed-note text (UTF-8 without control characters) to collide.
ENTRY_SIG_CONTEXT = b"kpledger/v1 entry signature\x00"

#: Largest signed envelope (the tlog-tiles entry bundle limits one record to 65535 bytes).
MAX_ENTRY_SIZE = 60_000
#: Largest log record.
MAX_RECORD_SIZE = 65_535
MAX_SIGNATURES = 8
#: Most governors a governance set may name (specs/entries.md §7).
MAX_GOVERNORS = 100
MAX_TEXT = 256
MAX_LIST = 1_000

KEY_ID_SIZE = 32
ZERO_HASH = b"\x00" * 32

ROLES = (
    "authority",
    "mine",
    "producer",
    "trader",
    "cutter",
    "grader",
    "retailer",
    "publisher",
)
KP_STATUSES = ("participant", "suspended", "withdrawn")
HS_CODES = ("7102.10", "7102.21", "7102.31")
WARRANTY_STATEMENTS = ("2021", "2002")
#: Rule parameters a ``param.set`` entry may set (specs/rules.md §3.4).
PARAMETER_NAMES = (
    "cert-validity-days",
    "confirm-days",
    "mass-tolerance-points",
    "mass-tolerance-ppm",
)

_COUNTRY = re.compile(r"[A-Z]{2}\Z")
_CURRENCY = re.compile(r"[A-Z]{3}\Z")
# ASCII digits only: \d would also match other scripts' digits, such as "٢٠٢٤".
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}\Z")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._&'()-]{0,63}\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def key_id(public: bytes) -> bytes:
    """Key id of an Ed25519 public key: SHA-256 of its 32 raw bytes (specs/keys.md §1)."""
    return hashlib.sha256(public).digest()


def entry_id(envelope: bytes) -> bytes:
    """Entry id: SHA-256 of the signed envelope bytes (specs/entries.md §4)."""
    return hashlib.sha256(envelope).digest()


def leaf_hash(record: bytes) -> bytes:
    """RFC 6962 leaf hash of a record; it is also the record hash of the chain."""
    return hashlib.sha256(b"\x00" + record).digest()


def signing_message(body: bytes) -> bytes:
    """The exact bytes an entry signature covers (specs/entries.md §3)."""
    return ENTRY_SIG_CONTEXT + body


# ---------------------------------------------------------------------------
# Field shapes (specs/entries.md §5)


def _fail(path: str, expected: str, value: Any) -> EncodingError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return EncodingError(f"field {path}: expected {expected}, found {shown}")


def check_date(value: Any, path: str) -> str:
    """A calendar date ``YYYY-MM-DD`` (proleptic Gregorian, years 1900-9999)."""
    if not isinstance(value, str):
        raise _fail(path, "a date YYYY-MM-DD", value)
    m = _DATE.match(value)
    if not m:
        raise _fail(path, "a date YYYY-MM-DD", value)
    year, month, day = (int(g) for g in m.groups())
    if not (1900 <= year <= 9999 and 1 <= month <= 12 and 1 <= day <= _days_in(year, month)):
        raise _fail(path, "a real calendar date", value)
    return value


def _days_in(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
        raise _fail(path, f"text of 1-{MAX_TEXT} characters", value)
    if _CONTROL.search(value):
        raise _fail(path, "text without control characters", value)
    return value


def _ident(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise _fail(path, "an id of 1-64 letters, digits and ._:/-", value)
    return value


def _name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise _fail(path, "a name of 1-64 letters, digits, spaces and ._&'()-", value)
    return value


def _country(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _COUNTRY.match(value):
        raise _fail(path, "an ISO 3166-1 alpha-2 code such as BW", value)
    return value


def _uint(value: Any, path: str, *, positive: bool = False) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < (1 if positive else 0):
        raise _fail(path, "a positive integer" if positive else "a non-negative integer", value)
    if value >= 1 << 63:
        raise _fail(path, "an integer below 2^63", value)
    return value


def _bin(value: Any, path: str, size: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise _fail(path, f"{size} bytes", value)
    return value


def _one_of(value: Any, path: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise _fail(path, "one of " + ", ".join(choices), value)
    return str(value)


def _money(value: Any, path: str) -> dict[str, Any]:
    m = _exact_map(value, path, required=("amount", "currency"))
    _uint(m["amount"], path + ".amount")
    if not isinstance(m["currency"], str) or not _CURRENCY.match(m["currency"]):
        raise _fail(path + ".currency", "an ISO 4217 code such as USD", m["currency"])
    return m


def _committed_money(value: Any, path: str) -> dict[str, Any]:
    """A money field: committed ``{commitment: bin 32, currency}`` (specs/disclosure.md), or,
    as entries written before commitments still are, clear ``{amount, currency}``."""
    if isinstance(value, dict) and "commitment" in value:
        m = _exact_map(value, path, required=("commitment", "currency"))
        _bin(m["commitment"], path + ".commitment", 32)
        if not isinstance(m["currency"], str) or not _CURRENCY.match(m["currency"]):
            raise _fail(path + ".currency", "an ISO 4217 code such as USD", m["currency"])
        return m
    return _money(value, path)


_KEYSETS: dict[tuple[tuple[str, ...], tuple[str, ...]], frozenset[str]] = {}


def _exact_map(
    value: Any, path: str, *, required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, "a map", value)
    for key in required:
        if key not in value:
            raise EncodingError(f"field {path}.{key}: missing")
    if len(value) == len(required):
        return value  # every required key is present, so none can be unknown
    sig = (tuple(required), tuple(optional))
    allowed = _KEYSETS.get(sig)
    if allowed is None:
        allowed = _KEYSETS.setdefault(sig, frozenset(required) | frozenset(optional))
    for key in value:
        if key not in allowed:
            raise EncodingError(f"field {path}.{key}: unknown field")
    return value


def _list(
    value: Any,
    path: str,
    item: Callable[[Any, str], Any],
    *,
    min_len: int = 1,
    max_len: int = MAX_LIST,
    what: str = "items",
) -> list[Any]:
    if not isinstance(value, list) or not min_len <= len(value) <= max_len:
        raise _fail(path, f"a list of {min_len}-{max_len} {what}", value)
    for i, element in enumerate(value):
        item(element, f"{path}[{i}]")
    return value


def _unique(values: Sequence[Any], path: str) -> None:
    if len(set(values)) != len(values):
        raise EncodingError(f"field {path}: duplicate items")


def _input(value: Any, path: str) -> dict[str, Any]:
    m = _exact_map(value, path, required=("parcel", "head"))
    _ident(m["parcel"], path + ".parcel")
    _bin(m["head"], path + ".head", 32)
    return m


def _inputs(value: Any, path: str) -> list[dict[str, Any]]:
    items = _list(value, path, _input)
    _unique([i["parcel"] for i in items], path)
    return items


def _output(value: Any, path: str) -> dict[str, Any]:
    m = _exact_map(value, path, required=("parcel", "carats"), optional=("stones",))
    _ident(m["parcel"], path + ".parcel")
    _uint(m["carats"], path + ".carats", positive=True)
    if "stones" in m:
        _uint(m["stones"], path + ".stones", positive=True)
    return m


def _outputs(value: Any, path: str, *, min_len: int = 1) -> list[dict[str, Any]]:
    items = _list(value, path, _output, min_len=min_len)
    _unique([o["parcel"] for o in items], path)
    return items


def _governor(value: Any, path: str) -> dict[str, Any]:
    m = _exact_map(value, path, required=("name", "pub"))
    _name(m["name"], path + ".name")
    _bin(m["pub"], path + ".pub", 32)
    return m


def _governors(value: Any, path: str) -> list[dict[str, Any]]:
    """A governance set's members: 1 to MAX_GOVERNORS, no name and no key twice."""
    items = _list(value, path, _governor, max_len=MAX_GOVERNORS, what="governors")
    _unique([g["name"] for g in items], path)
    _unique([g["pub"] for g in items], path)
    return items


def _role(value: Any, path: str) -> str:
    return _one_of(value, path, ROLES)


def _hs_code(value: Any, path: str) -> str:
    return _one_of(value, path, HS_CODES)


FieldCheck = Callable[[Any, str], Any]

#: Entry types, their required and optional fields (specs/entries.md §5).
ENTRY_TYPES: dict[str, tuple[dict[str, FieldCheck], dict[str, FieldCheck]]] = {
    "genesis": (
        {"operator": lambda v, p: _bin(v, p, 32), "name": _name},
        {"governors": _governors, "threshold": lambda v, p: _uint(v, p, positive=True)},
    ),
    "governance.set": (
        {"governors": _governors, "threshold": lambda v, p: _uint(v, p, positive=True)},
        {},
    ),
    "participant.add": (
        {
            "name": _name,
            "pub": lambda v, p: _bin(v, p, 32),
            "roles": lambda v, p: _unique(_list(v, p, _role), p),
            "country": _country,
        },
        {},
    ),
    "participant.revoke": (
        {"name": _name},
        {"reason": _text, "compromised_since": _uint},
    ),
    "participant.rotate": ({"name": _name, "pub": lambda v, p: _bin(v, p, 32)}, {}),
    "kp-status.set": (
        {
            "country": _country,
            "status": lambda v, p: _one_of(v, p, KP_STATUSES),
            "from": check_date,
        },
        {},
    ),
    "param.set": (
        {
            "name": lambda v, p: _one_of(v, p, PARAMETER_NAMES),
            "value": _uint,
            "from": check_date,
        },
        {},
    ),
    "origin": (
        {
            "parcel": _ident,
            "carats": lambda v, p: _uint(v, p, positive=True),
            "stones": lambda v, p: _uint(v, p, positive=True),
            "mine": _text,
            "hs": lambda v, p: _one_of(v, p, HS_CODES),
        },
        {},
    ),
    "grow": (
        {
            "parcel": _ident,
            "carats": lambda v, p: _uint(v, p, positive=True),
            "stones": lambda v, p: _uint(v, p, positive=True),
            "facility": _text,
        },
        {},
    ),
    "sanction.designate": (
        {"list": _ident, "party": _name, "from": check_date},
        {"reason": _text},
    ),
    "sanction.delist": ({"list": _ident, "party": _name, "from": check_date}, {}),
    "certificate.issue": (
        {
            "number": _ident,
            "parcels": lambda v, p: _unique(_list(v, p, _ident), p),
            "exporter": _name,
            "importer": _name,
            "exporter_country": _country,
            "importer_country": _country,
            "value": _committed_money,
            "expires": check_date,
            "carats": lambda v, p: _uint(v, p, positive=True),
            "count": lambda v, p: _uint(v, p, positive=True),
            "hs": lambda v, p: _list(v, p, _hs_code),
            "origins": lambda v, p: _list(v, p, _country),
        },
        {},
    ),
    "certificate.confirm": (
        {
            "number": _ident,
            "shipment": lambda v, p: _bin(v, p, 32),
            "carats": lambda v, p: _uint(v, p, positive=True),
            "count": lambda v, p: _uint(v, p, positive=True),
        },
        {},
    ),
    "transfer": (
        {"to": _name, "inputs": _inputs},
        {
            "certificate": _ident,
            "price": _committed_money,
            "warranty": lambda v, p: _one_of(v, p, WARRANTY_STATEMENTS),
            "wdc": _ident,
        },
    ),
    "accept": ({"transfer": lambda v, p: _bin(v, p, 32)}, {}),
    "reject": ({"transfer": lambda v, p: _bin(v, p, 32)}, {"reason": _text}),
    "cancel": ({"transfer": lambda v, p: _bin(v, p, 32)}, {}),
    "split": ({"input": _input, "outputs": lambda v, p: _outputs(v, p, min_len=2)}, {}),
    "merge": ({"inputs": _inputs, "output": _output}, {}),
    "cut": (
        {"inputs": _inputs, "stones": _outputs},
        {"byproducts": _outputs},
    ),
    "grade": (
        {"input": _input, "report": _ident},
        {"carats": lambda v, p: _uint(v, p, positive=True)},  # a stone never weighs 0 points
    ),
    "sell": ({"input": _input}, {"price": _committed_money}),
}


_Schema = tuple[
    tuple[str, ...],
    tuple[str, ...],
    tuple[tuple[str, FieldCheck, str], ...],
    tuple[tuple[str, FieldCheck, str], ...],
]
#: ENTRY_TYPES with the key tuples and field paths computed once.
_SCHEMAS: dict[str, _Schema] = {
    name: (
        tuple(required),
        tuple(optional),
        tuple((k, c, f"fields.{k}") for k, c in required.items()),
        tuple((k, c, f"fields.{k}") for k, c in optional.items()),
    )
    for name, (required, optional) in ENTRY_TYPES.items()
}


#: Optional fields that come together or not at all.
_TOGETHER: dict[str, tuple[tuple[str, str], ...]] = {"genesis": (("governors", "threshold"),)}


def check_fields(entry_type: str, fields: Any) -> dict[str, Any]:
    """Check the shape of ``fields`` for ``entry_type``.

    Raises:
        EncodingError: unknown type, missing, unknown or malformed field (the path is named).
    """
    schema = _SCHEMAS.get(entry_type)
    if schema is None:
        raise EncodingError(f"field type: unknown entry type {entry_type!r}")
    required, optional, required_checks, optional_checks = schema
    fields = _exact_map(fields, "fields", required=required, optional=optional)
    for name, check, path in required_checks:
        check(fields[name], path)
    for name, check, path in optional_checks:
        if name in fields:
            check(fields[name], path)
    for first, second in _TOGETHER.get(entry_type, ()):
        for have, need in ((first, second), (second, first)):
            if have in fields and need not in fields:
                raise EncodingError(f"field fields.{need}: missing (required with {have})")
    return dict(fields)


# ---------------------------------------------------------------------------
# Bodies, envelopes, records


@dataclass(frozen=True)
class Body:
    """What a participant signs (specs/entries.md §2)."""

    type: str
    ledger: str
    signer: bytes
    time: int
    fields: Mapping[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {
            "v": FORMAT_VERSION,
            "type": self.type,
            "ledger": self.ledger,
            "signer": self.signer,
            "time": self.time,
            "fields": dict(self.fields),
        }

    def encode(self) -> bytes:
        return encode(self.to_wire())

    @classmethod
    def from_wire(cls, value: Any) -> Body:
        m = require_map(value, "entry body")
        _check_version(m, "entry body")
        _exact_map(m, "body", required=("v", "type", "ledger", "signer", "time", "fields"))
        if not isinstance(m["type"], str):
            raise _fail("type", "text", m["type"])
        _text(m["ledger"], "ledger")
        _bin(m["signer"], "signer", KEY_ID_SIZE)
        _uint(m["time"], "time")
        fields = check_fields(m["type"], m["fields"])
        return cls(m["type"], m["ledger"], m["signer"], m["time"], fields)


def _check_version(m: Mapping[str, Any], what: str) -> None:
    if type(m.get("v")) is not int or m["v"] != FORMAT_VERSION:  # not True (True == 1)
        raise EncodingError(f"{what}: unsupported format version {m.get('v')!r}")


class Signature(NamedTuple):
    """One signature of an envelope: the signing key's id and the 64-byte Ed25519 signature."""

    kid: bytes
    sig: bytes


@dataclass(frozen=True)
class SignedEntry:
    """A body plus one or more signatures (co-signing); ``id`` hashes the envelope."""

    body_bytes: bytes
    body: Body
    sigs: tuple[Signature, ...]
    raw: bytes = field(repr=False)
    id: bytes = field(repr=False)

    @property
    def type(self) -> str:
        return self.body.type

    @property
    def fields(self) -> Mapping[str, Any]:
        return self.body.fields

    @classmethod
    def build(cls, body_bytes: bytes, sigs: Sequence[Signature]) -> SignedEntry:
        """Assemble an envelope from already-encoded body bytes and signatures."""
        wire = {
            "v": FORMAT_VERSION,
            "body": body_bytes,
            "sigs": [{"kid": s.kid, "sig": s.sig} for s in sigs],
        }
        raw = encode(wire)
        return cls.from_wire(raw)

    @classmethod
    def from_wire(cls, raw: bytes) -> SignedEntry:
        """Parse and shape-check a signed envelope (signatures are not verified here).

        Raises:
            LimitError: the envelope is larger than MAX_ENTRY_SIZE.
            EncodingError: non-canonical bytes or a malformed field.
        """
        if len(raw) > MAX_ENTRY_SIZE:
            raise LimitError(f"entry is {len(raw)} bytes, the limit is {MAX_ENTRY_SIZE}")
        m = require_map(decode(raw), "entry")
        _check_version(m, "entry")
        _exact_map(m, "entry", required=("v", "body", "sigs"))
        if not isinstance(m["body"], bytes):
            raise _fail("body", "bytes", m["body"])
        sigs_raw = m["sigs"]
        if not isinstance(sigs_raw, list) or not 1 <= len(sigs_raw) <= MAX_SIGNATURES:
            raise _fail("sigs", f"a list of 1-{MAX_SIGNATURES} signatures", sigs_raw)
        sigs = []
        for i, s in enumerate(sigs_raw):
            kid = s.get("kid") if type(s) is dict and len(s) == 2 else None
            sig = s.get("sig") if kid is not None else None
            if not (
                type(kid) is bytes
                and len(kid) == KEY_ID_SIZE
                and type(sig) is bytes
                and len(sig) == ed25519.SIGNATURE_SIZE
            ):  # the checks below name what is wrong
                s = _exact_map(s, f"sigs[{i}]", required=("kid", "sig"))
                kid = _bin(s["kid"], f"sigs[{i}].kid", KEY_ID_SIZE)
                sig = _bin(s["sig"], f"sigs[{i}].sig", ed25519.SIGNATURE_SIZE)
            sigs.append(Signature(kid, sig))
        kids = {s.kid for s in sigs}
        if len(kids) != len(sigs):
            raise EncodingError("field sigs: the same key signs twice")
        body = Body.from_wire(decode(m["body"]))
        # The rules check every signature present but act for body.signer; without this an
        # entry naming Alice as signer but signed only by Bob would be Alice's action.
        if body.signer not in kids:
            raise EncodingError("field sigs: no signature by the body's signer")
        return cls(
            m["body"], body, tuple(sigs), raw if type(raw) is bytes else bytes(raw), entry_id(raw)
        )

    def signed_by(self, kid: bytes) -> Signature | None:
        for s in self.sigs:
            if s.kid == kid:
                return s
        return None

    def verify_signature(self, kid: bytes, public: bytes) -> None:
        """Check that the key ``kid`` (with public key ``public``) signed this entry.

        Raises:
            SignatureError: no signature by that key, or it does not verify.
        """
        sig = self.signed_by(kid)
        if sig is None:
            raise SignatureError(f"no signature by key {kid.hex()[:16]}")
        ed25519.verify(public, signing_message(self.body_bytes), sig.sig)


def sign_body(body: Body, seeds: Sequence[bytes]) -> SignedEntry:
    """Encode ``body`` and sign it with each seed (the body's signer first)."""
    body_bytes = body.encode()
    msg = signing_message(body_bytes)
    sigs = [Signature(key_id(ed25519.public_key(s)), ed25519.sign(s, msg)) for s in seeds]
    return SignedEntry.build(body_bytes, sigs)


def add_signature(entry: SignedEntry, seed: bytes) -> SignedEntry:
    """Co-sign an existing entry; the entry id changes because the envelope changes."""
    msg = signing_message(entry.body_bytes)
    sig = Signature(key_id(ed25519.public_key(seed)), ed25519.sign(seed, msg))
    if entry.signed_by(sig.kid):
        return entry
    return SignedEntry.build(entry.body_bytes, [*entry.sigs, sig])


@dataclass(frozen=True)
class Record:
    """One log record (specs/log.md §2)."""

    index: int
    prev: bytes
    time: int
    entry_bytes: bytes
    raw: bytes = field(repr=False)
    hash: bytes = field(repr=False)

    @classmethod
    def build(cls, index: int, prev: bytes, time: int, entry_bytes: bytes) -> Record:
        # Keys already in canonical order: ``encode`` only checks the types and packs.
        raw = encode(
            {"entry": entry_bytes, "index": index, "prev": prev, "time": time, "v": FORMAT_VERSION}
        )
        return cls(index, prev, time, entry_bytes, raw, leaf_hash(raw))

    @classmethod
    def from_wire(cls, raw: bytes) -> Record:
        """Parse a record (the entry inside is left as bytes).

        Raises:
            LimitError: larger than MAX_RECORD_SIZE.
            EncodingError: non-canonical or malformed.
        """
        if len(raw) > MAX_RECORD_SIZE:
            raise LimitError(f"record is {len(raw)} bytes, the limit is {MAX_RECORD_SIZE}")
        m = require_map(decode(raw), "record")
        _check_version(m, "record")
        _exact_map(m, "record", required=("v", "index", "prev", "time", "entry"))
        _uint(m["index"], "index")
        _bin(m["prev"], "prev", 32)
        _uint(m["time"], "time")
        if not isinstance(m["entry"], bytes):
            raise _fail("entry", "bytes", m["entry"])
        return cls(m["index"], m["prev"], m["time"], m["entry"], bytes(raw), leaf_hash(raw))

    def entry(self) -> SignedEntry:
        return SignedEntry.from_wire(self.entry_bytes)


def parse_unchecked(raw: bytes) -> tuple[Record, SignedEntry]:
    """Parse a record and its entry *without* the canonical-encoding and field-shape checks.

    Only for a replay whose records are all checked in full elsewhere at the same time
    (``Ledger.verify`` with ``jobs > 1``: worker processes run :meth:`Record.from_wire` and
    :meth:`SignedEntry.from_wire` on every record and the first failure by index wins).
    For a record that passes those checks the result is equal to theirs; for any other
    record this may return nonsense or raise any exception.
    """
    m = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    entry_bytes = m["entry"]
    record = Record(m["index"], m["prev"], m["time"], entry_bytes, raw, leaf_hash(raw))
    e = msgpack.unpackb(entry_bytes, raw=False, strict_map_key=False)
    body_bytes = e["body"]
    b = msgpack.unpackb(body_bytes, raw=False, strict_map_key=False)
    body = Body(b["type"], b["ledger"], b["signer"], b["time"], b["fields"])
    sigs = tuple(Signature(s["kid"], s["sig"]) for s in e["sigs"])
    return record, SignedEntry(body_bytes, body, sigs, entry_bytes, entry_id(entry_bytes))


def entry_to_json(entry: SignedEntry) -> dict[str, Any]:
    """A JSON-friendly view of an entry (bytes as hex) for display and the SQL views."""
    return {
        "id": entry.id.hex(),
        "type": entry.type,
        "ledger": entry.body.ledger,
        "signer": entry.body.signer.hex(),
        "time": entry.body.time,
        "fields": _jsonable(dict(entry.fields)),
        "sigs": [{"kid": s.kid.hex(), "sig": s.sig.hex()} for s in entry.sigs],
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'X'?)`` for the closest of ``known`` to a mistyped name, or ``""``.

    Case is ignored first (``jw-1`` finds ``JW-1``), then the closest spelling wins.
    """
    names = list(known)
    folded = [n for n in names if n.casefold() == word.casefold()]
    close = folded or difflib.get_close_matches(word, names, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""
