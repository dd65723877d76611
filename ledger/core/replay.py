"""Replay of log records through the rules engine (specs/log.md §5, specs/rules.md).

Pure: takes ``(index, record bytes)`` pairs, returns the final state, the Merkle
root of the leaves it saw and every WARN. ``verify`` replays the whole log with
``contiguous=True`` (every chain link checked); offline proof verification replays
the subset of records a bundle carries, in log order, with ``contiguous=False``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ledger.core import merkle, rules, statemap
from ledger.core.model import ZERO_HASH, Record, SignedEntry, parse_unchecked
from ledger.errors import ChainError, EncodingError, LedgerError, UncheckedParseError


@dataclass
class ReplayResult:
    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    last_hash: bytes = ZERO_HASH
    warnings: Counter[str] = field(default_factory=Counter)
    findings: list[tuple[int, str, str]] = field(default_factory=list)
    state: rules.State = field(default_factory=rules.State)
    entries: dict[bytes, tuple[Record, SignedEntry]] = field(default_factory=dict)


def locate(exc: LedgerError, index: int, entry_id: bytes | None) -> None:
    """Prefix ``exc``'s message with the record (and entry) it is about."""
    where = f"record {index}"
    if entry_id is not None:
        where += f" (entry {entry_id.hex()[:16]})"
    exc.message = f"{where}: {exc.message}"


class Compact:
    """Compact Merkle range: the root of a growing tree in O(log n) memory (RFC 9162 §2.1.1)."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        self._stack.append(leaf)
        n = self.size
        while n & 1:
            right = self._stack.pop()
            left = self._stack.pop()
            self._stack.append(merkle.node_hash(left, right))
            n >>= 1
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return merkle.EMPTY_ROOT
        acc = self._stack[-1]
        for h in reversed(self._stack[:-1]):
            acc = merkle.node_hash(h, acc)
        return acc


def replay(
    rows: Iterable[tuple[int, bytes]],
    *,
    contiguous: bool = True,
    keep_entries: bool = False,
    verify_signatures: bool = True,
    on_record: Callable[[Record, SignedEntry], None] | None = None,
    progress: Callable[[int], None] | None = None,
    unchecked: bool = False,
    state: rules.State | None = None,
    on_outcome: Callable[[int, rules.Outcome], None] | None = None,
    state_map: statemap.MemoryMap | None = None,
    on_size: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Replay records in log order.

    With ``unchecked``, records are parsed by :func:`ledger.model.parse_unchecked` and an
    exception of any kind becomes an :class:`UncheckedParseError` naming the record: only
    for a caller that checks every record's encoding and shapes elsewhere and lets the
    first failure by index win (``Ledger.verify`` with ``jobs > 1``).

    ``state`` is the State to replay into (a fresh one by default), such as the
    ``statecheck.CheckedState`` with which ``verify`` compares the stored state as it goes.
    ``on_outcome`` receives each record's index and what the rules did with it (findings,
    items touched): ``verify`` compares them with the store's display tables.
    ``state_map`` receives every record's state changes (specs/state-map.md §3);
    ``on_size(n)`` is called after each record with the size of the log it ends.

    Raises:
        ChainError: a gap or reordering in the indexes, or a broken ``prev`` link.
        EncodingError: a record or entry that is not canonical.
        RuleError: an entry the rules engine rejects; the message names the record.
    """
    result = ReplayResult() if state is None else ReplayResult(state=state)
    compact = Compact()
    state = result.state
    state.verify_signatures = verify_signatures
    if state_map is not None:
        state.writes = []
    expected = 0
    prev = ZERO_HASH
    last_index = -1
    last_time = 0
    for index, raw in rows:
        entry_id: bytes | None = None
        try:
            if unchecked:
                try:
                    record, entry = parse_unchecked(raw)
                except Exception as exc:
                    raise UncheckedParseError(f"cannot parse: {exc!r}", rule="R-EN-1") from exc
            else:
                try:
                    record = Record.from_wire(raw)
                except EncodingError as exc:
                    exc.rule = exc.rule or "R-EN-1"
                    raise
            if record.index != index:
                raise ChainError(
                    f"record stored at {index} says it is record {record.index}", rule="R-CH-1"
                )
            if contiguous:
                if index != expected:
                    raise ChainError(f"expected record {expected}, found {index}", rule="R-CH-1")
                if record.prev != prev:
                    raise ChainError(
                        f"previous-hash link broken: expected {prev.hex()[:16]}, "
                        f"record has {record.prev.hex()[:16]}",
                        rule="R-CH-1",
                    )
            elif index <= last_index:
                raise ChainError("records are not in log order", rule="R-CH-1")
            if record.time < last_time:
                raise ChainError(
                    f"append time {record.time} is earlier than the {last_time} of the record "
                    "before it (the log's clock never runs backwards)",
                    rule="R-TM-5",
                )
            if not unchecked:
                try:
                    entry = record.entry()
                except EncodingError as exc:
                    exc.rule = exc.rule or "R-EN-1"
                    raise
            if on_record is not None:
                on_record(record, entry)  # its errors name the stored entry id themselves
            entry_id = entry.id
            if unchecked:
                try:
                    outcome = rules.apply(state, entry, index=index, now=record.time)
                except LedgerError:
                    raise
                except Exception as exc:
                    raise UncheckedParseError(f"malformed entry: {exc!r}", rule="R-EN-1") from exc
            else:
                outcome = rules.apply(state, entry, index=index, now=record.time)
        except LedgerError as exc:
            locate(exc, index, entry_id)
            raise
        if state_map is not None:
            state_map.record(state.take_writes(), state.get, index, state.encoded)
        for w in outcome.warnings:
            result.warnings[w.rule] += 1
            result.findings.append((index, w.rule, w.message))
        if on_outcome is not None:
            on_outcome(index, outcome)
        if keep_entries:
            result.entries[entry.id] = (record, entry)
        compact.append(record.hash)
        prev = record.hash
        last_index = index
        last_time = record.time
        expected = index + 1
        if on_size is not None:
            on_size(index + 1)
        if progress is not None:
            progress(1)
    result.size = expected if contiguous else compact.size
    result.root = compact.root()
    result.last_hash = prev
    return result


def quarantined_items(
    records: Iterable[bytes], key: Callable[[bytes], rules.KeyInfo | None]
) -> dict[str, rules.VoidEntry]:
    """Every item whose ancestry holds a void entry (R-ID-2), with the first such entry.

    One forward pass over ``records`` (raw record bytes in log order, already verified:
    they are parsed without the canonical checks). ``key`` answers for the keys that were
    compromised; others may answer None.
    """
    spread = rules.Propagation(key)
    for raw in records:
        record, entry = parse_unchecked(raw)
        spread.add(record, entry)
    return spread.items
