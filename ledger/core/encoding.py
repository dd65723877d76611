"""Canonical msgpack encoding (specs/encoding.md).

One value has exactly one byte string:

* maps have text keys, sorted by their UTF-8 bytes (shorter first on a common prefix);
* integers use the smallest msgpack form (what msgpack's packer emits);
* text is UTF-8 ``str``, bytes are ``bin``; arrays are ``array``;
* ``nil`` and booleans are allowed; floats, ext types and non-text keys are not.

``decode`` parses and then re-encodes: input whose re-encoding differs from the
input (reordered keys, wider integers, floats, trailing bytes, str8 where fixstr
fits, ...) is rejected. This module does no I/O.
"""

from __future__ import annotations

from typing import Any

import msgpack

from ledger.errors import EncodingError, LimitError

_packb = msgpack.packb

#: Largest encoded object kpledger will parse (specs/limits in specs/encoding.md §5).
MAX_ENCODED_SIZE = 1 << 20
#: Deepest nesting of maps and arrays accepted.
MAX_DEPTH = 16

_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 64) - 1


class _UnusualError(Exception):
    """The value needs the general encoder's walk (:func:`_canon`)."""


_LEAVES = frozenset({str, bytes, int, bool, type(None)})


def _canonical(value: Any, depth: int) -> Any:
    """Fast path of ``encode``: ``value`` with every map in canonical key order, copying
    only what is out of order.

    Accepts only the exact plain types (dict with text keys, list, tuple, str, bytes, int,
    bool, None) nested well inside ``MAX_DEPTH``; raises :class:`_UnusualError` for anything
    else, which the general walk then accepts or rejects. Text keys sort by code point,
    which is the order of their UTF-8 bytes (a lone surrogate makes the packer fail, and
    the general walk decides). Integers out of range make the packer fail likewise.
    """
    t = type(value)
    if t in _LEAVES:
        return value
    is_map = t is dict
    if not (is_map or t is list or t is tuple) or depth >= MAX_DEPTH:
        raise _UnusualError
    out: Any = None  # a copy, made only when a child changes
    for key, item in value.items() if is_map else enumerate(value):
        if is_map and type(key) is not str:
            raise _UnusualError
        ti = type(item)
        if ti in _LEAVES:
            continue
        if ti is not dict and ti is not list and ti is not tuple:
            raise _UnusualError
        new = _canonical(item, depth + 1)
        if new is not item:
            if out is None:
                out = dict(value) if is_map else list(value)
            out[key] = new
    result = value if out is None else out
    if is_map and len(result) > 1:
        keys = list(result)
        ordered = sorted(keys)
        if keys != ordered:
            result = {k: result[k] for k in ordered}
    return result


def _canon(value: Any, depth: int) -> Any:
    """Return ``value`` with maps sorted into canonical key order; reject what is not allowed."""
    if depth > MAX_DEPTH:
        raise EncodingError(f"nesting deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, str, bytes)):
        return value
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise EncodingError(f"integer {value} outside the 64-bit range")
        return value
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise EncodingError(f"map key {key!r} is not text")
            items.append((key.encode("utf-8"), key, _canon(item, depth + 1)))
        items.sort(key=lambda kv: kv[0])
        return {key: item for _, key, item in items}
    if isinstance(value, (list, tuple)):
        return [_canon(item, depth + 1) for item in value]
    if isinstance(value, float):
        raise EncodingError("floats are not allowed in kpledger data")
    raise EncodingError(f"type {type(value).__name__} cannot be encoded")


def encode(value: Any) -> bytes:
    """Encode ``value`` canonically.

    Raises:
        EncodingError: the value holds a float, a non-text map key, an unsupported type,
            an out-of-range integer, or nests too deeply.
    """
    try:
        fast: bytes = _packb(_canonical(value, 0), use_bin_type=True)
    except (_UnusualError, ValueError, OverflowError, TypeError):
        return encode_general(value)
    return fast


def encode_general(value: Any) -> bytes:
    """``encode`` without its fast path: the reference the fast path must agree with."""
    try:
        packed: bytes = _packb(_canon(value, 0), use_bin_type=True)
    except (ValueError, OverflowError, TypeError) as exc:  # pragma: no cover - defensive
        raise EncodingError(f"cannot encode: {exc}") from exc
    return packed


def decode(data: bytes | bytearray | memoryview, *, max_size: int = MAX_ENCODED_SIZE) -> Any:
    """Decode canonical bytes, rejecting every other encoding of the same value.

    Raises:
        LimitError: ``data`` is longer than ``max_size`` (checked before parsing).
        EncodingError: malformed, trailing bytes, floats, ext types, non-text keys,
            or any input that does not re-encode to the identical bytes.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("decode() takes bytes")
    data = bytes(data)  # before len(): a memoryview's len() counts items, not bytes
    if len(data) > max_size:
        raise LimitError(f"encoded object is {len(data)} bytes, the limit is {max_size}")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=False,
            # No max_buffer_size: unpackb() does not take it (Unpacker does). The size is
            # checked above, and unpackb bounds every str/bin/array/map length by len(data).
        )
    except msgpack.ExtraData as exc:
        raise EncodingError("trailing bytes after the encoded object") from exc
    except (ValueError, msgpack.UnpackException, TypeError, RecursionError) as exc:
        # ValueError covers invalid UTF-8, truncated input and msgpack's own limits.
        raise EncodingError(f"malformed msgpack: {str(exc) or type(exc).__name__}") from exc
    except Exception as exc:  # msgpack raises a few undocumented exception types
        raise EncodingError(f"malformed msgpack: {str(exc) or type(exc).__name__}") from exc
    # Same verdicts as ``encode(value) != data``, faster: check the types and the key
    # order in one walk over the containers, then let msgpack's C packer re-encode.
    _check_decoded(value, 0)
    try:
        again = msgpack.packb(value, use_bin_type=True)
    except (ValueError, OverflowError, TypeError) as exc:  # pragma: no cover - checked above
        raise EncodingError(f"cannot re-encode: {exc}") from exc
    if again != data:
        raise EncodingError(_NOT_CANONICAL)
    return value


_NOT_CANONICAL = "not the canonical encoding (key order, integer width or form)"
_SCALARS = frozenset({str, bytes, int, bool, type(None)})


def _check_decoded(value: Any, depth: int) -> None:
    """Reject what ``encode`` would refuse, and keys out of canonical order.

    Text keys sort by code point, which is the order of their UTF-8 bytes.
    """
    t = type(value)
    if depth > MAX_DEPTH:
        raise EncodingError(f"nesting deeper than {MAX_DEPTH} levels")
    if t is dict:
        keys = list(value)
        for key in keys:
            if type(key) is not str:
                raise EncodingError(f"map key {key!r} is not text")
        if len(keys) > 1 and keys != sorted(keys):
            raise EncodingError(_NOT_CANONICAL)
        items: Any = value.values()
    elif t is list:
        items = value
    elif t in _SCALARS:
        return
    elif t is float:
        raise EncodingError("floats are not allowed in kpledger data")
    elif isinstance(value, tuple):  # msgpack's ExtType: an ext form never re-encodes equal
        raise EncodingError(_NOT_CANONICAL)
    else:
        raise EncodingError(f"type {t.__name__} cannot be encoded")
    for item in items:
        if depth == MAX_DEPTH:  # every item is one level too deep, as ``encode`` says
            raise EncodingError(f"nesting deeper than {MAX_DEPTH} levels")
        if type(item) in _SCALARS:
            continue
        _check_decoded(item, depth + 1)


def require_map(value: Any, what: str) -> dict[str, Any]:
    """Return ``value`` as a map or raise EncodingError naming ``what``."""
    if not isinstance(value, dict):
        raise EncodingError(f"{what} must be a map, found {type(value).__name__}")
    return value
