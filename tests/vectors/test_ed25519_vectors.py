"""Ed25519 vectors against the ledger's one signature rule (specs/signatures.md).

The speccheck and Wycheproof files are copied unchanged into ``tests/vectors/ed25519/``
(``tests/vectors/README.md`` gives their source and licence). Each vector runs through
both backends, which must agree with each other and with the spec. A small pure-Python
Edwards implementation (below) is the independent second opinion: it re-derives the
table of rejected encodings and classifies every speccheck case.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import ed25519
from ledger.errors import SignatureError
from tests.vectors import ED25519

SPEC = Path(__file__).resolve().parents[2] / "specs" / "signatures.md"

# --- a tiny, slow, independent Ed25519 (RFC 8032 §5.1), for cross-checks only ----------

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, -1, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T)
IDENTITY: Point = (0, 1, 1, 0)


def add(a: Point, b: Point) -> Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    A = (y1 - x1) * (y2 - x2) % P
    B = (y1 + x1) * (y2 + x2) % P
    C = 2 * t1 * t2 * D % P
    Dd = 2 * z1 * z2 % P
    E, F, G, H = B - A, Dd - C, Dd + C, B + A
    return (E * F % P, G * H % P, F * G % P, E * H % P)


def mul(k: int, a: Point) -> Point:
    r = IDENTITY
    while k:
        if k & 1:
            r = add(r, a)
        a = add(a, a)
        k >>= 1
    return r


def same(a: Point, b: Point) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def decode(s: bytes, *, lenient: bool = False) -> Point | None:
    """RFC 8032 §5.1.3; ``lenient`` reduces y mod p and allows a negative x = 0."""
    n = int.from_bytes(s, "little")
    y, sign = n & ((1 << 255) - 1), n >> 255
    if y >= P:
        if not lenient:
            return None
        y -= P
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P == (-u) % P:
        x = x * SQRT_M1 % P
    if v * x * x % P != u:
        return None
    if x == 0 and sign and not lenient:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def encode(a: Point) -> bytes:
    zi = pow(a[2], -1, P)
    x, y = a[0] * zi % P, a[1] * zi % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def base_point() -> Point:
    """B of RFC 8032 §5.1: the point with y = 4/5 and positive x."""
    point = decode((4 * pow(5, -1, P) % P).to_bytes(32, "little"))
    assert point is not None
    return point


BASE = base_point()


def reference_equation(
    public: bytes, message: bytes, signature: bytes, *, cofactor: int = 1
) -> bool:
    """[c][S]B == [c](R + [k]A) on lenient decodings, no range or order checks.

    ``cofactor`` 1 is the cofactorless equation of spec §3 step 5; 8 the cofactored one.
    """
    a, r = decode(public, lenient=True), decode(signature[:32], lenient=True)
    if a is None or r is None:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little")
    s = int.from_bytes(signature[32:], "little")
    return same(mul(cofactor, mul(s, BASE)), mul(cofactor, add(r, mul(k % L, a))))


def order_class(encoding: bytes) -> str:
    """'small', 'mixed' (torsion component, not small) or 'prime' (in the order-L group)."""
    a = decode(encoding, lenient=True)
    assert a is not None
    if same(mul(8, a), IDENTITY):
        return "small"
    return "prime" if same(mul(L, a), IDENTITY) else "mixed"


# --- loading ---------------------------------------------------------------------------


def load_speccheck() -> list[tuple[bytes, bytes, bytes]]:
    """(public key, message, signature) of each ed25519-speccheck case, in order."""
    cases = json.loads((ED25519 / "ed25519-speccheck-cases.json").read_text())
    return [
        (bytes.fromhex(c["pub_key"]), bytes.fromhex(c["message"]), bytes.fromhex(c["signature"]))
        for c in cases
    ]


def load_wycheproof() -> list[tuple[int, bytes, bytes, bytes, bool]]:
    data = json.loads((ED25519 / "wycheproof-ed25519_test.json").read_text())
    tests = []
    for group in data["testGroups"]:
        public = bytes.fromhex(group["publicKey"]["pk"])
        for t in group["tests"]:
            assert t["result"] in ("valid", "invalid")
            tests.append(
                (
                    t["tcId"],
                    public,
                    bytes.fromhex(t["msg"]),
                    bytes.fromhex(t["sig"]),
                    t["result"] == "valid",
                )
            )
    return tests


def verdict(backend: str, public: bytes, message: bytes, signature: bytes) -> str:
    try:
        ed25519.verify_with(backend, public, message, signature)
    except SignatureError as exc:
        return str(exc)
    return "ok"


# --- speccheck (spec §5) ---------------------------------------------------------------

# The spec's verdict for each of the 12 cases: "ok" or the rejection reason.
SPECCHECK_VERDICTS = [
    "A is a small-order point",
    "A is a small-order point",
    "R is a small-order point",
    "ok",
    "signature does not verify",
    "signature does not verify",
    "S is not below L",
    "S is not below L",
    "non-canonical encoding of R",
    "non-canonical encoding of R",
    "non-canonical encoding of A",
    "non-canonical encoding of A",
]


def test_speccheck_all_cases_loaded() -> None:
    assert len(load_speccheck()) == 12


@pytest.mark.parametrize("backend", ed25519.BACKENDS)
def test_speccheck_verdicts(backend: str) -> None:
    got = [verdict(backend, *case) for case in load_speccheck()]
    assert got == SPECCHECK_VERDICTS


def test_speccheck_default_verify_matches_spec() -> None:
    for (public, message, signature), expected in zip(
        load_speccheck(), SPECCHECK_VERDICTS, strict=True
    ):
        if expected == "ok":
            ed25519.verify(public, message, signature)
        else:
            with pytest.raises(SignatureError, match=re.escape(expected)):
                ed25519.verify(public, message, signature)


# Per case: (order of A, order of R, A canonical, R canonical, S < L, cofactorless
# equation, cofactored equation), the equations evaluated on leniently decoded points
# with A, R and S used as given. This is the "what it tests" column of spec §5.
SPECCHECK_FACTS = [
    ("small", "small", True, True, True, True, True),
    ("small", "mixed", True, True, True, True, True),
    ("mixed", "small", True, True, True, True, True),
    ("mixed", "mixed", True, True, True, True, True),
    ("mixed", "mixed", True, True, True, False, True),
    ("mixed", "prime", True, True, True, False, True),
    ("prime", "prime", True, True, False, True, True),
    ("prime", "prime", True, True, False, True, True),
    ("mixed", "small", True, False, True, False, False),
    ("mixed", "small", True, False, True, True, True),
    ("small", "mixed", False, True, True, False, True),
    ("small", "mixed", False, True, True, True, True),
]


def test_speccheck_classification_by_reference_arithmetic() -> None:
    facts = []
    for public, message, signature in load_speccheck():
        r = signature[:32]
        facts.append(
            (
                order_class(public),
                order_class(r),
                decode(public) is not None,
                decode(r) is not None,
                int.from_bytes(signature[32:], "little") < L,
                reference_equation(public, message, signature),
                reference_equation(public, message, signature, cofactor=8),
            )
        )
    assert facts == SPECCHECK_FACTS
    # Case 7's S also has bits above 2^253 set; case 6's does not.
    high = [int.from_bytes(sig[32:], "little") >> 253 for _, _, sig in load_speccheck()[6:8]]
    assert high[0] == 0 and high[1] != 0


# --- Wycheproof (spec §6) --------------------------------------------------------------


def test_wycheproof_all_tests_loaded() -> None:
    tests = load_wycheproof()
    assert len(tests) == 151
    assert len({t[0] for t in tests}) == 151


@pytest.mark.parametrize("backend", ed25519.BACKENDS)
def test_wycheproof_verdicts(backend: str) -> None:
    wrong = [
        tc_id
        for tc_id, public, message, signature, valid in load_wycheproof()
        if (verdict(backend, public, message, signature) == "ok") != valid
    ]
    assert wrong == []


def test_wycheproof_backends_give_identical_reasons() -> None:
    for _, public, message, signature, _ in load_wycheproof():
        assert verdict("libsodium", public, message, signature) == verdict(
            "openssl", public, message, signature
        )


# --- the rejected encodings of spec §3 -------------------------------------------------


def derived_blocklist() -> dict[bytes, str]:
    """All encodings of the 8 small-order points, from curve arithmetic alone."""
    # [L]Q of a point Q whose torsion component has order 8 generates the torsion group.
    for y in range(2, 100):
        q = decode(y.to_bytes(32, "little"))
        if q is None:
            continue
        t = mul(L, q)
        if not same(mul(4, t), IDENTITY):
            break
    torsion = [mul(i, t) for i in range(8)]
    table: dict[bytes, str] = {}
    for point in torsion:
        enc = encode(point)
        y = int.from_bytes(enc, "little") & ((1 << 255) - 1)
        table[enc] = "small-order"
        flipped = (int.from_bytes(enc, "little") ^ (1 << 255)).to_bytes(32, "little")
        if decode(flipped) is None:  # x = 0: the sign-flipped string is non-canonical
            table[flipped] = "non-canonical"
        for sign in (0, 1 << 255):
            if y + P < 1 << 255:
                table[(y + P | sign).to_bytes(32, "little")] = "non-canonical"
    return table


def test_blocklist_matches_curve_arithmetic_and_spec_table() -> None:
    derived = derived_blocklist()
    assert len(derived) == 14
    module = {k: "non-canonical" if v else "small-order" for k, v in ed25519._BLOCKLIST.items()}
    assert module == derived
    rows = re.findall(
        r"^\| `([0-9a-f]{64})` \| (small-order|non-canonical) \|$", SPEC.read_text(), re.M
    )
    assert {bytes.fromhex(h): why for h, why in rows} == derived


@pytest.mark.parametrize("backend", ed25519.BACKENDS)
def test_every_blocked_encoding_is_rejected_as_a_and_as_r(backend: str) -> None:
    seed = bytes(range(32))
    public, message = ed25519.public_key(seed), b"kpledger"
    signature = ed25519.sign(seed, message)
    for enc, why in derived_blocklist().items():
        for what, args in (
            ("A", (enc, message, signature)),
            ("R", (public, message, enc + signature[32:])),
        ):
            expected = (
                f"{what} is a small-order point"
                if why == "small-order"
                else f"non-canonical encoding of {what}"
            )
            assert verdict(backend, *args) == expected
        with pytest.raises(SignatureError):
            ed25519.check_public_key(enc)


def test_check_public_key() -> None:
    ed25519.check_public_key(ed25519.public_key(bytes(32)))
    # Mixed-order keys pass registration (spec §3.1), as speccheck case 3's key.
    ed25519.check_public_key(load_speccheck()[3][0])
    with pytest.raises(SignatureError, match="32 bytes"):
        ed25519.check_public_key(bytes(31))
    # y = 2 is canonical and not small-order, but no point has it.
    assert decode((2).to_bytes(32, "little")) is None
    with pytest.raises(SignatureError, match="not a point on the curve"):
        ed25519.check_public_key((2).to_bytes(32, "little"))
    with pytest.raises(SignatureError, match="non-canonical encoding of A"):
        ed25519.check_public_key((P + 5).to_bytes(32, "little"))


def test_unknown_backend_is_a_programmer_error() -> None:
    with pytest.raises(ValueError):
        ed25519.verify_with("gnutls", bytes(32), b"", bytes(64))
    with pytest.raises(ValueError):
        ed25519.sign_with("gnutls", bytes(32), b"")


def test_seed_length_is_a_programmer_error() -> None:
    for bad in (b"", bytes(31), bytes(33)):
        with pytest.raises(ValueError):
            ed25519.public_key(bad)
        with pytest.raises(ValueError):
            ed25519.sign(bad, b"m")


def test_backend_is_known() -> None:
    assert ed25519.BACKEND in ed25519.BACKENDS


# --- RFC 8032 §7.1, tests 1-3 (transcribed) --------------------------------------------

RFC8032 = [
    (  # TEST 1
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (  # TEST 2
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (  # TEST 3
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize("backend", ed25519.BACKENDS)
@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032)
def test_rfc8032_section_7_1(
    backend: str, seed: str, public: str, message: str, signature: str
) -> None:
    s, a, m, sig = (bytes.fromhex(x) for x in (seed, public, message, signature))
    assert ed25519.public_key(s) == a
    assert ed25519.sign_with(backend, s, m) == sig
    ed25519.verify_with(backend, a, m, sig)
    assert reference_equation(a, m, sig)
    with pytest.raises(SignatureError, match="does not verify"):
        ed25519.verify_with(backend, a, m + b"\x00", sig)


# --- properties ------------------------------------------------------------------------


def flip(data: bytes, bit: int) -> bytes:
    b = bytearray(data)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.binary(min_size=32, max_size=32),
    message=st.binary(max_size=300),
    where=st.sampled_from(["message", "signature", "public"]),
    bit=st.integers(min_value=0),
)
def test_sign_verify_round_trip_and_any_bit_flip_fails(
    seed: bytes, message: bytes, where: str, bit: int
) -> None:
    public = ed25519.public_key(seed)
    signature = ed25519.sign(seed, message)
    assert ed25519.sign_with("openssl", seed, message) == signature
    parts = {"message": message, "signature": signature, "public": public}
    for backend in ed25519.BACKENDS:
        ed25519.verify_with(backend, public, message, signature)
    if where == "message" and not message:
        parts["message"] = b"\x00"  # nothing to flip: any other message must fail too
    else:
        parts[where] = flip(parts[where], bit % (8 * len(parts[where])))
    for backend in ed25519.BACKENDS:
        with pytest.raises(SignatureError):
            ed25519.verify_with(backend, parts["public"], parts["message"], parts["signature"])
