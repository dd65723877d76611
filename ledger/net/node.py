"""The kpledger node: one ledger file served over HTTP (specs/node.md).

``kpledger --ledger FILE serve --key OPERATOR_KEY`` runs :func:`serve`, a FastAPI
application on uvicorn (OpenAPI at ``/openapi.json``) that

* accepts signed entries (``POST /api/entries``), appends them through the same rules
  engine as a local append (``Ledger.append``: one transaction, all or nothing), signs a
  checkpoint that includes them and answers with each record, its inclusion proof and
  the checkpoint; a rejected entry gets a 4xx ``{"error", "rule", "message"}`` and
  nothing is written. No password is needed: every entry carries its signers'
  signatures, which the rules check against the registry;
* answers the lookups the CLI needs (parcels, participants, history, trace, proofs,
  provenance bundles) in JSON, or in msgpack with ``Accept:
  application/msgpack`` (what :class:`ledger.remote.RemoteLedger` asks for);
* serves the log as C2SP tlog-tiles (``/checkpoint``, ``/tile/<L>/<N>[.p/<W>]``,
  ``/tile/entries/<N>[.p/<W>]``), the same files ``kpledger publish`` writes;
* pushes each new checkpoint to the witnesses of its policy file that have a URL
  (tlog-witness ``add-checkpoint``) and accepts cosignatures posted to
  ``/add-cosignature``; verified cosignatures are added to the stored checkpoint, so
  bundles made afterwards carry them;
* limits request bodies (1 MiB by default) and request rates (a token bucket per client
  IP address, in this process).

Without ``--key`` the node is a read-only mirror: everything but appends.

The application runs every request on the event loop thread, against one SQLite
connection: requests are serialised, which is what a single-writer log needs anyway
(appends are a few milliseconds). Run several read-only nodes on mirrors to scale reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from ledger.core import merkle, note, rules, tiles
from ledger.core.journey import step_to_json
from ledger.core.keys import PrivateKey
from ledger.core.model import check_date
from ledger.core.policy import Witness as PolicyWitness
from ledger.core.wire import MAX_BATCH, MSGPACK, pack, unpack_entries
from ledger.errors import (
    ChainError,
    EncodingError,
    KeyFileError,
    LedgerError,
    LimitError,
    NotFoundError,
    ProofError,
    ReadOnlyError,
    StoreError,
    UsageError,
)
from ledger.ledger import Ledger
from ledger.net.mirror import checkpoint_at, entry_bundle, tile_bytes
from ledger.net.proposals import ProposalPool
from ledger.net.server import RateLimiter, ServerLimits, TlsFiles, client_key, run_app
from ledger.net.witness import attach_cosignatures, format_request

__all__ = ["Limits", "Node", "ReadOnlyError", "ServerLimits", "TlsFiles", "create_app", "serve"]

log = logging.getLogger("kpledger.node")

_HEX_ID = Query(alias="id", pattern="^[0-9a-f]{64}$", description="64 hex digits")
_ITEM_ID = Query(alias="id", max_length=200, description="parcel or stone id")
_TILE_CACHE = "public, max-age=31536000, immutable"
_ANSWER_BYTES = 1 << 20  # a page of records stays under this
#: The largest index, size or amount a query may name (SQLite's INTEGER).
MAX_INDEX = (1 << 63) - 1


@dataclass(frozen=True)
class Limits:
    """Request limits: body size in bytes; ``rate`` requests per second per client
    (0 disables rate limiting) with bursts of up to ``burst`` requests; and what the
    connections of clients may hold (:class:`ledger.net.server.ServerLimits`)."""

    max_body: int = 1 << 20
    rate: float = 50.0
    burst: int = 100
    server: ServerLimits = field(default_factory=ServerLimits)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Node:
    """A ledger file, the operator key (None: read-only) and the node's policy."""

    def __init__(
        self,
        path: str,
        key: PrivateKey | None,
        *,
        limits: Limits | None = None,
        witnesses: Sequence[PolicyWitness] = (),
    ) -> None:
        self.ledger = Ledger.open(path)
        if key is not None and key.kid != self.ledger.operator:
            self.ledger.close()
            raise KeyFileError(
                f"{key.name} is not the operator key of {path} "
                f"(the genesis names {self.ledger.operator.hex()[:16]})"
            )
        self.key = key
        self.limits = limits or Limits()
        self.witnesses = list(witnesses)
        self.operator = self.ledger.verifier()
        self.proposals = ProposalPool(self.ledger)
        if key is not None:
            restored = self.proposals.restore(_now_ms())
            if restored:
                log.info("%d pending proposal(s) taken up from %s", restored, path)
            latest = self.ledger.store.latest_checkpoint()
            if latest is None or latest[0] < self.ledger.size():
                self.ledger.checkpoint(key)

    def close(self) -> None:
        self.ledger.close()

    def append(self, body: bytes) -> dict[str, Any]:
        """Validate, append and sign; the answer of ``POST /api/entries``.

        Raises:
            StoreError: read-only node.
            LedgerError: the entries are rejected (nothing was written).
        """
        entries = unpack_entries(body)
        if self.key is None:
            raise ReadOnlyError("this node is a read-only mirror; submit entries to the operator's")
        done, text = self.ledger.append_checkpointed(entries, self.key, now=_now_ms())
        cp = note.parse_checkpoint(note.parse_note(text).text)
        reader = self.ledger.store.hash_reader(cp.size)
        return {
            "entries": [
                {
                    "id": a.entry.id,
                    "index": a.index,
                    "type": a.entry.type,
                    "record": a.record.raw,
                    "proof": merkle.inclusion_proof(a.index, cp.size, reader),
                    "warnings": [[w.rule, w.message] for w in a.warnings],
                }
                for a in done
            ],
            "checkpoint": text,
        }

    def check(self, body: bytes) -> dict[str, Any]:
        """Validate entries as an append would, writing nothing; ``POST /api/entries/check``.

        Raises:
            StoreError: read-only node.
            LedgerError: the entries would be rejected.
        """
        entries = unpack_entries(body)
        if self.key is None:
            raise ReadOnlyError("this node is a read-only mirror; submit entries to the operator's")
        done = self.ledger.check(entries, now=_now_ms())
        return {
            "entries": [
                {
                    "id": a.entry.id,
                    "index": a.index,
                    "type": a.entry.type,
                    "warnings": [[w.rule, w.message] for w in a.warnings],
                }
                for a in done
            ],
        }

    def propose(self, body: bytes) -> dict[str, Any]:
        """Merge a proposal's signatures into the pending one of its body and append it once
        k governors signed; the answer of ``POST /api/proposals`` (specs/node.md §2.5).

        Raises:
            StoreError: read-only node.
            LedgerError: a bad signature or proposal (nothing changes), or the rules refuse
                the complete proposal (it is dropped).
        """
        entries = unpack_entries(body)
        if self.key is None:
            raise ReadOnlyError("this node is a read-only mirror; propose to the operator's node")
        if len(entries) != 1:
            raise UsageError(f"post one proposal at a time, not {len(entries)} entries")
        now = _now_ms()
        merged = self.proposals.merge(entries[0], now)
        appended = None
        if self.proposals.ready(merged):
            try:
                appended = self.append(merged.raw)
            finally:
                self.proposals.done(merged)
        return {"proposal": self.proposals.status(merged, now), "appended": appended}

    def info(self) -> dict[str, Any]:
        latest = self.ledger.store.latest_checkpoint()
        return {
            "origin": self.ledger.origin,
            "operator": self.ledger.operator,
            "name": self.ledger.operator_name,
            "pub": self.operator.public,
            "vkey": self.operator.vkey(),
            "size": self.ledger.size(),
            "checkpoint_size": None if latest is None else latest[0],
            "read_only": self.key is None,
            "limits": {
                "max_body": self.limits.max_body,
                "rate": self.limits.rate,
                "burst": self.limits.burst,
                "max_batch": MAX_BATCH,
                "header_timeout": self.limits.server.header_timeout,
                "body_timeout": self.limits.server.body_timeout,
                "max_connections": self.limits.server.max_connections,
                "max_client_connections": self.limits.server.max_client_connections,
            },
            "witnesses": [w.verifier.name for w in self.witnesses],
        }


# ---------------------------------------------------------------------------
# Witness pushing


class _Pusher:
    """Sends the latest checkpoint to each witness with a URL; attaches cosignatures."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.targets = [w for w in node.witnesses if w.url]
        self.sizes = {w.name: 0 for w in self.targets}
        self.event = asyncio.Event()

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=10.0) as http:
            while True:
                await self.event.wait()
                self.event.clear()
                for w in self.targets:
                    try:
                        async with asyncio.timeout(_WITNESS_DEADLINE):
                            await self.push(http, w)
                    except TimeoutError:
                        log.warning("witness %s: no answer within %g s", w.name, _WITNESS_DEADLINE)
                    except (httpx.HTTPError, LedgerError, ValueError) as exc:
                        log.warning("witness %s: %s", w.name, exc)

    async def push(self, http: httpx.AsyncClient, w: PolicyWitness) -> None:
        led = self.node.ledger
        latest = led.store.latest_checkpoint()
        if latest is None or w.url is None:
            return
        size, text = latest
        for _ in range(3):
            old = self.sizes[w.name]
            if old > size:
                log.warning("witness %s has cosigned size %d > %d", w.name, old, size)
                return
            proof = led.consistency_proof(old, size)["proof"]
            status, answer = await _post_bounded(
                http,
                w.url.rstrip("/") + "/add-checkpoint",
                format_request(old, proof, text),
                _WITNESS_ANSWER,
            )
            if status == 409:
                found = answer.strip()
                if not found.isdigit() or len(found) > 19:
                    log.warning("witness %s: a 409 without a size", w.name)
                    return
                self.sizes[w.name] = int(found)
                continue
            if status != 200:
                log.warning("witness %s: HTTP %d %s", w.name, status, answer.strip()[:200])
                return
            signed = text
            for line in answer.splitlines(keepends=True):
                signed = note.add_signature(signed, line)
            attach_cosignatures(led.store, signed, self.node.operator, [w.verifier])
            self.sizes[w.name] = size
            return


#: The most bytes of a witness's answer read (a few cosignature lines).
_WITNESS_ANSWER = 64 << 10
#: Seconds one push to a witness may take in all (a witness trickling its answer must
#: not hold back the others).
_WITNESS_DEADLINE = 60.0


async def _post_bounded(
    http: httpx.AsyncClient, url: str, body: bytes, limit: int
) -> tuple[int, str]:
    """POST ``body``; the status and at most ``limit`` bytes of the answer, as text.

    Raises:
        ValueError: a longer or non-UTF-8 answer (nothing more is read).
    """
    async with http.stream(
        "POST",
        url,
        content=body,
        headers={"Content-Type": "text/plain; charset=utf-8", "Accept-Encoding": "identity"},
    ) as resp:
        data = bytearray()
        async for chunk in resp.aiter_raw():
            data += chunk
            if len(data) > limit:
                raise ValueError(f"answer over {limit} bytes")
        return resp.status_code, data.decode("utf-8")


# ---------------------------------------------------------------------------
# The application


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _respond(request: Request, value: Any) -> Response:
    """JSON (bytes as lowercase hex), or msgpack if the client accepts it."""
    if MSGPACK in request.headers.get("accept", ""):
        return Response(pack(value), media_type=MSGPACK)
    return JSONResponse(_jsonable(value))


def _status(exc: LedgerError) -> int:
    if isinstance(exc, LimitError):
        return 413
    if isinstance(exc, (EncodingError, UsageError, KeyFileError)):
        return 400
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ChainError) and exc.rule == "R-CH-3":
        return 409
    if isinstance(exc, ReadOnlyError):
        return 403
    if isinstance(exc, StoreError):
        return 503
    return 422


def _error(
    status: int, code: str, message: str, rule: str | None = None, field: str | None = None
) -> JSONResponse:
    answer: dict[str, Any] = {"error": code, "rule": rule, "message": message}
    if field is not None:
        answer["field"] = field
    return JSONResponse(answer, status_code=status)


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise LimitError(f"request body is {length} bytes, the limit is {limit}")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise LimitError(f"request body is larger than the limit of {limit} bytes")
    except ClientDisconnect:  # closed by the client, or by the body deadline
        raise UsageError("the connection closed before the request body was complete") from None
    return bytes(body)


def _wrong_type(request: Request, *accepted: str) -> Response | None:
    """A 415 answer if the body's ``Content-Type`` is not one of ``accepted``."""
    given = request.headers.get("content-type", "")
    if given.split(";", 1)[0].strip().lower() in accepted:
        return None
    return _error(
        415,
        "usage",
        f"Content-Type must be {' or '.join(accepted)}, not {given[:60] or 'missing'!r}",
        field="content-type",
    )


_MSGPACK_OR_JSON: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON (bytes as lowercase hex) or, with `Accept: application/msgpack`, "
        "the same value in msgpack (bytes as bin)",
        "content": {"application/json": {}, MSGPACK: {}},
    },
    404: {"description": "`{error, rule, message}`"},
}
_OCTETS: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "binary"}
}
_TEXT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {}}, "description": "a signed note"}
}


def create_app(node: Node, limiter: RateLimiter | None = None) -> FastAPI:
    """The node's FastAPI application; ``limiter`` is its rate limit (shared with the
    server's connection guard when served by :func:`serve`)."""
    pusher = _Pusher(node)
    limiter = limiter or RateLimiter(node.limits.rate, node.limits.burst)
    led = node.ledger

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(pusher.run()) if pusher.targets else None
        pusher.event.set()
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="kpledger node",
        version="1",
        summary=f"Kimberley Process provenance ledger {led.origin}",
        description=(
            "Append signed entries, read the ledger, fetch proofs. Errors are "
            "`{error, rule, message}`. The log is also served as C2SP tlog-tiles."
        ),
        lifespan=lifespan,
    )

    @app.middleware("http")
    async def limits(request: Request, call_next: Callable[[Request], Any]) -> Response:
        # The connection's address, or the client a trusted proxy names (X-Forwarded-For
        # is believed only from --trusted-proxy addresses; ledger.net.server).
        client = client_key(request.client.host if request.client else "?")
        wait = limiter.take(client)
        if wait:
            resp = _error(429, "rate", f"too many requests from {client}; retry later")
            resp.headers["Retry-After"] = str(max(1, round(wait)))
            return resp
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > node.limits.max_body):
            return _error(
                413,
                "limit",
                f"request body over the limit of {node.limits.max_body} bytes",
                field="content-length",
            )
        response: Response = await call_next(request)
        return response

    @app.exception_handler(LedgerError)
    async def ledger_error(request: Request, exc: LedgerError) -> Response:
        return _error(_status(exc), exc.code, exc.message, exc.rule)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = exc.errors()
        fields = [str(p) for p in problems[0].get("loc", ())[1:]] if problems else []
        text = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', '')}"
            for e in problems
        )
        return _error(400, "usage", f"bad request: {text}"[:500], field=".".join(fields) or None)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        # A bug, not the client's input (which every handler above answers with a 4xx).
        log.error("%s %s: %r", request.method, request.url.path, exc, exc_info=exc)
        return _error(500, "internal", "internal error; the node's log has the details")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error(
                404, "not-found", f"no such endpoint: {request.method} {request.url.path}"
            )
        return _error(
            exc.status_code, "usage", f"{request.method} {request.url.path}: {exc.detail}"
        )

    # -- writing ---------------------------------------------------------------

    @app.post(
        "/api/entries",
        summary="Append signed entries",
        description=(
            "Body: one signed entry envelope, or several each prefixed with its length as "
            "a 4-byte big-endian integer (the `--out` file format). All are validated by "
            "the rules engine and appended in one transaction, or none is. Answer: each "
            "record with its index and inclusion proof, and the signed checkpoint they "
            "are included in. A rejection is a 4xx naming the rule."
        ),
        responses=_MSGPACK_OR_JSON,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            }
        },
    )
    async def append(request: Request) -> Response:
        wrong = _wrong_type(request, "application/octet-stream")
        if wrong is not None:
            return wrong
        body = await _read_body(request, node.limits.max_body)
        answer = node.append(body)
        pusher.event.set()
        return _respond(request, answer)

    @app.post(
        "/api/proposals",
        summary="Propose a registry change, or co-sign a pending one",
        description=(
            "Body: one signed registry entry (participant.*, kp-status.set, param.set, "
            "governance.set) of a governed ledger. Its signatures are checked (governors in "
            "force, valid, new) and merged into the pending proposal of the same body; once "
            "k governors signed, it is appended. Answer: `{proposal, appended}`, where "
            "`appended` is the answer of `POST /api/entries` or null."
        ),
        responses=_MSGPACK_OR_JSON,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            }
        },
    )
    async def propose(request: Request) -> Response:
        body = await _read_body(request, node.limits.max_body)
        answer = node.propose(body)
        if answer["appended"] is not None:
            pusher.event.set()
        return _respond(request, answer)

    @app.get(
        "/api/proposals",
        summary="Pending proposals with their signatures and expiry",
        responses=_MSGPACK_OR_JSON,
    )
    async def proposals(request: Request) -> Response:
        return _respond(request, node.proposals.pending(_now_ms()))

    @app.get(
        "/api/governance",
        summary="The governance set in force (null: the operator governs)",
        responses=_MSGPACK_OR_JSON,
    )
    async def governance(request: Request) -> Response:
        return _respond(request, led.governance())

    @app.post(
        "/api/entries/check",
        summary="Check signed entries without appending them",
        description=(
            "Body: as `POST /api/entries`. Every rule is checked as for an append, and "
            "nothing is written: the answer lists each entry's would-be index and warnings, "
            "or the error an append would give (`kpledger ... --dry-run`)."
        ),
        responses=_MSGPACK_OR_JSON,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            }
        },
    )
    async def check(request: Request) -> Response:
        wrong = _wrong_type(request, "application/octet-stream")
        if wrong is not None:
            return wrong
        body = await _read_body(request, node.limits.max_body)
        return _respond(request, node.check(body))

    @app.post(
        "/add-cosignature",
        summary="Attach witness cosignatures to a checkpoint",
        description=(
            "Body: a checkpoint this node signed, with `cosignature/v1` lines of witnesses "
            "named in the node's policy. Verified lines are added to the stored checkpoint."
        ),
        responses=_TEXT,
    )
    async def add_cosignature(request: Request) -> Response:
        wrong = _wrong_type(request, "text/plain")
        if wrong is not None:
            return wrong
        body = await _read_body(request, 64 << 10)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise EncodingError("the checkpoint is not UTF-8 text") from None
        verifiers = [w.verifier for w in node.witnesses]
        _, _, stored = attach_cosignatures(led.store, text, node.operator, verifiers)
        return PlainTextResponse(stored)

    # -- tlog-tiles ------------------------------------------------------------

    @app.get("/checkpoint", summary="Latest checkpoint (C2SP tlog-checkpoint)", responses=_TEXT)
    async def checkpoint() -> Response:
        latest = led.store.latest_checkpoint()
        if latest is None:
            raise NotFoundError("no checkpoint yet")
        return PlainTextResponse(latest[1], headers={"Cache-Control": "no-cache"})

    @app.get(
        "/tile/{path:path}",
        summary="C2SP tlog-tiles hash tiles and entry bundles",
        description="`/tile/<L>/<N>[.p/<W>]` and `/tile/entries/<N>[.p/<W>]`.",
        responses=_OCTETS,
    )
    async def tile(path: str) -> Response:
        try:
            level, index, width = tiles.parse_tile_path("tile/" + path)
        except ProofError as exc:
            raise NotFoundError(exc.message) from exc
        data = (
            entry_bundle(led.store, index, width)
            if level is None
            else tile_bytes(led.store, level, index, width)
        )
        return Response(
            data, media_type="application/octet-stream", headers={"Cache-Control": _TILE_CACHE}
        )

    # -- reading -----------------------------------------------------------------

    @app.get("/api/info", summary="Origin, operator key, size, limits", responses=_MSGPACK_OR_JSON)
    async def info(request: Request) -> Response:
        return _respond(request, node.info())

    @app.get("/api/records", summary="Raw records in log order", responses=_MSGPACK_OR_JSON)
    async def records(
        request: Request,
        start: Annotated[int, Query(ge=0, le=MAX_INDEX)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    ) -> Response:
        out: list[bytes] = []
        total = 0
        for raw in led.store.iter_records(start, start + limit):
            if out and total + len(raw) > _ANSWER_BYTES:
                break
            out.append(raw)
            total += len(raw)
        return _respond(request, out)

    @app.get("/api/entry", summary="The record of an entry id", responses=_MSGPACK_OR_JSON)
    async def entry(request: Request, entry_id: Annotated[str, _HEX_ID]) -> Response:
        return _respond(request, led.entry(bytes.fromhex(entry_id))[0].raw)

    @app.get("/api/resolve", summary="Entry id of a unique hex prefix", responses=_MSGPACK_OR_JSON)
    async def resolve(request: Request, prefix: Annotated[str, Query(max_length=64)]) -> Response:
        return _respond(request, led.resolve_entry(prefix))

    @app.get("/api/findings", summary="Warnings of a record", responses=_MSGPACK_OR_JSON)
    async def findings(
        request: Request, index: Annotated[int, Query(ge=0, le=MAX_INDEX)]
    ) -> Response:
        return _respond(request, [list(f) for f in led.store.findings(index)])

    @app.get("/api/key", summary="Registry entry of a key id", responses=_MSGPACK_OR_JSON)
    async def key(
        request: Request, kid: Annotated[str, Query(pattern="^[0-9a-f]{64}$")]
    ) -> Response:
        info = led.store.state_value("kid", kid)
        if info is None:
            raise NotFoundError(f"no key {kid[:16]}")
        return _respond(request, info)

    @app.get("/api/parcel", summary="A parcel or stone", responses=_MSGPACK_OR_JSON)
    async def parcel(request: Request, pid: Annotated[str, _ITEM_ID]) -> Response:
        return _respond(request, led.parcel(pid))

    @app.get(
        "/api/party", summary="A participant by name or key-id prefix", responses=_MSGPACK_OR_JSON
    )
    async def party(request: Request, name: Annotated[str, Query(max_length=200)]) -> Response:
        return _respond(request, led.party(name))

    @app.get("/api/participants", summary="Every participant", responses=_MSGPACK_OR_JSON)
    async def participants(request: Request) -> Response:
        return _respond(request, led.participants())

    @app.get("/api/inventory", summary="What a participant holds", responses=_MSGPACK_OR_JSON)
    async def inventory(request: Request, name: Annotated[str, Query(max_length=200)]) -> Response:
        return _respond(request, led.inventory(name))

    @app.get("/api/kp-status", summary="KP status periods by country", responses=_MSGPACK_OR_JSON)
    async def kp_status(request: Request) -> Response:
        return _respond(request, led.kp_statuses())

    @app.get("/api/transfer", summary="A transfer offer", responses=_MSGPACK_OR_JSON)
    async def transfer(request: Request, transfer_id: Annotated[str, _HEX_ID]) -> Response:
        return _respond(request, led.transfer(bytes.fromhex(transfer_id)))

    @app.get("/api/certificate", summary="A KP certificate", responses=_MSGPACK_OR_JSON)
    async def certificate(
        request: Request, number: Annotated[str, Query(max_length=64)]
    ) -> Response:
        return _respond(request, led.certificate(number))

    @app.get("/api/parameters", summary="The rule parameters on a date", responses=_MSGPACK_OR_JSON)
    async def parameters(
        request: Request,
        day: Annotated[str, Query(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")],
    ) -> Response:
        return _respond(request, led.parameters(check_date(day, "day")))

    @app.get(
        "/api/warranties",
        summary="System of Warranties reconciliation of a participant",
        responses=_MSGPACK_OR_JSON,
    )
    async def warranties(
        request: Request,
        name: Annotated[str, Query(max_length=200)],
        start: Annotated[str, Query(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")],
        end: Annotated[str, Query(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")],
    ) -> Response:
        return _respond(
            request, led.warranties(name, check_date(start, "start"), check_date(end, "end"))
        )

    @app.get(
        "/api/certificate-fields",
        summary="Fields of a KP certificate for parcels as they are now",
        responses=_MSGPACK_OR_JSON,
    )
    async def certificate_fields(
        request: Request,
        number: Annotated[str, Query(max_length=200)],
        parcels: Annotated[str, Query(max_length=20_000)],
        exporter: Annotated[str, Query(max_length=200)],
        importer: Annotated[str, Query(max_length=200)],
        value_usd_cents: Annotated[int, Query(ge=0, le=MAX_INDEX)],
        expires: Annotated[str, Query(max_length=10)],
    ) -> Response:
        fields = led.certificate_fields(
            number=number,
            parcels=parcels.split(","),
            exporter=exporter,
            importer=importer,
            value_usd_cents=value_usd_cents,
            expires=expires,
        )
        return _respond(request, fields)

    @app.get("/api/history", summary="Records that touched an item", responses=_MSGPACK_OR_JSON)
    async def history(request: Request, item: Annotated[str, Query(max_length=200)]) -> Response:
        return _respond(request, [r.raw for r, _ in led.history(item)])

    @app.get(
        "/api/trace", summary="Ancestry of an item to every origin", responses=_MSGPACK_OR_JSON
    )
    async def trace(request: Request, item: Annotated[str, Query(max_length=200)]) -> Response:
        t = led.trace(item)
        return _respond(
            request,
            {
                "item": t.item,
                "steps": [step_to_json(s) for s in t.steps],
                "quarantine": [rules.void_to_json(v) for v in t.quarantine],
                "certificates": t.certificates,
                "origins": t.origins,
            },
        )

    @app.get(
        "/api/prove",
        summary="Provenance bundle of an item (verify offline with verify-proof); an "
        "operator node attests that the item's state in it is its latest",
        responses=_OCTETS,
    )
    async def prove(item: Annotated[str, Query(max_length=200)]) -> Response:
        return Response(led.prove(item, node.key), media_type="application/octet-stream")

    @app.get(
        "/api/proofs/inclusion", summary="RFC 9162 inclusion proof", responses=_MSGPACK_OR_JSON
    )
    async def inclusion(
        request: Request,
        index: Annotated[int, Query(ge=0, le=MAX_INDEX)],
        size: Annotated[int | None, Query(ge=1, le=MAX_INDEX)] = None,
    ) -> Response:
        return _respond(request, led.inclusion_proof(index, size))

    @app.get(
        "/api/proofs/consistency", summary="RFC 9162 consistency proof", responses=_MSGPACK_OR_JSON
    )
    async def consistency(
        request: Request,
        old: Annotated[int, Query(ge=0, le=MAX_INDEX)],
        new: Annotated[int, Query(ge=0, le=MAX_INDEX)],
    ) -> Response:
        return _respond(request, led.consistency_proof(old, new))

    @app.get("/api/checkpoints/{size}", summary="The checkpoint of one size", responses=_TEXT)
    async def checkpoint_of(size: Annotated[int, Path(ge=0, le=MAX_INDEX)]) -> Response:
        text = checkpoint_at(led.store, size)
        if text is None:
            raise NotFoundError(f"no checkpoint of size {size}")
        return PlainTextResponse(text)

    return app


def serve(
    node: Node,
    host: str,
    port: int,
    *,
    tls: TlsFiles | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Run the node until interrupted (SIGINT/SIGTERM). ``port`` 0 picks a free port;
    ``ready`` receives the base URL once the socket is bound. With ``tls`` it serves
    HTTPS itself. Connections are guarded by :mod:`ledger.net.server` (deadlines, caps,
    the rate limit per new connection).

    Raises:
        StoreError: the address cannot be bound, or the TLS files cannot be loaded.
    """
    limiter = RateLimiter(node.limits.rate, node.limits.burst)
    run_app(
        create_app(node, limiter),
        host,
        port,
        limits=node.limits.server,
        limiter=limiter,
        tls=tls,
        ready=ready,
    )
