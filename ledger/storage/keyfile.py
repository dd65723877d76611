"""Key files on disk (specs/keys.md §4): create with mode 0600, refuse unsafe ones.

This is the I/O edge of ``ledger.keys``. A passphrase arrives through a callable
so that the CLI decides where it comes from (environment or prompt) and nothing
here ever prints or logs it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from ledger.core import ed25519
from ledger.core.keys import (
    PUBLIC_MAGIC,
    SCRYPT_N,
    PrivateKey,
    decode_private,
    decode_public,
    encode_private,
    encode_public,
    is_encrypted,
)
from ledger.errors import KeyFileError

PassphraseSource = Callable[[], str]


def write_keypair(
    directory: str | Path, name: str, passphrase: str | None, *, scrypt_n: int = SCRYPT_N
) -> tuple[Path, Path, PrivateKey]:
    """Create ``DIR/NAME.key`` (mode 0600) and ``DIR/NAME.pub``.

    Raises:
        KeyFileError: a file of that name exists, or the directory is not writable.
    """
    directory = Path(directory)
    priv_path = directory / f"{name}.key"
    pub_path = directory / f"{name}.pub"
    for p in (priv_path, pub_path):
        if p.exists():
            raise KeyFileError(f"{p} already exists; kpledger never overwrites a key")
    seed = os.urandom(ed25519.SEED_SIZE)  # the OS CSPRNG, as for the salt and nonce
    data = encode_private(
        name, seed, passphrase, salt=os.urandom(16), nonce=os.urandom(12), n=scrypt_n
    )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(priv_path, 0o600)
        key = PrivateKey(name, seed)
        pub_path.write_bytes(encode_public(name, key.public))
    except OSError as exc:
        raise KeyFileError(f"cannot write key files in {directory}: {exc.strerror}") from exc
    return priv_path, pub_path, key


def _read(path: str | Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(1 << 16)
    except FileNotFoundError as exc:
        raise KeyFileError(f"key file {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise KeyFileError(f"{path} is a directory, not a key file") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from exc


def load_private(path: str | Path, passphrase: PassphraseSource | None) -> PrivateKey:
    """Open a private key file, asking ``passphrase()`` only when it is encrypted.

    Raises:
        KeyFileError: missing, corrupt, group/world-readable, or wrong passphrase.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError as exc:
        raise KeyFileError(f"key file {path} does not exist") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from exc
    if stat.S_ISREG(mode) and _read(path).startswith(PUBLIC_MAGIC.encode()):
        # Said first: "chmod 600" would be the wrong advice for a public key.
        raise KeyFileError(
            f"{path} is a public key; give the private key file (NAME.key) that 'key new' "
            "wrote beside it"
        )
    if stat.S_IMODE(mode) & 0o077:
        raise KeyFileError(
            f"private key {path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
            f"fix it with: chmod 600 {path}"
        )
    data = _read(path)
    secret = passphrase() if passphrase is not None and is_encrypted(data) else None
    return decode_private(data, secret)


def load_public(path: str | Path) -> tuple[str, bytes]:
    """Read ``NAME.pub`` and return ``(name, public key)``.

    Raises:
        KeyFileError: missing or corrupt.
    """
    return decode_public(_read(path))
