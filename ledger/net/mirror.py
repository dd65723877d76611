"""Static tlog-tiles (publish) and verifying mirrors (sync); specs/node.md §4-§5.

* :func:`tile_bytes` / :func:`entry_bundle`: the C2SP tlog-tiles bodies of a ledger file
  (``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``), used by the node and by
  :func:`publish`, which writes the same tree of files to a directory so that any static
  web server can host the log.
* :func:`sync`: keep a local mirror file of a node (or of a static tile host) up to date.
  It reads only ``/checkpoint`` and ``/tile/...``, verifies the checkpoint with the
  operator key of the mirror's genesis record (trust on first use of the node's genesis,
  or a pinned ``--trust`` key), checks consistency with every checkpoint it has seen
  (proofs rebuilt from the node's tiles), checks that the new records give the signed
  root, and only then appends them through the rules engine (``Ledger.append`` at each
  record's own time, which rebuilds byte-identical records). A node that rewrote its
  history or showed two different trees of the same size is refused with a
  :class:`ForkError` naming both checkpoints; every checkpoint seen is kept, with the
  verdict of its latest sync, in the mirror's ``mirror_checkpoints`` table as evidence.

The evidence table and the files :func:`publish` writes belong to ``ledger/storage/``
(:mod:`~ledger.storage.mirror_tables`, :mod:`~ledger.storage.files`): this module runs no
SQL and writes no file itself.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ledger.core import merkle, note, tiles
from ledger.core.model import Record
from ledger.core.wire import join_entry_bundle, split_entry_bundle
from ledger.errors import ForkError, LedgerError, NotFoundError, ProofError
from ledger.ledger import Ledger
from ledger.net.client import LIMIT_BUNDLE, LIMIT_TILE, NodeClient, check_genesis
from ledger.storage import mirror_tables
from ledger.storage.files import write_atomic
from ledger.storage.store import Store

__all__ = [
    "ForkError",
    "PublishReport",
    "SyncReport",
    "checkpoint_at",
    "entry_bundle",
    "publish",
    "sync",
    "tile_bytes",
]

#: Records appended per transaction while syncing (records of equal time go together).
_SYNC_BATCH = 512


# ---------------------------------------------------------------------------
# Tiles and entry bundles of a ledger file


def tile_bytes(store: Store, level: int, index: int, width: int) -> bytes:
    """The body of ``tile/<level>/<index>[.p/<width>]``.

    Raises:
        NotFoundError: the tile does not exist (yet) at that width.
    """
    data = store.tile_reader().read_tiles([(level, index)]).get((level, index))
    need = width * merkle.HASH_SIZE
    if data is None or len(data) < need:
        raise NotFoundError(f"no tile {tiles.tile_path(level, index, width)}")
    return bytes(data[:need])


def entry_bundle(store: Store, index: int, width: int) -> bytes:
    """The body of ``tile/entries/<index>[.p/<width>]``: ``u16be(len) || record`` each.

    Raises:
        NotFoundError: the log does not have that many records.
    """
    start = index * tiles.TILE_WIDTH
    raws = list(store.iter_records(start, start + width))
    if len(raws) < width:
        raise NotFoundError(f"no entry bundle {tiles.entries_path(index, width)}")
    return join_entry_bundle(raws)


def checkpoint_at(store: Store, size: int) -> str | None:
    """The stored checkpoint note of one size, or None."""
    return store.checkpoint_at(size)


# ---------------------------------------------------------------------------
# publish


@dataclass
class PublishReport:
    size: int
    written: int
    kept: int


def publish(ledger: Ledger, directory: str | Path) -> PublishReport:
    """Write the log as C2SP tlog-tiles under ``directory`` at its latest checkpoint.

    Full tiles and bundles already present with the right length are kept (they are
    immutable); partial ones are written for the checkpoint's size. ``checkpoint`` is
    written last, so a reader never sees a checkpoint whose tiles are missing.

    Raises:
        NotFoundError: the ledger has no checkpoint.
    """
    latest = ledger.store.latest_checkpoint()
    if latest is None:
        raise NotFoundError("no checkpoint yet; sign one with 'kpledger checkpoint --key'")
    size, text = latest
    root = Path(directory)
    written = kept = 0
    for level, index, width in tiles.tiles_for_size(size):
        paths = [(tiles.tile_path(level, index, width), False)]
        if level == 0:
            paths.append((tiles.entries_path(index, width), True))
        for rel, is_bundle in paths:
            target = root / rel
            if width == tiles.TILE_WIDTH and target.exists():
                kept += 1  # a full tile or bundle never changes
                continue
            data = (
                entry_bundle(ledger.store, index, width)
                if is_bundle
                else tile_bytes(ledger.store, level, index, width)
            )
            write_atomic(target, data, make_parents=True)
            written += 1
    write_atomic(root / "checkpoint", text.encode(), make_parents=True)
    return PublishReport(size, written, kept)


# ---------------------------------------------------------------------------
# sync


@dataclass
class SyncReport:
    """What a sync did. ``trusted`` is set on a first sync without a pin (trust on first
    use of the node's genesis); ``pinned`` when the operator key was pinned."""

    url: str
    old_size: int
    size: int
    checkpoint: str
    trusted: note.Verifier | None = None
    pinned: bool = False


class _RemoteTiles:
    """A ``tiles.TileReader`` over a node's (or static host's) ``/tile/...`` files."""

    def __init__(self, client: NodeClient, size: int) -> None:
        self.client = client
        self.size = size

    def width(self, level: int, index: int) -> int:
        row = self.size >> (tiles.TILE_HEIGHT * level)
        full = row >> tiles.TILE_HEIGHT
        return tiles.TILE_WIDTH if index < full else row & (tiles.TILE_WIDTH - 1)

    def read_tiles(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        out: dict[tuple[int, int], bytes] = {}
        for level, index in keys:
            width = self.width(level, index)
            if width:
                path = "/" + tiles.tile_path(level, index, width)
                data = self.client.get_bytes(path, max_bytes=LIMIT_TILE)
                if len(data) != width * merkle.HASH_SIZE:
                    raise ProofError(
                        f"{self.client.base}{path}: {len(data)} bytes, not {width} hashes"
                    )
                out[(level, index)] = data
        return out

    def bundle(self, index: int) -> list[bytes]:
        """The records of entry bundle ``index`` (exactly as many as its width).

        Raises:
            ProofError: another number of records.
            LimitError: a bundle over the largest a tile can hold.
        """
        width = self.width(0, index)
        path = "/" + tiles.entries_path(index, width)
        raws = split_entry_bundle(self.client.get_bytes(path, max_bytes=LIMIT_BUNDLE))
        if len(raws) != width:
            raise ProofError(f"{self.client.base}{path}: {len(raws)} records, not {width}")
        return raws


def _tiles_give_root(remote: _RemoteTiles, cp: note.Checkpoint) -> bool:
    """Whether the host's hash tiles give the root its signed checkpoint names."""
    try:
        return merkle.tree_root(cp.size, tiles.TileHashReader(remote, cp.size)) == cp.root
    except LedgerError:
        return False


def _corrupt_tile(store: Store, remote: _RemoteTiles, size: int) -> str | None:
    """The first remote hash tile whose hashes over the first ``size`` records differ from
    this mirror's own (verified) tiles, as its path; None if all agree.

    A tile the mirror can check this way covers records it holds: a difference there is
    the host's fault, whatever the checkpoint says.
    """
    if size <= 0:
        return None
    local_tiles = store.tile_reader()
    for level, index, width in tiles.tiles_for_size(size):
        try:
            theirs = remote.read_tiles([(level, index)]).get((level, index))
        except LedgerError:
            return tiles.tile_path(level, index, remote.width(level, index))
        ours = local_tiles.read_tiles([(level, index)]).get((level, index))
        if theirs is None or ours is None:
            continue
        n = width * merkle.HASH_SIZE
        if theirs[:n] != ours[:n]:
            return tiles.tile_path(level, index, remote.width(level, index))
    return None


class _Overlay:
    """Tiles of a store with some replaced: the tree after a not-yet-written append."""

    def __init__(self, base: tiles.TileReader, extra: Mapping[tuple[int, int], bytes]) -> None:
        self.base = base
        self.extra = extra

    def read_tiles(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        out = dict(self.base.read_tiles([k for k in keys if k not in self.extra]))
        out.update({k: self.extra[k] for k in keys if k in self.extra})
        return out


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def _remember(store: Store, cp: note.Checkpoint, text: str, source: str, *, accepted: bool) -> None:
    """Keep ``cp`` with this sync's verdict in the mirror's evidence table."""
    mirror_tables.record_checkpoint(
        store,
        size=cp.size,
        root=cp.root,
        note=text,
        source=source,
        seen_ms=time.time_ns() // 1_000_000,
        accepted=accepted,
    )


def _refuse(store: Store, url: str, cp: note.Checkpoint, text: str, what: str) -> ForkError:
    """Keep the refused checkpoint as evidence; the error to raise."""
    _remember(store, cp, text, url, accepted=False)
    return ForkError(
        f"refusing {url}: {what}; its signed checkpoint is kept as evidence in the "
        f"mirror_checkpoints table of {store.path}"
    )


def _first_sync(
    path: str, client: NodeClient, cp_text: str, trust: note.Verifier | None
) -> tuple[Ledger, note.Verifier]:
    """Create the mirror from the node's genesis record (pinned, or trusted on first use)."""
    body = note.parse_checkpoint(note.parse_note(cp_text).text)
    if body.size == 0:
        raise ProofError(f"{client.base} serves an empty log; nothing to mirror")
    raws = _RemoteTiles(client, body.size).bundle(0)
    verifier = check_genesis(raws[0], client.base, trust)
    genesis = Record.from_wire(raws[0])
    entry = genesis.entry()
    note.open_checkpoint(cp_text, verifier)  # before anything is written
    store = Store.create(path)
    try:
        store.append([entry], now=genesis.time)
        if store.record(0).raw != genesis.raw:
            raise ProofError(f"{client.base}: the genesis record is not canonical")
    except BaseException:
        store.discard()
        raise
    store.close()
    return Ledger(Store.open(path, synchronous="NORMAL")), verifier


def sync(
    path: str,
    url: str,
    *,
    trust: note.Verifier | None = None,
    client: NodeClient | None = None,
    ca_file: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> SyncReport:
    """Bring the mirror file ``path`` up to the checkpoint of the node at ``url``.

    ``trust`` pins the operator verifier: a new mirror's genesis, and an existing
    mirror's own, must name it. Without it a new mirror trusts the node's genesis on
    first use (``SyncReport.trusted`` says so) and later syncs use the mirror's genesis.

    Raises:
        ForkError: the node's checkpoint contradicts one seen before (same size, other
            root; or no consistency proof), or contradicts the mirrored records.
        ProofError: a genesis or mirror of another operator than ``trust``, a checkpoint
            that does not verify under the operator key, or records that are not in the
            signed tree; nothing of them is appended then.
        RuleError, ChainError, EncodingError: a new record the rules engine rejects.
        LimitError: an answer larger than anything a node sends.
        StoreError: the node cannot be reached.
    """
    own_client = client is None
    http = client if client is not None else NodeClient(url, ca_file=ca_file)
    led: Ledger | None = None
    try:
        cp_text = http.get_text("/checkpoint")
        trusted = None
        created = not os.path.exists(path)
        if not created:
            led = Ledger(Store.open(path, synchronous="NORMAL"))
            mine = led.verifier()
            if trust is not None and (mine.name, mine.public) != (trust.name, trust.public):
                raise ProofError(
                    f"the mirror {path} is of operator {mine.vkey()}, not the pinned {trust.vkey()}"
                )
        else:
            led, verifier = _first_sync(path, http, cp_text, trust)
            trusted = verifier if trust is None else None
        report = _sync_into(led, http, cp_text, progress)
        report.pinned = trust is not None
        report.trusted = trusted
        if created:
            report.old_size = 0  # the genesis record came with this sync too
        return report
    finally:
        if led is not None:
            led.close()
        if own_client:
            http.close()


def _sync_into(
    led: Ledger, http: NodeClient, cp_text: str, progress: Callable[[int], None] | None
) -> SyncReport:
    url = http.base
    store = led.store
    try:
        cp, _ = note.open_checkpoint(cp_text, led.verifier())
    except ProofError as exc:
        raise ProofError(
            f"{url}'s checkpoint is not signed by this mirror's operator key "
            f"({led.verifier().vkey()}): {exc.message}"
        ) from exc
    seen = mirror_tables.accepted_checkpoints(store)
    local = led.size()
    remote = _RemoteTiles(http, cp.size)
    here = f"size {cp.size} root {_b64(cp.root)}"

    # 1. Split view: the operator key signed another tree of a size already seen.
    for s in seen:
        if s.size == cp.size and s.root != cp.root:
            raise _refuse(
                store,
                url,
                cp,
                cp_text,
                f"the operator key signed two different trees of size {cp.size} (split view): "
                f"{url} shows root {_b64(cp.root)}, {s.source} showed root {_b64(s.root)}",
            )
    # 2. Append-only: consistent with the largest checkpoint accepted so far.
    if seen:
        last = seen[-1]
        if last.size <= cp.size:
            try:
                reader = tiles.TileHashReader(remote, cp.size)
                proof = (
                    merkle.consistency_proof(last.size, cp.size, reader)
                    if 0 < last.size < cp.size
                    else []
                )
                merkle.verify_consistency(last.size, cp.size, last.root, cp.root, proof)
            except ProofError as exc:
                if not _tiles_give_root(remote, cp):
                    # The host's tiles do not even give its own signed root: the host's
                    # copy is damaged, the operator is not in question; no evidence kept.
                    corrupt = _corrupt_tile(store, remote, min(local, cp.size))
                    which = f"a corrupt tile {corrupt}" if corrupt else "corrupt tiles"
                    raise ProofError(
                        f"{url} served {which}: its hash tiles do not give the root of its "
                        "own signed checkpoint"
                        + (
                            f" and contradict the {local} records this mirror holds"
                            if corrupt
                            else ""
                        )
                        + " (the host's copy is damaged; the operator's signed checkpoint is "
                        "not in question)"
                    ) from exc
                raise _refuse(
                    store,
                    url,
                    cp,
                    cp_text,
                    f"its {here} does not extend size {last.size} root {_b64(last.root)} "
                    f"seen at {last.source}: the log was rewritten ({exc.message})",
                ) from exc
    # 3. The mirrored records themselves.
    if cp.size <= local:
        mine = store.root(cp.size)
        if mine != cp.root:
            raise _refuse(
                store,
                url,
                cp,
                cp_text,
                f"its {here} differs from this mirror's records (root {_b64(mine)}): "
                "the log was rewritten",
            )
    else:
        _fetch_and_append(led, remote, local, cp, progress)
    # 4. The state map: the operator's committed root must be the one the records give.
    mine_map = store.map_root(cp.size)
    if note.map_root(cp) != mine_map:
        raise _refuse(
            store,
            url,
            cp,
            cp_text,
            f"its checkpoint at size {cp.size} commits to state-map root "
            f"{_b64(note.map_root(cp))}, the records give {_b64(mine_map)}: the operator "
            "committed a false state (R-SM-1)",
        )
    _remember(store, cp, cp_text, url, accepted=True)
    if led.size() >= cp.size:
        # Keep every signature line seen for this tree head (cosignatures accumulate).
        merged = checkpoint_at(store, cp.size)
        if merged is None or note.parse_note(merged).text != note.parse_note(cp_text).text:
            merged = cp_text
        else:
            for sig in note.parse_note(cp_text).signatures:
                merged = note.add_signature(merged, sig.line())
        store.add_checkpoint(cp.size, merged)
    return SyncReport(url, local, led.size(), cp_text)


#: A sync verifies and appends the new records in windows of at most this many records
#: or bytes of records, so its memory does not grow with what a node claims to hold.
_WINDOW_RECORDS = 8192
_WINDOW_BYTES = 8 << 20


def _fetch_and_append(
    led: Ledger,
    remote: _RemoteTiles,
    local: int,
    cp: note.Checkpoint,
    progress: Callable[[int], None] | None,
) -> None:
    """Fetch records ``[local, cp.size)`` and append them, window by window.

    Each window is checked before it is appended: its records must chain on, and the
    tree of the mirror's records with the window added must be a prefix of the signed
    checkpoint's tree (a consistency proof from the window's end to ``cp``, rebuilt from
    the node's tiles, verified against both roots; at the end, the root itself). So
    nothing that is not in the operator-signed tree is ever appended, and memory is
    bounded by one window and one entry bundle, whatever size the checkpoint claims.
    """
    store = led.store
    url = remote.client.base
    prev = store.record(local - 1).hash
    window: list[Record] = []
    window_bytes = 0
    end_bundle = -(-cp.size // tiles.TILE_WIDTH)
    for bundle_index in range(local // tiles.TILE_WIDTH, end_bundle):
        first = bundle_index * tiles.TILE_WIDTH
        for offset, raw in enumerate(remote.bundle(bundle_index)):
            index = first + offset
            if index < local:
                continue
            record = Record.from_wire(raw)
            if record.index != index or record.prev != prev:
                raise ProofError(
                    f"{url}: record {index} of its entry bundle breaks the chain "
                    "(index or previous-hash link)",
                    rule="R-CH-1",
                )
            window.append(record)
            window_bytes += len(raw)
            prev = record.hash
        last = bundle_index == end_bundle - 1
        if last or len(window) >= _WINDOW_RECORDS or window_bytes >= _WINDOW_BYTES:
            _check_window(led, remote, window, cp)
            _append_window(led, window, progress)
            window = []
            window_bytes = 0


def _check_window(
    led: Ledger, remote: _RemoteTiles, window: list[Record], cp: note.Checkpoint
) -> None:
    """Raise unless the mirror's records followed by ``window`` are a prefix of ``cp``'s
    tree.

    Raises:
        ProofError: R-CH-2, they are not (nothing of the window is appended).
    """
    store = led.store
    url = remote.client.base
    old = store.size()
    end = old + len(window)
    updated = tiles.append_to_tiles(old, [r.hash for r in window], store.tile_reader())
    root = merkle.tree_root(end, tiles.TileHashReader(_Overlay(store.tile_reader(), updated), end))
    try:
        if end == cp.size:
            if root != cp.root:
                raise ProofError("the root differs")
        else:
            reader = tiles.TileHashReader(remote, cp.size)
            proof = merkle.consistency_proof(end, cp.size, reader)
            merkle.verify_consistency(end, cp.size, root, cp.root, proof)
    except ProofError as exc:
        raise ProofError(
            f"{url}: its records {old}..{end - 1} do not give the tree of its signed "
            f"checkpoint of size {cp.size} ({exc.message}); nothing of them was appended",
            rule="R-CH-2",
        ) from exc


def _append_window(
    led: Ledger, records: list[Record], progress: Callable[[int], None] | None
) -> None:
    """Append checked records at their own times (equal times in one transaction)."""
    batch: list[Record] = []

    def flush() -> None:
        if not batch:
            return
        done = led.append([r.entry() for r in batch], now=batch[0].time)
        for got, want in zip(done, batch, strict=True):
            if got.record.raw != want.raw:  # pragma: no cover - canonical encoding
                raise ProofError(f"record {want.index} did not re-encode identically")
        if progress is not None:
            progress(len(batch))
        batch.clear()

    for record in records:
        if batch and (record.time != batch[0].time or len(batch) >= _SYNC_BATCH):
            flush()
        batch.append(record)
    flush()
