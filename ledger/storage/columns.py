"""The cached columns of the store: readable JSON beside the canonical bytes.

The ``json`` column of ``records`` and ``state`` rows (rendered by the C JSON encoder,
bytes as lowercase hex) and the check that a row's cached columns are those of its record
(R-ST-2). Pure functions; no SQL here.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Sequence
from typing import Any

import msgpack

from ledger.core.model import Record, SignedEntry
from ledger.errors import ChainError, EncodingError

__all__ = [
    "check_row_cache",
    "decode_trusted",
    "entry_json",
    "render_sorted",
    "state_json",
    "stored_blob",
    "stored_int",
    "stored_text",
]


# -- JSON columns ------------------------------------------------------------------------


def _hex_default(value: Any) -> Any:
    """``default`` of the JSON encoders: bytes become lowercase hex, as ``_jsonable`` did."""
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _json_renderer(*, sort_keys: bool) -> Callable[[Any], str]:
    """``json.dumps(value, separators=(",", ":"), sort_keys=..., default=_hex_default)``.

    One C encoder does the walk, converting bytes where it meets them instead of after a
    Python pre-pass. It is built once and keeps no per-call state (no ``markers``), so it
    can be shared by threads. A circular value raises RecursionError, as the ``_jsonable``
    pre-pass of the old rendering did.
    """
    slow = json.JSONEncoder(separators=(",", ":"), sort_keys=sort_keys, default=_hex_default)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the C encoder
        return slow.encode
    fast = make(
        None, _hex_default, json.encoder.encode_basestring_ascii, None, ":", ",",
        sort_keys, False, True,
    )  # fmt: skip

    def render(value: Any) -> str:
        return "".join(fast(value, 0))

    probe = {"b": [b"\x01\xff", 1, None, True], "a": '\u00e9"', "c": {"z": -2, "y": "x"}}
    try:
        same = render(probe) == slow.encode(probe)
    except TypeError:  # pragma: no cover - another C encoder signature
        same = False
    return render if same else slow.encode


render_sorted = _json_renderer(sort_keys=True)
_render_plain = _json_renderer(sort_keys=False)


def state_json(value: Any) -> str:
    """The readable ``json`` column of a state row (keys sorted, bytes as hex)."""
    return render_sorted(value)


def entry_json(entry: SignedEntry) -> str:
    """The ``json`` column of a record: ``json.dumps(entry_to_json(entry))``, compact."""
    body = entry.body
    fields = body.fields
    return _render_plain(
        {
            "id": entry.id.hex(),
            "type": body.type,
            "ledger": body.ledger,
            "signer": body.signer.hex(),
            "time": body.time,
            "fields": fields if type(fields) is dict else dict(fields),
            "sigs": [{"kid": s.kid.hex(), "sig": s.sig.hex()} for s in entry.sigs],
        }
    )


_unpackb = msgpack.unpackb


def decode_trusted(raw: bytes) -> Any:
    """Decode bytes already known canonical (they passed :func:`decode` or came from
    :func:`ledger.encoding.encode`): the value ``decode`` returns, without re-checking."""
    return _unpackb(raw, raw=False, use_list=True, strict_map_key=False)


def check_row_cache(record: Record, entry: SignedEntry, cached: Sequence[Any]) -> None:
    """Compare a row's cached columns with its decoded record.

    Raises:
        ChainError: a cached column differs (R-ST-2).
    """
    expected = (entry.id, record.hash, record.time, entry.type, entry_json(entry))
    if cached == expected:  # the usual case: one C comparison
        return
    stored = bytes(cached[0]) if cached and isinstance(cached[0], (bytes, memoryview)) else None
    if stored is not None and stored != entry.id:
        # Name the id the user knows (the one 'log' and 'show' print), then what it became.
        raise ChainError(
            f"entry {stored.hex()[:16]} was altered: its record's bytes now hash to entry "
            f"{entry.id.hex()[:16]}",
            rule="R-ST-2",
        )
    where = f"entry {entry.id.hex()[:16]}: " if stored is not None else ""
    names = ("id", "hash", "time", "type", "json")
    for name, want, got in zip(names, expected, cached, strict=True):
        if (bytes(got) if isinstance(got, (bytes, memoryview)) else got) != want:
            raise ChainError(f"{where}stored column {name} differs from the record", rule="R-ST-2")


# -- stored values of the expected SQLite type ---------------------------------------------
#
# SQLite is dynamically typed: a damaged or edited file can hold text where kpledger wrote
# a blob, or NULL where it wrote an integer. Readers take their values through these, so
# such a cell is a named error (R-EN-1 for the log itself, R-ST-2 for a derived table)
# instead of a TypeError deep inside a decoder.


def _kind(value: Any) -> str:
    return {str: "text", int: "an integer", float: "a real", type(None): "NULL"}.get(
        type(value), type(value).__name__
    )


def stored_blob(value: Any, what: str, *, log: bool = False) -> bytes:
    """``value`` as bytes if SQLite returned a blob; else R-EN-1 (``log``) or R-ST-2.

    Raises:
        EncodingError: a record (``log``) that is not stored as a blob.
        ChainError: a derived column that is not stored as a blob.
    """
    if type(value) is bytes:
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    message = f"{what} is stored as {_kind(value)}, not as bytes (the file was altered)"
    if log:
        raise EncodingError(message, rule="R-EN-1")
    raise ChainError(message, rule="R-ST-2")


def stored_int(value: Any, what: str) -> int:
    """``value`` if SQLite returned an integer (R-ST-2 otherwise).

    Raises:
        ChainError: the cell is not an integer.
    """
    if type(value) is int:
        return value
    raise ChainError(
        f"{what} is stored as {_kind(value)}, not as an integer (the file was altered)",
        rule="R-ST-2",
    )


def stored_text(value: Any, what: str) -> str:
    """``value`` if SQLite returned text (R-ST-2 otherwise).

    Raises:
        ChainError: the cell is not text.
    """
    if type(value) is str:
        return value
    raise ChainError(
        f"{what} is stored as {_kind(value)}, not as text (the file was altered)", rule="R-ST-2"
    )
