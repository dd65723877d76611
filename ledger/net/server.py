"""Serving an ASGI application to hostile clients: uvicorn with a connection guard.

The node and the witness are public services; a client that opens connections and
never finishes a request, or floods them, must not take the service from everyone else
(specs/node.md §2.4). uvicorn alone has no deadline for a request's headers (its
keep-alive timer starts only after a first answer and restarts on every byte), so
:func:`run_app` serves through :class:`GuardedH11`, its HTTP/1.1 protocol with:

* **deadlines** that data does not extend: the request line and headers must arrive
  within ``header_timeout`` of the connection opening (or of the previous answer), and
  the body within ``body_timeout`` of the headers; otherwise the connection gets a JSON
  408 and is closed (an idle keep-alive connection is simply closed);
* **connection caps**: at most ``max_client_connections`` open connections per client
  address (an IPv6 client counts by its /64) and ``max_connections`` in all; at the
  overall cap a new connection closes an *idle* one (no request in flight): first one
  that never had a request answered, of the client holding the most, oldest first; so
  a flood of idle or half-open connections cannot lock out well-behaved clients, whose
  keep-alive connections go last; only if none is idle is the newcomer refused (JSON
  503);
* a **connection rate**: each new connection takes a token from the client's bucket
  of the node's rate limit, so connections that never send a request are limited too;
* **header size**: at most ``max_header_bytes`` of request line and headers (JSON 431);
  malformed HTTP gets a JSON 400, never uvicorn's plain-text one;
* ``X-Forwarded-For`` is believed only from the ``trusted_proxies`` (addresses or
  networks; none by default): a client cannot dodge its limits by naming itself, and
  connections of a trusted proxy are not held to one client's caps;
* **TLS** with ``tls_cert``/``tls_key`` (PEM files), for deployments without a reverse
  proxy.

Refusals are written straight to the connection as ``{"error", "rule", "message"}``
JSON with ``Connection: close``, before any of the application runs.

What it deliberately does not do: decide what a request means or how many a client may
make per second (the application's token bucket, :class:`RateLimiter`, is shared with
it); or bound the TLS handshake itself, which asyncio times out after 60 s.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.errors import StoreError, UsageError

__all__ = [
    "RateLimiter",
    "ServerLimits",
    "TlsFiles",
    "client_key",
    "run_app",
]


@dataclass(frozen=True)
class ServerLimits:
    """What one client, and all of them, may hold of a server (specs/node.md §2.4)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 512
    max_client_connections: int = 32
    max_header_bytes: int = 16 << 10
    trusted_proxies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (0 < self.header_timeout <= 3600 and 0 < self.body_timeout <= 3600):
            raise UsageError("timeouts must be between 0 and 3600 seconds")
        if not 1 <= self.max_client_connections <= self.max_connections:
            raise UsageError("need 1 <= connections per client <= connections in all")
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as exc:
                raise UsageError(f"--trusted-proxy: not an address or network: {proxy!r}") from exc


@dataclass(frozen=True)
class TlsFiles:
    """PEM certificate (chain) and private key files to serve HTTPS with."""

    cert: str
    key: str


def client_key(host: str) -> str:
    """The address a client is counted by: itself, or for IPv6 its /64 (one subscriber
    usually holds a whole /64, and rotating addresses inside it must not dodge limits)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


# ---------------------------------------------------------------------------
# Rate limiting (one token bucket per client)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """A token bucket per client key: ``burst`` at once, refilled at ``rate`` per second
    (``rate`` 0: no limit). Requests and new connections both take a token."""

    rate: float
    burst: int
    buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, client: str) -> float:
        """0 when the client may go ahead, else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        if len(self.buckets) > 10_000:  # forget idle clients (their buckets are full anyway)
            idle = now - self.burst / self.rate
            self.buckets = {k: b for k, b in self.buckets.items() if b.stamp > idle}
        b = self.buckets.get(client)
        if b is None:
            b = self.buckets[client] = _Bucket(float(self.burst), now)
        b.tokens = min(float(self.burst), b.tokens + (now - b.stamp) * self.rate)
        b.stamp = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return 0.0
        return (1.0 - b.tokens) / self.rate


# ---------------------------------------------------------------------------
# Raw answers written before (or instead of) the application


_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


def raw_error(status: int, code: str, message: str, *, retry_after: float | None = None) -> bytes:
    """A complete HTTP/1.1 error answer, ``{error, rule, message}``, closing the connection."""
    body = json.dumps({"error": code, "rule": None, "message": message}).encode()
    head = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
    ]
    if retry_after is not None:
        head.append(f"retry-after: {max(1, round(retry_after))}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


# ---------------------------------------------------------------------------
# The connection guard


class _Trusted:
    def __init__(self, proxies: Sequence[str]) -> None:
        self.networks = [ipaddress.ip_network(p, strict=False) for p in proxies]

    def __contains__(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in n for n in self.networks)


class ConnectionGuard:
    """The open connections of one server, by client; admission and eviction."""

    def __init__(self, limits: ServerLimits, limiter: RateLimiter | None) -> None:
        self.limits = limits
        self.limiter = limiter
        self.trusted = _Trusted(limits.trusted_proxies)
        self.open: dict[Any, str] = {}  # protocol -> client key, in the order they opened
        # Connections that never had a request answered, oldest first: evicted first.
        self.fresh: dict[Any, None] = {}
        self.per_client: Counter[str] = Counter()
        self.refused = 0
        self.evicted = 0
        self.timed_out = 0

    def admit(self, proto: Any, host: str) -> bytes | None:
        """Register a new connection, or the answer that refuses it."""
        key = client_key(host)
        if host not in self.trusted:
            wait = self.limiter.take(key) if self.limiter is not None else 0.0
            if wait:
                self.refused += 1
                return raw_error(
                    429, "rate", f"too many requests from {key}; retry later", retry_after=wait
                )
            if self.per_client[key] >= self.limits.max_client_connections:
                self.refused += 1
                return raw_error(
                    429,
                    "rate",
                    f"{key} holds {self.per_client[key]} open connections, the most one client "
                    "may; reuse them or close some",
                    retry_after=1,
                )
        if len(self.open) >= self.limits.max_connections:
            victim = self._idle_victim()
            if victim is None:
                self.refused += 1
                return raw_error(
                    503,
                    "busy",
                    "the node is serving as many connections as it can; retry shortly",
                    retry_after=1,
                )
            self.evicted += 1
            self.release(victim)  # now: its close completes only on a later loop turn
            victim.evict()
        self.open[proto] = key
        self.fresh[proto] = None
        self.per_client[key] += 1
        return None

    def answered(self, proto: Any) -> None:
        """``proto`` had a request answered: a client using it, not a squatter."""
        self.fresh.pop(proto, None)

    def release(self, proto: Any) -> None:
        self.fresh.pop(proto, None)
        key = self.open.pop(proto, None)
        if key is not None:
            self.per_client[key] -= 1
            if self.per_client[key] <= 0:
                del self.per_client[key]

    def _idle_victim(self) -> Any | None:
        """The idle connection to close: the oldest that never had a request answered
        (a squatter, or a client that never got going), else one of the client holding
        the most connections, so that keep-alive connections in use go last."""
        for proto in self.fresh:  # oldest first; usually the very first one
            if proto.is_idle():
                return proto
        best: Any | None = None
        most = 0
        for proto, owner in self.open.items():
            if self.per_client[owner] > most and proto.is_idle():
                best, most = proto, self.per_client[owner]
        return best


def guarded_protocol(guard: ConnectionGuard) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol class, with ``guard``'s caps and the deadlines."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    limits = guard.limits

    class GuardedH11(H11Protocol):
        _timer: asyncio.TimerHandle | None = None
        _phase: str | None = None
        _refused = False
        answered = 0  # requests answered on this connection

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            host = self.client[0] if self.client else "?"
            refusal = guard.admit(self, host)
            if refusal is not None:
                self._refused = True
                transport.write(refusal)
                transport.close()
                return
            self._arm("headers")

        def connection_lost(self, exc: Exception | None) -> None:
            guard.release(self)
            self._cancel()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            super().data_received(data)
            self._track()

        def on_response_complete(self) -> None:
            if not self.answered:
                guard.answered(self)
            self.answered += 1
            super().on_response_complete()
            self._track(new_cycle=True)

        def send_400_response(self, msg: str) -> None:
            pending = len(self.conn.trailing_data[0])
            if pending > limits.max_header_bytes:
                answer = raw_error(
                    431,
                    "limit",
                    f"request line and headers over {limits.max_header_bytes} bytes",
                )
            else:
                answer = raw_error(400, "usage", "malformed HTTP/1.1 request")
            if not self.transport.is_closing():
                self.transport.write(answer)
                self.transport.close()

        # -- deadlines -------------------------------------------------------------

        def is_idle(self) -> bool:
            """No request in flight: waiting for (the rest of) a request's headers."""
            return bool(
                self.conn.their_state is h11.IDLE
                and (self.cycle is None or self.cycle.response_complete)
            )

        def evict(self) -> None:
            """Close to make room (an idle connection: nothing is lost)."""
            self._cancel()
            if not self.transport.is_closing():
                self.transport.close()

        def _track(self, *, new_cycle: bool = False) -> None:
            if self.transport.is_closing():
                self._cancel()
                return
            state = self.conn.their_state
            if state is h11.IDLE:
                if new_cycle or self._phase != "headers":
                    self._arm("headers")
            elif state is h11.SEND_BODY:
                if self._phase != "body":
                    self._arm("body")
            else:  # the request is in: the application's turn, no client deadline
                self._cancel()

        def _arm(self, phase: str) -> None:
            self._cancel()
            self._phase = phase
            delay = limits.header_timeout if phase == "headers" else limits.body_timeout
            self._timer = self.loop.call_later(delay, self._expired, phase)

        def _cancel(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None
            self._phase = None

        def _expired(self, phase: str) -> None:
            self._timer = None
            if self.transport.is_closing():
                return
            guard.timed_out += 1
            started = self.cycle is not None and self.cycle.response_started
            partial = phase == "body" or bool(self.conn.trailing_data[0])
            if partial and not started:
                seconds = limits.header_timeout if phase == "headers" else limits.body_timeout
                what = "request headers" if phase == "headers" else "request body"
                self.transport.write(
                    raw_error(408, "timeout", f"the {what} did not arrive within {seconds:g} s")
                )
            self.transport.close()

    return GuardedH11


#: File descriptors kept free of client connections (the ledger, its WAL, logs, ...).
_SPARE_DESCRIPTORS = 64
#: The listen backlog, which is also the most connections asyncio accepts in one go:
#: connections over the caps are closed a moment after they are accepted, so a burst
#: of this many must fit in the spare file descriptors (else accepting fails with
#: EMFILE and asyncio stops listening for a second, locking everyone out).
_BACKLOG = 128


def fit_to_descriptors(limits: ServerLimits) -> ServerLimits:
    """``limits`` with at most as many connections as the process may open files (less a
    few): past that, accepting fails and asyncio stops listening for a while, which
    would lock everyone out instead of making room."""
    import dataclasses
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    room = soft - _SPARE_DESCRIPTORS - _BACKLOG
    if soft == resource.RLIM_INFINITY or room >= limits.max_connections:
        return limits
    most = max(1, room)
    return dataclasses.replace(
        limits,
        max_connections=most,
        max_client_connections=min(limits.max_client_connections, most),
    )


class HeaderLimit:
    """ASGI middleware: a request whose line and headers together exceed ``limit`` bytes
    gets a JSON 431 (h11 bounds only headers that arrive in pieces)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            size = len(scope.get("raw_path", b"")) + len(scope.get("query_string", b""))
            size += sum(len(k) + len(v) + 4 for k, v in scope.get("headers", ()))
            if size > self.limit:
                body = json.dumps(
                    {
                        "error": "limit",
                        "rule": None,
                        "message": f"request line and headers over {self.limit} bytes",
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 431,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


# ---------------------------------------------------------------------------
# Running


def run_app(
    app: Any,
    host: str,
    port: int,
    *,
    limits: ServerLimits | None = None,
    limiter: RateLimiter | None = None,
    tls: TlsFiles | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve an ASGI application with uvicorn on ``host:port`` until SIGINT/SIGTERM.

    ``port`` 0 picks a free port; ``ready`` receives the base URL once the socket is
    bound. ``limiter`` (the application's rate limit) is also charged for each new
    connection.

    Raises:
        StoreError: the address cannot be bound, or the TLS files cannot be loaded.
    """
    import ssl

    import uvicorn

    limits = fit_to_descriptors(limits or ServerLimits())
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto is TCP,
    # and without it every keep-alive answer waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StoreError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(_BACKLOG)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    guard = ConnectionGuard(limits, limiter)
    config = uvicorn.Config(
        HeaderLimit(app, limits.max_header_bytes),
        http=guarded_protocol(guard),
        # Not "warning": uvicorn warns once per malformed request, and a client sending
        # garbage would make the node write (and block on) a log line per connection.
        log_level="error",
        access_log=False,
        server_header=False,
        backlog=_BACKLOG,
        timeout_keep_alive=max(1, round(limits.header_timeout)),
        h11_max_incomplete_event_size=limits.max_header_bytes,
        proxy_headers=bool(limits.trusted_proxies),
        forwarded_allow_ips=list(limits.trusted_proxies) or None,
        ssl_certfile=tls.cert if tls else None,
        ssl_keyfile=tls.key if tls else None,
    )
    try:
        config.load()
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        raise StoreError(f"cannot load the TLS certificate or key: {exc}") from exc
    server = uvicorn.Server(config)
    if ready is not None:
        ready(f"{'https' if tls else 'http'}://{shown}:{bound}")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
