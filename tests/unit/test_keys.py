"""Key files: formats (ledger.keys) and files on disk (ledger.keyfile), specs/keys.md."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.core import ed25519
from ledger.core.encoding import encode
from ledger.core.keys import (
    MAX_KEY_FILE,
    PRIVATE_MAGIC,
    SCRYPT_MAX_N,
    SCRYPT_MIN_N,
    SCRYPT_N,
    PrivateKey,
    decode_private,
    decode_public,
    encode_private,
    encode_public,
    is_encrypted,
)
from ledger.core.model import key_id
from ledger.errors import KeyFileError
from ledger.storage.keyfile import load_private, load_public, write_keypair

SEED = bytes(range(32))
PASS = "correct horse battery staple"
SALT = bytes(range(16))
NONCE = bytes(range(12))
FAST_N = 1 << 14  # the smallest accepted cost, so the tests stay fast


def encrypted(name: str = "jwaneng", passphrase: str = PASS, n: int = FAST_N) -> bytes:
    return encode_private(name, SEED, passphrase, salt=SALT, nonce=NONCE, n=n)


def clear(name: str = "jwaneng") -> bytes:
    return encode_private(name, SEED, None, salt=SALT, nonce=NONCE)


def header_of(data: bytes) -> dict[str, Any]:
    from ledger.core.encoding import decode

    value = decode(base64.b64decode(data[len(PRIVATE_MAGIC) : -1]))
    assert isinstance(value, dict)
    return value


def with_header(header: dict[str, Any]) -> bytes:
    return PRIVATE_MAGIC + base64.b64encode(encode(header)) + b"\n"


@pytest.fixture(scope="module")
def sealed() -> bytes:
    return encrypted()


# --- formats --------------------------------------------------------------------------------


def test_defaults_match_the_spec() -> None:
    assert (SCRYPT_N, SCRYPT_MIN_N, SCRYPT_MAX_N) == (1 << 17, 1 << 14, 1 << 20)
    assert PRIVATE_MAGIC == b"kpledger-private-key-v1\n"
    assert MAX_KEY_FILE == 4096


def test_round_trip_with_passphrase(sealed: bytes) -> None:
    assert is_encrypted(sealed)
    key = decode_private(sealed, PASS)
    assert key == PrivateKey("jwaneng", SEED)
    assert key.public == ed25519.public_key(SEED)
    assert key.kid == key_id(key.public)
    lines = sealed.split(b"\n")
    assert lines[0] + b"\n" == PRIVATE_MAGIC and lines[2] == b"" and len(lines) == 3
    header = header_of(sealed)
    assert list(header) == ["box", "kdf", "n", "name", "nonce", "p", "pub", "r", "salt", "v"]
    assert (header["kdf"], header["n"], header["r"], header["p"]) == ("scrypt", FAST_N, 8, 1)
    assert len(header["box"]) == 48 and SEED not in sealed


def test_round_trip_unencrypted() -> None:
    data = clear()
    assert not is_encrypted(data)
    assert decode_private(data, None) == PrivateKey("jwaneng", SEED)
    assert decode_private(data, "ignored") == PrivateKey("jwaneng", SEED)
    assert header_of(data) == {
        "kdf": "none",
        "name": "jwaneng",
        "pub": ed25519.public_key(SEED),
        "seed": SEED,
        "v": 1,
    }


def test_wrong_passphrase(sealed: bytes) -> None:
    for wrong in ("", PASS + " ", PASS.upper(), "correct horse battery stapl"):
        with pytest.raises(KeyFileError, match="wrong passphrase") as info:
            decode_private(sealed, wrong)
        assert PASS not in str(info.value) and (not wrong or wrong not in str(info.value))


def test_passphrase_is_needed(sealed: bytes) -> None:
    with pytest.raises(KeyFileError, match="a passphrase is needed"):
        decode_private(sealed, None)


def test_passphrase_from_a_non_utf8_environment() -> None:
    # Regression: os.environ turns the bytes caf\xe9 (Latin-1) into "caf\udce9", which
    # made scrypt's input encoding raise UnicodeEncodeError instead of opening the key.
    latin1 = os.fsdecode(b"caf\xe9")
    data = encrypted(passphrase=latin1)
    assert decode_private(data, latin1).seed == SEED
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        decode_private(data, "café")  # UTF-8 c3 a9, not the byte e9


def test_non_ascii_passphrase() -> None:
    data = encrypted(passphrase="pässwörd ✓")
    assert decode_private(data, "pässwörd ✓").seed == SEED
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        decode_private(data, "pa\u0308sswörd ✓")  # NFD: not normalised, so not the same


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "mallory"),
        ("pub", ed25519.public_key(bytes(32))),
        ("salt", bytes(16)),
        ("nonce", bytes(12)),
        ("n", FAST_N * 2),
        ("extra", "added"),
        ("box", bytes(48)),
    ],
)
def test_altered_header_does_not_open(sealed: bytes, field: str, value: Any) -> None:
    header = header_of(sealed)
    header[field] = value
    with pytest.raises(KeyFileError, match=r"wrong passphrase \(or the key file was altered\)"):
        decode_private(with_header(header), PASS)


def test_altered_box_bits_do_not_open(sealed: bytes) -> None:
    header = header_of(sealed)
    for i in (0, 31, 32, 47):
        box = bytearray(header["box"])
        box[i] ^= 0x01
        with pytest.raises(KeyFileError, match="wrong passphrase"):
            decode_private(with_header({**header, "box": bytes(box)}), PASS)


def test_truncated_files(sealed: bytes) -> None:
    for cut in (0, 5, len(PRIVATE_MAGIC) - 1, len(PRIVATE_MAGIC), len(PRIVATE_MAGIC) + 8, -2, -1):
        with pytest.raises(KeyFileError):
            decode_private(sealed[:cut], PASS)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: b"", "bad first line"),
        (lambda d: b"kpledger-private-key-v2\n" + d[len(PRIVATE_MAGIC) :], "bad first line"),
        (lambda d: d.replace(b"\n", b"\r\n", 1), "bad first line"),
        (lambda d: d[:-1], "expected one base64 line"),
        (lambda d: d + b"\n", "expected one base64 line"),
        (lambda d: d[:-1] + b"\r\n", "corrupt private key file"),
        (lambda d: d[:40] + b"\n" + d[40:], "expected one base64 line"),
        (lambda d: d[:-2] + b"!\n", "corrupt private key file"),
        (lambda d: d[:-3] + b"\n", "corrupt private key file"),
        (lambda d: d + b"A" * MAX_KEY_FILE, "much smaller"),
        (lambda d: encode_public("x", ed25519.public_key(SEED)), "this is a public key file"),
        (lambda d: PRIVATE_MAGIC + base64.b64encode(b"\x92\x01\x02") + b"\n", "must be a map"),
        (lambda d: PRIVATE_MAGIC + base64.b64encode(b"\xcc\x01") + b"\n", "not the canonical"),
    ],
)
def test_corrupt_files(sealed: bytes, mutate: Any, message: str) -> None:
    with pytest.raises(KeyFileError, match=message):
        decode_private(mutate(sealed), PASS)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"v": 2}, "unsupported private key file version or KDF"),
        ({"kdf": "argon2"}, "unsupported private key file version or KDF"),
        ({"n": SCRYPT_MIN_N // 2}, "unsafe or unsupported scrypt cost"),
        ({"n": SCRYPT_MAX_N * 2}, "unsafe or unsupported scrypt cost"),
        ({"n": 3 << 13}, "unsafe or unsupported scrypt cost"),
        ({"n": "16384"}, "unsafe or unsupported scrypt cost"),
        ({"r": 16}, r"corrupt private key file \(KDF parameters\)"),
        ({"p": 2}, r"corrupt private key file \(KDF parameters\)"),
        ({"salt": "0" * 16}, r"corrupt private key file \(KDF parameters\)"),
        ({"name": 7}, r"corrupt private key file \(name or public key\)"),
        ({"pub": "x"}, r"corrupt private key file \(name or public key\)"),
    ],
)
def test_bad_header_fields(sealed: bytes, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(KeyFileError, match=message):
        decode_private(with_header({**header_of(sealed), **changes}), PASS)


@pytest.mark.parametrize("missing", ["name", "pub", "n", "salt", "nonce", "box"])
def test_missing_header_field(sealed: bytes, missing: str) -> None:
    header = {k: v for k, v in header_of(sealed).items() if k != missing}
    with pytest.raises(KeyFileError, match=rf"missing {missing}|name or public key"):
        decode_private(with_header(header), PASS)


def test_unencrypted_seed_checks() -> None:
    header = header_of(clear())
    with pytest.raises(KeyFileError, match="seed does not match its public key"):
        decode_private(with_header({**header, "seed": bytes(32)}), None)
    with pytest.raises(KeyFileError, match=r"corrupt private key file \(seed\)"):
        decode_private(with_header({**header, "seed": SEED[:31]}), None)
    with pytest.raises(KeyFileError, match="missing seed"):
        decode_private(with_header({k: v for k, v in header.items() if k != "seed"}), None)


def test_encode_private_argument_checks() -> None:
    with pytest.raises(ValueError, match="seed must be 32 bytes"):
        encode_private("x", SEED[:31], PASS, salt=SALT, nonce=NONCE, n=FAST_N)
    with pytest.raises(ValueError):
        encode_private("x", SEED, PASS, salt=SALT[:15], nonce=NONCE, n=FAST_N)
    with pytest.raises(ValueError):
        encode_private("x", SEED, PASS, salt=SALT, nonce=NONCE + b"\x00", n=FAST_N)


def test_cost_above_the_old_memory_cap_opens() -> None:
    # Regression: hashlib.scrypt ran with maxmem=256 MiB, so every declared cost above 2^17
    # (allowed up to 2^20) failed with a bare ValueError instead of opening.
    data = encrypted(n=1 << 18)
    assert decode_private(data, PASS).seed == SEED


def test_repr_never_shows_the_seed() -> None:
    key = PrivateKey("jwaneng", SEED)
    for text in (repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"k": key})):
        assert SEED.hex() not in text
        assert repr(SEED) not in text
        assert "seed" not in text
        assert key.kid.hex()[:16] in text and "jwaneng" in text


# --- public key files ------------------------------------------------------------------------

PUB = ed25519.public_key(SEED)


def test_public_round_trip() -> None:
    line = encode_public("jwaneng", PUB)
    assert line == b"kpledger-public-key-v1 jwaneng " + base64.b64encode(PUB) + b"\n"
    assert decode_public(line) == ("jwaneng", PUB)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "expected one line"),
        (b"kpledger-public-key-v1 jwaneng " + base64.b64encode(PUB), "expected one line"),
        (encode_public("jwaneng", PUB) + b"\n", "expected one line"),
        (encode_public("jwaneng", PUB).replace(b"\n", b"\r\n"), "corrupt public key file"),
        (encode_public("two words", PUB), "expected one line"),
        (b"kpledger-public-key-v2 jwaneng " + base64.b64encode(PUB) + b"\n", "expected one line"),
        (b"kpledger-public-key-v1 jwaneng\n", "expected one line"),
        (b"kpledger-public-key-v1  jwaneng " + base64.b64encode(PUB) + b"\n", "expected one line"),
        ("kpledger-public-key-v1 jwänëng AAAA\n".encode(), "not a kpledger public key file"),
        (b"kpledger-public-key-v1 x " + base64.b64encode(PUB)[:-1] + b"\n", "base64"),
        (
            b"kpledger-public-key-v1 x " + base64.b64encode(PUB).replace(b"=", b"*") + b"\n",
            "base64",
        ),
        (encode_public("x", PUB[:31]), "key is not 32 bytes"),
        (encode_public("x", PUB + b"\x00"), "key is not 32 bytes"),
        (encode_public("x", bytes(32)), "unusable public key: A is a small-order point"),
        (encode_public("x", b"\xff" * 32), "unusable public key"),
        (b"x" * (MAX_KEY_FILE + 1), "too large"),
        (clear(), "this is a private key file"),
    ],
)
def test_public_parse_errors(data: bytes, message: str) -> None:
    with pytest.raises(KeyFileError, match=message):
        decode_public(data)


# --- files on disk ---------------------------------------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would leave new files world-readable, to prove the code sets 0600."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_keypair_mode_0600(tmp_path: Path, open_umask: None) -> None:
    priv, pub, key = write_keypair(tmp_path / "keys", "jwaneng", PASS, scrypt_n=FAST_N)
    assert priv == tmp_path / "keys" / "jwaneng.key"
    assert pub == tmp_path / "keys" / "jwaneng.pub"
    assert mode(priv) == 0o600
    assert load_public(pub) == ("jwaneng", key.public)
    asked: list[int] = []

    def source() -> str:
        asked.append(1)
        return PASS

    assert load_private(priv, source) == key
    assert asked == [1]
    assert PASS.encode() not in priv.read_bytes() and key.seed not in priv.read_bytes()


def test_write_keypair_never_overwrites(tmp_path: Path) -> None:
    priv, pub, _ = write_keypair(tmp_path, "a", None)
    before = priv.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        write_keypair(tmp_path, "a", None)
    pub.unlink()
    with pytest.raises(KeyFileError, match="already exists"):
        write_keypair(tmp_path, "a", None)
    assert priv.read_bytes() == before


def test_unencrypted_key_never_asks(tmp_path: Path) -> None:
    priv, _, key = write_keypair(tmp_path, "demo", None)
    assert mode(priv) == 0o600

    def source() -> str:
        raise AssertionError("asked for a passphrase of an unencrypted key")

    assert load_private(priv, source) == key
    assert load_private(priv, None) == key


@pytest.mark.parametrize("bad_mode", [0o644, 0o640, 0o604, 0o660, 0o606, 0o601, 0o610])
def test_group_or_world_bits_refused(tmp_path: Path, bad_mode: int) -> None:
    priv, _, _ = write_keypair(tmp_path, "k", PASS, scrypt_n=FAST_N)
    priv.chmod(bad_mode)

    def source() -> str:
        raise AssertionError("asked for a passphrase before checking the mode")

    with pytest.raises(KeyFileError, match="chmod 600") as info:
        load_private(priv, source)
    assert f"mode {bad_mode:o}" in str(info.value)
    assert str(priv) in str(info.value)


def test_owner_only_modes_accepted(tmp_path: Path) -> None:
    priv, _, key = write_keypair(tmp_path, "k", None)
    for ok in (0o400, 0o600, 0o700):
        priv.chmod(ok)
        assert load_private(priv, None) == key


def test_missing_and_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        load_private(tmp_path / "nope.key", lambda: PASS)
    with pytest.raises(KeyFileError, match="does not exist"):
        load_public(tmp_path / "nope.pub")
    folder = tmp_path / "dir.key"
    folder.mkdir(mode=0o700)
    folder.chmod(0o700)
    with pytest.raises(KeyFileError, match="is a directory"):
        load_private(folder, None)
    with pytest.raises(KeyFileError, match="is a directory"):
        load_public(folder)


def test_wrong_passphrase_from_source(tmp_path: Path) -> None:
    priv, _, _ = write_keypair(tmp_path, "k", PASS, scrypt_n=FAST_N)
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        load_private(priv, lambda: "not it")
    with pytest.raises(KeyFileError, match="a passphrase is needed"):
        load_private(priv, None)


def test_corrupt_key_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    path.write_bytes(b"garbage\n")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="not a kpledger private key file"):
        load_private(path, lambda: PASS)


def test_new_keys_draw_fresh_seeds(tmp_path: Path) -> None:
    """Each new key pair takes its seed from the OS random source: no two are alike."""
    keys = [write_keypair(tmp_path / str(i), "k", PASS, scrypt_n=FAST_N)[2] for i in range(3)]
    assert len({k.seed for k in keys}) == 3 and all(len(k.seed) == 32 for k in keys)
