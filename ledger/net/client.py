"""Talking to a kpledger node over HTTP (specs/node.md): the client side.

* :class:`NodeClient`: one keep-alive HTTP connection pool (``httpx``) to a node or to a
  static tlog-tiles host. Every answer is **streamed with a size limit** checked before
  more is read (a checkpoint at most 1 MiB, a hash tile 8 KiB, an entry bundle
  16.8 MiB, a page of records 2 MiB, an error 64 KiB, any other answer 32 MiB), within an
  overall deadline, and compressed answers are refused, so a hostile host cannot make a
  client hold more than that. Error answers of a node (``{"error", "rule", "message"}``)
  come back as the same :class:`~ledger.errors.LedgerError` subclass the node raised, so
  the CLI prints a remote rejection exactly like a local one. A node that cannot be
  reached is a :class:`~ledger.errors.StoreError`. ``429 Too Many Requests`` is retried
  after ``Retry-After`` (a few times, a few seconds at most). ``https://`` nodes are
  checked against the system's CA certificates or a given CA file.
* :class:`RemoteLedger`: the subset of the :class:`~ledger.ledger.Ledger` API that the
  CLI uses, against a node URL, **pinned to one operator key**: it is built with the
  trusted operator verifier, and refuses a node whose genesis record (record 0) names
  another key or origin, and every checkpoint, receipt or bundle not signed by that
  key. Entries are signed locally (the key never leaves the machine) and POSTed; every
  append answer carries a signed checkpoint and an inclusion proof per record, which are
  checked here. ``verify`` downloads every record and replays it locally through the same
  rules engine, then checks the node's signed checkpoint against the replayed tree.
* :func:`check_genesis` and :func:`fetch_genesis`: the operator verifier a genesis record
  names, checked against a pin; what ``kpledger trust add`` shows before pinning.

The byte framings (entry frames, entry bundles, msgpack answers) are
:mod:`ledger.core.wire`'s. Reads are answered by the node and trusted as a local file
would be; what must not be trusted (the genesis, checkpoints, receipts, proofs, a full
verify) is checked against the pinned key, never against a key the node reports.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ledger import errors
from ledger.api import NODE_SCOPE, LedgerAPI, Signing, Trace, VerifyReport, entry_prefix
from ledger.core import merkle, note, replay, rules, tiles
from ledger.core.journey import step_from_json
from ledger.core.keys import PrivateKey
from ledger.core.model import MAX_RECORD_SIZE, ZERO_HASH, Record, SignedEntry, key_id
from ledger.core.proofs import MAX_BUNDLE_SIZE, Bundle
from ledger.core.rules import Finding
from ledger.core.wire import MSGPACK, pack_entries, split_entry_bundle, unpack
from ledger.errors import (
    EncodingError,
    LedgerError,
    LimitError,
    NotFoundError,
    ProofError,
    StoreError,
    UsageError,
)
from ledger.storage.store import Appended

__all__ = [
    "Answer",
    "NodeClient",
    "RemoteLedger",
    "check_genesis",
    "fetch_genesis",
    "is_url",
]

#: Records asked for per ``GET /api/records`` page.
PAGE = 1000

_RETRIES = 5
_MAX_WAIT = 5.0

#: The most bytes read of one answer, by kind (specs/node.md §3.1).
LIMIT_NOTE = note.MAX_NOTE_SIZE
LIMIT_TILE = tiles.TILE_WIDTH * merkle.HASH_SIZE
LIMIT_BUNDLE = tiles.TILE_WIDTH * (2 + MAX_RECORD_SIZE)
LIMIT_PAGE = 2 << 20
LIMIT_PROOF_BUNDLE = MAX_BUNDLE_SIZE
LIMIT_ERROR = 64 << 10
LIMIT_ANSWER = 32 << 20
#: Seconds one answer may take in all, however steadily it trickles in.
DEADLINE = 120.0


def is_url(text: str) -> bool:
    """True for an ``http://`` or ``https://`` ledger location."""
    return text.startswith(("http://", "https://"))


# ---------------------------------------------------------------------------
# HTTP client


_ERRORS = errors.error_classes()


def error_from_answer(status: int, data: Any, what: str) -> LedgerError:
    """The LedgerError a node's error answer stands for (unknown codes: StoreError)."""
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        cls = _ERRORS.get(str(data.get("error")), StoreError)
        rule = data.get("rule")
        return cls(data["message"][:2000], rule=rule if isinstance(rule, str) else None)
    if status == 404:
        return NotFoundError(f"{what}: not found (HTTP 404)")
    return StoreError(f"{what}: HTTP {status}")


@dataclass(frozen=True)
class Answer:
    """An answer read in full within its limit."""

    status: int
    headers: httpx.Headers
    content: bytes

    @property
    def text(self) -> str:
        """The body as UTF-8 text.

        Raises:
            EncodingError: it is not UTF-8.
        """
        try:
            return self.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EncodingError("the answer is not UTF-8 text") from exc


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """A client TLS context trusting the system's CA certificates, or only ``ca_file``.

    Raises:
        UsageError: the CA file cannot be read.
    """
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"--ca-file: cannot load CA certificates from {ca_file}: {exc}") from exc


class NodeClient:
    """A pooled HTTP client for one node (or static tile host) at ``base``."""

    def __init__(
        self,
        base: str,
        *,
        timeout: float = 30.0,
        ca_file: str | None = None,
        deadline: float = DEADLINE,
    ) -> None:
        if not is_url(base):
            raise UsageError(f"not an http(s) URL: {base!r}")
        self.base = base.rstrip("/")
        self.deadline = deadline
        # Redirects are not followed, so a plain-http client never needs TLS settings
        # (building the default TLS context costs ~40 ms per CLI command).
        verify: ssl.SSLContext | bool = False
        if self.base.startswith("https://"):
            verify = tls_context(ca_file)
        self._http = httpx.Client(
            timeout=timeout,
            headers={"User-Agent": "kpledger", "Accept-Encoding": "identity"},
            verify=verify,
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        content_type: str = "application/octet-stream",
        accept: str = MSGPACK,
        max_bytes: int = LIMIT_ANSWER,
    ) -> Answer:
        """Send one request; read at most ``max_bytes`` of the answer; map transport
        failures and error answers to LedgerErrors.

        Raises:
            StoreError: the node cannot be reached, answered too slowly, or 5xx / 429 too
                long.
            LimitError: the answer is larger than ``max_bytes`` (nothing more is read).
            LedgerError: the node's error answer (its own subclass).
        """
        url = self.base + path
        headers = {"Accept": accept}
        if content is not None:
            headers["Content-Type"] = content_type
        for attempt in range(_RETRIES):
            try:
                answer = self._exchange(method, url, params, content, headers, max_bytes)
            except httpx.HTTPError as exc:
                raise StoreError(f"could not reach the node at {self.base}: {exc}") from exc
            if answer.status == 429 and attempt + 1 < _RETRIES:
                try:
                    wait = float(answer.headers.get("Retry-After", "1"))
                except ValueError:
                    wait = 1.0
                time.sleep(min(max(wait, 0.05), _MAX_WAIT))
                continue
            break
        if answer.status >= 400:
            try:
                data = json.loads(answer.content)
            except ValueError:
                data = None
            raise error_from_answer(answer.status, data, f"{method} {url}")
        return answer

    def _exchange(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        content: bytes | None,
        headers: dict[str, str],
        limit: int,
    ) -> Answer:
        """One request, its answer streamed in and cut off past its limit."""
        started = time.monotonic()
        with self._http.stream(
            method, url, params=params, content=content, headers=headers
        ) as resp:
            if resp.status_code >= 400:
                limit = min(limit, LIMIT_ERROR)
            encoding = resp.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise EncodingError(
                    f"{url} answered with Content-Encoding {encoding[:40]!r}; kpledger asks "
                    "for and reads only uncompressed answers"
                )
            length = resp.headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                raise LimitError(
                    f"{url} announced an answer of {length} bytes; refused unread (the limit "
                    f"for it is {limit})"
                )
            body = bytearray()
            for chunk in resp.iter_raw():
                body += chunk
                if len(body) > limit:
                    raise LimitError(
                        f"{url} sent more than {limit} bytes; refused after reading "
                        f"{len(body)} (the limit for this answer)"
                    )
                if time.monotonic() - started > self.deadline:
                    raise StoreError(
                        f"{url} took more than {self.deadline:.0f} s to answer; gave up"
                    )
            return Answer(resp.status_code, resp.headers, bytes(body))

    def get_value(self, path: str, *, max_bytes: int = LIMIT_ANSWER, **params: Any) -> Any:
        """GET a msgpack answer of at most ``max_bytes`` and decode it."""
        answer = self.request("GET", path, params=params or None, max_bytes=max_bytes)
        return unpack(answer.content)

    def get_bytes(self, path: str, *, max_bytes: int = LIMIT_ANSWER, **params: Any) -> bytes:
        """GET a binary answer of at most ``max_bytes``."""
        return self.request(
            "GET", path, params=params or None, accept="*/*", max_bytes=max_bytes
        ).content

    def get_text(self, path: str, *, max_bytes: int = LIMIT_NOTE) -> str:
        """GET a text answer (a signed note) of at most ``max_bytes``."""
        answer = self.request("GET", path, accept="text/plain", max_bytes=max_bytes)
        try:
            return answer.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProofError(f"{self.base}{path} is not UTF-8 text") from exc


# ---------------------------------------------------------------------------
# The operator a node's genesis names, and the pin


def check_genesis(raw: bytes, source: str, trust: note.Verifier | None = None) -> note.Verifier:
    """The operator verifier (origin and key) named by the genesis record ``raw``.

    With ``trust``, the record must name exactly that key and origin.

    Raises:
        ProofError: not a genesis record at index 0, a genesis not signed by the key it
            names, or (with ``trust``) another key or origin than the pinned one.
    """
    try:
        record = Record.from_wire(raw)
        entry = record.entry()
    except LedgerError as exc:
        raise ProofError(f"{source}: record 0 is not a valid record: {exc.message}") from exc
    if record.index != 0 or entry.type != "genesis":
        raise ProofError(f"{source}: record 0 is not a genesis record")
    pub = entry.fields.get("operator")
    if not isinstance(pub, bytes):
        raise ProofError(f"{source}: the genesis record names no operator key")
    try:
        entry.verify_signature(key_id(pub), pub)
    except LedgerError as exc:
        raise ProofError(
            f"{source}: the genesis record is not signed by the operator key it names"
        ) from exc
    verifier = note.Verifier.for_ed25519(entry.body.ledger, pub)
    if trust is not None and (trust.name, trust.public) != (verifier.name, verifier.public):
        raise ProofError(
            f"{source} is not the pinned ledger: its genesis names operator {verifier.vkey()} "
            f"(key id {key_id(pub).hex()[:16]}), the pinned key is {trust.vkey()} "
            f"(key id {key_id(trust.public).hex()[:16]}); refusing it (a rogue node, a man "
            "in the middle, or the wrong URL)"
        )
    return verifier


def fetch_genesis(client: NodeClient) -> tuple[Record, note.Verifier, str]:
    """Record 0 of a node or static tile host (from its first entry bundle), the verifier
    it names, and the host's checkpoint (not yet verified).

    Raises:
        ProofError: an empty log, or no valid genesis record.
        StoreError, LimitError: the host cannot be read, or answers too much.
    """
    cp_text = client.get_text("/checkpoint")
    body = note.parse_checkpoint(note.parse_note(cp_text).text)
    if body.size == 0:
        raise ProofError(f"{client.base} serves an empty log")
    width = min(body.size, tiles.TILE_WIDTH)
    raws = split_entry_bundle(
        client.get_bytes("/" + tiles.entries_path(0, width), max_bytes=LIMIT_BUNDLE)
    )
    if not raws:
        raise ProofError(f"{client.base}: the first entry bundle is empty")
    verifier = check_genesis(raws[0], client.base)
    return Record.from_wire(raws[0]), verifier, cp_text


# ---------------------------------------------------------------------------
# The remote ledger


class RemoteLedger(Signing):
    """The CLI's view of a ledger held by a node at ``url`` (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        trust: note.Verifier,
        client: NodeClient | None = None,
        ca_file: str | None = None,
    ) -> None:
        """Connect to the node at ``url``, pinned to the operator verifier ``trust``.

        Raises:
            ProofError: the node's genesis record names another operator key or origin.
            StoreError: the node cannot be reached.
        """
        self.url = url.rstrip("/")
        self.client = client or NodeClient(self.url, ca_file=ca_file)
        self._trust = trust
        try:
            page = self.client.get_value("/api/records", start=0, limit=1, max_bytes=LIMIT_PAGE)
        except BaseException:
            self.client.close()
            raise
        if not isinstance(page, list) or not page or not isinstance(page[0], bytes):
            self.client.close()
            raise ProofError(f"{self.url} serves no genesis record")
        try:
            verifier = check_genesis(page[0], self.url, trust)
        except BaseException:
            self.client.close()
            raise
        genesis = Record.from_wire(page[0]).entry()
        self.origin: str = verifier.name
        self._operator_pub: bytes = verifier.public
        self.operator: bytes = key_id(verifier.public)
        self.operator_name: str = str(genesis.fields["name"])
        self._names: dict[bytes, str] = {}

    def _checked(self, text: str, what: str) -> tuple[note.Checkpoint, note.Note]:
        """``text`` opened with the pinned operator key.

        Raises:
            ProofError: it is not signed by the pinned key.
        """
        try:
            return note.open_checkpoint(text, self._trust)
        except ProofError as exc:
            raise ProofError(
                f"{self.url}: {what} is not signed by the pinned operator key "
                f"{self._trust.vkey()}: {exc.message} (the node's key changed, or someone "
                "in the middle rewrote its answer)"
            ) from exc

    def close(self) -> None:
        self.client.close()

    # -- writing --------------------------------------------------------------

    def append(
        self,
        entries: Sequence[SignedEntry],
        *,
        now: int,
        progress: Callable[[int], None] | None = None,
    ) -> list[Appended]:
        """POST entries; the node appends them at its own time (``now`` is not sent).

        Checks the receipt: each record holds the entry sent, and is included (Merkle
        proof) in the operator-signed checkpoint returned with it.

        Raises:
            LedgerError: the node's rejection (same class, rule and message as locally).
            ProofError: the receipt does not verify.
        """
        del now  # the node's clock decides the record time (specs/log.md §2)
        if not entries:
            return []
        resp = self.client.request("POST", "/api/entries", content=pack_entries(entries))
        answer = unpack(resp.content)
        if not isinstance(answer, dict) or not isinstance(answer.get("checkpoint"), str):
            raise ProofError(f"{self.url} answered the append without a checkpoint")
        cp, _ = self._checked(answer["checkpoint"], "the checkpoint of its receipt")
        done: list[Appended] = []
        for entry, row in zip(entries, answer["entries"], strict=True):
            record = Record.from_wire(row["record"])
            if record.entry_bytes != entry.raw or record.index != row["index"]:
                raise ProofError(f"the node answered record {row['index']} for another entry")
            try:
                merkle.verify_inclusion(
                    record.hash, record.index, cp.size, [bytes(h) for h in row["proof"]], cp.root
                )
            except ProofError as exc:
                raise ProofError(
                    f"the node's receipt for record {record.index} does not verify: {exc.message}"
                ) from exc
            warnings = tuple(Finding(str(r), str(m)) for r, m in row["warnings"])
            done.append(Appended(record.index, entry, record, warnings))
        if progress is not None:
            progress(len(done))
        return done

    def check(self, entries: Sequence[SignedEntry], *, now: int) -> list[Appended]:
        """Ask the node whether it would append ``entries`` (``--dry-run``); nothing is
        written. The records returned carry no record bytes: nothing was sequenced.

        Raises:
            LedgerError: the node's rejection (same class, rule and message as locally).
        """
        del now
        if not entries:
            return []
        resp = self.client.request("POST", "/api/entries/check", content=pack_entries(entries))
        answer = unpack(resp.content)
        done: list[Appended] = []
        for entry, row in zip(entries, answer["entries"], strict=True):
            warnings = tuple(Finding(str(r), str(m)) for r, m in row["warnings"])
            record = Record.build(int(row["index"]), ZERO_HASH, 0, entry.raw)
            done.append(Appended(int(row["index"]), entry, record, warnings))
        return done

    def append_checkpointed(
        self,
        entries: Sequence[SignedEntry],
        key: PrivateKey,
        *,
        now: int,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[list[Appended], str]:
        """Append, then re-sign the node's checkpoint with the operator ``key``.

        The node signs a checkpoint after every append itself; re-signing it locally proves
        the node holds the operator key this user holds (see :meth:`checkpoint`).

        Raises:
            ProofError: ``key`` is not the operator's (checked before anything is sent).
        """
        if key.kid != self.operator:
            raise ProofError("only the operator key signs checkpoints")
        done = self.append(entries, now=now, progress=progress)
        return done, self.checkpoint(key)

    # -- state lookups ----------------------------------------------------------

    def parcel(self, pid: str) -> dict[str, Any]:
        return dict(self.client.get_value("/api/parcel", id=pid))

    def input_ref(self, pid: str) -> dict[str, Any]:
        return {"parcel": pid, "head": self.parcel(pid)["head"]}

    def party(self, name_or_prefix: str) -> dict[str, Any]:
        return dict(self.client.get_value("/api/party", name=name_or_prefix))

    def participants(self) -> list[dict[str, Any]]:
        return list(self.client.get_value("/api/participants"))

    def kp_statuses(self) -> dict[str, list[list[str]]]:
        return dict(self.client.get_value("/api/kp-status"))

    def inventory(self, name: str) -> list[dict[str, Any]]:
        return list(self.client.get_value("/api/inventory", name=name))

    def transfer(self, transfer_id: bytes) -> dict[str, Any]:
        return dict(self.client.get_value("/api/transfer", id=transfer_id.hex()))

    def certificate(self, number: str) -> dict[str, Any]:
        return dict(self.client.get_value("/api/certificate", number=number))

    def parameters(self, day: str) -> list[dict[str, Any]]:
        return list(self.client.get_value("/api/parameters", day=day))

    def warranties(self, name: str, start: str, end: str) -> dict[str, Any]:
        return dict(self.client.get_value("/api/warranties", name=name, start=start, end=end))

    def governance(self) -> dict[str, Any] | None:
        value = self.client.get_value("/api/governance")
        return dict(value) if value is not None else None

    def proposals(self) -> list[dict[str, Any]]:
        return list(self.client.get_value("/api/proposals"))

    def propose(self, entry: SignedEntry) -> dict[str, Any]:
        """POST a proposal (or a co-signed pending one); the node appends it once k
        governors signed. The receipt of an append is checked as :meth:`append` does."""
        resp = self.client.request("POST", "/api/proposals", content=entry.raw)
        answer = dict(unpack(resp.content))
        appended = answer.get("appended")
        if appended is not None:
            cp, _ = note.open_checkpoint(appended["checkpoint"], self.verifier())
            for row in appended["entries"]:
                record = Record.from_wire(row["record"])
                merkle.verify_inclusion(
                    record.hash, record.index, cp.size, [bytes(h) for h in row["proof"]], cp.root
                )
        return answer

    def resolve_entry(self, text: str) -> bytes:
        return bytes(self.client.get_value("/api/resolve", prefix=entry_prefix(text)))

    def certificate_fields(
        self,
        *,
        number: str,
        parcels: Sequence[str],
        exporter: str,
        importer: str,
        value_usd_cents: int,
        expires: str,
    ) -> dict[str, Any]:
        return dict(
            self.client.get_value(
                "/api/certificate-fields",
                number=number,
                parcels=",".join(parcels),
                exporter=exporter,
                importer=importer,
                value_usd_cents=value_usd_cents,
                expires=expires,
            )
        )

    # -- reading the log ----------------------------------------------------------

    def size(self) -> int:
        return int(self.client.get_value("/api/info")["size"])

    def raw_records(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Record bytes ``[start, end)`` in log order, fetched page by page."""
        pos = start
        while end is None or pos < end:
            limit = PAGE if end is None else min(PAGE, end - pos)
            page = self.client.get_value(
                "/api/records", start=pos, limit=limit, max_bytes=LIMIT_PAGE
            )
            if not page:
                return
            for raw in page:
                yield bytes(raw)
            pos += len(page)

    def records(self, start: int = 0, end: int | None = None) -> Iterable[Record]:
        for raw in self.raw_records(start, end):
            yield Record.from_wire(raw)

    def entry(self, entry_id: bytes) -> tuple[Record, SignedEntry]:
        record = Record.from_wire(self.client.get_value("/api/entry", id=entry_id.hex()))
        return record, record.entry()

    def findings(self, index: int | None = None) -> list[tuple[int, str, str]]:
        params = {} if index is None else {"index": index}
        rows = self.client.get_value("/api/findings", **params)
        return [(int(i), str(r), str(m)) for i, r, m in rows]

    def signer_name(self, kid: bytes) -> str:
        name = self._names.get(kid)
        if name is None:
            try:
                info = self.client.get_value("/api/key", kid=kid.hex())
                name = str(info["name"])
            except NotFoundError:
                name = kid.hex()[:16]
            self._names[kid] = name
        return name

    def history(self, pid: str) -> list[tuple[Record, SignedEntry]]:
        out = []
        for raw in self.client.get_value("/api/history", item=pid):
            record = Record.from_wire(raw)
            out.append((record, record.entry()))
        return out

    def trace(self, pid: str) -> Trace:
        t = self.client.get_value("/api/trace", item=pid)
        steps = [step_from_json(s) for s in t["steps"]]
        void = [rules.void_from_json(v) for v in t.get("quarantine", ())]
        return Trace(t["item"], steps, t["certificates"], t["origins"], void)

    # -- verification -------------------------------------------------------------

    def verify(
        self,
        *,
        progress: Callable[[int], None] | None = None,
        jobs: int = 1,
        chunk: int = 0,
    ) -> VerifyReport:
        """Download every record, replay it locally, check the node's latest checkpoint.

        The operator key is the one the replayed genesis record names, not one the node
        reports; the checkpoint's root must be the root of the replayed records at its size.

        Raises:
            ChainError, EncodingError, RuleError: the first invalid record (named).
            ProofError: the checkpoint does not verify or does not match the records.
        """
        del jobs, chunk  # one local replay; the download dominates
        leaves: list[bytes] = []
        last_time = [0]

        def on_record(record: Record, entry: SignedEntry) -> None:
            leaves.append(record.hash)
            last_time[0] = record.time

        rows = enumerate(self.raw_records())
        result = replay.replay(rows, progress=progress, on_record=on_record)
        meta = result.state.get("meta", "ledger")
        if meta is None:
            raise ProofError("the node's log has no genesis record")
        kid = result.state.get("kid", meta["operator"].hex())
        if kid is None:
            raise ProofError("the node's genesis record does not register the operator key")
        verifier = note.Verifier.for_ed25519(meta["origin"], kid["pub"])
        if (verifier.name, verifier.public) != (self._trust.name, self._trust.public):
            raise ProofError(
                f"{self.url}: the replayed genesis names operator {verifier.vkey()}, not the "
                f"pinned {self._trust.vkey()}"
            )
        checkpoints = 0
        try:
            text = self.latest_checkpoint()
        except NotFoundError:
            text = None
        if text is not None:
            cp, _ = self._checked(text, "its latest checkpoint")
            if cp.size > result.size:
                raise ProofError(
                    f"the node's checkpoint of size {cp.size} is beyond its {result.size} records",
                    rule="R-CH-2",
                )
            if merkle.root_from_leaf_hashes(leaves[: cp.size]) != cp.root:
                raise ProofError(
                    f"the node's signed checkpoint at size {cp.size} does not match the records "
                    "it serves (the log was rewritten)",
                    rule="R-CH-2",
                )
            checkpoints = 1
        report = VerifyReport(
            result.size, result.root, result.warnings, checkpoints, scope=NODE_SCOPE
        )
        state = result.state  # every value: a replay without backing keeps them all
        compromised = {bytes.fromhex(k): v for k, v in state.items("kid") if "compromised" in v}
        if compromised:  # a second download, only when some key was compromised
            report.quarantined = replay.quarantined_items(self.raw_records(), compromised.get)
        certs = [v for _, v in state.items("cert")]
        report.unconfirmed = rules.overdue_confirmations(certs, state, last_time[0])
        if report.unconfirmed:
            report.warnings["R-KP-3"] += len(report.unconfirmed)
        return report

    # -- checkpoints and proofs ---------------------------------------------------

    def checkpoint(self, key: PrivateKey) -> str:
        """The node's latest checkpoint, re-signed locally with the operator key.

        The node signs a checkpoint after every append; Ed25519 is deterministic, so the
        operator's own signature of the same tree head is byte-identical, which proves the
        node holds the operator key this user holds.

        Raises:
            ProofError: the key is not the operator's, or the node's signature differs.
        """
        if key.kid != self.operator:
            raise ProofError("only the operator key signs checkpoints")
        text = self.latest_checkpoint()
        cp, parsed = self._checked(text, "its latest checkpoint")
        mine = note.parse_note(note.sign_checkpoint(cp, self.origin, key.seed)).signatures[0]
        if mine not in parsed.signatures:
            raise ProofError("the node's checkpoint signature differs from this operator key's")
        return text

    def latest_checkpoint(self) -> str:
        """The node's latest checkpoint, checked against the pinned operator key.

        Raises:
            NotFoundError: the node has none yet.
            ProofError: it is not signed by the pinned key.
        """
        try:
            text = self.client.get_text("/checkpoint")
        except NotFoundError:
            raise NotFoundError(
                "no checkpoint yet; sign one with 'kpledger checkpoint --key'"
            ) from None
        self._checked(text, "its latest checkpoint")
        return text

    def verifier(self) -> note.Verifier:
        """The pinned operator verifier (the node's genesis names the same key)."""
        return self._trust

    def inclusion_proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"index": index}
        if size is not None:
            params["size"] = size
        return dict(self.client.get_value("/api/proofs/inclusion", **params))

    def consistency_proof(self, old: int, new: int) -> dict[str, Any]:
        return dict(self.client.get_value("/api/proofs/consistency", old=old, new=new))

    def prove(self, pid: str, key: PrivateKey | None = None) -> bytes:
        """The node's bundle; an operator node attests the item's latest state itself.

        Raises:
            ProofError: the bundle's checkpoint is not signed by the pinned operator key.
        """
        data = self.client.get_bytes("/api/prove", item=pid, max_bytes=LIMIT_PROOF_BUNDLE)
        self._checked(Bundle.decode(data).checkpoint, "the checkpoint of its bundle")
        return data

    def add_cosignatures(self, signed: str) -> str:
        """Hand witness cosignatures to the node (``POST /add-cosignature``); the stored
        checkpoint it answers, checked against the pinned key."""
        text = self.client.request(
            "POST",
            "/add-cosignature",
            content=signed.encode(),
            content_type="text/plain; charset=utf-8",
            accept="text/plain",
            max_bytes=LIMIT_NOTE,
        ).text
        self._checked(text, "the checkpoint it stored")
        return text


if TYPE_CHECKING:  # mypy checks that a node is a LedgerAPI, as a ledger file is

    def _conforms(ledger: RemoteLedger) -> LedgerAPI:
        return ledger
