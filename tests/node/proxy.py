"""A tiny in-process HTTP proxy for the tests: a man in the middle, or a node that
changes its mind between requests.

``Proxy(route, rewrite)`` listens on a free local port and forwards every request to the
URL ``route(n, method, path)`` names (``n`` counts the requests it has seen), then hands
the answer to ``rewrite(method, path, status, headers, body)``, which may change it, as
someone on a plain-HTTP path between a participant and its node could.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from tests.local_http import LocalServer, QuietHandler

Route = Callable[[int, str, str], str]
Rewrite = Callable[[str, str, int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


def unchanged(
    method: str, path: str, status: int, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    return status, headers, body


class Proxy(LocalServer):
    def __init__(self, route: Route, rewrite: Rewrite = unchanged) -> None:
        self.route = route
        self.rewrite = rewrite
        self.count = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(QuietHandler):
            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy.lock:
                    n = proxy.count
                    proxy.count += 1
                base = proxy.route(n, self.command, self.path)
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length", "connection")
                }
                resp = httpx.request(
                    self.command, base + self.path, content=body, headers=headers, timeout=30
                )
                out = {
                    k: v
                    for k, v in resp.headers.items()
                    if k.lower() not in ("content-length", "connection", "transfer-encoding")
                }
                status, out, data = proxy.rewrite(
                    self.command, self.path, resp.status_code, out, resp.content
                )
                self.send_response(status)
                for k, v in out.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = forward  # noqa: N815

        super().__init__(Handler)
