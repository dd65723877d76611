"""Appends per second: direct local ``Ledger.append`` vs ``POST /api/entries`` on a node.

Slow-marked (``make soak`` or ``pytest -m slow tests/node/test_throughput.py -s``); prints
the figures. Each entry is a single-entry append (one transaction, fsync'd), the common
case of a participant submitting one signed action; the node also signs a checkpoint and
an inclusion proof per append. ``KPLEDGER_BENCH_N`` sets the number of entries.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import ledger as lg
from ledger.core.wire import pack_entries
from tests.cli.test_cli import make_cli
from tests.node.conftest import Servers

N = int(os.environ.get("KPLEDGER_BENCH_N", "300"))

#: Append bodies are signed entries (the node refuses other content types).
OCTETS = {"Content-Type": "application/octet-stream"}


def origins(db: str, key_file: str, prefix: str, n: int) -> list[lg.SignedEntry]:
    led = lg.Ledger.open(db)
    key = lg.load_private(key_file, None)
    now = time.time_ns() // 1_000_000
    fields = {"carats": 100, "stones": 1, "mine": "Pit", "hs": "7102.10"}
    out = [
        led.sign("origin", {"parcel": f"{prefix}-{i}", **fields}, key, now=now) for i in range(n)
    ]
    led.close()
    return out


@pytest.mark.slow
def test_appends_per_second(tmp_path: Path, servers: Servers) -> None:
    cli = make_cli(tmp_path)
    mine = cli.key("mine")

    entries = origins(cli.db, mine, "L", N)
    led = lg.Ledger.open(cli.db)
    start = time.perf_counter()
    for e in entries:
        led.append([e], now=time.time_ns() // 1_000_000)
    local = N / (time.perf_counter() - start)
    led.close()

    node = servers.node(cli.db, key=cli.key("op"))
    entries = origins(cli.db, mine, "S", N)
    with httpx.Client(base_url=node.url, timeout=30, headers=OCTETS) as http:
        start = time.perf_counter()
        for e in entries:
            assert http.post("/api/entries", content=e.raw).status_code == 200
        serial = N / (time.perf_counter() - start)

    entries = origins(cli.db, mine, "C", N)
    clients = [httpx.Client(base_url=node.url, timeout=30, headers=OCTETS) for _ in range(8)]

    def post(i: int) -> int:
        return clients[i % 8].post("/api/entries", content=entries[i].raw).status_code

    with ThreadPoolExecutor(8) as pool:
        start = time.perf_counter()
        codes = list(pool.map(post, range(N)))
        concurrent = N / (time.perf_counter() - start)
    for c in clients:
        c.close()
    assert codes == [200] * N

    batch = origins(cli.db, mine, "B", N)
    with httpx.Client(base_url=node.url, timeout=60, headers=OCTETS) as http:
        start = time.perf_counter()
        assert http.post("/api/entries", content=pack_entries(batch)).status_code == 200
        batched = N / (time.perf_counter() - start)

    print(
        f"\nappends/s over {N} single-entry appends: local Ledger.append {local:.0f}; "
        f"node POST, 1 client {serial:.0f}; node POST, 8 clients {concurrent:.0f}; "
        f"node POST, one batch of {N} {batched:.0f}"
    )
    assert serial > 0 and local > 0
