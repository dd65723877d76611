"""The canonical msgpack profile, example by example (specs/encoding.md)."""

from __future__ import annotations

import struct

import msgpack
import pytest

from ledger.core.encoding import MAX_DEPTH, MAX_ENCODED_SIZE, decode, encode, require_map
from ledger.errors import EncodingError, LimitError

# specs/encoding.md §3.1, every row of the integer table (value, canonical hex).
INTEGERS = [
    (0, "00"),
    (127, "7f"),
    (128, "cc80"),
    (255, "ccff"),
    (256, "cd0100"),
    (65535, "cdffff"),
    (65536, "ce00010000"),
    (2**32 - 1, "ceffffffff"),
    (2**32, "cf0000000100000000"),
    (2**64 - 1, "cfffffffffffffffff"),
    (-1, "ff"),
    (-32, "e0"),
    (-33, "d0df"),
    (-128, "d080"),
    (-129, "d1ff7f"),
    (-32768, "d18000"),
    (-32769, "d2ffff7fff"),
    (-(2**31), "d280000000"),
    (-(2**31) - 1, "d3ffffffff7fffffff"),
    (-(2**63), "d38000000000000000"),
]


@pytest.mark.parametrize(("value", "hex_"), INTEGERS)
def test_integer_smallest_form(value: int, hex_: str) -> None:
    assert encode(value).hex() == hex_
    assert decode(bytes.fromhex(hex_)) == value


@pytest.mark.parametrize(
    "wide",
    [
        "cc05",  # 5 as uint 8
        "cd0005",  # 5 as uint 16
        "ce00000005",
        "cf0000000000000005",
        "d005",  # 5 as int 8: a signed form of a non-negative integer
        "d10080",  # 128 as int 16
        "d3000000000000ffff",  # 65535 as int 64
        "d0ff",  # -1 as int 8
        "d1ffdf",  # -33 as int 16
    ],
)
def test_wider_integer_forms_rejected(wide: str) -> None:
    with pytest.raises(EncodingError, match="not the canonical encoding"):
        decode(bytes.fromhex(wide))


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**30])
def test_integer_out_of_range(value: int) -> None:
    with pytest.raises(EncodingError, match="outside the 64-bit range"):
        encode(value)


@pytest.mark.parametrize(
    ("value", "hex_"),
    [
        (None, "c0"),
        (False, "c2"),
        (True, "c3"),
        ("", "a0"),
        ("a", "a161"),
        ("a" * 31, "bf" + "61" * 31),
        ("a" * 32, "d920" + "61" * 32),
        ("a" * 256, "da0100" + "61" * 256),
        ("é", "a2c3a9"),
        (b"", "c400"),
        (b"\x01", "c40101"),
        (b"\x00" * 256, "c50100" + "00" * 256),
        ([], "90"),
        ([1, [2]], "920191" + "02"),
        (list(range(16)), "dc0010" + "".join(f"{i:02x}" for i in range(16))),
        ({}, "80"),
    ],
)
def test_scalar_and_container_forms(value: object, hex_: str) -> None:
    assert encode(value).hex() == hex_
    assert decode(bytes.fromhex(hex_)) == value


def test_map_keys_sorted_by_utf8_bytes() -> None:
    # specs/encoding.md §3.3, both examples.
    assert encode({"b": 1, "a": 2, "aa": 3, "B": 4}).hex() == "84a14204a16102a2616103a16201"
    assert encode({"é": 1, "z": 2, "ab": 3, "a": 4}).hex() == "84a16104a2616203a17a02a2c3a901"


def test_map_order_differs_from_utf16_order() -> None:
    # U+FF61 sorts before U+1F600 in UTF-8 (and code points) but after it in UTF-16 units.
    data = encode({"\U0001f600": 1, "\uff61": 2})
    assert data.index("\uff61".encode()) < data.index("\U0001f600".encode())


def test_insertion_order_does_not_matter() -> None:
    assert encode({"x": 1, "y": {"b": 2, "a": 3}}) == encode({"y": {"a": 3, "b": 2}, "x": 1})


def test_tuple_encodes_as_array() -> None:
    assert encode((1, 2)) == encode([1, 2])
    assert decode(encode((1, 2))) == [1, 2]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.0, "floats are not allowed"),
        ({"a": 0.5}, "floats are not allowed"),
        ({1: "x"}, "is not text"),
        ({b"k": "x"}, "is not text"),
        ({None: 1}, "is not text"),
        ({True: 1}, "is not text"),
        (set(), "cannot be encoded"),
        (bytearray(b"x"), "cannot be encoded"),
        (object(), "cannot be encoded"),
        ("\ud800", "cannot encode"),
        ({"\udc80": 1}, "cannot encode"),
    ],
)
def test_encode_refuses(value: object, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        encode(value)


def _nest(depth: int, inner: object) -> object:
    value = inner
    for _ in range(depth):
        value = [value]
    return value


def test_depth_limit() -> None:
    # A value may sit inside at most MAX_DEPTH containers (specs/encoding.md §3.4).
    assert MAX_DEPTH == 16
    assert decode(encode(_nest(16, 1))) == _nest(16, 1)
    assert decode(encode(_nest(16, []))) == _nest(16, [])  # 17 arrays, innermost at depth 16
    with pytest.raises(EncodingError, match="nesting deeper than 16"):
        encode(_nest(17, 1))
    with pytest.raises(EncodingError, match="nesting deeper than 16"):
        decode(b"\x91" * 17 + b"\x01")
    with pytest.raises(EncodingError, match="nesting deeper than 16"):
        decode(b"\x81\xa1k" * 17 + b"\x01")
    with pytest.raises(EncodingError):  # far deeper than msgpack's own stack
        decode(b"\x91" * 5000 + b"\x01")


def test_size_limit_checked_before_parsing() -> None:
    assert MAX_ENCODED_SIZE == 1 << 20
    with pytest.raises(LimitError, match="the limit is 10"):
        decode(b"\xc0" * 11, max_size=10)  # not even valid msgpack: never parsed
    assert decode(encode("x" * 8), max_size=10) == "x" * 8
    with pytest.raises(LimitError):
        decode(b"\x00" * (MAX_ENCODED_SIZE + 1))
    assert issubclass(LimitError, EncodingError)


def test_size_limit_counts_bytes_of_a_memoryview() -> None:
    data = memoryview(encode("x" * 34)).cast("H")  # 36 bytes, 18 items
    with pytest.raises(LimitError, match="36 bytes"):
        decode(data, max_size=35)


def test_decode_accepts_bytes_like() -> None:
    assert decode(bytearray(b"\x01")) == 1
    assert decode(memoryview(b"\xa1a")) == "a"
    with pytest.raises(TypeError):
        decode("not bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "malformed msgpack"),  # empty
        ("92", "malformed msgpack"),  # truncated array
        ("a36162", "malformed msgpack"),  # truncated text
        ("c1", "malformed msgpack: FormatError"),  # never-used byte
        ("a1ff", "malformed msgpack"),  # invalid UTF-8
        ("c0c0", "trailing bytes"),
        ("0100", "trailing bytes"),
        ("ca00000000", "floats are not allowed"),
        ("cb0000000000000000", "floats are not allowed"),
        ("d40100", "not the canonical"),  # fixext 1: only an array re-encodes
        ("c70101ff", "not the canonical"),  # ext 8
        ("d6ff00000000", "Timestamp cannot be encoded"),  # the timestamp ext
        ("810102", "map key 1 is not text"),
        ("81c4016102", "map key b'a' is not text"),
        ("81c002", "map key None is not text"),
        ("81910102", "malformed msgpack"),  # an array as a key: unhashable
        ("d90161", "not the canonical"),  # str 8 where fixstr fits
        ("da000161", "not the canonical"),  # str 16
        ("c5000161", "not the canonical"),  # bin 16 where bin 8 fits
        ("dc000101", "not the canonical"),  # array 16 where fixarray fits
        ("de0001a16101", "not the canonical"),  # map 16 where fixmap fits
        ("82a162 01 a161 02", "not the canonical"),  # keys out of order
        ("82a161 01 a161 02", "not the canonical"),  # duplicate key
        ("dd ffffffff", "exceeds max_array_len"),  # a length beyond the input
        ("df ffffffff", "exceeds max_map_len"),
        ("db ffffffff", "malformed msgpack"),
    ],
)
def test_decode_refuses(data: str, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        decode(bytes.fromhex(data.replace(" ", "")))


def test_str_and_bin_are_distinct_values() -> None:
    assert decode(b"\xa1a") == "a"
    assert decode(b"\xc4\x01a") == b"a"
    assert encode("a") != encode(b"a")
    assert decode(encode({"k": b"a"})) != decode(encode({"k": "a"}))


def test_text_is_not_normalised() -> None:
    nfc, nfd = "\u00e9", "e\u0301"
    assert encode(nfc) != encode(nfd)
    assert decode(encode({nfc: 1, nfd: 2})) == {nfc: 1, nfd: 2}


def test_nothing_but_encoding_errors_from_odd_msgpack() -> None:
    # A value msgpack itself packs happily but the profile refuses: floats in a map.
    raw = msgpack.packb({"a": 1.5}, use_bin_type=True)
    with pytest.raises(EncodingError, match="floats"):
        decode(raw)
    raw = b"\x81\xa1a" + b"\xcb" + struct.pack(">d", 1.0)
    with pytest.raises(EncodingError, match="floats"):
        decode(raw)


def test_require_map() -> None:
    assert require_map({"a": 1}, "x") == {"a": 1}
    with pytest.raises(EncodingError, match="thing must be a map, found list"):
        require_map([], "thing")
