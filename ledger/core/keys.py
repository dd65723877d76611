"""Key file formats (specs/keys.md): encrypted private keys and public keys.

Pure: bytes in, bytes out. Reading and writing files (and their modes) lives in
``ledger.keyfile``; Ed25519 itself lives in ``ledger.ed25519``. The passphrase is
stretched with scrypt (RFC 7914) and the 32-byte seed sealed with ChaCha20-Poly1305
(RFC 8439); the header fields are authenticated as associated data, so a file whose
parameters were edited does not open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from ledger.core import ed25519
from ledger.core.encoding import decode, encode, require_map
from ledger.core.model import key_id
from ledger.errors import EncodingError, KeyFileError

PRIVATE_MAGIC = b"kpledger-private-key-v1\n"
PUBLIC_MAGIC = "kpledger-public-key-v1"
MAX_KEY_FILE = 4096

#: scrypt cost parameters for new keys (specs/keys.md §2): 128 MiB, about 0.3 s here.
SCRYPT_N = 1 << 17
SCRYPT_R = 8
SCRYPT_P = 1
#: Smallest cost a key file may declare; files asking for less are refused.
SCRYPT_MIN_N = 1 << 14
SCRYPT_MAX_N = 1 << 20


@dataclass(frozen=True)
class PrivateKey:
    """An unlocked signing key. ``repr`` never shows the seed."""

    name: str
    seed: bytes

    @property
    def public(self) -> bytes:
        return ed25519.public_key(self.seed)

    @property
    def kid(self) -> bytes:
        return key_id(self.public)

    def __repr__(self) -> str:
        return f"PrivateKey(name={self.name!r}, kid={self.kid.hex()[:16]}...)"


def _kdf(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # OpenSSL refuses unless maxmem >= 128*r*(n+2) + 128*r*p bytes; a fixed 256 MiB cap
    # made every n above 2^17 (allowed up to SCRYPT_MAX_N) fail with a bare ValueError.
    maxmem = 128 * r * (n + p + 2) + (1 << 20)
    # surrogateescape: a POSIX environment variable that is not UTF-8 arrives with lone
    # surrogates; use its original bytes instead of failing with UnicodeEncodeError.
    secret = passphrase.encode("utf-8", "surrogateescape")
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=32)


def encode_private(
    name: str, seed: bytes, passphrase: str | None, *, salt: bytes, nonce: bytes, n: int = SCRYPT_N
) -> bytes:
    """Serialise a private key; ``passphrase=None`` stores the seed in the clear.

    ``salt`` (16 bytes) and ``nonce`` (12 bytes) come from the caller so this stays pure.
    """
    if len(seed) != ed25519.SEED_SIZE or len(salt) != 16 or len(nonce) != 12:
        raise ValueError("seed must be 32 bytes, salt 16, nonce 12")
    header: dict[str, Any] = {"v": 1, "name": name, "pub": ed25519.public_key(seed)}
    if passphrase is None:
        header.update({"kdf": "none", "seed": seed})
    else:
        header.update({"kdf": "scrypt", "n": n, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt})
        header["nonce"] = nonce
        key = _kdf(passphrase, salt, n, SCRYPT_R, SCRYPT_P)
        header["box"] = ChaCha20Poly1305(key).encrypt(nonce, seed, PRIVATE_MAGIC + encode(header))
    return PRIVATE_MAGIC + base64.b64encode(encode(header)) + b"\n"


def _parse_private(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_KEY_FILE:
        raise KeyFileError(f"key file is {len(data)} bytes; a kpledger key file is much smaller")
    if not data.startswith(PRIVATE_MAGIC):
        if data.startswith(PUBLIC_MAGIC.encode()):
            raise KeyFileError("this is a public key file (.pub); give the private key file")
        raise KeyFileError("not a kpledger private key file (bad first line)")
    body = data[len(PRIVATE_MAGIC) :]
    if not body.endswith(b"\n") or b"\n" in body[:-1]:
        raise KeyFileError("corrupt private key file (expected one base64 line)")
    try:
        raw = base64.b64decode(body[:-1], validate=True)
        header = require_map(decode(raw), "key file")
    except (binascii.Error, ValueError, EncodingError) as exc:
        raise KeyFileError(f"corrupt private key file: {exc}") from exc
    version = header.get("v")
    if type(version) is not int or version != 1 or header.get("kdf") not in ("none", "scrypt"):
        raise KeyFileError("unsupported private key file version or KDF")
    return header


def is_encrypted(data: bytes) -> bool:
    """Whether a private key file needs a passphrase.

    Raises:
        KeyFileError: the bytes are not a kpledger private key file.
    """
    return bool(_parse_private(data)["kdf"] == "scrypt")


def decode_private(data: bytes, passphrase: str | None) -> PrivateKey:
    """Open a private key file.

    Raises:
        KeyFileError: corrupt file, missing or wrong passphrase, or a seed that does
            not match the recorded public key.
    """
    header = _parse_private(data)
    try:
        name = header["name"]
        pub = header["pub"]
        if not isinstance(name, str) or not isinstance(pub, bytes):
            raise KeyFileError("corrupt private key file (name or public key)")
        if header["kdf"] == "none":
            seed = header["seed"]
        else:
            if passphrase is None:
                raise KeyFileError("this key is encrypted: a passphrase is needed")
            n, r, p = header["n"], header["r"], header["p"]
            salt, nonce, box = header["salt"], header["nonce"], header["box"]
            if not (isinstance(n, int) and SCRYPT_MIN_N <= n <= SCRYPT_MAX_N and n & (n - 1) == 0):
                raise KeyFileError("key file declares an unsafe or unsupported scrypt cost")
            if (r, p) != (SCRYPT_R, SCRYPT_P) or not all(
                isinstance(b, bytes) for b in (salt, nonce, box)
            ):
                raise KeyFileError("corrupt private key file (KDF parameters)")
            aad_header = {k: v for k, v in header.items() if k != "box"}
            key = _kdf(passphrase, salt, n, r, p)
            try:
                seed = ChaCha20Poly1305(key).decrypt(nonce, box, PRIVATE_MAGIC + encode(aad_header))
            except (InvalidTag, ValueError) as exc:
                raise KeyFileError("wrong passphrase (or the key file was altered)") from exc
    except KeyError as exc:
        raise KeyFileError(f"corrupt private key file (missing {exc.args[0]})") from exc
    if not isinstance(seed, bytes) or len(seed) != ed25519.SEED_SIZE:
        raise KeyFileError("corrupt private key file (seed)")
    if ed25519.public_key(seed) != pub:
        raise KeyFileError("corrupt private key file (seed does not match its public key)")
    return PrivateKey(name, seed)


def private_public_part(data: bytes) -> tuple[str, bytes]:
    """``(name, public key)`` recorded in clear in a private key file, without a passphrase.

    The public key of an encrypted file is authenticated only when the file is opened
    (it is part of the associated data); an unencrypted file's is checked against its
    seed here.

    Raises:
        KeyFileError: not a private key file, or a corrupt header.
    """
    header = _parse_private(data)
    name, pub = header.get("name"), header.get("pub")
    if not isinstance(name, str) or not isinstance(pub, bytes) or len(pub) != 32:
        raise KeyFileError("corrupt private key file (name or public key)")
    if header["kdf"] == "none":
        decode_private(data, None)  # the seed must give this public key
    return name, pub


#: What a new key's passphrase needs (specs/keys.md §5.1).
MIN_PASSPHRASE_LENGTH = 12
MIN_PASSPHRASE_DISTINCT = 6
MIN_PASSPHRASE_BITS = 50


def passphrase_weakness(passphrase: str) -> str | None:
    """Why ``passphrase`` is too weak to seal a new key, or None if it is strong enough.

    The rule (specs/keys.md §5.1): at least 12 characters, at least 6 distinct ones, not
    one shorter string repeated, and an estimate of at least 50 bits, the estimate being
    its length times log2 of the alphabet its characters are drawn from (26 lower-case
    letters, 26 upper-case, 10 digits, 33 other ASCII characters, 100 for all others).
    A floor against guessable choices, not a measure of strength.
    """
    n = len(passphrase)
    if n < MIN_PASSPHRASE_LENGTH:
        return f"it has {n} characters; use at least {MIN_PASSPHRASE_LENGTH}"
    if len(set(passphrase)) < MIN_PASSPHRASE_DISTINCT:
        return f"it uses fewer than {MIN_PASSPHRASE_DISTINCT} different characters"
    for period in range(1, n // 2 + 1):
        if n % period == 0 and passphrase[:period] * (n // period) == passphrase:
            return "it is one short string repeated"
    pool = 0
    pool += 26 if any(c.islower() and c.isascii() for c in passphrase) else 0
    pool += 26 if any(c.isupper() and c.isascii() for c in passphrase) else 0
    pool += 10 if any(c.isdigit() and c.isascii() for c in passphrase) else 0
    pool += 33 if any(c.isascii() and not c.isalnum() for c in passphrase) else 0
    pool += 100 if any(not c.isascii() for c in passphrase) else 0
    bits = n * math.log2(max(pool, 2))
    if bits < MIN_PASSPHRASE_BITS:
        return (
            f"about {bits:.0f} bits by length and alphabet, under {MIN_PASSPHRASE_BITS}; "
            "make it longer or mix letters, digits and symbols"
        )
    return None


def encode_public(name: str, public: bytes) -> bytes:
    """Serialise a public key: one line ``kpledger-public-key-v1 NAME BASE64``."""
    return f"{PUBLIC_MAGIC} {name} {base64.b64encode(public).decode()}\n".encode()


def decode_public(data: bytes) -> tuple[str, bytes]:
    """Parse a public key file and return ``(name, public)``.

    Raises:
        KeyFileError: not a public key file, or the key is not a valid Ed25519 key.
    """
    if len(data) > MAX_KEY_FILE:
        raise KeyFileError("public key file too large")
    if data.startswith(PRIVATE_MAGIC):
        raise KeyFileError("this is a private key file; give the public key (NAME.pub)")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise KeyFileError("not a kpledger public key file") from exc
    parts = text.rstrip("\n").split(" ")
    if len(parts) != 3 or parts[0] != PUBLIC_MAGIC or text.count("\n") != 1:
        raise KeyFileError("not a kpledger public key file (expected one line)")
    try:
        public = base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError("corrupt public key file (base64)") from exc
    if len(public) != ed25519.PUBLIC_KEY_SIZE:
        raise KeyFileError("corrupt public key file (key is not 32 bytes)")
    try:
        ed25519.check_public_key(public)
    except Exception as exc:
        raise KeyFileError(f"unusable public key: {exc}") from exc
    return parts[1], public
