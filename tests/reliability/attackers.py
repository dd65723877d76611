"""Hostile HTTP clients for the node soak (``test_hostile_clients.py``), run as a process.

    python -m tests.reliability.attackers slowloris URL CONNECTIONS SECONDS
    python -m tests.reliability.attackers flood URL THREADS SECONDS

* ``slowloris``: keeps CONNECTIONS connections open from 40 to 200 addresses from
  127.0.0.2 on (about ten per address), each sending one more byte of a never-ending
  request header every second, and opens a new one as soon as one is closed;
* ``flood``: THREADS threads opening connections as fast as they can from 127.0.0.2 ...
  127.0.0.250, each then doing one of: hold it silently, send half a request and hold
  it, send garbage, send a whole request without reading the answer, close at once.

Both stop after SECONDS and print one JSON line of counters on stdout.
"""

from __future__ import annotations

import json
import random
import socket
import sys
import threading
import time
from urllib.parse import urlsplit

HALF = b"GET /checkpoint HTTP/1.1\r\nHost: node\r\nUser-Agent: slow\r\nX-Pad: "


def target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def connect(addr: tuple[str, int], source: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((source, 0))
        sock.settimeout(2)
        sock.connect(addr)
        sock.setblocking(False)
        return sock
    except OSError:
        sock.close()
        return None


def slowloris(url: str, connections: int, seconds: float) -> dict[str, int]:
    addr = target(url)
    spread = max(40, min(200, connections // 10))  # about ten connections per address
    sources = [f"127.0.0.{2 + i % spread}" for i in range(connections)]
    socks: list[socket.socket | None] = [None] * connections
    stats = {"opened": 0, "closed_by_node": 0, "bytes": 0}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for i in range(connections):
            s = socks[i]
            if s is None:
                s = connect(addr, sources[i])
                if s is None:
                    continue
                stats["opened"] += 1
                try:
                    s.send(HALF)
                except OSError:
                    s.close()
                    continue
                socks[i] = s
                continue
            try:
                if s.recv(4096) == b"":
                    raise ConnectionResetError
            except BlockingIOError:
                pass
            except OSError:
                stats["closed_by_node"] += 1
                s.close()
                socks[i] = None
                continue
            try:
                s.send(b"a")
                stats["bytes"] += 1
            except OSError:
                stats["closed_by_node"] += 1
                s.close()
                socks[i] = None
        time.sleep(1.0)
    for s in socks:
        if s is not None:
            s.close()
    stats["held_at_end"] = sum(1 for s in socks if s is not None)
    return stats


def flood(url: str, threads: int, seconds: float) -> dict[str, int]:
    addr = target(url)
    stats = {"connections": 0, "failed": 0}
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        held: list[socket.socket] = []
        while time.monotonic() < end:
            s = connect(addr, f"127.0.0.{rng.randrange(2, 251)}")
            with lock:
                if s is None:
                    stats["failed"] += 1
                    continue
                stats["connections"] += 1
            what = rng.randrange(5)
            try:
                if what == 0:
                    held.append(s)
                elif what == 1:
                    s.send(HALF)
                    held.append(s)
                elif what == 2:
                    s.send(bytes(rng.randrange(256) for _ in range(200)))
                    s.close()
                elif what == 3:
                    s.send(b"GET /api/participants HTTP/1.1\r\nHost: node\r\n\r\n")
                    s.close()
                else:
                    s.close()
            except OSError:
                s.close()
            if len(held) > 64:
                for h in held[:32]:
                    h.close()
                del held[:32]
        for h in held:
            h.close()

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return stats


def main() -> None:
    mode, url, count, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    stats = (slowloris if mode == "slowloris" else flood)(url, count, seconds)
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
