"""Entry files on disk: what ``--out`` writes and ``submit`` reads (specs/entries.md §6).

The framing is :mod:`ledger.core.wire`'s; this module only opens files. A file is created
exclusively (an existing file is never overwritten) and read frame by frame, so a huge or
hostile file costs at most one frame of memory beyond the entries already parsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ledger.core.disclosure import Opening
from ledger.core.model import SignedEntry
from ledger.core.wire import MAX_FILE_ENTRIES, pack_entries, read_entries
from ledger.errors import StoreError, UsageError

__all__ = ["read_entry_file", "write_entry_file"]


def read_entry_file(
    path: str | Path,
    *,
    max_entries: int = MAX_FILE_ENTRIES,
    openings: list[Opening] | None = None,
) -> list[SignedEntry]:
    """The signed entries of an entry file; its openings (specs/disclosure.md §4) are
    appended to ``openings``, and without that list a file carrying any is refused.

    Raises:
        UsageError: the file cannot be read.
        EncodingError, LimitError: the file is truncated, malformed or too large.
    """
    try:
        with open(path, "rb") as fh:
            return read_entries(
                fh.read, source=str(path), max_entries=max_entries, openings=openings
            )
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


def write_entry_file(
    path: str | Path, entries: Sequence[SignedEntry], openings: Sequence[Opening] = ()
) -> None:
    """Write ``entries`` and the ``openings`` of their commitments to a new file.

    Raises:
        UsageError: the file exists (kpledger never overwrites one).
        StoreError: the file cannot be written.
    """
    data = pack_entries(entries, openings)
    try:
        with open(path, "xb") as fh:
            fh.write(data)
    except FileExistsError:
        raise UsageError(f"{path} exists; kpledger will not overwrite it") from None
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror}") from exc
