"""Key files on disk (specs/keys.md §3-§5): create with fixed modes, refuse unsafe ones.

This is the I/O edge of ``ledger.keys``: private keys are created 0600, public keys 0644
and new key folders 0700 whatever the umask; a private key or passphrase file that group
or others can read is refused. A passphrase arrives through a callable so that the CLI
decides where it comes from (a file, a file descriptor, the environment or a prompt;
the first two are read here) and nothing here ever prints or logs it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

from ledger.core import ed25519
from ledger.core.keys import (
    PRIVATE_MAGIC,
    PUBLIC_MAGIC,
    SCRYPT_N,
    PrivateKey,
    decode_private,
    decode_public,
    encode_private,
    encode_public,
    is_encrypted,
    passphrase_weakness,
    private_public_part,
)
from ledger.errors import KeyFileError

PassphraseSource = Callable[[], str]


def make_private_dir(directory: Path) -> None:
    """Create ``directory`` and any missing parents with mode 0700, whatever the umask.

    Folders that exist already are left as they are.

    Raises:
        OSError: a folder cannot be created.
    """
    missing: list[Path] = []
    here = directory
    while not here.exists():
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs, left alone
        os.chmod(folder, 0o700)  # the umask may have taken bits away, never added any


def write_new_file(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` (never overwriting) with exactly ``mode``, write, fsync.

    The mode is set on the open descriptor before any byte is written, so neither a
    permissive umask (000: a world-readable file) nor a restrictive one (077: an
    unreadable ``.pub``) changes it.

    Raises:
        FileExistsError: ``path`` exists.
        OSError: it cannot be written.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        if fd >= 0:
            os.close(fd)
        raise


def write_keypair(
    directory: str | Path,
    name: str,
    passphrase: str | None,
    *,
    scrypt_n: int = SCRYPT_N,
    allow_weak: bool = False,
) -> tuple[Path, Path, PrivateKey]:
    """Create ``DIR/NAME.key`` (mode 0600) and ``DIR/NAME.pub`` (mode 0644); a missing
    ``DIR`` is created with mode 0700. Modes do not depend on the umask.

    Raises:
        KeyFileError: a file of that name exists, the directory is not writable, or the
            passphrase is too weak (:func:`ledger.core.keys.passphrase_weakness`) and
            ``allow_weak`` is not set.
    """
    if passphrase is not None and not allow_weak:
        weakness = passphrase_weakness(passphrase)
        if weakness is not None:
            raise KeyFileError(
                f"the passphrase is too weak: {weakness} (or pass --weak-passphrase to "
                "keep it anyway)"
            )
    key = PrivateKey(name, os.urandom(ed25519.SEED_SIZE))  # the OS CSPRNG
    priv_path, pub_path = write_key(directory, key, passphrase, scrypt_n=scrypt_n)
    return priv_path, pub_path, key


def write_key(
    directory: str | Path, key: PrivateKey, passphrase: str | None, *, scrypt_n: int = SCRYPT_N
) -> tuple[Path, Path]:
    """Write ``key`` as ``DIR/NAME.key`` (mode 0600, sealed with ``passphrase`` unless it
    is None) and ``DIR/NAME.pub`` (mode 0644); a missing ``DIR`` is created with mode 0700.

    Raises:
        KeyFileError: a file of that name exists, or the directory is not writable.
    """
    name = key.name
    directory = Path(directory)
    priv_path = directory / f"{name}.key"
    pub_path = directory / f"{name}.pub"
    for p in (priv_path, pub_path):
        if p.exists():
            raise KeyFileError(f"{p} already exists; kpledger never overwrites a key")
    data = encode_private(
        name, key.seed, passphrase, salt=os.urandom(16), nonce=os.urandom(12), n=scrypt_n
    )
    try:
        make_private_dir(directory)
        write_new_file(priv_path, data, 0o600)
        write_new_file(pub_path, encode_public(name, key.public), 0o644)
    except FileExistsError as exc:
        raise KeyFileError(
            f"{exc.filename} already exists; kpledger never overwrites a key"
        ) from exc
    except OSError as exc:
        raise KeyFileError(f"cannot write key files in {directory}: {exc.strerror}") from exc
    return priv_path, pub_path


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


def _check_private_mode(path: str | Path) -> None:
    """Refuse a private key file that group or others may read (specs/keys.md §3).

    Raises:
        KeyFileError: such a file, or one that cannot be found or read.
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


def load_private(path: str | Path, passphrase: PassphraseSource | None) -> PrivateKey:
    """Open a private key file, asking ``passphrase()`` only when it is encrypted.

    Raises:
        KeyFileError: missing, corrupt, group/world-readable, or wrong passphrase.
    """
    _check_private_mode(path)
    data = _read(path)
    secret = passphrase() if passphrase is not None and is_encrypted(data) else None
    return decode_private(data, secret)


def load_public(path: str | Path) -> tuple[str, bytes]:
    """Read ``NAME.pub`` and return ``(name, public key)``.

    Raises:
        KeyFileError: missing or corrupt.
    """
    return decode_public(_read(path))


def load_public_part(path: str | Path) -> tuple[str, bytes]:
    """``(name, public key)`` of a public key file or of a private one, without a
    passphrase (the public part of a private key file is stored in clear, specs/keys.md
    §2.1; ``key show`` reads it).

    Raises:
        KeyFileError: missing, corrupt, or neither kind of key file.
    """
    data = _read(path)
    if data.startswith(PRIVATE_MAGIC):
        _check_private_mode(path)  # an exposed private key is named even when only shown
        return private_public_part(data)
    return decode_public(data)


#: The largest passphrase file read (a passphrase is one short line).
MAX_PASSPHRASE_FILE = 4096


def passphrase_from_bytes(data: bytes, source: str) -> str:
    """The passphrase held by ``data``: its first line, without the line end.

    Raises:
        KeyFileError: empty, too long, or not UTF-8 (named by ``source``, never shown).
    """
    if len(data) > MAX_PASSPHRASE_FILE:
        raise KeyFileError(f"{source} holds more than {MAX_PASSPHRASE_FILE} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KeyFileError(f"{source} is not UTF-8 text") from exc
    line = text.split("\n", 1)[0].removesuffix("\r")
    if not line:
        raise KeyFileError(f"{source} holds no passphrase (its first line is empty)")
    return line


def read_passphrase_file(path: str | Path) -> str:
    """The passphrase in the file ``path`` (its first line), for services.

    Like a private key file, the file must not be readable by group or others: it is
    refused before its contents are read (specs/keys.md §5).

    Raises:
        KeyFileError: missing, unreadable, group/world-readable, empty or not UTF-8.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise KeyFileError(f"cannot read passphrase file {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(mode) and not stat.S_ISFIFO(mode) and not stat.S_ISCHR(mode):
        raise KeyFileError(f"passphrase file {path} is not a file")
    if stat.S_ISREG(mode) and stat.S_IMODE(mode) & 0o077:
        raise KeyFileError(
            f"passphrase file {path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
            f"fix it with: chmod 600 {path}"
        )
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_PASSPHRASE_FILE + 1)
    except OSError as exc:
        raise KeyFileError(f"cannot read passphrase file {path}: {exc.strerror}") from exc
    return passphrase_from_bytes(data, f"passphrase file {path}")


def read_passphrase_fd(fd: int) -> str:
    """The passphrase read from the open file descriptor ``fd`` (up to its end or 4 KiB;
    its first line), for services handing it over a pipe. The descriptor is closed.

    Raises:
        KeyFileError: the descriptor cannot be read, or holds no passphrase.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= MAX_PASSPHRASE_FILE:
            chunk = os.read(fd, MAX_PASSPHRASE_FILE + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if b"\n" in chunk:
                break
    except OSError as exc:
        raise KeyFileError(
            f"cannot read a passphrase from file descriptor {fd}: {exc.strerror}"
        ) from exc
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    return passphrase_from_bytes(b"".join(chunks), f"file descriptor {fd}")
