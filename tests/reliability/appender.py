"""Crash-test helper: append to a ledger forever, reporting each committed append on stdout.

Run as ``python appender.py LEDGER [--checkpoint-every K] [--batch-every B]`` by
``tests/reliability/test_crash.py``, which SIGKILLs it at a random moment. The protocol
(one line each, flushed at once):

* ``READY <size>``: the ledger is open and has ``size`` records; appends start now.
* ``TRY <n>``: an append of ``n`` signed entries starts (signing is done, the
  ``BEGIN IMMEDIATE`` transaction is next). Checkpoints print ``TRYCP``.
* ``OK <index> <entry-id-hex>``: printed only *after* ``Ledger.append`` returned, i.e.
  after COMMIT, one line per entry of the append.
* ``CP <size>``: a checkpoint of ``size`` records was stored (after its COMMIT).

What it appends is decided from the tail of the log, so a restarted appender carries on
whatever the previous one was doing: after an ``origin`` by the mine comes a
``transfer`` of that parcel to the trader, after a ``transfer`` its ``accept``, and
otherwise a new ``origin`` (every ``B``-th append is two origins in one transaction,
to check that a batch is all or nothing). New parcel ids are derived from the log
size, so they never collide after a crash.

The keys are the fixed test keys of ``tests/conftest.py`` (``bytes([seed]) * 32``); the
seeds are repeated here so that the helper starts without importing pytest, and
``test_crash.py`` checks that they agree.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ledger.core.keys import PrivateKey
from ledger.core.model import SignedEntry
from ledger.ledger import Ledger

#: Seeds of the keys this helper signs with (must match ``tests/conftest.py``).
SEEDS = {"KP Ledger Operator": 1, "Jwaneng": 30, "Gaborone Trader": 40}
MINE = "Jwaneng"
TRADER = "Gaborone Trader"
#: Parcel ids made here start with this prefix.
PREFIX = "CR-"
#: Each append moves the synthetic clock forward by this many milliseconds.
STEP_MS = 1_000


def key(name: str) -> PrivateKey:
    return PrivateKey(name, bytes([SEEDS[name]]) * 32)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def next_entries(led: Ledger, now: int, serial: int, batch: bool) -> list[SignedEntry]:
    """What to append next, decided from the last record of the log."""
    size = led.size()
    last = led.store.record(size - 1).entry()
    mine, trader = key(MINE), key(TRADER)
    f: Any = last.fields
    if last.type == "origin" and last.body.signer == mine.kid:
        parcel = led.parcel(f["parcel"])
        if parcel["status"] == "live" and parcel["holder"] == MINE:
            fields = {"to": TRADER, "inputs": [led.input_ref(f["parcel"])]}
            return [led.sign("transfer", fields, mine, now=now)]
    if last.type == "transfer" and last.body.signer == mine.kid:
        if led.transfer(last.id)["status"] == "pending":
            return [led.sign("accept", {"transfer": last.id}, trader, now=now)]
    out = []
    for i in range(2 if batch else 1):
        fields = {
            "parcel": f"{PREFIX}{size}-{i}",
            "carats": 100 + serial % 997,
            "stones": 1 + serial % 13,
            "mine": "Crash Pit",
            "hs": "7102.10",
        }
        out.append(led.sign("origin", fields, mine, now=now))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledger")
    parser.add_argument("--checkpoint-every", type=int, default=7)
    parser.add_argument("--batch-every", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0, help="stop after N appends (0: never)")
    args = parser.parse_args(argv)
    led = Ledger.open(args.ledger)
    size = led.size()
    now = led.store.record(size - 1).time + STEP_MS
    operator = key("KP Ledger Operator")
    say(f"READY {size}")
    serial = 0
    while not args.limit or serial < args.limit:
        serial += 1
        batch = args.batch_every > 0 and serial % args.batch_every == 0
        entries = next_entries(led, now, serial, batch)
        say(f"TRY {len(entries)}")
        done = led.append(entries, now=now)
        for a in done:
            say(f"OK {a.index} {a.entry.id.hex()}")
        now += STEP_MS
        if args.checkpoint_every > 0 and serial % args.checkpoint_every == 0:
            say("TRYCP")
            text = led.checkpoint(operator)
            say(f"CP {text.splitlines()[1]}")
    led.close()


if __name__ == "__main__":
    main()
