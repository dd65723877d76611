"""Crash safety: SIGKILL an appending process at random moments; nothing committed is lost.

``appender.py`` appends to one ledger in a loop and prints ``OK <index> <id>`` after each
append has returned (committed); see its docstring for the protocol. This harness starts
it as a subprocess, kills it with SIGKILL after a random delay (a small range, so most
kills land while an append's ``BEGIN IMMEDIATE`` transaction is open), then checks:

* the file passes ``PRAGMA integrity_check`` and ``Ledger.verify()`` (chain, signatures,
  rules, Merkle tiles, derived state, stored checkpoints); the soak replays the whole log
  every 10th kill and at the end, and checks the chain links of the new records after
  every kill;
* every ``OK`` entry is in the log at its index, and every ``CP`` checkpoint is stored;
* there is no partial record: the log holds exactly the reported appends, or those plus
  the *whole* append that was in flight (``TRY n`` printed, no ``OK`` yet): it may have
  committed just before the kill. A two-entry batch is never half there;
* appending still works (the harness appends one entry itself, then the next round's
  appender carries on).

The default test does 10 kills in a few seconds; the ``slow`` soak (``make soak``) does
150. ``KPLEDGER_CRASH_SEED`` replays one sequence of delays; the seed is in every
failure message. Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ledger.core.keys import PrivateKey
from ledger.ledger import Ledger
from tests.conftest import PARTIES, World, fixed_key
from tests.reliability import appender

HELPER = Path(__file__).with_name("appender.py")
ROOT = Path(__file__).resolve().parents[2]

OK_LINE = re.compile(r"OK (\d+) ([0-9a-f]{64})\Z")


@dataclass
class Figures:
    kills: int = 0
    in_flight: int = 0  # kills that landed between TRY and its OK lines
    committed_unreported: int = 0  # ... of which the append had committed
    rolled_back: int = 0  # ... of which nothing was written
    reported: int = 0  # entries whose OK line was read
    entries: int = 0  # records in the log at the end
    checkpoints: int = 0
    delays: list[float] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"kills={self.kills} (in flight {self.in_flight}: committed-unreported "
            f"{self.committed_unreported}, rolled back {self.rolled_back}), "
            f"OK entries={self.reported}, log size={self.entries}, "
            f"checkpoints={self.checkpoints}, lost=0, partial=0"
        )


@dataclass
class Run:
    """What one killed appender printed."""

    ready: int | None = None
    ok: list[tuple[int, str]] = field(default_factory=list)
    checkpoints: list[int] = field(default_factory=list)
    in_flight: int = 0  # entries of the append started (TRY) but not reported (no OK)
    cp_in_flight: bool = False


def parse_output(text: str) -> Run:
    run = Run()
    lines = text.split("\n")
    if lines and lines[-1] != "":
        lines = lines[:-1]  # a line cut by the kill (a pipe write is atomic, but be safe)
    for line in lines:
        if not line:
            continue
        word, _, rest = line.partition(" ")
        if word == "READY":
            run.ready = int(rest)
        elif word == "TRY":
            run.in_flight = int(rest)
        elif word == "OK":
            m = OK_LINE.match(line)
            assert m, f"garbled line {line!r}"
            run.ok.append((int(m.group(1)), m.group(2)))
            run.in_flight -= 1
        elif word == "TRYCP":
            run.cp_in_flight = True
        elif word == "CP":
            run.checkpoints.append(int(rest))
            run.cp_in_flight = False
        else:
            raise AssertionError(f"unexpected line {line!r}")
    return run


def test_appender_keys_match_the_test_world() -> None:
    seeds = {p.name: p.seed for p in PARTIES}
    assert appender.SEEDS["Jwaneng"] == seeds["Jwaneng"]
    assert appender.SEEDS["Gaborone Trader"] == seeds["Gaborone Trader"]
    assert appender.key("KP Ledger Operator") == fixed_key("KP Ledger Operator", 1)


def start(db: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, str(HELPER), str(db), "--checkpoint-every", "25"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def check_new_records(led: Ledger, start: int, size: int, where: str) -> None:
    """The chain links and cached columns of records ``start..size-1`` (cheaper than verify)."""
    prev = led.store.record(start - 1).hash
    for index in range(start, size):
        record = led.store.record(index)
        assert record.index == index and record.prev == prev, f"{where}: link {index} broken"
        row = led.store.conn.execute(
            "SELECT id, hash FROM records WHERE idx = ?", (index,)
        ).fetchone()
        assert (bytes(row[0]), bytes(row[1])) == (record.entry().id, record.hash), where
        prev = record.hash


def check_file(db: Path, before: int, run: Run, where: str, *, full: bool) -> int:
    """All the checks after one kill; returns the number of records.

    ``full``: also replay the whole log with ``Ledger.verify()`` (the soak does it every
    few kills, since a replay costs time proportional to the log).
    """
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok", where
    finally:
        raw.close()
    led = Ledger.open(str(db))
    try:
        size = led.size()
        if full:
            assert led.verify().size == size, where
        check_new_records(led, max(before, 1), size, where)
        if run.ready is not None:
            assert run.ready == before, where
        for index, hexid in run.ok:
            record = led.store.record(index)
            assert record.entry().id.hex() == hexid, f"{where}: entry {index} differs"
        reported = before + len(run.ok)
        extra = size - reported
        assert extra in (0, run.in_flight), (
            f"{where}: {size} records, {reported} reported, "
            f"{run.in_flight} entries were in flight: a partial or lost append"
        )
        stored = {s for s, _ in led.store.checkpoints()}
        assert set(run.checkpoints) <= stored, f"{where}: a reported checkpoint is missing"
        # Appending still works, at the next index.
        key: PrivateKey = fixed_key("Jwaneng", appender.SEEDS["Jwaneng"])
        now = led.store.record(size - 1).time + appender.STEP_MS
        fields = {
            "parcel": f"H-{size}",
            "carats": 5,
            "stones": 1,
            "mine": "Harness Pit",
            "hs": "7102.10",
        }
        done = led.append([led.sign("origin", fields, key, now=now)], now=now)
        assert done[0].index == size, where
        return size + 1
    finally:
        led.close()


def crash_loop(tmp_path: Path, kills: int, max_delay: float, verify_every: int = 1) -> Figures:
    seed = int(os.environ.get("KPLEDGER_CRASH_SEED", str(random.SystemRandom().randrange(1 << 32))))
    rng = random.Random(seed)
    db = tmp_path / "crash.kpl"
    world = World.create(db)
    size = world.ledger.size()
    world.close()
    figures = Figures()
    for n in range(kills):
        where = f"kill {n + 1} (KPLEDGER_CRASH_SEED={seed})"
        proc = start(db)
        assert proc.stdout is not None
        early = rng.random() < 0.1  # sometimes kill while it is still starting up
        head = ""
        if not early:
            head = proc.stdout.readline()
            assert head.startswith("READY"), (
                f"{where}: {head!r} {proc.stderr.read() if proc.stderr else ''}"
            )
        delay = rng.uniform(0.0, max_delay)
        figures.delays.append(delay)
        time.sleep(delay)
        still_running = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        # Read through the same buffered file as readline() above: communicate() would read
        # the pipe's fd directly and miss whatever readline() had already buffered.
        out = proc.stdout.read()
        err = proc.stderr.read() if proc.stderr is not None else ""
        proc.wait(timeout=30)
        assert still_running and proc.returncode == -signal.SIGKILL, (
            f"{where}: the appender exited by itself ({proc.returncode}): {err}"
        )
        run = parse_output(head + out)
        full = (n + 1) % verify_every == 0 or n + 1 == kills
        new_size = check_file(db, size, run, where, full=full)
        figures.kills += 1
        figures.reported += len(run.ok)
        if run.in_flight:
            figures.in_flight += 1
            if new_size - 1 > size + len(run.ok):
                figures.committed_unreported += 1
            else:
                figures.rolled_back += 1
        size = new_size
    led = Ledger.open(str(db))
    try:
        figures.entries = led.verify().size
        figures.checkpoints = len(led.store.checkpoints())
    finally:
        led.close()
    print(f"\ncrash (seed {seed}): {figures.line()}")
    return figures


def test_sigkill_loses_nothing_committed(tmp_path: Path) -> None:
    figures = crash_loop(tmp_path, kills=10, max_delay=0.12)
    assert figures.kills == 10
    assert figures.reported > 0


@pytest.mark.slow
def test_sigkill_soak(tmp_path: Path) -> None:
    kills = int(os.environ.get("KPLEDGER_CRASH_KILLS", "150"))
    figures = crash_loop(tmp_path, kills=kills, max_delay=0.25, verify_every=10)
    assert figures.kills == kills
    # With this many kills some must land inside an append (the harness's whole point).
    assert figures.in_flight > 0
