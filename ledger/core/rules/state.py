"""What the rules engine reads and returns: the journaled ``State``, findings, outcomes.

``State`` is a key-value view keyed by ``(kind, key)`` with a journal, so a caller can roll
back a rejected entry and persist exactly what changed; where it keeps its values is the
caller's business (a dict, a database through ``Backing``). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NotRequired, Protocol, TypedDict, cast

from mypy_extensions import mypyc_attr

from ledger.errors import RuleError

# ---------------------------------------------------------------------------
# The values the state holds, by kind (specs/rules.md §2). Plain dicts on the wire and in
# the store (msgpack-encodable); typed here so that mypy checks every field the rules use.


class Meta(TypedDict):
    """``meta/ledger``: the genesis facts."""

    origin: str
    operator: bytes
    name: str
    genesis: bytes


class Governance(TypedDict):
    """``gov/set``: the governance set in force (specs/rules.md §3.9). ``governors`` are
    key ids, in the order the set names them; ``since`` the record that set it; ``entries``
    every entry that set or changed it (the genesis included), oldest first."""

    governors: list[bytes]
    threshold: int
    since: int
    entries: list[bytes]


#: ``kid/<hex>``: a registered key. ``from``/``until`` are record indexes; a key that
#: was revoked as compromised carries ``compromised``, the time (ms) from which entries
#: it signed are void.
KeyInfo = TypedDict(
    "KeyInfo",
    {
        "name": str,
        "pub": bytes,
        "from": int,
        "until": int | None,
        "revoked": NotRequired[bool],
        "compromised": NotRequired[int],
    },
)


class Party(TypedDict):
    """``party/<name>``: a participant. ``revoked`` is the record index of its revocation;
    ``revoked_at`` the append time (ms) of that record; ``compromised`` the time from which
    its key's signatures are void; ``lists`` its sanctions designations, by list, as
    ``[from, "listed" | "delisted"]`` periods; ``entries`` every registry entry about it
    (designations included)."""

    name: str
    kid: bytes
    roles: list[str]
    country: str
    revoked: int | None
    entries: list[bytes]
    revoked_at: NotRequired[int]
    compromised: NotRequired[int]
    lists: NotRequired[dict[str, list[list[str]]]]


#: ``parcel/<id>``: a parcel or stone (specs/rules.md §4). ``path`` is its custody path:
#: every country its goods or an ancestor's were held in or exported from, with the first
#: and last append date of that custody (R-SA-2); ``grown`` marks laboratory-grown goods
#: (R-SW-3); ``unwarranted`` goods some B2B transfer of whose ancestry carried no System of
#: Warranties statement (R-SW-2).
Parcel = TypedDict(
    "Parcel",
    {
        "id": str,
        "kind": str,
        "carats": int,
        "stones": int | None,
        "holder": str,
        "head": bytes,
        "status": str,
        "transfer": bytes | None,
        "comp": dict[str, int],
        "may": list[str],
        "hs": str | None,
        "time": int,
        "created": bytes,
        "yield": int | None,
        "report": str | None,
        "path": dict[str, list[str]],
        "grown": NotRequired[bool],
        "unwarranted": NotRequired[bool],
    },
)

#: ``transfer/<offer id hex>``: an offer and what became of it. ``cross`` is set for an
#: offer of rough across a border: ``[from country, to country]``.
Transfer = TypedDict(
    "Transfer",
    {
        "from": str,
        "to": str,
        "parcels": list[str],
        "status": str,
        "time": int,
        "certificate": str | None,
        "cross": NotRequired[list[str]],
        "warranty": NotRequired[str],
    },
)


class Certificate(TypedDict):
    """``cert/<number>``: a KP certificate, the shipment it was used for and whether the
    importing authority confirmed receipt."""

    number: str
    id: bytes
    issued: str
    expires: str
    exporter: str
    importer: str
    exporter_country: str
    importer_country: str
    parcels: list[str]
    carats: int
    authority: str
    used: bytes | None
    accepted: NotRequired[int]
    confirmed: NotRequired[bytes]


def fail(rule: str, message: str) -> RuleError:
    """The RuleError of ``rule`` (an ID of specs/rules.md) with a plain-words message."""
    return RuleError(message, rule=rule)


@dataclass(frozen=True)
class Finding:
    """A WARN the engine attached to an accepted entry."""

    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


@dataclass
class Outcome:
    """What applying an entry did: its WARN findings and the items it touched."""

    warnings: list[Finding] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)


class Backing(Protocol):
    """Where a State reads values it has not cached (a database, or nothing)."""

    def load(self, kind: str, key: str) -> Any | None: ...


# Compiled by mypyc (setup.py), a class admits no Python subclass unless it says so here:
# the storage layer's CheckedState subclasses it. Pure Python ignores the decorator.
@mypyc_attr(allow_interpreted_subclasses=True)
class State:
    """A journaled view of the ledger state, keyed by ``(kind, key)``.

    Values are plain msgpack-encodable structures. ``begin``/``rollback`` undo a
    rejected entry; ``take_changes`` hands the writes since the last call to a store.
    """

    def __init__(self, backing: Backing | None = None) -> None:
        #: False only when the caller verifies every signature itself (parallel replay);
        #: key registration, revocation and roles are still checked here.
        self.verify_signatures = True
        #: How far ``apply`` got with the current entry: 0 before the signatures, 1 while
        #: checking them, 2 after (a parallel verify orders its findings by it).
        self.phase = 0
        self._backing = backing
        self._data: dict[tuple[str, str], Any] = {}
        self._journal: list[tuple[tuple[str, str], Any, bool, bool]] | None = None
        self._dirty: set[tuple[str, str]] = set()
        #: When a list, every key written, in order (the state map's per-record changes,
        #: specs/state-map.md §3); a rolled-back entry's writes are removed.
        self.writes: list[tuple[str, str]] | None = None
        self._writes_mark = 0

    def get(self, kind: str, key: str) -> Any | None:
        k = (kind, key)
        try:
            return self._data[k]
        except KeyError:
            pass
        value = self._backing.load(kind, key) if self._backing is not None else None
        if value is not None:
            self._data[k] = value
        return value

    def put(self, kind: str, key: str, value: Any) -> None:
        k = (kind, key)
        if self._journal is not None:
            present = k in self._data
            self._journal.append((k, self._data.get(k), present, k in self._dirty))
        self._data[k] = value
        self._dirty.add(k)
        if self.writes is not None:
            self.writes.append(k)

    def begin(self) -> None:
        self._journal = []
        self._writes_mark = len(self.writes) if self.writes is not None else 0

    def rollback(self) -> None:
        if self._journal is None:
            return
        for k, old, present, dirty in self._journal[::-1]:
            if present:
                self._data[k] = old
            else:
                self._data.pop(k, None)
            # A rolled-back write is not a change: take_changes must not report it.
            if not dirty:
                self._dirty.discard(k)
        self._journal = None
        if self.writes is not None:
            del self.writes[self._writes_mark :]

    def commit(self) -> None:
        self._journal = None

    def take_writes(self) -> list[tuple[str, str]]:
        """The keys written since the last call, each once, in first-write order."""
        if self.writes is None:
            self.writes = []
            return []
        out = list(dict.fromkeys(self.writes))
        self.writes = []
        return out

    def encoded(self, kind: str, key: str, raw: bytes) -> None:
        """``raw`` is the canonical encoding of the current value of ``(kind, key)``, as the
        state map computed it after a record (a state that compares values keeps it)."""

    def take_changes(self) -> dict[tuple[str, str], Any]:
        changes = {k: self._data[k] for k in self._dirty}
        self._dirty = set()
        return changes

    # -- typed views of the kinds the rules use ------------------------------------

    def meta(self) -> Meta | None:
        return cast("Meta | None", self.get("meta", "ledger"))

    def governance(self) -> Governance | None:
        return cast("Governance | None", self.get("gov", "set"))

    def key(self, kid: bytes) -> KeyInfo | None:
        return cast("KeyInfo | None", self.get("kid", kid.hex()))

    def put_key(self, kid: bytes, info: KeyInfo) -> None:
        self.put("kid", kid.hex(), info)

    def party(self, name: str) -> Party | None:
        return cast("Party | None", self.get("party", name))

    def put_party(self, party: Party) -> None:
        self.put("party", party["name"], party)

    def parcel(self, pid: str) -> Parcel | None:
        return cast("Parcel | None", self.get("parcel", pid))

    def put_parcel(self, parcel: Parcel) -> None:
        self.put("parcel", parcel["id"], parcel)

    def transfer(self, offer: bytes) -> Transfer | None:
        return cast("Transfer | None", self.get("transfer", offer.hex()))

    def put_transfer(self, offer: bytes, transfer: Transfer) -> None:
        self.put("transfer", offer.hex(), transfer)

    def cert(self, number: str) -> Certificate | None:
        return cast("Certificate | None", self.get("cert", number))

    def put_cert(self, cert: Certificate) -> None:
        self.put("cert", cert["number"], cert)

    def items(self, kind: str) -> Iterable[tuple[str, Any]]:
        """Cached values of one kind (complete only for a State without backing)."""
        for (k, key), value in self._data.items():
            if k == kind:
                yield key, value
