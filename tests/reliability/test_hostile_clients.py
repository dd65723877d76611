"""Soak: a node keeps serving well-behaved clients through slow-client and flood attacks.

A node with its default limits (10 s header deadline, 32 connections per client, 512 in
all, 50 requests/s per client) is measured three ways, each for ``PHASE`` seconds, by
four well-behaved clients (127.0.0.10 ... 127.0.0.13, each asking ``GET /checkpoint``
40 times a second on a keep-alive connection):

1. alone (the baseline);
2. while ``attackers.py slowloris`` keeps 1500 connections open from 150 addresses
   (more than the node's 1024 file descriptors, the usual default), each trickling a
   never-ending header and reconnecting as soon as the node cuts one off;
3. while ``attackers.py flood`` opens connections as fast as 32 threads can from 249
   addresses, holding some silently or half-sent, sending garbage or unread requests.

It prints the requests served per second, the failures and the latencies of each phase
(``make soak`` shows them) and requires the well-behaved clients to be served: at least
99% of their requests answered 200 in every phase, and under attack at least half the
baseline rate.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.test_cli import make_cli
from tests.node.conftest import Servers

PHASE = float(__import__("os").environ.get("KPLEDGER_SOAK_PHASE", "15"))
CLIENTS = 4
#: Half-open connections of the slowloris, more than the node's 1024 file descriptors.
SLOW_CONNECTIONS = 1500
NOFILE = 1024
RATE = 40.0  # requests per second per well-behaved client (under the node's 50)
ROOT = Path(__file__).resolve().parents[2]


def measure(url: str, seconds: float) -> dict[str, Any]:
    """Well-behaved clients for ``seconds``: what they got."""
    results: list[tuple[bool, float]] = []
    reasons: dict[str, int] = {}
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client(i: int) -> None:
        transport = httpx.HTTPTransport(local_address=f"127.0.0.{10 + i}", retries=0)
        with httpx.Client(base_url=url, transport=transport, timeout=5) as http:
            due = time.monotonic()
            while time.monotonic() < end:
                started = time.monotonic()
                reason = ""
                try:
                    status = http.get("/checkpoint").status_code
                    ok = status == 200
                    reason = str(status)
                except httpx.HTTPError as exc:
                    ok = False
                    reason = type(exc).__name__
                with lock:
                    if not ok:
                        reasons[reason] = reasons.get(reason, 0) + 1
                    results.append((ok, time.monotonic() - started))
                due += 1 / RATE
                time.sleep(max(0.0, due - time.monotonic()))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    served = [lat for ok, lat in results if ok]
    lat = sorted(served) or [0.0]
    return {
        "asked": len(results),
        "served": len(served),
        "failed": len(results) - len(served),
        "per_second": len(served) / seconds,
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
        "max_ms": 1000 * lat[-1],
        "reasons": reasons,
    }


def attack(mode: str, url: str, count: int, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.attackers", mode, url, str(count), str(seconds)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_well_behaved_clients_are_served_through_slowloris_and_flood(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    cli("checkpoint", "--key", cli.key("op"))
    servers = Servers(tmp_path)
    try:
        node = servers.start(
            "--ledger", cli.db, "serve", "--listen", "127.0.0.1:0", limit_files=NOFILE
        )
        figures: dict[str, dict[str, Any]] = {}
        figures["baseline"] = measure(node.url, PHASE)
        for mode, count in (("slowloris", SLOW_CONNECTIONS), ("flood", 32)):
            proc = attack(mode, node.url, count, PHASE + 8)
            time.sleep(4)  # let the attack reach its full strength
            figures[mode] = measure(node.url, PHASE)
            out, _ = proc.communicate(timeout=PHASE + 60)
            figures[mode]["attacker"] = json.loads(out.strip().splitlines()[-1])
            time.sleep(2)
        figures["after"] = measure(node.url, PHASE / 3)
        assert node.proc.poll() is None, "the node died"
    finally:
        servers.stop_all()
    print()
    for name, f in figures.items():
        extra = f" attacker {f['attacker']}" if "attacker" in f else ""
        print(
            f"{name:>10}: {f['served']}/{f['asked']} served ({f['per_second']:.0f}/s), "
            f"{f['failed']} failed, latency p50 {f['p50_ms']:.1f} ms p99 {f['p99_ms']:.1f} ms "
            f"max {f['max_ms']:.0f} ms {f['reasons'] or ''}{extra}"
        )
    base = figures["baseline"]["per_second"]
    for name, f in figures.items():
        assert f["served"] >= 0.99 * f["asked"], (name, f)
        assert f["per_second"] >= 0.5 * base, (name, f, base)
