"""Clients read a hostile host's answers under limits, in bounded memory (specs/node.md §3).

A host that answers a 64 MiB checkpoint, an endless entry bundle, oversized hash tiles, a
compressed answer, a chain of records that is not its signed tree, a page of records of
64 MiB, or one byte at a time, is refused with one named error; ``sync``'s allocations
stay within a few MiB of what it needs (``tracemalloc``). The same hosts at 400 MB, with
the peak memory of a ``kpledger sync`` process, are the slow soak
``tests/reliability/test_hostile_host.py``.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

import ledger.net.node as node_module
from ledger.core.keys import PrivateKey
from ledger.core.note import Verifier
from ledger.core.policy import Witness as PolicyWitness
from ledger.errors import EncodingError, LedgerError, LimitError, ProofError, StoreError
from ledger.net.client import NodeClient, RemoteLedger
from ledger.net.mirror import sync
from ledger.net.node import Node
from ledger.storage.keyfile import load_private
from tests.cli.test_cli import make_cli
from tests.local_http import LocalServer, QuietHandler
from tests.reliability.hostile_host import KEY, ORIGIN, HostileHost

MIB = 1 << 20


@pytest.fixture
def hosts() -> Iterator[list[HostileHost]]:
    started: list[HostileHost] = []
    yield started
    for h in started:
        h.close()


@pytest.mark.parametrize(
    ("kind", "error", "words", "budget"),
    [
        ("checkpoint", LimitError, "announced an answer of", 2 * MIB),
        ("checkpoint-chunked", LimitError, "sent more than", 3 * MIB),
        ("gzip", EncodingError, "Content-Encoding", 2 * MIB),
        ("bundle", LimitError, "sent more than", 32 * MIB),
        ("tile", LimitError, "sent more than", 64 * MIB),
        ("records", ProofError, "do not give the tree", 64 * MIB),
    ],
)
def test_sync_refuses_a_hostile_host_in_bounded_memory(
    tmp_path: Path,
    hosts: list[HostileHost],
    kind: str,
    error: type[LedgerError],
    words: str,
    budget: int,
) -> None:
    size = 64 * MIB if kind != "records" else 1_000_000
    host = HostileHost(kind, size)
    hosts.append(host)
    mirror = tmp_path / "mirror.db"
    tracemalloc.start()
    try:
        with pytest.raises(error) as info:
            sync(str(mirror), host.url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert words in info.value.message, info.value.message
    print(f"{kind}: peak {peak / MIB:.1f} MiB, {host.sent / MIB:.1f} MiB sent")
    assert peak < budget, f"{kind}: peak {peak / MIB:.1f} MiB"
    assert host.sent < 64 * MIB, f"{kind}: the client read {host.sent / MIB:.0f} MiB"
    if kind == "records":  # nothing outside the signed tree was appended
        from ledger.ledger import Ledger

        led = Ledger.open(str(mirror))
        try:
            assert led.size() == 1
        finally:
            led.close()


def test_a_remote_command_refuses_an_oversized_page(hosts: list[HostileHost]) -> None:
    host = HostileHost("records-api", 64 * MIB)
    hosts.append(host)
    client = NodeClient(host.url)
    try:
        with pytest.raises(LimitError, match="sent more than"):
            client.get_value("/api/records", start=0, limit=1, max_bytes=2 * MIB)
    finally:
        client.close()
    # The remote ledger reads its genesis page the same way.
    with pytest.raises(LimitError):
        RemoteLedger(host.url, trust=Verifier.for_ed25519(ORIGIN, KEY.public))


def test_an_answer_that_never_ends_hits_the_deadline(hosts: list[HostileHost]) -> None:
    host = HostileHost("drip", 0)
    hosts.append(host)
    client = NodeClient(host.url, deadline=1.0)
    try:
        with pytest.raises(StoreError, match="took more than 1 s"):
            client.get_text("/checkpoint")
    finally:
        client.close()


class HostileWitness(LocalServer):
    """A witness that answers ``POST /add-checkpoint`` with an endless body (``flood``,
    64 KiB chunks) or one byte every 0.2 s (``drip``)."""

    def __init__(self, mode: str) -> None:
        self.sent = 0
        witness = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                part = b"\n" * (1 << 16) if mode == "flood" else b"\n"
                try:
                    while witness.sent < 512 * MIB:
                        self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                        witness.sent += len(part)
                        if mode == "drip":
                            time.sleep(0.2)
                except OSError:
                    pass

        super().__init__(Handler)


@pytest.mark.parametrize(("mode", "words"), [("flood", "answer over"), ("drip", "no answer")])
def test_the_node_reads_a_hostile_witness_under_limits(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    words: str,
) -> None:
    """A node pushing its checkpoint to a witness reads at most 64 KiB of the answer,
    within a deadline, then gives up on that witness with a warning."""
    monkeypatch.setattr(node_module, "_WITNESS_DEADLINE", 1.0)
    cli = make_cli(tmp_path)
    hostile = HostileWitness(mode)
    cosigner = PrivateKey("evil", bytes([9]) * 32)
    verifier = Verifier.for_cosigner("evil.example/w", cosigner.public)
    policy_witness = PolicyWitness("evil", verifier, hostile.url)
    node = Node(cli.db, load_private(cli.key("op"), None), witnesses=[policy_witness])
    pusher = node_module._Pusher(node)

    async def push_once() -> None:
        task = asyncio.create_task(pusher.run())
        pusher.event.set()
        for _ in range(100):
            await asyncio.sleep(0.05)
            if any(words in r.getMessage() for r in caplog.records):
                break
        task.cancel()

    tracemalloc.start()
    try:
        with caplog.at_level("WARNING", logger="kpledger.node"):
            asyncio.run(push_once())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        hostile.close()
        node.close()
    assert any(words in r.getMessage() for r in caplog.records), caplog.text
    assert peak < 4 * MIB, f"peak {peak / MIB:.1f} MiB"
    assert hostile.sent < 64 * MIB
    assert pusher.sizes["evil"] == 0  # nothing was taken from it
