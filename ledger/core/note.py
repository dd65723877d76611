"""C2SP signed notes, verifier keys, tlog checkpoints and Ed25519 cosignatures.

Implements ``specs/checkpoint.md``: the signed-note format (c2sp.org/signed-note), the
vkey encoding of verifier keys, the checkpoint body (c2sp.org/tlog-checkpoint) and
``cosignature/v1`` witness cosignatures (c2sp.org/tlog-cosignature, type 0x04). Every
signature is made and checked by ``ledger.ed25519``, so notes follow the ledger's one
strict Ed25519 rule (specs/signatures.md).

Pure: strings and bytes in, values out; no files, clock or network. Parsers accept
``str`` or ``bytes`` and raise only :class:`~ledger.errors.LedgerError` subclasses
(``ProofError`` for notes and checkpoints, ``KeyFileError`` for vkeys); ``ValueError``
means a programmer passed something that cannot be signed. It does not fetch
checkpoints, keep witness state or check consistency proofs (see ``ledger.merkle``),
and it supports only the Ed25519 signature types 0x01 and 0x04; other signature lines
are carried along and ignored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.core import ed25519, statemap
from ledger.errors import KeyFileError, ProofError, SignatureError

__all__ = [
    "MAX_NOTE_SIZE",
    "MAX_SIGNATURES",
    "SIG_TYPE_COSIGNATURE_V1",
    "SIG_TYPE_ED25519",
    "Checkpoint",
    "Note",
    "NoteSignature",
    "Verifier",
    "add_signature",
    "cosign",
    "format_checkpoint",
    "format_note",
    "format_vkey",
    "key_id",
    "kpledger_checkpoint",
    "map_root",
    "open_checkpoint",
    "parse_checkpoint",
    "parse_note",
    "parse_vkey",
    "sign_checkpoint",
    "sign_note",
    "verify_cosignatures",
    "verify_note",
]

#: Signature type of a plain Ed25519 note signature (signed-note; spec §2.3).
SIG_TYPE_ED25519 = 0x01
#: Signature type of an Ed25519 ``cosignature/v1`` (tlog-cosignature; spec §5).
SIG_TYPE_COSIGNATURE_V1 = 0x04
_SIG_TYPES = (SIG_TYPE_ED25519, SIG_TYPE_COSIGNATURE_V1)

#: Largest note accepted, in UTF-8 bytes; checked before anything else (spec §2.5).
MAX_NOTE_SIZE = 1 << 20
#: Most signature lines accepted in one note (spec §2.5; go note uses the same cap).
MAX_SIGNATURES = 100
#: Largest tree size and cosignature timestamp: 2^63 - 1 (spec §4.1, §5.1).
MAX_INT63 = (1 << 63) - 1

_SIG_PREFIX = "\u2014 "  # em dash, space (spec §2.1)
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")
# Unicode White_Space (UCD PropList.txt); a key name may contain none of them (spec §2.2).
_WHITE_SPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_DECIMAL = re.compile("0|[1-9][0-9]{0,18}")
_KEY_ID_HEX = re.compile("[0-9a-f]{8}")
_COSIGNATURE_SIZE = 8 + ed25519.SIGNATURE_SIZE
_MAX_VKEY_SIZE = 1024


# --- keys (spec §3) -----------------------------------------------------------------


def key_id(name: str, sig_type: int, public: bytes) -> int:
    """Return the key ID: ``SHA-256(name || 0x0A || sig_type || public)[:4]``, big-endian.

    Raises:
        ValueError: if ``sig_type`` is not a byte value or ``name`` is not encodable.
    """
    if not 0 <= sig_type <= 0xFF:
        raise ValueError(f"signature type must be a byte, got {sig_type}")
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public).digest()
    return int.from_bytes(digest[:4], "big")


def _is_valid_name(name: str) -> bool:
    # Spec §2.2: non-empty, no Unicode white space, no '+'. Control characters are
    # excluded from whole notes by §2.1, and from names given to us by this check.
    return (
        name != ""
        and "+" not in name
        and _WHITE_SPACE.isdisjoint(name)
        and _CONTROL.search(name) is None
    )


@dataclass(frozen=True)
class Verifier:
    """A named Ed25519 public key that can check note signatures or cosignatures.

    ``sig_type`` is 0x01 for note (and checkpoint) signatures, 0x04 for
    ``cosignature/v1`` witness cosignatures; the key ID depends on it.
    """

    name: str
    key_id: int
    public: bytes
    sig_type: int = SIG_TYPE_ED25519

    def __post_init__(self) -> None:
        if self.sig_type not in _SIG_TYPES:
            raise ValueError(f"unsupported signature type 0x{self.sig_type:02x}")
        if not _is_valid_name(self.name):
            raise ValueError(f"invalid key name {self.name!r}")
        if len(self.public) != ed25519.PUBLIC_KEY_SIZE:
            raise ValueError(f"public key must be 32 bytes, got {len(self.public)}")
        if self.key_id != key_id(self.name, self.sig_type, self.public):
            raise ValueError(f"key ID {self.key_id:08x} does not match the key of {self.name}")

    @classmethod
    def for_ed25519(cls, name: str, public: bytes) -> Verifier:
        """Return the type-0x01 verifier of a note or checkpoint signing key.

        Raises:
            ValueError: if the name or key is malformed.
        """
        return cls(name, key_id(name, SIG_TYPE_ED25519, public), public, SIG_TYPE_ED25519)

    @classmethod
    def for_cosigner(cls, name: str, public: bytes) -> Verifier:
        """Return the type-0x04 verifier of a ``cosignature/v1`` witness key.

        Raises:
            ValueError: if the name or key is malformed.
        """
        return cls(
            name, key_id(name, SIG_TYPE_COSIGNATURE_V1, public), public, SIG_TYPE_COSIGNATURE_V1
        )

    def vkey(self) -> str:
        """Return the vkey string ``name+hex8(key ID)+b64(type || key)`` (spec §3.2)."""
        b64 = base64.b64encode(bytes([self.sig_type]) + self.public).decode()
        return f"{self.name}+{self.key_id:08x}+{b64}"


def format_vkey(name: str, public: bytes, *, sig_type: int = SIG_TYPE_ED25519) -> str:
    """Return the vkey of an Ed25519 key (spec §3.2).

    Raises:
        ValueError: if the name, key or type is malformed.
    """
    return Verifier(name, key_id(name, sig_type, public), public, sig_type).vkey()


def parse_vkey(vkey: str) -> Verifier:
    """Parse a vkey, recomputing and checking its key ID (spec §3.2).

    Raises:
        KeyFileError: if the vkey is malformed, its type is not 0x01 or 0x04, the key
            is not a valid Ed25519 public key (specs/signatures.md §3.1) or the key ID
            does not match.
    """
    if not isinstance(vkey, str) or len(vkey) > _MAX_VKEY_SIZE:
        raise KeyFileError(f"a vkey must be text of at most {_MAX_VKEY_SIZE} characters")
    try:
        vkey.encode("utf-8")
    except UnicodeEncodeError:
        raise KeyFileError("a vkey must be valid UTF-8") from None
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise KeyFileError("malformed vkey: expected name+keyid+key")
    name, hex_id, b64 = parts
    if not _is_valid_name(name):
        raise KeyFileError(f"malformed vkey: invalid key name {name!r}")
    if _KEY_ID_HEX.fullmatch(hex_id) is None:
        raise KeyFileError("malformed vkey: key ID must be 8 lowercase hex digits")
    raw = _b64decode(b64)
    if raw is None or len(raw) < 1:
        raise KeyFileError("malformed vkey: key is not canonical base64")
    sig_type, public = raw[0], raw[1:]
    if sig_type not in _SIG_TYPES:
        raise KeyFileError(f"unsupported vkey signature type 0x{sig_type:02x}")
    if len(public) != ed25519.PUBLIC_KEY_SIZE:
        raise KeyFileError(f"vkey Ed25519 key must be 32 bytes, got {len(public)}")
    try:
        ed25519.check_public_key(public)
    except SignatureError as exc:
        raise KeyFileError(f"vkey of {name} holds an unusable key: {exc}") from exc
    expected = key_id(name, sig_type, public)
    if int(hex_id, 16) != expected:
        raise KeyFileError(f"vkey key ID {hex_id} does not match its key (expected {expected:08x})")
    return Verifier(name, expected, public, sig_type)


def _b64decode(text: str) -> bytes | None:
    """Strict standard base64 (RFC 4648 §4): padded, and re-encoding gives ``text``."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if base64.b64encode(raw).decode() != text:
        return None
    return raw


# --- signed notes (spec §2) ---------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes after the key ID."""

    name: str
    key_id: int
    sig: bytes

    def line(self) -> str:
        """Return the signature line, ``"— name b64(keyID || sig)\\n"`` (spec §2.1)."""
        b64 = base64.b64encode(self.key_id.to_bytes(4, "big") + self.sig).decode()
        return f"{_SIG_PREFIX}{self.name} {b64}\n"


@dataclass(frozen=True)
class Note:
    """A parsed signed note: its text (ending in a newline) and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...]


def format_note(note: Note) -> str:
    """Return the wire form of a note: ``text || "\\n" || siglines`` (spec §2.1)."""
    return note.text + "\n" + "".join(s.line() for s in note.signatures)


def _as_text(msg: str | bytes, what: str) -> str:
    """Decode and size-check a note or note text (spec §2.1, §2.5).

    Raises:
        ProofError: if it is too large, not UTF-8 or contains control characters.
    """
    if not isinstance(msg, str | bytes):
        raise ProofError(f"{what} must be text or bytes")
    if len(msg) > MAX_NOTE_SIZE:
        raise ProofError(f"{what} is larger than {MAX_NOTE_SIZE} bytes")
    if isinstance(msg, bytes):
        try:
            text = msg.decode("utf-8")
        except UnicodeDecodeError:
            raise ProofError(f"{what} is not valid UTF-8") from None
    else:
        text = msg
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise ProofError(f"{what} is not valid UTF-8") from None
        if size > MAX_NOTE_SIZE:
            raise ProofError(f"{what} is larger than {MAX_NOTE_SIZE} bytes")
    bad = _CONTROL.search(text)
    if bad is not None:
        raise ProofError(f"{what} contains control character U+{ord(bad.group()):04X}")
    return text


def parse_note(msg: str | bytes) -> Note:
    """Parse a signed note without verifying it (spec §2).

    Raises:
        ProofError: if the note is too large, not UTF-8, contains a control character
            other than newline, has no signature block, or has a malformed or more than
            :data:`MAX_SIGNATURES` signature lines.
    """
    text = _as_text(msg, "note")
    split = text.rfind("\n\n")
    if split < 0:
        raise ProofError("malformed note: no blank line before the signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block.endswith("\n"):
        raise ProofError("malformed note: the signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise ProofError(f"note has {len(lines)} signatures, the limit is {MAX_SIGNATURES}")
    return Note(body, tuple(_parse_sigline(line) for line in lines))


def _parse_sigline(line: str) -> NoteSignature:
    """Parse one signature line without its newline (spec §2.1).

    Raises:
        ProofError: if it is malformed.
    """
    if not line.startswith(_SIG_PREFIX):
        raise ProofError("malformed note: a signature line must start with an em dash and space")
    name, space, b64 = line[len(_SIG_PREFIX) :].partition(" ")
    if not space or not _is_valid_name(name):
        raise ProofError(f"malformed note signature: invalid key name {name!r}")
    raw = _b64decode(b64)
    if raw is None or len(raw) < 5:
        raise ProofError(f"malformed note signature by {name}: bad base64 or too short")
    return NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def _check_text(text: str) -> None:
    """Require a text that can be signed as a note (spec §2.1).

    Raises:
        ValueError: if it does not end in a newline or cannot appear in a note.
    """
    if not text.endswith("\n"):
        raise ValueError("note text must end with a newline")
    try:
        _as_text(text, "note text")
    except ProofError as exc:
        raise ValueError(exc.message) from None


def _sign_line(name: str, sig_type: int, seed: bytes, message: bytes, prefix: bytes) -> str:
    if not _is_valid_name(name):
        raise ValueError(f"invalid key name {name!r}")
    kid = key_id(name, sig_type, ed25519.public_key(seed))
    return NoteSignature(name, kid, prefix + ed25519.sign(seed, message)).line()


def sign_note(text: str, name: str, seed: bytes) -> str:
    """Sign ``text`` with an Ed25519 key and return the signed note (spec §2.3).

    Args:
        text: the note text; it must end with a newline.
        name: the key name.
        seed: the 32-byte Ed25519 seed.

    Returns:
        ``text + "\\n" + sigline``.

    Raises:
        ValueError: if the text, name or seed cannot be used.
    """
    _check_text(text)
    return text + "\n" + _sign_line(name, SIG_TYPE_ED25519, seed, text.encode(), b"")


def add_signature(note: str, sigline: str) -> str:
    """Append one more signature line (for example a cosignature) to a signed note.

    A line identical to one already present is not added twice.

    Raises:
        ProofError: if the note or the line is malformed, or the note would then have
            more than :data:`MAX_SIGNATURES` signatures.
    """
    parsed = parse_note(note)
    if not sigline.endswith("\n") or "\n" in sigline[:-1]:
        raise ProofError("a signature line must be one line ending with a newline")
    new = _parse_sigline(sigline[:-1])
    if new in parsed.signatures:
        return format_note(parsed)
    if len(parsed.signatures) >= MAX_SIGNATURES:
        raise ProofError(f"note already has {MAX_SIGNATURES} signatures")
    return format_note(Note(parsed.text, (*parsed.signatures, new)))


def _as_note(msg: str | bytes | Note) -> Note:
    return msg if isinstance(msg, Note) else parse_note(msg)


def verify_note(msg: str | bytes | Note, verifiers: Sequence[Verifier]) -> Note:
    """Parse a note and verify its signatures by known keys (spec §2.4).

    A signature is by a known key when its (name, key ID) pair is a verifier's. Every
    such signature must verify and at least one must exist; the others are ignored (and
    kept in the returned note, for :func:`verify_cosignatures`).

    Raises:
        ProofError: if the note is malformed, a known signature does not verify, no
            known key signed it, or a verifier is not of type 0x01 (a vkey given by a
            user may be a cosigner key).
    """
    known: dict[tuple[str, int], Verifier] = {}
    for v in verifiers:
        if v.sig_type != SIG_TYPE_ED25519:
            raise ProofError(
                f"key {v.name} is a cosigner key (type 0x{v.sig_type:02x}); "
                "a log or note-signing key (type 0x01) is needed"
            )
        known[(v.name, v.key_id)] = v
    note = _as_note(msg)
    message = note.text.encode()
    verified = 0
    for sig in note.signatures:
        signer = known.get((sig.name, sig.key_id))
        if signer is None:
            continue
        try:
            ed25519.verify(signer.public, message, sig.sig)
        except SignatureError as exc:
            raise ProofError(f"note signature by {sig.name} is invalid: {exc}") from exc
        verified += 1
    if verified == 0:
        names = ", ".join(sorted({v.name for v in verifiers})) or "no keys given"
        raise ProofError(f"note is not signed by a known key ({names})")
    return note


# --- checkpoints (spec §4) ------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A tlog checkpoint body: origin, tree size, RFC 6962 root and extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def format_checkpoint(cp: Checkpoint) -> str:
    """Return the checkpoint body text (spec §4.1).

    Raises:
        ValueError: if a field cannot be written (empty origin or line with a newline or
            control character, size out of range, root not 32 bytes, empty extension).
    """
    lines = [cp.origin, *cp.extensions]
    if any(line == "" or "\n" in line or _CONTROL.search(line) for line in lines):
        raise ValueError("checkpoint origin and extension lines must be non-empty single lines")
    if not 0 <= cp.size <= MAX_INT63:
        raise ValueError(f"checkpoint size out of range: {cp.size}")
    if len(cp.root) != 32:
        raise ValueError(f"checkpoint root must be 32 bytes, got {len(cp.root)}")
    root = base64.b64encode(cp.root).decode()
    return "".join(f"{line}\n" for line in (cp.origin, str(cp.size), root, *cp.extensions))


def _parse_decimal(text: str, what: str) -> int:
    """ASCII decimal, no sign or leading zeros, at most 2^63 - 1 (spec §4.1).

    Raises:
        ProofError: otherwise.
    """
    if _DECIMAL.fullmatch(text) is None:
        raise ProofError(f"{what} {text[:24]!r} is not a decimal without leading zeros")
    value = int(text)
    if value > MAX_INT63:
        raise ProofError(f"{what} {value} is larger than 2^63 - 1")
    return value


def parse_checkpoint(text: str | bytes) -> Checkpoint:
    """Parse a checkpoint body (the text of its note; spec §4.1).

    Raises:
        ProofError: if the body is not origin, size, root and optional non-empty
            extension lines, each ending with a newline, with a decimal size without
            leading zeros and a root of exactly 32 bytes in canonical base64.
    """
    body = _as_text(text, "checkpoint")
    if not body.endswith("\n"):
        raise ProofError("malformed checkpoint: it must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise ProofError("malformed checkpoint: expected origin, size and root lines")
    origin, size_line, root_line, *extensions = lines
    if origin == "":
        raise ProofError("malformed checkpoint: empty origin")
    size = _parse_decimal(size_line, "checkpoint size")
    root = _b64decode(root_line) if len(root_line) == 44 else None
    if root is None or len(root) != 32:
        raise ProofError("malformed checkpoint: root must be 32 bytes in base64 (44 characters)")
    if any(line == "" for line in extensions):
        raise ProofError("malformed checkpoint: empty extension line")
    return Checkpoint(origin, size, root, tuple(extensions))


def sign_checkpoint(cp: Checkpoint, name: str, seed: bytes) -> str:
    """Format and sign a checkpoint; returns the signed note (spec §4.2).

    Raises:
        ValueError: if the checkpoint cannot be formatted or the key cannot sign.
    """
    return sign_note(format_checkpoint(cp), name, seed)


def open_checkpoint(note_text: str | bytes, verifier: Verifier) -> tuple[Checkpoint, Note]:
    """Verify a kpledger signed checkpoint and parse it (spec §4.2).

    The note must be signed by ``verifier`` (other signatures are ignored), its origin
    must equal the verifier's key name, and it must have exactly one extension line: the
    state-map root (:func:`map_root`).

    Raises:
        ProofError: if the note does not verify or is not a kpledger checkpoint, or
            the verifier is not of type 0x01.
    """
    note = verify_note(note_text, [verifier])
    cp = parse_checkpoint(note.text)
    if cp.origin != verifier.name:
        raise ProofError(
            f"checkpoint origin {cp.origin!r} is not the signing key's name {verifier.name!r}"
        )
    map_root(cp)
    return cp, note


def map_root(cp: Checkpoint) -> bytes:
    """The state-map root a kpledger checkpoint commits to (spec §4.2, specs/state-map.md).

    Raises:
        ProofError: the checkpoint does not have exactly one extension line, of the form
            ``kpledger/v1 state-map <b64(32-byte root)>``.
    """
    found = statemap.parse_extension(cp.extensions[0]) if len(cp.extensions) == 1 else None
    if found is None:
        raise ProofError(
            "a kpledger checkpoint has exactly one extension line, "
            f"'{statemap.EXTENSION_PREFIX}<base64 of the 32-byte state-map root>'"
        )
    return found


def kpledger_checkpoint(origin: str, size: int, root: bytes, state_root: bytes) -> Checkpoint:
    """The body of a kpledger checkpoint: the tree head and the state-map root (spec §4.2)."""
    return Checkpoint(origin, size, root, (statemap.extension_line(state_root),))


# --- cosignatures (spec §5) -----------------------------------------------------------


def _cosigned_message(body: str, timestamp: int) -> bytes:
    # tlog-cosignature "Ed25519 signed message" (spec §5.2).
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign(
    checkpoint: str | bytes | Note | Checkpoint, name: str, seed: bytes, timestamp: int
) -> str:
    """Return a ``cosignature/v1`` line for a checkpoint (spec §5).

    The caller must have checked the checkpoint (its log signature and consistency);
    this only signs.

    Args:
        checkpoint: a :class:`Checkpoint`, a parsed :class:`Note`, a signed checkpoint
            note, or a checkpoint body.
        name: the cosigner's key name.
        seed: the cosigner's 32-byte Ed25519 seed.
        timestamp: POSIX seconds, 0 to 2^63 - 1.

    Returns:
        The signature line, ending with a newline; append it with :func:`add_signature`.

    Raises:
        ProofError: if the input is not a well-formed checkpoint.
        ValueError: if the name, seed or timestamp cannot be used.
    """
    if not 0 <= timestamp <= MAX_INT63:
        raise ValueError(f"cosignature timestamp out of range: {timestamp}")
    if isinstance(checkpoint, Checkpoint):
        body = format_checkpoint(checkpoint)
    elif isinstance(checkpoint, Note):
        body = checkpoint.text
    else:
        text = _as_text(checkpoint, "checkpoint")
        body = parse_note(text).text if "\n\n" in text else text
    parse_checkpoint(body)
    message = _cosigned_message(body, timestamp)
    return _sign_line(name, SIG_TYPE_COSIGNATURE_V1, seed, message, timestamp.to_bytes(8, "big"))


def verify_cosignatures(note: str | bytes | Note, cosigners: Sequence[Verifier]) -> dict[str, int]:
    """Verify the ``cosignature/v1`` lines of known cosigners on a checkpoint note.

    Lines whose (name, key ID) is not a cosigner's are ignored. Does not verify the
    log's own signature (use :func:`open_checkpoint` first).

    Returns:
        Cosigner key name to cosignature timestamp, for each known cosigner that
        cosigned (the latest timestamp if it cosigned more than once).

    Raises:
        ProofError: if the note is malformed, a known cosigner's line is malformed or
            does not verify, or a verifier is not of type 0x04.
    """
    known: dict[tuple[str, int], Verifier] = {}
    for v in cosigners:
        if v.sig_type != SIG_TYPE_COSIGNATURE_V1:
            raise ProofError(
                f"key {v.name} has type 0x{v.sig_type:02x}; "
                "a witness cosigner key (type 0x04) is needed"
            )
        known[(v.name, v.key_id)] = v
    parsed = _as_note(note)
    result: dict[str, int] = {}
    for sig in parsed.signatures:
        signer = known.get((sig.name, sig.key_id))
        if signer is None:
            continue
        if len(sig.sig) != _COSIGNATURE_SIZE:
            raise ProofError(
                f"cosignature by {sig.name} must be {_COSIGNATURE_SIZE} bytes, got {len(sig.sig)}"
            )
        timestamp = int.from_bytes(sig.sig[:8], "big")
        if timestamp > MAX_INT63:
            raise ProofError(f"cosignature by {sig.name} has a timestamp above 2^63 - 1")
        try:
            ed25519.verify(signer.public, _cosigned_message(parsed.text, timestamp), sig.sig[8:])
        except SignatureError as exc:
            raise ProofError(f"cosignature by {sig.name} is invalid: {exc}") from exc
        result[sig.name] = max(timestamp, result.get(sig.name, timestamp))
    return result
