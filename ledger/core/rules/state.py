"""What the rules engine reads and returns: the journaled ``State``, findings, outcomes.

``State`` is a key-value view keyed by ``(kind, key)`` with a journal, so a caller can roll
back a rejected entry and persist exactly what changed; where it keeps its values is the
caller's business (a dict, a database through ``Backing``). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ledger.errors import RuleError


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

    def begin(self) -> None:
        self._journal = []

    def rollback(self) -> None:
        if self._journal is None:
            return
        for k, old, present, dirty in reversed(self._journal):
            if present:
                self._data[k] = old
            else:
                self._data.pop(k, None)
            # A rolled-back write is not a change: take_changes must not report it.
            if not dirty:
                self._dirty.discard(k)
        self._journal = None

    def commit(self) -> None:
        self._journal = None

    def take_changes(self) -> dict[tuple[str, str], Any]:
        changes = {k: self._data[k] for k in self._dirty}
        self._dirty = set()
        return changes

    def items(self, kind: str) -> Iterable[tuple[str, Any]]:
        """Cached values of one kind (complete only for a State without backing)."""
        for (k, key), value in self._data.items():
            if k == kind:
                yield key, value
