"""Threaded HTTP servers on free local ports, for the tests' proxies and hostile hosts.

``LocalServer(Handler)`` serves ``Handler`` (a :class:`QuietHandler`: HTTP/1.1, no
access log) until :meth:`LocalServer.close`; a client hanging up mid-answer is not
reported, since hostile answers are cut short on purpose.
"""

from __future__ import annotations

import http.server
import threading
from typing import Any


class QuietHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class LocalServer:
    def __init__(self, handler: type[QuietHandler]) -> None:
        self.server = _Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
