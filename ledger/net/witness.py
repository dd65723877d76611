"""A C2SP tlog-witness for kpledger checkpoints (specs/node.md §6).

A witness cosigns (``cosignature/v1``, ``note.cosign``) a log's checkpoint only after
checking that it is signed by a log key it trusts and that it is consistent with the
last checkpoint it cosigned for that origin, so a log that showed two different trees to
two parties cannot get both cosigned by the same witness. Its state (per origin: size,
root and the checkpoint) is written atomically (temporary file, fsync, rename, fsync of
the directory) and under an exclusive lock **before** the cosignature is returned; the
file itself is :mod:`ledger.storage.witness_state`'s, and this module does no file I/O.

* :class:`Witness`: the ``add-checkpoint`` logic of c2sp.org/tlog-witness v1.0.0, with its
  status codes (400 malformed or ``old > size``, 403 bad or missing log signature, 404
  unknown origin, 409 ``old`` is not the witness's size, 422 bad proof or size-0 root).
* :func:`format_request` / :func:`parse_request`: the request body, ``old <size>\\n``,
  base64 proof lines, a blank line, the signed checkpoint.
* :func:`create_app`: the witness's HTTP service (``POST /add-checkpoint`` and
  ``GET /<hex(sha256(origin))>/checkpoint``), a plain Starlette app.
* :func:`attach_cosignatures`: what a ledger (node or file) does with cosignatures it
  receives: verify them against the witness keys it knows and add them to its stored
  checkpoint of that size, so that proof bundles carry them.
* :func:`submit_cosignatures`: hand cosignatures to a ledger, a node (over HTTP) or a
  ledger file alike.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.core import merkle, note
from ledger.core.keys import PrivateKey
from ledger.errors import LedgerError, NotFoundError, ProofError, WitnessError
from ledger.storage.store import Store
from ledger.storage.witness_state import Cosigned, WitnessState

if TYPE_CHECKING:
    from ledger.api import LedgerAPI

__all__ = [
    "MAX_PROOF_LINES",
    "MAX_REQUEST_SIZE",
    "SIZE_MEDIA_TYPE",
    "Witness",
    "WitnessError",
    "attach_cosignatures",
    "create_app",
    "format_request",
    "parse_proof_text",
    "parse_request",
    "submit_cosignatures",
]

#: A consistency proof has at most 63 hashes (tlog-witness).
MAX_PROOF_LINES = 63
#: Largest add-checkpoint request body accepted.
MAX_REQUEST_SIZE = 64 << 10
#: Content type of a 409 answer, whose body is the witness's size for the origin.
SIZE_MEDIA_TYPE = "text/x.tlog.size"


# ---------------------------------------------------------------------------
# Request format


def format_request(old: int, proof: Sequence[bytes], checkpoint: str) -> bytes:
    """The body of ``POST /add-checkpoint``."""
    lines = [f"old {old}\n", *(base64.b64encode(h).decode() + "\n" for h in proof), "\n"]
    return ("".join(lines) + checkpoint).encode()


def _b64hash(line: str) -> bytes:
    try:
        raw = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != merkle.HASH_SIZE or base64.b64encode(raw).decode() != line:
        raise WitnessError(f"malformed proof line {line[:60]!r}", status=400)
    return raw


def parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    """``(old, proof, checkpoint note)`` of an add-checkpoint body.

    Raises:
        WitnessError: malformed (status 400).
    """
    if len(body) > MAX_REQUEST_SIZE:
        raise WitnessError(f"request larger than {MAX_REQUEST_SIZE} bytes", status=400)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WitnessError("request is not UTF-8", status=400) from None
    head, sep, checkpoint = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old "):
        raise WitnessError("request must start with 'old <size>' and a blank line", status=400)
    size_text = lines[0][4:]
    if not size_text.isascii() or not size_text.isdigit() or size_text != str(int(size_text)):
        raise WitnessError(f"malformed old size {size_text[:24]!r}", status=400)
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise WitnessError(f"more than {MAX_PROOF_LINES} proof lines", status=400)
    return int(size_text), [_b64hash(line) for line in lines[1:]], checkpoint


def parse_proof_text(text: str) -> list[bytes]:
    """Proof hashes from text: base64 lines; ``old ...``/``new ...`` lines (the output of
    ``kpledger proof consistency``) and blank lines are skipped.

    Raises:
        WitnessError: a line that is not a base64 32-byte hash.
    """
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("old ", "new ")):
            continue
        out.append(_b64hash(line))
    return out


# ---------------------------------------------------------------------------
# The witness


class Witness:
    """Cosigns checkpoints of trusted logs, consistently (see the module docstring)."""

    def __init__(
        self,
        key: PrivateKey,
        state: str | Path,
        logs: Sequence[note.Verifier],
        *,
        name: str | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.key = key
        self.name = name or key.name
        self.verifier = note.Verifier.for_cosigner(self.name, key.public)
        self.logs = {v.name: v for v in logs}
        self.state = WitnessState(state)
        self.clock = clock or (lambda: int(time.time()))

    def size(self, origin: str) -> int:
        latest = self.state.load().get(origin)
        return 0 if latest is None else latest.size

    def latest(self, origin: str) -> str | None:
        latest = self.state.load().get(origin)
        return None if latest is None else latest.checkpoint

    def add_checkpoint(self, old: int, proof: Sequence[bytes], checkpoint: str) -> str:
        """Check and cosign; returns the cosignature line (state saved first).

        Raises:
            WitnessError: with the tlog-witness status of the refusal.
        """
        try:
            body = note.parse_checkpoint(note.parse_note(checkpoint).text)
        except ProofError as exc:
            raise WitnessError(f"malformed checkpoint: {exc.message}", status=400) from exc
        verifier = self.logs.get(body.origin)
        if verifier is None:
            raise WitnessError(f"unknown log origin {body.origin!r}", status=404)
        try:
            cp, parsed = note.open_checkpoint(checkpoint, verifier)
        except ProofError as exc:
            raise WitnessError(f"log signature: {exc.message}", status=403) from exc
        if old > cp.size:
            raise WitnessError(
                f"old size {old} is larger than the checkpoint's {cp.size}", status=400
            )
        with self.state.locked():
            logs = self.state.load()
            latest = logs.get(cp.origin)
            have = 0 if latest is None else latest.size
            if old != have:
                raise WitnessError(
                    f"old size {old} is not the last size cosigned, {have}", status=409, size=have
                )
            if cp.size == 0 and cp.root != merkle.EMPTY_ROOT:
                raise WitnessError("a size-0 checkpoint must carry the empty root", status=422)
            old_root = merkle.EMPTY_ROOT if latest is None else latest.root
            try:
                merkle.verify_consistency(old, cp.size, old_root, cp.root, list(proof))
            except ProofError as exc:
                raise WitnessError(f"consistency proof: {exc.message}", status=422) from exc
            logs[cp.origin] = Cosigned(cp.size, cp.root, note.format_note(parsed))
            self.state.save(logs)
        return note.cosign(parsed, self.name, self.key.seed, self.clock())


# ---------------------------------------------------------------------------
# Receiving cosignatures (node or ledger file)


def attach_cosignatures(
    store: Store,
    signed: str,
    operator: note.Verifier,
    witnesses: Sequence[note.Verifier],
) -> tuple[int, list[str], str]:
    """Add the verified cosignatures of known witnesses in ``signed`` to the stored
    checkpoint of the same size and tree.

    Returns:
        ``(size, names of the witnesses whose lines were added, the stored note now)``.

    Raises:
        ProofError: the checkpoint is not the operator's, differs from the stored one of
            its size, or carries no valid cosignature of a known witness.
        NotFoundError: this ledger never signed a checkpoint of that size.
    """
    for w in witnesses:
        if w.sig_type != note.SIG_TYPE_COSIGNATURE_V1:
            raise ProofError(f"{w.name} is not a witness cosigner key (type 0x04)")
    cp, parsed = note.open_checkpoint(signed, operator)
    stored = store.checkpoint_at(cp.size)
    if stored is None:
        raise NotFoundError(f"no checkpoint of size {cp.size} here")
    if note.parse_note(stored).text != parsed.text:
        raise ProofError(f"that is not the checkpoint of size {cp.size} this ledger signed")
    known = {(w.name, w.key_id) for w in witnesses}
    mine = [s for s in parsed.signatures if (s.name, s.key_id) in known]
    verified = note.verify_cosignatures(note.Note(parsed.text, tuple(mine)), witnesses)
    if not verified:
        names = ", ".join(sorted(w.name for w in witnesses)) or "none configured"
        raise ProofError(f"no cosignature by a known witness ({names})")
    text = stored
    for s in mine:
        text = note.add_signature(text, s.line())
    store.add_checkpoint(cp.size, text)
    return cp.size, sorted(verified), text


def submit_cosignatures(
    ledger: LedgerAPI, signed: str, witnesses: Sequence[note.Verifier] = ()
) -> str:
    """Attach the witness cosignatures in ``signed`` to ``ledger``'s stored checkpoint.

    A node (:class:`ledger.net.client.RemoteLedger`) checks them against the witnesses of
    its own policy; a ledger file (:class:`ledger.Ledger`) against ``witnesses``.

    Returns:
        The stored checkpoint note with the cosignatures added.

    Raises:
        ProofError: see :func:`attach_cosignatures` (the node answers the same).
        NotFoundError: the ledger never signed a checkpoint of that size.
        UsageError: ``ledger`` is neither a node nor a ledger file.
    """
    from ledger.errors import UsageError
    from ledger.ledger import Ledger
    from ledger.net.client import RemoteLedger

    if isinstance(ledger, RemoteLedger):
        return ledger.add_cosignatures(signed)
    if isinstance(ledger, Ledger):
        return attach_cosignatures(ledger.store, signed, ledger.verifier(), witnesses)[2]
    raise UsageError(f"cannot attach cosignatures to a {type(ledger).__name__}")


# ---------------------------------------------------------------------------
# HTTP service


def create_app(witness: Witness) -> Any:
    """The witness's Starlette application (tlog-witness endpoints)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    async def add_checkpoint(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_REQUEST_SIZE:
            return PlainTextResponse("request too large\n", status_code=413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST_SIZE:
                return PlainTextResponse("request too large\n", status_code=413)
        try:
            old, proof, checkpoint = parse_request(body)
            line = witness.add_checkpoint(old, proof, checkpoint)
        except WitnessError as exc:
            if exc.status == 409:
                return PlainTextResponse(
                    f"{exc.size}\n", status_code=409, media_type=SIZE_MEDIA_TYPE
                )
            return PlainTextResponse(exc.message + "\n", status_code=exc.status)
        except LedgerError as exc:
            return PlainTextResponse(exc.message + "\n", status_code=500)
        return PlainTextResponse(line)

    async def latest(request: Request) -> Response:
        wanted = request.path_params["origin_hash"]
        for origin in witness.logs:
            if hashlib.sha256(origin.encode()).hexdigest() == wanted:
                text = witness.latest(origin)
                if text is not None:
                    return PlainTextResponse(text, headers={"Cache-Control": "no-cache"})
        return PlainTextResponse("not found\n", status_code=404)

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/{origin_hash}/checkpoint", latest, methods=["GET"]),
        ]
    )
