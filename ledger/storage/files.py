"""Atomic file writes, for the files the layers above publish or keep.

:func:`write_atomic` writes a whole file or nothing: the bytes go to a temporary file in
the same directory, are flushed to disk, and the temporary file is renamed over the
target, so that a reader (a static web server, a witness starting again after a crash)
sees the old file or the new one, never part of one.

What it deliberately does not do: decide what the files hold or where they go. Published
tiles (``ledger.net.mirror.publish``) and the witness's state
(:mod:`ledger.storage.witness_state`) call it; SQLite files are ``store.py``'s.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(
    path: str | Path,
    data: bytes,
    *,
    prefix: str = ".tmp-",
    make_parents: bool = False,
    sync_directory: bool = False,
) -> None:
    """Replace ``path`` with ``data`` atomically (temporary file, fsync, rename).

    Args:
        path: The file to write.
        data: Its new contents.
        prefix: Name prefix of the temporary file, which lives beside ``path``.
        make_parents: Create missing parent directories first.
        sync_directory: Also fsync the directory after the rename, so that the rename
            itself survives a power loss.

    Raises:
        OSError: the file could not be written; no temporary file is left behind.
    """
    target = Path(path)
    directory = target.parent
    if make_parents:
        directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sync_directory:
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
