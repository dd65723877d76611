"""The trust file: the operator key a participant pinned for each node URL (specs/node.md §3.1).

One line per node, ``URL VKEY`` (the URL without a trailing slash, the operator's C2SP
verifier key), ``#`` comments and blank lines ignored. ``kpledger trust add`` writes it
after the user confirmed the key; every remote command then reads the pin of its
``--ledger`` URL from it. The file is written atomically with mode 0600 (its folder
0700 when it is created), and a file that group or others may write is refused: whoever
can edit it chooses which node a participant believes.

What it deliberately does not do: decide where the file is (the CLI reads
``KPLEDGER_TRUST_FILE`` or the XDG config folder: the library never reads the
environment), contact a node, or check the keys beyond their form (``ledger.core.note``
parses them when they are used).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import urlsplit

from ledger.core.note import parse_vkey
from ledger.errors import KeyFileError, ProofError, UsageError
from ledger.storage.files import write_atomic
from ledger.storage.keyfile import make_private_dir

__all__ = ["MAX_TRUST_FILE", "add_pin", "normalise_url", "read_pins", "remove_pin"]

#: The largest trust file read.
MAX_TRUST_FILE = 1 << 20

_HEADER = (
    "# kpledger trust file: the operator key pinned for each node URL (kpledger trust add).\n"
    "# One line per node: URL VKEY. Whoever can edit this file chooses which node you trust.\n"
)


def normalise_url(url: str) -> str:
    """The form of a node URL that pins are kept under: scheme and host in lower case,
    no trailing slash.

    Raises:
        UsageError: not an http(s) URL with a host.
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise UsageError(f"not an http(s) node URL: {url!r}")
    if parts.query or parts.fragment or any(c.isspace() for c in url.strip()):
        raise UsageError(f"a node URL has no query, fragment or spaces: {url!r}")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def read_pins(path: str | Path) -> dict[str, str]:
    """``URL -> vkey`` of every pin in the trust file (empty if there is no file).

    Raises:
        KeyFileError: the file is writable by group or others, unreadable, too large,
            or has a line that is not ``URL VKEY`` with a valid vkey.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise KeyFileError(f"cannot read trust file {path}: {exc.strerror}") from exc
    if stat.S_IMODE(info.st_mode) & 0o022:
        raise KeyFileError(
            f"trust file {path} can be changed by other users (mode "
            f"{stat.S_IMODE(info.st_mode):o}); fix it with: chmod 600 {path}"
        )
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_TRUST_FILE + 1)
    except OSError as exc:
        raise KeyFileError(f"cannot read trust file {path}: {exc.strerror}") from exc
    if len(data) > MAX_TRUST_FILE:
        raise KeyFileError(f"trust file {path} is larger than {MAX_TRUST_FILE} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KeyFileError(f"trust file {path} is not UTF-8 text") from exc
    pins: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        try:
            if len(parts) != 2:
                raise UsageError("expected 'URL VKEY'")
            url = normalise_url(parts[0])
            parse_vkey(parts[1])
        except (UsageError, ProofError) as exc:
            raise KeyFileError(f"trust file {path}, line {number}: {exc.message}") from exc
        pins[url] = parts[1]
    return pins


def _write(path: Path, pins: dict[str, str]) -> None:
    body = _HEADER + "".join(f"{url} {vkey}\n" for url, vkey in sorted(pins.items()))
    try:
        make_private_dir(path.parent)
        write_atomic(path, body.encode(), prefix=".trust-", sync_directory=True)
        os.chmod(path, 0o600)  # mkstemp creates 0600 already; say so whatever the umask
    except OSError as exc:
        raise KeyFileError(f"cannot write trust file {path}: {exc.strerror}") from exc


def add_pin(path: str | Path, url: str, vkey: str) -> bool:
    """Pin ``vkey`` for ``url``; False if exactly that pin was there already.

    Raises:
        KeyFileError: another key is pinned for the URL (remove it first: a pin never
            changes silently), or the file cannot be read or written.
        UsageError: a malformed URL.
        ProofError: a malformed vkey.
    """
    target = Path(path)
    key = normalise_url(url)
    parse_vkey(vkey)
    pins = read_pins(target)
    have = pins.get(key)
    if have == vkey:
        return False
    if have is not None:
        raise KeyFileError(
            f"{key} is pinned to another operator key ({have}) in {target}; if the operator "
            f"really changed it, remove the old pin first: kpledger trust remove {key}"
        )
    pins[key] = vkey
    _write(target, pins)
    return True


def remove_pin(path: str | Path, url: str) -> bool:
    """Remove the pin of ``url``; False if there was none.

    Raises:
        KeyFileError: the file cannot be read or written.
        UsageError: a malformed URL.
    """
    target = Path(path)
    key = normalise_url(url)
    pins = read_pins(target)
    if key not in pins:
        return False
    del pins[key]
    _write(target, pins)
    return True
