"""Properties of the canonical msgpack profile (specs/encoding.md).

The variant packer below is a second, independent encoder: it writes a value in *any*
legal msgpack form, drawing every choice (integer width and signedness, float forms,
length prefixes, key order, duplicate keys, trailing bytes) from hypothesis. When every
choice is the canonical one its output must equal ``encode`` byte for byte; when any
choice is not, ``decode`` must refuse it.

``KPLEDGER_FUZZ_EXAMPLES`` sets the example count of the fuzz tests (default small;
``make fuzz`` runs the ``slow`` variants with 100 000).
"""

from __future__ import annotations

import os
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.core.encoding import decode, encode
from ledger.core.model import SignedEntry
from ledger.errors import EncodingError, LedgerError

FUZZ_EXAMPLES = int(os.environ.get("KPLEDGER_FUZZ_EXAMPLES", "200"))
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
#: The fuzz tests run small in the normal suite and big under ``make fuzz`` (-m slow).
FUZZ_MODES = pytest.mark.parametrize(
    "mode", [pytest.param("quick"), pytest.param("soak", marks=pytest.mark.slow)]
)

INT_MIN, INT_MAX = -(2**63), 2**64 - 1

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(INT_MIN, INT_MAX),
    st.integers(-300, 300),  # many boundaries of the small forms
    st.text(max_size=40),
    st.binary(max_size=40),
)
keys = st.text(max_size=6)


def values(depth: int = 4) -> st.SearchStrategy[Any]:
    if depth == 0:
        return scalars
    inner = values(depth - 1)
    return st.one_of(
        scalars,
        st.lists(inner, max_size=5),
        st.dictionaries(keys, inner, max_size=5),
    )


def same(a: Any, b: Any) -> bool:
    """Equality that also tells ``True`` from ``1`` and ``b"a"`` from ``"a"``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


# --- the variant packer ----------------------------------------------------------------------


class Packer:
    """Packs a value drawing every form choice; ``canonical`` stays True only if each is."""

    def __init__(self, draw: Any, *, allow_floats: bool = True) -> None:
        self.draw = draw
        self.canonical = True
        self.allow_floats = allow_floats

    def choose(self, options: list[tuple[bool, bytes]]) -> bytes:
        """``options`` are ``(is_canonical, bytes)``; exactly one is canonical."""
        is_canon, data = self.draw(st.sampled_from(options))
        self.canonical &= is_canon
        return data

    def pack(self, v: Any) -> bytes:
        if v is None:
            return b"\xc0"
        if isinstance(v, bool):
            return b"\xc3" if v else b"\xc2"
        if isinstance(v, int):
            return self.choose(self._int_forms(v))
        if isinstance(v, str):
            data = v.encode("utf-8")
            return (
                self.choose(self._len_forms(len(data), 0xA0, 31, b"\xd9", b"\xda", b"\xdb")) + data
            )
        if isinstance(v, bytes):
            return self.choose(self._len_forms(len(v), None, -1, b"\xc4", b"\xc5", b"\xc6")) + v
        if isinstance(v, list):
            head = self.choose(self._len_forms(len(v), 0x90, 15, None, b"\xdc", b"\xdd"))
            return head + b"".join(self.pack(x) for x in v)
        assert isinstance(v, dict)
        pairs = [(self.pack(k), k, x) for k, x in v.items()]
        canonical_order = sorted(pairs, key=lambda p: p[1].encode("utf-8"))
        order = self.draw(st.permutations(canonical_order))
        self.canonical &= [p[1] for p in order] == [p[1] for p in canonical_order]
        body = [kb + self.pack(x) for kb, _, x in order]
        if body and self.draw(st.booleans()):
            # A duplicate key: repeat one pair's key, with any value, anywhere.
            kb, _, _ = self.draw(st.sampled_from(order))
            at = self.draw(st.integers(0, len(body)))
            body.insert(at, kb + self.pack(self.draw(scalars)))
            self.canonical = False
        head = self.choose(self._len_forms(len(body), 0x80, 15, None, b"\xde", b"\xdf"))
        return head + b"".join(body)

    @staticmethod
    def _len_forms(
        n: int, fix: int | None, fix_max: int, f8: bytes | None, f16: bytes, f32: bytes
    ) -> list[tuple[bool, bytes]]:
        forms: list[bytes] = []
        if fix is not None and n <= fix_max:
            forms.append(bytes([fix | n]))
        if f8 is not None and n <= 0xFF:
            forms.append(f8 + struct.pack(">B", n))
        if n <= 0xFFFF:
            forms.append(f16 + struct.pack(">H", n))
        forms.append(f32 + struct.pack(">I", n))
        return [(i == 0, f) for i, f in enumerate(forms)]

    def _int_forms(self, v: int) -> list[tuple[bool, bytes]]:
        unsigned = (
            (0xCC, ">B", 2**8),
            (0xCD, ">H", 2**16),
            (0xCE, ">I", 2**32),
            (0xCF, ">Q", 2**64),
        )
        signed = ((0xD0, ">b", 2**7), (0xD1, ">h", 2**15), (0xD2, ">i", 2**31), (0xD3, ">q", 2**63))
        forms: list[bytes] = []
        if 0 <= v <= 0x7F:
            forms.append(bytes([v]))  # positive fixint
        elif -32 <= v < 0:
            forms.append(struct.pack(">b", v))  # negative fixint
        if v >= 0:
            forms += [bytes([c]) + struct.pack(f, v) for c, f, top in unsigned if v < top]
        forms += [bytes([c]) + struct.pack(f, v) for c, f, lim in signed if -lim <= v < lim]
        # The first form is the canonical one (specs/encoding.md §3.1): the smallest form of
        # the unsigned family for v >= 0, of the signed family for v < 0.
        out = [(i == 0, f) for i, f in enumerate(forms)]
        if self.allow_floats and abs(v) < 2**53:
            out.append((False, b"\xcb" + struct.pack(">d", float(v))))
            if abs(v) < 2**24:
                out.append((False, b"\xca" + struct.pack(">f", float(v))))
        return out


@st.composite
def variants(
    draw: Any, value_strategy: st.SearchStrategy[Any] | None = None
) -> tuple[Any, bytes, bool]:
    value = draw(value_strategy if value_strategy is not None else values())
    packer = Packer(draw)
    data = packer.pack(value)
    canonical = packer.canonical
    if draw(st.integers(0, 9)) == 0:
        data += draw(st.binary(min_size=1, max_size=3))
        canonical = False
    return value, data, canonical


# --- properties -----------------------------------------------------------------------------


@PROPS
@given(values())
def test_round_trip(value: Any) -> None:
    assert same(decode(encode(value)), value)


@PROPS
@given(st.data())
def test_equal_values_give_equal_bytes(data: st.DataObject) -> None:
    value = data.draw(values())

    def shuffled(v: Any) -> Any:  # an equal value built in another insertion order
        if isinstance(v, dict):
            items = data.draw(st.permutations(list(v.items())))
            return {k: shuffled(x) for k, x in items}
        if isinstance(v, list):
            return [shuffled(x) for x in v]
        return v

    assert encode(shuffled(value)) == encode(value)
    assert encode(decode(encode(value))) == encode(value)


@PROPS
@given(variants())
def test_every_non_canonical_form_is_rejected(case: tuple[Any, bytes, bool]) -> None:
    value, data, canonical = case
    if canonical:
        assert data == encode(value)  # the independent packer agrees with encode
        assert same(decode(data), value)
    else:
        with pytest.raises(EncodingError):
            decode(data)


@pytest.mark.parametrize(
    ("value", "wide"),
    [
        (5, "cc05"),
        (5, "d005"),
        ("a", "d90161"),
        (b"a", "c5000161"),
        ([1], "dc000101"),
        ({"a": 1}, "df00000001a16101"),
    ],
)
def test_examples_of_each_wider_form(value: Any, wide: str) -> None:
    assert encode(value) != bytes.fromhex(wide)
    assert same(msgpack_unpack(bytes.fromhex(wide)), value)  # the same value in msgpack ...
    with pytest.raises(EncodingError):  # ... but not its canonical encoding
        decode(bytes.fromhex(wide))


def msgpack_unpack(data: bytes) -> Any:
    import msgpack

    return msgpack.unpackb(data, raw=False)


@PROPS
@given(st.integers(-(2**24) + 1, 2**24 - 1), st.sampled_from(["ca", "cb"]))
def test_floats_rejected_even_when_integral(n: int, code: str) -> None:
    fmt = ">f" if code == "ca" else ">d"
    with pytest.raises(EncodingError, match="floats are not allowed"):
        decode(bytes.fromhex(code) + struct.pack(fmt, float(n)))


@PROPS
@given(st.floats(allow_nan=True) | st.floats(width=32))
def test_no_float_encodes(x: float) -> None:
    with pytest.raises(EncodingError, match="floats"):
        encode({"x": [x]})


# --- str/bin swaps: a different value, refused by the field checks ------------------------


def _origin_entry() -> SignedEntry:
    from ledger.core import model

    body = model.Body(
        "origin",
        "example.org/kp",
        model.key_id(_pub()),
        1_717_200_000_000,
        {"parcel": "P-1", "carats": 100, "stones": 2, "mine": "Jwaneng", "hs": "7102.10"},
    )
    return model.sign_body(body, [bytes([2]) * 32])


def _pub() -> bytes:
    from ledger.core import ed25519

    return ed25519.public_key(bytes([2]) * 32)


def _swap(value: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        if isinstance(value, bytes):
            return value.hex()[: len(value)].ljust(len(value), "0")
        return value.encode("utf-8")
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        return [(_swap(x, rest) if i == head else x) for i, x in enumerate(value)]
    return {k: (_swap(x, rest) if k == head else x) for k, x in value.items()}


ENVELOPE_PATHS = [("body",), ("sigs", 0, "kid"), ("sigs", 0, "sig")]
BODY_PATHS = [
    ("type",),
    ("ledger",),
    ("signer",),
    ("fields", "parcel"),
    ("fields", "mine"),
    ("fields", "hs"),
]


@pytest.mark.parametrize("path", ENVELOPE_PATHS + [("body", *p) for p in BODY_PATHS])
def test_str_bin_swap_is_refused(path: tuple[Any, ...]) -> None:
    entry = _origin_entry()
    wire = decode(entry.raw)
    if path[0] == "body" and len(path) > 1:
        wire["body"] = encode(_swap(decode(wire["body"]), path[1:]))
    else:
        wire = _swap(wire, path)
    with pytest.raises(EncodingError, match="field"):
        SignedEntry.from_wire(encode(wire))


# --- fuzz ---------------------------------------------------------------------------------


def _only_ledger_errors(data: bytes) -> None:
    try:
        value = decode(data)
    except LedgerError:
        return
    assert encode(value) == data  # whatever decodes is canonical


@FUZZ_MODES
@FUZZ
@given(st.binary(max_size=64))
def test_fuzz_decode_random_bytes(mode: str, data: bytes) -> None:
    _only_ledger_errors(data)


@FUZZ_MODES
@FUZZ
@given(st.data())
def test_fuzz_decode_mutated_encodings(mode: str, data: st.DataObject) -> None:
    raw = bytearray(encode(data.draw(values())))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "insert":
            raw.insert(at, data.draw(st.integers(0, 255)))
        elif op == "delete" and raw:
            del raw[at]
        else:
            del raw[at:]
    _only_ledger_errors(bytes(raw))


@FUZZ_MODES
@FUZZ
@given(st.data())
def test_fuzz_entry_parsing(mode: str, data: st.DataObject) -> None:
    """Mutated envelopes: from_wire raises only LedgerErrors (never KeyError, TypeError...)."""
    raw = bytearray(_ENTRY.raw)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    try:
        SignedEntry.from_wire(bytes(raw))
    except LedgerError:
        pass


_ENTRY = _origin_entry()
