"""The node's HTTP surface: tlog-tiles checked with plain hashlib, bad requests, limits."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from click.testing import CliRunner

import ledger as lg
from cli.app import main
from ledger.core import note
from ledger.core.model import Signature, SignedEntry
from tests.cli.test_cli import Cli, export, make_cli
from tests.node.conftest import Servers, file_digest, operator_vkey

# --- an independent reading of C2SP tlog-tiles (no kpledger code) --------------------

#: Append bodies are signed entries (the node refuses other content types).
OCTETS = {"Content-Type": "application/octet-stream"}


def c2sp_index(n: int) -> str:
    """``<N>`` of a tile path: 3-digit groups, ``x`` before all but the last."""
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])


def c2sp_path(level: str, n: int, width: int) -> str:
    return f"tile/{level}/{c2sp_index(n)}" + (f".p/{width}" if width < 256 else "")


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 Merkle tree hash over leaf hashes."""
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return sha(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def bundle_entries(data: bytes) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 2], "big")
        yield data[pos + 2 : pos + 2 + n]
        pos += 2 + n
    assert pos == len(data)


def grow(cli: Cli, count: int) -> None:
    """Append ``count`` origin entries directly (two transactions)."""
    led = lg.Ledger.open(cli.db)
    key = lg.load_private(cli.key("mine"), None)
    now = time.time_ns() // 1_000_000
    entries = [
        led.sign(
            "origin",
            {"parcel": f"G-{i}", "carats": 100, "stones": 1, "mine": "Pit 9", "hs": "7102.10"},
            key,
            now=now,
        )
        for i in range(count)
    ]
    half = count // 2
    led.append(entries[:half], now=now)
    led.append(entries[half:], now=now + 1)
    led.close()


def test_published_tiles_verify_with_plain_hashlib(tmp_path: Path, servers: Servers) -> None:
    cli = make_cli(tmp_path)
    grow(cli, 300)  # > 256 records: a full tile, a partial tile and level 1
    site = tmp_path / "site"
    cli("publish", "--to", str(site), "--key", cli.key("op"))
    text = (site / "checkpoint").read_text()
    body, _, _ = text.partition("\n\n")
    origin, size_line, root_line, state_line = body.split("\n")
    assert state_line.startswith("kpledger/v1 state-map ")  # Go's ParseTree ignores it
    size, root = int(size_line), base64.b64decode(root_line)
    assert origin == "test.example/ledger" and size > 300

    leaves: list[bytes] = []
    for n in range((size + 255) // 256):
        width = min(256, size - 256 * n)
        records = list(bundle_entries((site / c2sp_path("entries", n, width)).read_bytes()))
        assert len(records) == width
        hashes = [sha(b"\x00" + r) for r in records]
        assert (site / c2sp_path("0", n, width)).read_bytes() == b"".join(hashes)
        leaves += hashes
    assert len(leaves) == size
    level1 = (site / c2sp_path("1", 0, size // 256)).read_bytes()
    assert level1 == b"".join(mth(leaves[i * 256 : (i + 1) * 256]) for i in range(size // 256))
    assert mth(leaves) == root
    vkey = cli("key", "vkey", cli.pub("op"), "--name", origin).stdout.strip()
    note.open_checkpoint(text, lg.parse_vkey(vkey))

    # A read-only node (no key) serves the very same files, and older partial widths.
    node = servers.node(cli.db)
    with httpx.Client(base_url=node.url, headers=OCTETS) as http:
        for path in sorted(p for p in site.rglob("*") if p.is_file()):
            rel = path.relative_to(site).as_posix()
            got = http.get("/" + rel)
            assert got.status_code == 200 and got.content == path.read_bytes(), rel
        older = http.get("/" + c2sp_path("0", 1, 10))
        assert older.content == b"".join(leaves[256:266])
        assert http.get("/" + c2sp_path("0", 5, 1)).status_code == 404
        assert http.get("/tile/0/1").status_code == 404  # not a canonical path
        refused = http.post("/api/entries", content=b"\x81\xa1a\x01")
        assert refused.status_code in (400, 403)
        assert "openapi" in http.get("/openapi.json").json()


def signed_origin(cli: Cli, parcel: str) -> SignedEntry:
    led = lg.Ledger.open(cli.db)
    try:
        key = lg.load_private(cli.key("mine"), None)
        fields = {"parcel": parcel, "carats": 5, "stones": 1, "mine": "Pit", "hs": "7102.10"}
        return led.sign("origin", fields, key, now=time.time_ns() // 1_000_000)
    finally:
        led.close()


def test_bad_requests_are_4xx_and_write_nothing(tmp_path: Path, servers: Servers) -> None:
    cli = make_cli(tmp_path)
    export(cli)
    node = servers.node(cli.db, "--rate", "20", "--burst", "40", key=cli.key("op"))
    good = signed_origin(cli, "OK-1")
    with httpx.Client(base_url=node.url, timeout=10, headers=OCTETS) as http:
        first = http.post("/api/entries", content=good.raw)
        assert first.status_code == 200, first.text
        answer = first.json()
        assert answer["entries"][0]["type"] == "origin" and "checkpoint" in answer
        before = file_digest(cli.db)

        def refused(resp: httpx.Response, status: int, code: str, rule: str | None = None) -> None:
            assert resp.status_code == status, resp.text
            err = resp.json()
            assert set(err) - {"field"} == {"error", "rule", "message"}, err
            assert err["error"] == code, err
            assert err["rule"] == rule and err["message"], err

        refused(http.post("/api/entries", content=b"\x00" * (2 << 20)), 413, "limit")

        def chunks() -> Iterator[bytes]:  # no Content-Length: the stream is counted
            for _ in range(40):
                yield b"\x00" * 65536

        refused(http.post("/api/entries", content=chunks()), 413, "limit")
        refused(http.post("/api/entries", content=b"\x82\xa1a"), 400, "encoding")
        refused(http.post("/api/entries", content=b""), 400, "encoding")
        refused(http.post("/api/entries", content=b"\x00\x00\x01\x00abc"), 400, "encoding")
        sig = good.sigs[0]
        forged = SignedEntry.build(
            signed_origin(cli, "OK-2").body_bytes,
            [Signature(sig.kid, bytes([sig.sig[0] ^ 1]) + sig.sig[1:])],
        )
        refused(http.post("/api/entries", content=forged.raw), 422, "rule", "R-ID-1")
        refused(http.post("/api/entries", content=good.raw), 409, "chain", "R-CH-3")
        wrong = http.post("/api/entries", content=good.raw, headers={"Content-Type": "text/json"})
        refused(wrong, 415, "usage")
        assert wrong.json()["field"] == "content-type"
        refused(http.get("/api/nope"), 404, "not-found")
        refused(http.delete("/api/entries"), 405, "usage")
        refused(http.get("/api/records", params={"start": -1}), 400, "usage")
        refused(http.get("/api/parcel", params={"id": "NOPE"}), 404, "not-found", "R-CU-6")
        refused(http.get("/tile/0/999"), 404, "not-found")
        assert file_digest(cli.db) == before

        # Rate limit: a token bucket per client address.
        # (Requests until the first refusal: under load the bucket refills between them.)
        limited = next(
            (r for r in (http.get("/api/info") for _ in range(300)) if r.status_code == 429),
            None,
        )
        assert limited is not None, "no request was rate limited"
        assert int(limited.headers["Retry-After"]) >= 1

    # The remote CLI waits out a 429 and then succeeds.
    time.sleep(0.2)
    pin = ["--trust", operator_vkey(cli)]
    result = CliRunner().invoke(main, ["--ledger", node.url, *pin, "kp-status", "list"])
    assert result.exit_code == 0 and "BW" in result.stdout
