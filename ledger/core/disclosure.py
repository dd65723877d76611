"""Confidential trade data: salted commitments to money fields and their openings
(specs/disclosure.md).

A money field of a signed entry (a sale price, the declared value of a KP certificate) is
stored as a *committed money* map ``{commitment, currency}``: the currency in clear (the KP
rule that a certificate value is in USD checks it), the amount hidden behind

    commitment = SHA-256(COMMIT_CONTEXT || canonical({field, salt, value}))

with a fresh random 32-byte ``salt`` per value and ``field`` the entry type and field name
(``transfer.price``). The *opening* ``{field, salt, value}`` stays with the parties; whoever
holds it may disclose it, and anyone can check it against the entry. Pure: the salts come
from the caller (the façade draws them from the operating system).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.core.encoding import encode
from ledger.core.model import SignedEntry, _exact_map, _fail, _money
from ledger.errors import EncodingError, ProofError

__all__ = [
    "COMMITTED_FIELDS",
    "COMMIT_CONTEXT",
    "SALT_SIZE",
    "Disclosed",
    "Opening",
    "check_openings",
    "commit",
    "commitments",
    "disclosed_view",
    "fields_named",
    "seal",
]

#: Domain-separation prefix of a commitment (specs/disclosure.md §2).
COMMIT_CONTEXT = b"kpledger/v1 commitment\x00"
SALT_SIZE = 32

#: The money fields stored as commitments: entry type -> field names (specs/disclosure.md §1).
COMMITTED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "certificate.issue": ("value",),
    "transfer": ("price",),
    "sell": ("price",),
}
#: Every label ``<type>.<field>`` an opening may name.
LABELS: tuple[str, ...] = tuple(f"{t}.{f}" for t, names in COMMITTED_FIELDS.items() for f in names)


def commit(label: str, value: Mapping[str, Any], salt: bytes) -> bytes:
    """The commitment to the money ``value`` of field ``label`` under ``salt``.

    Raises:
        EncodingError: an unknown label, a salt that is not 32 bytes, or malformed money.
    """
    if label not in LABELS:
        raise EncodingError(f"field field: expected one of {', '.join(LABELS)}, found {label!r}")
    if not isinstance(salt, bytes) or len(salt) != SALT_SIZE:
        raise _fail("salt", f"{SALT_SIZE} bytes", salt)
    money = _money(dict(value), "value")
    data = encode({"field": label, "salt": salt, "value": money})
    return hashlib.sha256(COMMIT_CONTEXT + data).digest()


@dataclass(frozen=True)
class Opening:
    """What opens one commitment: the field's label, the salt and the money value."""

    field: str
    salt: bytes
    value: Mapping[str, Any]

    def commitment(self) -> bytes:
        return commit(self.field, self.value, self.salt)

    def to_wire(self) -> dict[str, Any]:
        return {"field": self.field, "salt": self.salt, "value": dict(self.value)}

    @classmethod
    def from_wire(cls, value: Any, path: str = "opening") -> Opening:
        """Parse and shape-check an opening map.

        Raises:
            EncodingError: a missing, unknown or malformed field (the path is named).
        """
        m = _exact_map(value, path, required=("field", "salt", "value"))
        if m["field"] not in LABELS:
            raise _fail(path + ".field", "one of " + ", ".join(LABELS), m["field"])
        if not isinstance(m["salt"], bytes) or len(m["salt"]) != SALT_SIZE:
            raise _fail(path + ".salt", f"{SALT_SIZE} bytes", m["salt"])
        money = _money(m["value"], path + ".value")
        return cls(
            m["field"], m["salt"], {"amount": money["amount"], "currency": money["currency"]}
        )

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "salt": self.salt.hex(), "value": dict(self.value)}


def is_committed(value: Any) -> bool:
    """Whether a money field holds the committed form (not a clear legacy amount)."""
    return isinstance(value, dict) and "commitment" in value


def seal(
    entry_type: str, fields: Mapping[str, Any], salt: Callable[[], bytes]
) -> tuple[dict[str, Any], list[Opening]]:
    """``fields`` with every clear money field of ``entry_type`` replaced by its committed
    form under a fresh ``salt()``, and the openings (fields already committed stay).

    Raises:
        EncodingError: a salt is not 32 bytes, or a money field is malformed.
    """
    out = dict(fields)
    openings: list[Opening] = []
    for name in COMMITTED_FIELDS.get(entry_type, ()):
        value = out.get(name)
        if value is None or is_committed(value):
            continue
        money = _money(value, f"fields.{name}")
        opening = Opening(
            f"{entry_type}.{name}",
            salt(),
            {"amount": money["amount"], "currency": money["currency"]},
        )
        out[name] = {"commitment": opening.commitment(), "currency": money["currency"]}
        openings.append(opening)
    return out, openings


def commitments(entry: SignedEntry) -> list[tuple[str, bytes]]:
    """``(label, commitment)`` of each committed money field of ``entry``."""
    found = []
    for name in COMMITTED_FIELDS.get(entry.type, ()):
        value: Any = entry.fields.get(name)
        if is_committed(value):
            found.append((f"{entry.type}.{name}", bytes(value["commitment"])))
    return found


def fields_named(names: Iterable[str]) -> set[str]:
    """The labels that ``--disclose`` names select: a label itself (``transfer.price``), a
    field name (``price``: every price; ``value``: certificate values) or ``all``.

    Raises:
        EncodingError: a name that selects no committed field.
    """
    chosen: set[str] = set()
    for raw in names:
        name = raw.strip()
        hits = (
            set(LABELS)
            if name == "all"
            else {label for label in LABELS if name in (label, label.rsplit(".", 1)[1])}
        )
        if not hits:
            raise EncodingError(
                f"--disclose {name!r}: not a committed field (price, value, all, or one of "
                f"{', '.join(LABELS)})"
            )
        chosen |= hits
    return chosen


@dataclass(frozen=True)
class Disclosed:
    """One committed field of an entry and, when an opening was given, its value."""

    entry: bytes
    field: str
    commitment: bytes
    value: Mapping[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry.hex(),
            "field": self.field,
            "commitment": self.commitment.hex(),
            "disclosed": self.value is not None,
            "value": None if self.value is None else dict(self.value),
        }


def check_openings(
    openings: Sequence[Opening], entries: Iterable[SignedEntry]
) -> dict[bytes, Opening]:
    """Check each opening against the commitments of ``entries``: commitment -> opening.

    Every opening must open a commitment of one of the entries in the field it names, and
    no salt may be used twice (a salt is fresh per value, specs/disclosure.md §3).

    Raises:
        ProofError: an opening that opens nothing here (tampered value or salt, or an
            opening of another field), a salt used twice, or the same commitment opened
            twice; the message names the opening by position and field.
    """
    present: dict[bytes, set[tuple[str, str]]] = {}
    for entry in entries:
        for label, c in commitments(entry):
            currency = entry.fields[label.rsplit(".", 1)[1]]["currency"]
            present.setdefault(c, set()).add((label, currency))
    opened: dict[bytes, Opening] = {}
    salts: set[bytes] = set()
    for n, o in enumerate(openings):
        where = f"opening {n} ({o.field})"
        if o.salt in salts:
            raise ProofError(f"{where}: salt used twice (every value has a fresh salt)")
        salts.add(o.salt)
        c = o.commitment()
        if (o.field, o.value["currency"]) not in present.get(c, ()):
            raise ProofError(
                f"{where}: opens no commitment of this field here (wrong value, wrong salt, "
                "or an opening of another field)"
            )
        if c in opened:
            raise ProofError(f"{where}: the same commitment is opened twice")
        opened[c] = o
    return opened


def disclosed_view(
    entries: Iterable[SignedEntry], opened: Mapping[bytes, Opening]
) -> list[Disclosed]:
    """Every committed field of ``entries`` (in the order given), with its value where an
    opening in ``opened`` discloses it."""
    view = []
    for entry in entries:
        for label, c in commitments(entry):
            o = opened.get(c)
            view.append(Disclosed(entry.id, label, c, None if o is None else o.value))
    return view
