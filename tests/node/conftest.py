"""Fixtures of the node tests: real ``kpledger serve`` / ``witness serve`` processes.

``servers.start(*argv)`` runs ``kpledger ARGV`` in a subprocess (``--listen
127.0.0.1:0``: the process binds a free port and prints its URL on stderr), waits until
it answers HTTP, and the fixture terminates every server at the end of the test. No
HTTP is mocked. ``NodeCli`` drives the in-process CLI (``tests/cli/test_cli.py`` style)
with ``--ledger http://...`` while still able to snapshot the node's file.
"""

from __future__ import annotations

import hashlib
import re
import resource
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from click.testing import Result

from tests.cli.test_cli import Cli, make_cli

ROOT = Path(__file__).resolve().parents[2]
KPLEDGER = [sys.executable, "-c", "from cli.app import run; run()"]
STATIC_SERVER = """
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(f"serving http://127.0.0.1:{server.server_port}", file=sys.stderr, flush=True)
server.serve_forever()
"""


@dataclass
class Server:
    proc: subprocess.Popen[str]
    url: str
    log: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
                self.proc.kill()
                self.proc.wait()


class Servers:
    """Starts servers and stops them all at the end of the test."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.started: list[Server] = []

    def start(self, *argv: str, probe: str = "/api/info", limit_files: int = 0) -> Server:
        """``kpledger ARGV``; ready once ``GET probe`` answers. ``limit_files`` lowers the
        process's open-file limit (as many systems set it)."""
        return self.spawn([*KPLEDGER, *argv], probe, limit_files)

    def static(self, directory: Path) -> Server:
        """A plain static web server (Python's http.server) over ``directory``."""
        return self.spawn([sys.executable, "-c", STATIC_SERVER, str(directory)], "/checkpoint")

    def spawn(self, cmd: list[str], probe: str, limit_files: int = 0) -> Server:
        def lower_file_limit() -> None:
            if limit_files:
                _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit_files, hard))

        proc = subprocess.Popen(
            cmd,
            preexec_fn=lower_file_limit if limit_files else None,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        first = proc.stderr.readline() if proc.stderr else ""
        found = re.search(r"https?://[0-9.]+:[0-9]+", first)
        if found is None:
            rest = proc.stderr.read() if proc.stderr else ""
            proc.wait(timeout=10)
            raise AssertionError(f"server did not start: {first}{rest}")
        server = Server(proc, found.group(0), [first])
        self.started.append(server)

        def drain() -> None:  # keep the pipe from filling up; keep the lines for asserts
            assert proc.stderr is not None
            for line in proc.stderr:
                server.log.append(line)

        threading.Thread(target=drain, daemon=True).start()
        deadline = time.monotonic() + 20
        while True:
            try:
                # verify=False: a TLS node's own certificate is what the tests check.
                if httpx.get(server.url + probe, timeout=2, verify=False).status_code < 500:
                    return server
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server not ready: {''.join(server.log)}")
            time.sleep(0.02)

    def node(self, db: str, *extra: str, key: str | None = None) -> Server:
        argv = ["--ledger", db, "serve", "--listen", "127.0.0.1:0", *extra]
        if key is not None:
            argv += ["--key", key]
        if "--rate" not in extra:
            argv += ["--rate", "0"]
        return self.start(*argv)

    def stop_all(self) -> None:
        for s in self.started:
            s.stop()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    s = Servers(tmp_path)
    try:
        yield s
    finally:
        s.stop_all()


def run_cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``kpledger ARGV`` in its own process."""
    return subprocess.run(
        [*KPLEDGER, *argv], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def file_digest(db: str, *, log_only: bool = False) -> str:
    """A digest of every row of every table of a ledger file; with ``log_only``, of all
    but the node's pending proposals (kept outside the log)."""
    conn = sqlite3.connect(db)
    h = hashlib.sha256()
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
        if log_only and table == "pending_proposals":
            continue
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2"):
            h.update(repr(row).encode())
    conn.close()
    return h.hexdigest()


def operator_vkey(local: Cli, origin: str = "test.example/ledger") -> str:
    """The operator's vkey of a ``make_cli`` ledger (what a participant pins)."""
    return str(local("key", "vkey", local.pub("op"), "--name", origin).stdout.strip())


class NodeCli(Cli):
    """The test CLI pointed at a node and pinned to its operator key (``--trust``);
    ``file`` is the node's ledger file."""

    def __init__(self, local: Cli, url: str, *, vkey: str | None = None) -> None:
        super().__init__(local.tmp)
        self.file = local.db
        self.db = url
        self.vkey = vkey if vkey is not None else operator_vkey(local)
        #: Where the parties keep the openings of the prices they sign through the node
        #: (specs/disclosure.md §4); None: nowhere (the CLI then refuses to commit one).
        self.openings: str | None = str(local.tmp / "node-openings.db")

    def __call__(self, *args: str, ok: bool = True, json_out: bool = False) -> Result:
        keep = ("--openings", self.openings) if self.openings and "--openings" not in args else ()
        return super().__call__("--trust", self.vkey, *keep, *args, ok=ok, json_out=json_out)

    def snapshot(self, *, log_only: bool = False) -> str:
        return file_digest(self.file, log_only=log_only)


@dataclass
class Scene:
    local: Cli
    remote: NodeCli
    server: Server


@pytest.fixture
def scene(tmp_path: Path, servers: Servers) -> Scene:
    """``make_cli``'s ledger (keys, KP statuses, participants) served by a node."""
    local = make_cli(tmp_path)
    server = servers.node(local.db, key=local.key("op"))
    return Scene(local, NodeCli(local, server.url), server)
