"""A hostile tlog-tiles host, for the tests of bounded clients (``sync``, remote commands).

``HostileHost(kind, size)`` serves, on a free local port, a genesis record and checkpoint
signed by a key of its own (so a first sync accepts them on first use) and then one of
these answers, streamed as it is generated (the host itself holds nothing):

* ``checkpoint``: a ``/checkpoint`` of ``size`` bytes (with ``Content-Length``);
* ``checkpoint-chunked``: the same without ``Content-Length``, chunk by chunk;
* ``bundle``: a log of 300 small records whose second entry bundle is ``size`` bytes;
* ``tile``: a log of 1000 maximum-size records whose hash tiles are ``size`` bytes (a
  sync asks for them to check its first window);
* ``gzip``: a checkpoint compressed 1000:1 (``Content-Encoding: gzip``) of ``size`` bytes
  once inflated;
* ``records``: an honest-looking log: a checkpoint claiming ``size`` records, entry
  bundles of chained maximum-size records, as many as asked for, under a root that is
  not theirs;
* ``records-api``: ``/api/records`` pages of ``size`` bytes (for a remote command);
* ``drip``: a checkpoint sent one byte every 0.2 s, forever.
"""

from __future__ import annotations

import gzip
import http.server
import time
from collections.abc import Iterator

from ledger.core import note, replay, statemap, tiles
from ledger.core.keys import PrivateKey
from ledger.core.model import MAX_ENTRY_SIZE, Body, Record, sign_body
from ledger.core.wire import join_entry_bundle
from tests.local_http import LocalServer, QuietHandler

ORIGIN = "hostile.example/ledger"
KEY = PrivateKey("hostile", bytes([77]) * 32)
CHUNK = 1 << 16


def genesis() -> Record:
    body = Body("genesis", ORIGIN, KEY.kid, 1, {"operator": KEY.public, "name": KEY.name})
    return Record.build(0, bytes(32), 1, sign_body(body, [KEY.seed]).raw)


def checkpoint(size: int, root: bytes) -> bytes:
    """A checkpoint signed by the host's key, committing to the state map of its genesis
    (what a mirror holds before the hostile part)."""
    state_map = statemap.MemoryMap()
    replay.replay([(0, genesis().raw)], state_map=state_map)
    cp = note.kpledger_checkpoint(ORIGIN, size, root, state_map.root())
    return note.sign_checkpoint(cp, ORIGIN, KEY.seed).encode()


class HostileHost(LocalServer):
    def __init__(self, kind: str, size: int) -> None:
        self.kind = kind
        self.size = size
        self.genesis = genesis()
        self.sent = 0  # bytes written to clients (socket buffers hold some of them unread)
        self.last_hash: dict[int, bytes] = {}  # bundle index -> hash of its last record
        host = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                try:
                    host.answer(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        super().__init__(Handler)

    # -- answers ----------------------------------------------------------------------

    def send(
        self,
        h: http.server.BaseHTTPRequestHandler,
        parts: Iterator[bytes],
        length: int | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        h.send_response(200)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        if length is None:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Content-Length", str(length))
        h.end_headers()
        for part in parts:
            if length is None:
                h.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            else:
                h.wfile.write(part)
            self.sent += len(part)
        if length is None:
            h.wfile.write(b"0\r\n\r\n")

    def answer(self, h: http.server.BaseHTTPRequestHandler) -> None:
        path = h.path
        kind = self.kind
        claimed = {"records": self.size, "bundle": 300, "tile": 1000}.get(kind, 2)
        if path == "/checkpoint":
            if kind in ("checkpoint", "checkpoint-chunked"):
                filler = (b"x" * CHUNK for _ in range(self.size // CHUNK))
                length = None if kind == "checkpoint-chunked" else self.size // CHUNK * CHUNK
                return self.send(h, filler, length)
            if kind == "gzip":
                block = gzip.compress(b"\n" * (1 << 20))  # ~1 KiB inflating to 1 MiB
                n = self.size >> 20
                return self.send(h, iter([block] * n), len(block) * n, {"Content-Encoding": "gzip"})
            if kind == "drip":
                return self.send(h, self.drip(), None)
            body = checkpoint(claimed, bytes(32))
            return self.send(h, iter([body]), len(body))
        if path.startswith("/tile/entries/"):
            index = int(path.split("/")[3].split(".")[0])
            if kind == "bundle" and index > 0:
                return self.send(h, (b"\xff" * CHUNK for _ in range(self.size // CHUNK)), None)
            data = self.bundle(index, claimed)
            return self.send(h, iter([data]), len(data))
        if path.startswith("/tile/"):
            if kind == "tile":
                return self.send(h, (b"\x00" * CHUNK for _ in range(self.size // CHUNK)), None)
            return self.send(h, iter([bytes(32)]), 32)
        if path.startswith("/api/records"):
            if kind == "records-api":
                return self.send(h, (b"\x00" * CHUNK for _ in range(self.size // CHUNK)), None)
            from ledger.core.wire import pack

            data = pack([self.genesis.raw])
            return self.send(h, iter([data]), len(data))
        h.send_response(404)
        h.send_header("Content-Length", "0")
        h.end_headers()
        return None

    def drip(self) -> Iterator[bytes]:
        while True:
            time.sleep(0.2)
            yield b"x"

    def bundle(self, index: int, size: int) -> bytes:
        """Entry bundle ``index`` of a chain of maximum-size records (genesis first)."""
        first = index * tiles.TILE_WIDTH
        width = min(tiles.TILE_WIDTH, size - first)
        prev = self.last_hash.get(index - 1, bytes(32))
        raws = []
        for i in range(first, first + width):
            if i == 0:
                record = self.genesis
            else:
                filler = MAX_ENTRY_SIZE if self.kind in ("records", "tile") else 100
                record = Record.build(i, prev, 2, bytes([i % 251]) * filler)
            raws.append(record.raw)
            prev = record.hash
        self.last_hash[index] = prev
        return join_entry_bundle(raws)
