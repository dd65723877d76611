"""The one Ed25519 rule of kpledger: strict RFC 8032 verification, identical everywhere.

Every signature the ledger checks (entry signatures, note and checkpoint signatures,
witness cosignatures) goes through :func:`verify`, which applies the rule of
``specs/signatures.md``:

1. the public key A is 32 bytes and the signature R || S is 64 bytes;
2. S < L;
3. A and R are canonical encodings (y < p, and x = 0 is never encoded as negative);
4. neither A nor R is one of the 8 small-order points, in any encoding;
5. the cofactorless equation [S]B = R + [k]A holds, k = SHA-512(R || A || M) mod L.

Steps 1-4 are cheap byte and integer comparisons done here, in pure Python, before the
library is called, so that libsodium and OpenSSL (which disagree on 4 of the 12
ed25519-speccheck cases when called raw) give the same verdict on every input. Step 5
is delegated to libsodium through PyNaCl (about twice as fast as ``cryptography``);
:func:`verify_with` runs the same rule on a chosen backend so the tests can check that
both agree.

This module is the only one in kpledger that does Ed25519, and so the only importer of
``nacl`` and of ``cryptography``'s Ed25519 (``ledger.keys`` uses ``cryptography`` for
key-file encryption only). It does no I/O and draws no randomness (a new key's seed comes
from the OS random source in ``ledger.storage.keyfile``). It knows nothing of key files,
key names or note formats (see ``ledger.core.note``).
"""

from __future__ import annotations

from collections.abc import Callable

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ledger.errors import SignatureError

__all__ = [
    "BACKEND",
    "BACKENDS",
    "PUBLIC_KEY_SIZE",
    "SEED_SIZE",
    "SIGNATURE_SIZE",
    "check_public_key",
    "public_key",
    "sign",
    "sign_with",
    "verify",
    "verify_with",
]

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
SEED_SIZE = 32

#: The backend :func:`verify` and :func:`sign` use.
BACKEND = "libsodium"
#: Every backend :func:`verify_with` accepts; all give the same verdicts (spec §4).
BACKENDS = ("libsodium", "openssl")

# Field prime p and group order L (RFC 8032 §5.1).
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_Y_MASK = (1 << 255) - 1
_SIGN_BIT = 1 << 255

# Edwards curve constant d = -121665/121666 (RFC 8032 §5.1).
_D = -121665 * pow(121666, -1, _P) % _P


def _blocklist() -> dict[bytes, bool]:
    """Build the 14 encodings rejected for A and R by spec §3 steps 3-4.

    Maps each encoding to True if it is rejected as non-canonical, False if it is a
    valid encoding of a small-order point.

    The 8 small-order points have only 5 distinct y-coordinates: 1 (the identity),
    p-1 (order 2), 0 (the two points of order 4) and two values shared by the four
    points of order 8. Each y can be written with the x-sign bit clear or set, and
    y = 0 and y = 1 also have the non-canonical aliases y + p < 2^255. Encodings of
    x = 0 with the sign bit set, and the y + p aliases, are non-canonical; the rest are
    valid encodings of small-order points. ``tests/vectors/test_ed25519_vectors.py``
    re-derives this set from curve arithmetic.
    """
    order8 = (
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    )
    small_y = [0, 1, _P - 1, *(int.from_bytes(bytes.fromhex(h), "little") for h in order8)]
    table: dict[bytes, bool] = {}
    for y in small_y:
        table[y.to_bytes(32, "little")] = False
        # x = 0 exactly when y = 1 or y = p-1; RFC 8032 §5.1.3 step 4 rejects x_0 = 1 then.
        table[(y | _SIGN_BIT).to_bytes(32, "little")] = y in (1, _P - 1)
    for y in (0, 1):
        for sign in (0, _SIGN_BIT):
            table[(y + _P | sign).to_bytes(32, "little")] = True
    return table


_BLOCKLIST = _blocklist()


def _check_point(encoding: bytes, what: str) -> None:
    """Apply spec §3 steps 3-4 to a 32-byte point encoding (A or R).

    Raises:
        SignatureError: if the encoding is non-canonical or a small-order point.
    """
    # y >= p needs bits 248..254 all set; test that byte first so the common case
    # costs one index operation (spec §3 step 3).
    if encoding[31] & 0x7F == 0x7F and int.from_bytes(encoding, "little") & _Y_MASK >= _P:
        raise SignatureError(f"non-canonical encoding of {what}")
    non_canonical = _BLOCKLIST.get(encoding)
    if non_canonical is not None:
        if non_canonical:
            raise SignatureError(f"non-canonical encoding of {what}")
        raise SignatureError(f"{what} is a small-order point")


def _precheck(public: bytes, signature: bytes) -> None:
    """Spec §3 steps 1-4: everything but the curve equation, in pure Python.

    Raises:
        SignatureError: naming the first step that fails.
    """
    if len(public) != PUBLIC_KEY_SIZE:
        raise SignatureError(f"public key must be {PUBLIC_KEY_SIZE} bytes, got {len(public)}")
    if len(signature) != SIGNATURE_SIZE:
        raise SignatureError(f"signature must be {SIGNATURE_SIZE} bytes, got {len(signature)}")
    # S < 2^252 < L whenever its top byte is below 0x10, which is the case for every
    # honestly made signature except with probability ~2^-128 (spec §3 step 2).
    if signature[63] >= 0x10 and int.from_bytes(signature[32:], "little") >= _L:
        raise SignatureError("S is not below L")
    _check_point(public, "A")
    _check_point(signature[:32], "R")


def _equation_libsodium(public: bytes, message: bytes, signature: bytes) -> bool:
    # libsodium's crypto_sign_open is cofactorless and compares R byte for byte.
    try:
        nacl.bindings.crypto_sign_open(signature + message, public)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


def _equation_openssl(public: bytes, message: bytes, signature: bytes) -> bool:
    # OpenSSL's ED25519_verify is cofactorless and compares R byte for byte.
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except InvalidSignature:
        return False
    return True


_EQUATIONS: dict[str, Callable[[bytes, bytes, bytes], bool]] = {
    "libsodium": _equation_libsodium,
    "openssl": _equation_openssl,
}


def verify(public: bytes, message: bytes, signature: bytes) -> None:
    """Verify an Ed25519 signature under the ledger's strict rule (spec §3).

    Args:
        public: the 32-byte public key A.
        message: the signed bytes.
        signature: the 64-byte signature R || S.

    Raises:
        SignatureError: with the reason ("S is not below L", "R is a small-order point",
            "non-canonical encoding of A", "signature does not verify", a wrong length...).
    """
    _precheck(public, signature)
    if not _equation_libsodium(public, message, signature):
        raise SignatureError("signature does not verify")


def verify_with(backend: str, public: bytes, message: bytes, signature: bytes) -> None:
    """Like :func:`verify`, with the curve equation checked by a chosen backend.

    Used by the tests to show that both backends give the same verdicts (spec §4).

    Args:
        backend: one of :data:`BACKENDS`.
        public: the 32-byte public key A.
        message: the signed bytes.
        signature: the 64-byte signature R || S.

    Raises:
        SignatureError: as :func:`verify`.
        ValueError: if ``backend`` is unknown.
    """
    try:
        equation = _EQUATIONS[backend]
    except KeyError:
        raise ValueError(
            f"unknown Ed25519 backend {backend!r}, expected one of {BACKENDS}"
        ) from None
    _precheck(public, signature)
    if not equation(public, message, signature):
        raise SignatureError("signature does not verify")


def check_public_key(public: bytes) -> None:
    """Reject a public key that could never verify a signature under spec §3.

    Called when a key is registered, so that a bad key is refused at once instead of
    failing every later signature. Checks the length, canonical encoding, that the key
    is not a small-order point, and that it decodes to a curve point (RFC 8032 §5.1.3).
    Keys with a torsion component (mixed order) are accepted, as in :func:`verify`.

    Raises:
        SignatureError: naming the problem.
    """
    if len(public) != PUBLIC_KEY_SIZE:
        raise SignatureError(f"public key must be {PUBLIC_KEY_SIZE} bytes, got {len(public)}")
    _check_point(public, "A")
    if not _decodes(public):
        raise SignatureError("A is not a point on the curve")


def _decodes(encoding: bytes) -> bool:
    """Whether a canonical encoding decodes to a curve point (RFC 8032 §5.1.3 steps 2-4)."""
    y = int.from_bytes(encoding, "little") & _Y_MASK
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    vxx = v * x * x % _P
    return vxx in (u, (-u) % _P)


def public_key(seed: bytes) -> bytes:
    """Return the 32-byte public key of a 32-byte seed (RFC 8032 §5.1.5).

    Raises:
        ValueError: if ``seed`` is not 32 bytes.
    """
    if len(seed) != SEED_SIZE:
        raise ValueError(f"seed must be {SEED_SIZE} bytes, got {len(seed)}")
    public, _ = nacl.bindings.crypto_sign_seed_keypair(seed)
    return bytes(public)


def sign(seed: bytes, message: bytes) -> bytes:
    """Return the 64-byte RFC 8032 signature of ``message`` (deterministic).

    libsodium is used: it signs in ~32 us against ~55 us for ``cryptography``, and
    Ed25519 signing is deterministic, so the backend does not change the bytes.

    Raises:
        ValueError: if ``seed`` is not 32 bytes.
    """
    if len(seed) != SEED_SIZE:
        raise ValueError(f"seed must be {SEED_SIZE} bytes, got {len(seed)}")
    _, secret = nacl.bindings.crypto_sign_seed_keypair(seed)
    return bytes(nacl.bindings.crypto_sign(message, secret)[:SIGNATURE_SIZE])


def sign_with(backend: str, seed: bytes, message: bytes) -> bytes:
    """Like :func:`sign`, on a chosen backend; the tests use it to cross-check :func:`sign`.

    Raises:
        ValueError: if ``backend`` is unknown or ``seed`` is not 32 bytes.
    """
    if backend == "libsodium":
        return sign(seed, message)
    if backend != "openssl":
        raise ValueError(f"unknown Ed25519 backend {backend!r}, expected one of {BACKENDS}")
    if len(seed) != SEED_SIZE:
        raise ValueError(f"seed must be {SEED_SIZE} bytes, got {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)
