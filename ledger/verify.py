"""``verify`` of a ledger file: replay every record and check every derived table.

The replay is the pure core's (:mod:`ledger.core.replay` through the rules engine); this
module adds what only a file has: the definitions of the append-only triggers and views,
the cached columns of each row, the stored Merkle tiles, the derived state (compared as
the replay goes, in bounded memory, by :class:`ledger.storage.statecheck.CheckedState`),
the display indexes ``touches`` and ``findings``
(:class:`ledger.storage.indexcheck.CheckedIndexes`), the stored checkpoints and a mirror's
``mirror_checkpoints``; the first difference is named. And the parallel mode in which
worker processes check encodings and signatures while this process replays the rules.
It does not verify a node (see :meth:`ledger.net.client.RemoteLedger.verify`) or a bundle
(:func:`ledger.core.proofs.verify_bundle`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator
from typing import Any

from ledger import errors
from ledger.api import FILE_SCOPE, VerifyReport
from ledger.core import note, replay, rules, statemap
from ledger.core.model import Record, SignedEntry
from ledger.errors import (
    ChainError,
    EncodingError,
    LedgerError,
    ProofError,
    RuleError,
    SignatureError,
    UncheckedParseError,
)
from ledger.storage import mirror_tables
from ledger.storage.indexcheck import CheckedIndexes
from ledger.storage.sqlerrors import DB_ERRORS, guarded
from ledger.storage.statecheck import CheckedState
from ledger.storage.store import TRIGGERS, Store, check_row_cache

__all__ = ["check_signatures", "verify_store"]


#: Records per work unit of a parallel verify.
_CHUNK = 4096

#: False leaves the state map out of verify: no replayed map, root or table comparison.
#: Only for measuring what the map costs (bench/run.py); such a verify proves less.
CHECK_STATE_MAP = True


def verify_store(
    store: Store,
    verifier: note.Verifier,
    *,
    progress: Callable[[int], None] | None = None,
    jobs: int = 1,
    chunk: int = 0,
) -> VerifyReport:
    """Replay every record of ``store`` and compare every derived table with the replay.

    Runs inside one read transaction (a WAL snapshot), so appends committed meanwhile by
    other processes cannot make the records, tiles and state disagree mid-check. With
    ``jobs > 1``, ``jobs`` worker processes check every record's encoding, field shapes,
    cached columns and signatures while this process replays the rules on records parsed
    without those checks; the first error by record index is reported either way. The
    stored state is compared as the replay goes (:class:`CheckedState`), in memory bounded
    by the live items.

    Raises:
        ChainError, EncodingError, RuleError: the first invalid record (named).
        ProofError: the stored tree or a stored checkpoint disagrees with the records.
    """
    with store.snapshot():
        return _verify(store, verifier, progress, jobs, chunk)


def _verify(
    store: Store,
    verifier: note.Verifier,
    progress: Callable[[int], None] | None,
    jobs: int,
    chunk: int,
) -> VerifyReport:
    missing = set(TRIGGERS) - store.triggers()
    if missing:
        raise ChainError(
            f"append-only triggers missing: {', '.join(sorted(missing))}", rule="R-ST-1"
        )
    for kind, name in store.redefined():
        if kind == "trigger":
            raise ChainError(
                f"append-only trigger {name} was redefined: it is not the one kpledger "
                "creates, so it may let changes to records through",
                rule="R-ST-1",
            )
        raise ChainError(
            f"view {name} was redefined: it is not the one kpledger creates, so it may show "
            "something other than the tables",
            rule="R-ST-2",
        )
    chunk = chunk or _CHUNK
    with guarded(store.path):
        state = CheckedState(store.conn)
        indexes = CheckedIndexes(store.conn)
        try:
            return _replay_and_compare(store, verifier, state, indexes, progress, jobs, chunk)
        finally:
            # Never hide the verdict behind a failure to drop a temporary table.
            with contextlib.suppress(*DB_ERRORS):
                state.close()
            with contextlib.suppress(*DB_ERRORS):
                indexes.close()


def _replay_and_compare(
    store: Store,
    verifier: note.Verifier,
    state: CheckedState,
    indexes: CheckedIndexes,
    progress: Callable[[int], None] | None,
    jobs: int,
    chunk: int,
) -> VerifyReport:
    def on_outcome(index: int, outcome: rules.Outcome) -> None:
        indexes.touched(index, dict.fromkeys(outcome.touched))  # as an append writes them

    cps = store.checkpoints()
    cp_sizes = {size for size, _ in cps}
    state_map = statemap.MemoryMap() if CHECK_STATE_MAP else None
    map_at: dict[int, bytes] = {}

    def on_size(n: int) -> None:
        if n in cp_sizes and state_map is not None:
            map_at[n] = state_map.root()

    if jobs > 1 and store.size() > 2 * chunk:
        result = _parallel_replay(
            store, jobs, chunk, progress, state, on_outcome, state_map, on_size
        )
    else:
        rows, on_record = _checked_rows(store)
        try:
            result = replay.replay(
                rows,
                progress=progress,
                on_record=on_record,
                state=state,
                on_outcome=on_outcome,
                state_map=state_map,
                on_size=on_size,
            )
        finally:
            rows.close()  # an open statement would block dropping the state's temp table
    try:
        stored_root = store.root(result.size)
    except ProofError as exc:  # tiles missing or short: they disagree with the records
        raise ProofError(
            f"stored Merkle tiles do not cover the {result.size} records: {exc.message}",
            rule="R-CH-2",
        ) from exc
    if stored_root != result.root:
        raise ProofError(
            f"stored Merkle tiles give root {stored_root.hex()[:16]}, "
            f"the records give {result.root.hex()[:16]}",
            rule="R-CH-2",
        )
    state.finish()
    indexes.check_touches()
    indexes.check_findings(result.findings)
    for size, text in sorted(cps):
        try:
            cp, _ = note.open_checkpoint(text, verifier)
        except ProofError as exc:
            raise ProofError(
                f"the stored checkpoint of size {size} (checkpoints table) does not verify "
                f"under the operator key: {exc.message}",
                rule="R-CH-2",
            ) from exc
        if cp.size > result.size:
            raise ProofError(f"checkpoint of size {cp.size} is beyond the log", rule="R-CH-2")
        root = store.root(cp.size)
        if cp.root != root or cp.size != size:
            raise ProofError(
                f"signed checkpoint at size {cp.size} does not match the records "
                "(the log was rewritten)",
                rule="R-CH-2",
            )
        if state_map is not None:
            check_map_root(cp, map_at[cp.size])
    if state_map is not None:
        check_map_tables(store, state_map, result.size)
    _check_mirror_checkpoints(store, verifier, result.size)
    report = VerifyReport(result.size, result.root, result.warnings, len(cps), scope=FILE_SCOPE)
    findings_of_the_log(store, report)
    return report


def _check_mirror_checkpoints(store: Store, verifier: note.Verifier, size: int) -> None:
    """A mirror's evidence table (specs/node.md §5): every row holds a note signed by the
    operator key, of the row's size and root; an accepted tree is a tree of these records.

    Raises:
        ChainError: R-ST-2, a row whose size or root is not its note's, or whose note is
            not signed by the operator key (it is no evidence then).
        ProofError: R-CH-2, an accepted tree that is not the tree of the records.
    """
    for row in mirror_tables.stored_rows(store):
        where = f"mirror_checkpoints row of size {row.size!r}"
        if type(row.note) is not str or row.accepted not in (0, 1):
            raise ChainError(f"the {where} is malformed (the file was altered)", rule="R-ST-2")
        try:
            cp, _ = note.open_checkpoint(row.note, verifier)
        except ProofError as exc:
            raise ChainError(
                f"the {where} holds a note that is not signed by this ledger's operator key "
                f"({exc.message}): it is no evidence of anything",
                rule="R-ST-2",
            ) from exc
        if cp.size != row.size or cp.root != row.root:
            raise ChainError(
                f"the {where} names another tree than its signed note (size {cp.size})",
                rule="R-ST-2",
            )
        if row.accepted == 1 and (cp.size > size or store.root(cp.size) != cp.root):
            raise ProofError(
                f"the {where} is marked accepted but is not a tree of this mirror's records "
                "(later syncs would check nodes against it)",
                rule="R-CH-2",
            )


def check_map_root(cp: note.Checkpoint, replayed: bytes) -> None:
    """Refuse a checkpoint whose state-map root is not the one the replay computed.

    Raises:
        ProofError: (R-SM-1) naming the checkpoint.
    """
    committed = note.map_root(cp)
    if committed != replayed:
        raise ProofError(
            f"checkpoint at size {cp.size} commits to state-map root "
            f"{committed.hex()[:16]}, the records give {replayed.hex()[:16]} "
            "(the operator committed a false state)",
            rule="R-SM-1",
        )


def check_map_tables(store: Store, state_map: statemap.MemoryMap, size: int) -> None:
    """Compare the stored state-map tables (leaves, nodes, current root) with the replay's.

    Raises:
        ProofError: (R-SM-1) the first difference.
    """
    replayed = iter(state_map.items())
    count = 0
    bad: str | None = None
    for k, v, idx in store.map_leaves():  # one row at a time: the tables are as long as the map
        count += 1
        if bad is not None:
            continue  # counting the rest, for the message
        mine = next(replayed, None)
        if mine is None:
            bad = "(count)"
        elif (mine.kh, mine.vh, mine.index) != (k, v, idx):
            bad = k.hex()[:16] if type(k) is bytes else repr(k)[:16]
    if bad is not None or next(replayed, None) is not None:
        raise ProofError(
            f"stored state-map leaves ({count}) differ from the replay's "
            f"({len(state_map)}), first at key hash {bad or '(count)'}",
            rule="R-SM-1",
        )
    nodes = state_map.nodes()
    count = 0
    same = True
    for nid, h in store.map_nodes():  # read to the end: no statement left open
        count += 1
        same = same and nodes.get(nid) == h
    if not same or count != len(nodes):
        raise ProofError("stored state-map nodes differ from the replay's", rule="R-SM-1")
    try:
        stored_root = store.map_root(size)
    except ProofError as exc:
        raise ProofError(exc.message, rule="R-SM-1") from exc
    if stored_root != state_map.root():
        raise ProofError(
            f"stored state-map root {stored_root.hex()[:16]} differs from the replay's "
            f"{state_map.root().hex()[:16]}",
            rule="R-SM-1",
        )


class _StoredState:
    """The (verified) state table as the rules engine's backing."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self, kind: str, key: str) -> Any | None:
        return self.store.state_value(kind, key)


def findings_of_the_log(store: Store, report: VerifyReport) -> None:
    """What a verified log says beyond its records' own findings: the items quarantined by
    a compromised key (R-ID-2) and the crossings whose import confirmation is overdue as of
    the last record (R-KP-3, counted as warnings)."""
    compromised = {bytes.fromhex(k): v for k, v in store.state_items("kid") if "compromised" in v}
    if compromised:
        report.quarantined = replay.quarantined_items(store.iter_records(), compromised.get)
    last = store.last_time()
    if last is not None:
        certs = [v for _, v in store.state_items("cert")]
        report.unconfirmed = rules.overdue_confirmations(
            certs, rules.State(_StoredState(store)), last
        )
        if report.unconfirmed:
            report.warnings["R-KP-3"] += len(report.unconfirmed)


def _checked_rows(
    store: Store,
) -> tuple[Generator[tuple[int, bytes]], Callable[[Record, SignedEntry], None]]:
    """Rows for a replay, and a hook that checks each row's cached columns."""
    cached: dict[int, tuple[Any, ...]] = {}

    def rows() -> Generator[tuple[int, bytes]]:
        for idx, raw, columns in store.iter_rows_cached():
            cached[idx] = columns
            yield idx, raw

    def on_record(record: Record, entry: SignedEntry) -> None:
        check_row_cache(record, entry, cached.pop(record.index, ()))

    return rows(), on_record


def _parallel_replay(
    store: Store,
    jobs: int,
    chunk: int,
    progress: Callable[[int], None] | None,
    state: rules.State,
    on_outcome: Callable[[int, rules.Outcome], None],
    state_map: statemap.MemoryMap | None = None,
    on_size: Callable[[int], None] | None = None,
) -> replay.ReplayResult:
    import concurrent.futures
    import multiprocessing

    size = store.size()
    pubs = store.registered_keys()
    chunks = [(s, min(s + chunk, size)) for s in range(0, size, chunk)]
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
        futures = [
            pool.submit(check_signatures, store.path, start, end, pubs) for start, end in chunks
        ]
        main_error: LedgerError | None = None
        result = replay.ReplayResult()
        rows = (row for row in store.iter_rows())  # a generator: closable
        try:
            result = replay.replay(
                rows,
                progress=progress,
                verify_signatures=False,
                unchecked=True,
                state=state,
                on_outcome=on_outcome,
                state_map=state_map,
                on_size=on_size,
            )
        except LedgerError as exc:
            main_error = exc
        finally:
            rows.close()
        failed_at = _error_index(main_error)
        bad: Finding | None = None
        for (start, end), future in zip(chunks, futures, strict=True):
            if bad is not None or (failed_at is not None and start > failed_at):
                future.cancel()  # past the first failure: nothing there can come first
                continue
            if future.cancel():  # not started yet: check it here rather than wait idle
                found = check_signatures(store.path, start, end, pubs)
            else:
                found = future.result()
            if found is not None:
                bad = found  # chunks are in index order: the first found is the first
    if bad is not None:
        index, stage, rule, message, kind = bad
        # Within one record, what a one-process replay checks first is reported.
        if (
            main_error is None
            or failed_at is None
            or index < failed_at
            or (index == failed_at and stage < _main_stage(main_error, state.phase))
        ):
            cls = getattr(errors, kind, RuleError)
            if not (isinstance(cls, type) and issubclass(cls, LedgerError)):
                cls = RuleError  # pragma: no cover - the worker names its own class
            raise cls(message, rule=rule)
    if isinstance(main_error, UncheckedParseError):  # pragma: no cover - a bug
        raise RuntimeError(f"unchecked replay failed where every check passed: {main_error}")
    if main_error is not None:
        raise main_error
    return result


def _error_index(exc: LedgerError | None) -> int | None:
    """The record index a replay error names ("record N ..."), if any."""
    if exc is None or not exc.message.startswith("record "):
        return None
    head = exc.message.split(" ", 2)[1].rstrip(":")
    return int(head) if head.isdigit() else None


#: Where in the checks of one record a failure was found, in the order of a one-process
#: replay: a parallel verify reports, for the first failing record, what that replay would.
STAGE_RECORD, STAGE_CHAIN, STAGE_ENTRY, STAGE_CACHE = 1, 2, 3, 4
STAGE_RULES_BEFORE_SIGS, STAGE_SIGS, STAGE_RULES_AFTER_SIGS, STAGE_UNCHECKED = 5, 6, 7, 99

Finding = tuple[int, int, str, str, str]  # (index, stage, rule, message, error class name)


def check_signatures(path: str, start: int, end: int, pubs: dict[bytes, bytes]) -> Finding | None:
    """Worker of a parallel verify: decode records ``[start, end)`` with every check, check
    their cached columns and every signature.

    Returns the first failure as ``(index, stage, rule, message, error class)``, worded as
    a one-process verify words it; keys that are not registered are left to the rules
    replay, which rejects them (R-ID-1).
    """
    store = Store.open(path)
    try:
        for index, raw, cached in store.iter_rows_cached(start, end):
            stage = STAGE_RECORD
            entry_id: bytes | None = None
            try:
                record = Record.from_wire(raw)
                stage = STAGE_ENTRY
                entry = record.entry()
                stage = STAGE_CACHE
                check_row_cache(record, entry, cached)  # names the stored entry id itself
                entry_id = entry.id
            except LedgerError as exc:
                if isinstance(exc, EncodingError):
                    exc.rule = exc.rule or "R-EN-1"
                replay.locate(exc, index, entry_id)
                return index, stage, exc.rule or "R-EN-1", exc.message, type(exc).__name__
            for sig in entry.sigs:
                public = pubs.get(sig.kid)
                if public is None:
                    continue
                try:
                    entry.verify_signature(sig.kid, public)
                except SignatureError as exc:
                    return (
                        index,
                        STAGE_SIGS,
                        "R-ID-1",
                        f"record {index} (entry {entry.id.hex()[:16]}): signature by key "
                        f"{sig.kid.hex()[:16]} is invalid: {exc}",
                        "RuleError",
                    )
    finally:
        store.close()
    return None


def _main_stage(exc: LedgerError, phase: int) -> int:
    """The stage of an error of the unchecked replay (see STAGE_*)."""
    if isinstance(exc, UncheckedParseError):
        return STAGE_UNCHECKED
    if isinstance(exc, ChainError) and exc.rule in ("R-CH-1", "R-TM-5"):
        return STAGE_CHAIN
    return (STAGE_RULES_BEFORE_SIGS, STAGE_SIGS, STAGE_RULES_AFTER_SIGS)[phase]
