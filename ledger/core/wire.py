"""Framing of entries and answers on the wire (specs/node.md §2, specs/entries.md §6).

Three byte framings, each defined once here and used by the CLI, the node, the client and
the mirror alike:

* **entry frames**: ``u32be(len) || envelope`` repeated; the ``--out`` entry files and the
  body of ``POST /api/entries`` (which may also be one bare envelope, see
  :func:`unpack_entries`);
* **C2SP entry bundles**: ``u16be(len) || record`` repeated (tlog-tiles ``tile/entries``);
* **answers**: msgpack values of the node's API (``application/msgpack``).

Pure: bytes (or a ``read(n)`` callable over something the caller opened) in, values out;
no files or sockets. Every limit is checked before the bytes it guards are read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from io import BytesIO
from typing import Any

import msgpack

from ledger.core import disclosure
from ledger.core.disclosure import Opening
from ledger.core.encoding import decode, encode, require_map
from ledger.core.model import MAX_ENTRY_SIZE, MAX_RECORD_SIZE, SignedEntry
from ledger.errors import EncodingError, LimitError, ProofError

__all__ = [
    "MAX_ANSWER",
    "MAX_BATCH",
    "MAX_FILE_ENTRIES",
    "MSGPACK",
    "join_entry_bundle",
    "pack",
    "pack_entries",
    "read_entries",
    "split_entry_bundle",
    "unpack",
    "unpack_entries",
]

#: Media type of msgpack answers (``Accept: application/msgpack``).
MSGPACK = "application/msgpack"
#: Largest msgpack answer a client decodes (a page of records is kept under 1 MiB).
MAX_ANSWER = 64 << 20
#: Most entries in one ``POST /api/entries``.
MAX_BATCH = 1000
#: Most entries in one entry file (``submit`` appends them in one transaction).
MAX_FILE_ENTRIES = 100_000

_PREFIX = 4


# ---------------------------------------------------------------------------
# Entry frames


#: First byte of an opening frame: a msgpack map of one key (an envelope has three).
_OPENING_FRAME = 0x81


def pack_entries(entries: Iterable[SignedEntry], openings: Iterable[Opening] = ()) -> bytes:
    """Entries as ``u32be(len) || envelope`` each: the entry-file format; then, in an entry
    file, one ``u32be(len) || {opening: ...}`` frame per opening (specs/disclosure.md §4)."""
    frames = [e.raw for e in entries]
    frames.extend(encode({"opening": o.to_wire()}) for o in openings)
    return b"".join(len(f).to_bytes(_PREFIX, "big") + f for f in frames)


def read_entries(
    read: Callable[[int], bytes],
    *,
    source: str,
    max_entries: int = MAX_FILE_ENTRIES,
    openings: list[Opening] | None = None,
) -> list[SignedEntry]:
    """Parse entry frames from ``read`` (``file.read``), one frame at a time.

    A huge or hostile input costs at most one frame of memory beyond the entries already
    parsed: each length is checked against the envelope limit before its bytes are read.
    Opening frames are appended to ``openings``, each checked against the commitments of
    the entries read; without that list (what a node reads) an opening is refused: the
    openings stay with the parties and never go to the log.

    Raises:
        EncodingError: a truncated prefix or frame, a malformed envelope or opening, an
            opening that opens no commitment of the entries, or no entry.
        LimitError: a frame over the envelope limit, or more than ``max_entries`` frames.
    """
    out: list[SignedEntry] = []
    pos = 0
    while True:
        prefix = read(_PREFIX)
        if not prefix:
            break
        if len(prefix) < _PREFIX:
            raise EncodingError(f"{source}: truncated length prefix at byte {pos}")
        n = int.from_bytes(prefix, "big")
        if n > MAX_ENTRY_SIZE:
            raise LimitError(
                f"{source}: entry at byte {pos} claims {n} bytes, the limit is {MAX_ENTRY_SIZE}"
            )
        body = read(n)
        if len(body) < n:
            raise EncodingError(f"{source}: truncated entry at byte {pos}")
        if len(out) + (len(openings) if openings is not None else 0) >= max_entries:
            raise LimitError(f"{source}: more than {max_entries} entries")
        try:
            if body[:1] == bytes([_OPENING_FRAME]):
                opening = _opening_frame(body)
                if openings is None:
                    raise EncodingError(
                        "an opening (value and salt of a committed field) is not for the log: "
                        "openings stay with the parties (specs/disclosure.md)"
                    )
                openings.append(opening)
            else:
                out.append(SignedEntry.from_wire(body))
        except EncodingError as exc:
            exc.message = f"{source}: entry at byte {pos}: {exc.message}"
            raise
        pos += _PREFIX + n
    if not out:
        raise EncodingError(f"{source}: no entries")
    if openings:
        try:
            disclosure.check_openings(openings, out)
        except ProofError as exc:
            raise EncodingError(f"{source}: {exc.message}") from exc
    return out


def _opening_frame(body: bytes) -> Opening:
    m = require_map(decode(body), "opening frame")
    if set(m) != {"opening"}:
        raise EncodingError("field opening: missing (a one-key frame is an opening)")
    return Opening.from_wire(m["opening"])


def unpack_entries(data: bytes, *, max_entries: int = MAX_BATCH) -> list[SignedEntry]:
    """Parse a request body: one bare envelope, or entry frames.

    A body whose first byte is 0x00 is framed (a length below 2^24 starts with a zero
    byte); anything else is one envelope (a msgpack map never starts with 0x00).

    Raises:
        EncodingError: empty, truncated or malformed.
        LimitError: an oversized frame, or more than ``max_entries`` entries.
    """
    if not data:
        raise EncodingError("empty request: expected a signed entry")
    if data[0] != 0:
        return [SignedEntry.from_wire(data)]
    return read_entries(BytesIO(data).read, source="request", max_entries=max_entries)


# ---------------------------------------------------------------------------
# C2SP entry bundles (tlog-tiles)


def join_entry_bundle(records: Iterable[bytes]) -> bytes:
    """A ``tile/entries`` body: ``u16be(len) || record`` for each record.

    Raises:
        LimitError: a record longer than 65535 bytes (the format cannot carry it).
    """
    out = bytearray()
    for raw in records:
        if len(raw) > MAX_RECORD_SIZE:
            raise LimitError(f"record of {len(raw)} bytes does not fit an entry bundle")
        out += len(raw).to_bytes(2, "big") + raw
    return bytes(out)


def split_entry_bundle(data: bytes) -> list[bytes]:
    """Split a C2SP entry bundle into its records.

    Raises:
        EncodingError: a truncated length or record.
    """
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise EncodingError(f"entry bundle: truncated length at byte {pos}")
        n = int.from_bytes(data[pos : pos + 2], "big")
        if pos + 2 + n > len(data):
            raise EncodingError(f"entry bundle: truncated entry at byte {pos}")
        out.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return out


# ---------------------------------------------------------------------------
# Answers


def pack(value: Any) -> bytes:
    """msgpack of an answer (bytes as bin; map order kept, so that a remote answer prints
    exactly like a local one). Answers are not signed, so the canonical profile of
    ``ledger.core.encoding`` is not required here.

    Raises:
        EncodingError: the value holds something msgpack cannot carry.
    """
    try:
        packed: bytes = msgpack.packb(value, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise EncodingError(f"cannot encode an answer: {exc}") from exc
    return packed


def unpack(data: bytes) -> Any:
    """Decode a msgpack answer.

    Raises:
        LimitError: larger than MAX_ANSWER.
        EncodingError: not msgpack.
    """
    if len(data) > MAX_ANSWER:
        raise LimitError(f"answer is {len(data)} bytes, the limit is {MAX_ANSWER}")
    try:
        return msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except Exception as exc:  # msgpack raises several undocumented types
        raise EncodingError(f"malformed msgpack answer: {exc}") from exc
