"""Quarantine (R-ID-2): goods whose ancestry holds an entry signed with a compromised key.

A participant revoked with ``compromised_since`` T had its key in other hands from T on:
every entry that key signed (as signer or co-signer) and that was appended at or after T,
or claims a time at or after T, is **void**. An item is **quarantined** when its ancestry
holds a void entry: an entry its states descend from, or the issue of a KP certificate
that one of its crossings travelled under. The verdict is read off the ancestry and the
registry as they stand, so it reaches items made long before the revocation.

Pure: entries and key lookups in, findings out. :func:`find_void` judges one entry,
:func:`quarantine` an ancestry, :class:`Propagation` the whole log in one forward pass
(what ``verify`` lists).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ledger.core.model import Record, SignedEntry
from ledger.core.rules.calendar import iso_time
from ledger.core.rules.state import KeyInfo

#: ``key(kid) -> KeyInfo | None``: the registry's view of a key.
KeyLookup = Callable[[bytes], KeyInfo | None]


@dataclass(frozen=True)
class VoidEntry:
    """An entry signed with a compromised key at or after the compromise."""

    index: int
    entry_id: bytes
    type: str
    signer: str
    since: int

    def describe(self) -> str:
        return (
            f"record {self.index} ({self.type}, entry {self.entry_id.hex()[:16]}) was signed "
            f"with the key of {self.signer!r}, compromised since {iso_time(self.since)}"
        )


def find_void(record: Record, entry: SignedEntry, key: KeyLookup) -> VoidEntry | None:
    """The entry as a :class:`VoidEntry` if any of its signatures is by a key compromised
    at or before the later of its append and claimed times."""
    when = max(record.time, entry.body.time)
    for sig in entry.sigs:
        info = key(sig.kid)
        if info is None:
            continue
        since = info.get("compromised")
        if since is not None and when >= since:
            return VoidEntry(record.index, entry.id, entry.type, info["name"], since)
    return None


def quarantine(records: Iterable[tuple[Record, SignedEntry]], key: KeyLookup) -> list[VoidEntry]:
    """The void entries among ``records`` (an item's ancestry and the certificates it
    travelled under), in log order; empty when the item is not quarantined."""
    found = [v for r, e in records if (v := find_void(r, e, key)) is not None]
    return sorted(found, key=lambda v: v.index)


def _moved(entry: SignedEntry) -> list[str]:
    f = entry.fields
    if "inputs" in f:
        return [i["parcel"] for i in f["inputs"]]
    if "input" in f:
        return [f["input"]["parcel"]]
    return []


def _made(entry: SignedEntry) -> list[str]:
    f = entry.fields
    t = entry.type
    if t in ("origin", "grow"):
        return [f["parcel"]]
    if t == "split":
        return [o["parcel"] for o in f["outputs"]]
    if t == "merge":
        return [f["output"]["parcel"]]
    if t == "cut":
        return [o["parcel"] for o in (*f["stones"], *f.get("byproducts", ()))]
    return []


class Propagation:
    """Quarantine carried forward through a whole log in record order (for ``verify``).

    Feed every record with :meth:`add`; :attr:`items` then maps each quarantined parcel or
    stone to the first void entry its ancestry holds. Memory: the quarantined items and the
    pending offers only.
    """

    def __init__(self, key: KeyLookup) -> None:
        self._key = key
        self.items: dict[str, VoidEntry] = {}
        self._certs: dict[str, VoidEntry] = {}
        self._offers: dict[bytes, list[str]] = {}

    def add(self, record: Record, entry: SignedEntry) -> None:
        f: Any = entry.fields
        cause = find_void(record, entry, self._key)
        if entry.type == "certificate.issue":
            if cause is not None:
                self._certs[f["number"]] = cause
            return
        moved = _moved(entry)
        if entry.type == "transfer":
            self._offers[entry.id] = moved
            if cause is None and "certificate" in f:
                cause = self._certs.get(f["certificate"])
        elif entry.type in ("accept", "reject", "cancel"):
            moved = self._offers.pop(f["transfer"], [])
        if cause is None:
            cause = next((self.items[p] for p in moved if p in self.items), None)
        if cause is None:
            return
        for pid in (*moved, *_made(entry)):
            self.items.setdefault(pid, cause)


def void_to_json(void: VoidEntry) -> dict[str, Any]:
    """A JSON-ready view (the entry id in hex)."""
    return {
        "index": void.index,
        "entry": void.entry_id.hex(),
        "type": void.type,
        "signer": void.signer,
        "compromised_since": void.since,
    }


def void_from_json(value: Any) -> VoidEntry:
    """The inverse of :func:`void_to_json` (what a node's answers carry)."""
    return VoidEntry(
        int(value["index"]),
        bytes.fromhex(str(value["entry"])),
        str(value["type"]),
        str(value["signer"]),
        int(value["compromised_since"]),
    )
