"""Soak: a hostile host cannot push a mirror past a stated memory bound.

``kpledger sync URL`` runs in its own process against each answer of
``hostile_host.HostileHost`` at 400 MB (a checkpoint with and without
``Content-Length``, a compressed checkpoint inflating to 400 MB, a 400 MB entry bundle,
400 MB hash tiles, and a log claiming 10 million maximum-size records that chain but are
not its signed tree) and must end with one error line, exit 1, having appended nothing
beyond the genesis it trusted on first use, and a peak resident memory under
:data:`BOUND` (the process's own ``VmHWM``: its ``ru_maxrss`` would also carry the peak of
the process that spawned it, which Linux keeps across ``exec``; the test holds 200 MiB
of ballast while it spawns, so that such a figure would show). The figures are printed.

The bound is what a mirror needs anyway (Python, the libraries, one window of records
and one entry bundle, specs/node.md §5) with room to spare; before answers were read
under limits, a 400 MB checkpoint took a mirror to 871 MB.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.hostile_host import HostileHost

MB = 1_000_000
MIB = 1 << 20
#: The most resident memory a syncing mirror may reach, whatever the host sends.
BOUND = 160 * MIB

RUN = """
import resource, sys
from cli.app import main

def peak_kib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

try:
    main(sys.argv[1:], prog_name="kpledger")
finally:
    print("maxrss", peak_kib(), file=sys.stderr)
"""

CASES = [
    ("checkpoint", 400 * MB, "announced an answer"),
    ("checkpoint-chunked", 400 * MB, "sent more than"),
    ("gzip", 400 * MB, "Content-Encoding"),
    ("bundle", 400 * MB, "sent more than"),
    ("tile", 400 * MB, "sent more than"),
    ("records", 10_000_000, "do not give the tree"),
]


@pytest.mark.slow
def test_a_hostile_host_cannot_push_a_mirror_past_the_bound(tmp_path: Path) -> None:
    ballast = b"\x01" * (200 * MIB)  # resident in this process while it spawns the mirrors
    figures = []
    for kind, size, words in CASES:
        host = HostileHost(kind, size)
        mirror = tmp_path / f"{kind}.db"
        try:
            result = subprocess.run(
                [sys.executable, "-c", RUN, "--ledger", str(mirror), "sync", host.url],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        finally:
            host.close()
        lines = result.stderr.strip().splitlines()
        peak = int(lines[-1].split()[1]) * 1024  # VmHWM and ru_maxrss are in KiB on Linux
        errors = [line for line in lines if line.startswith("error: ")]
        figures.append((kind, size, peak, host.sent, errors[0] if errors else ""))
        assert result.returncode == 1, result.stderr
        assert len(errors) == 1 and words in errors[0], result.stderr
        assert "Traceback" not in result.stderr
        assert peak < BOUND, f"{kind}: {peak / MIB:.0f} MiB"
    assert len(ballast) == 200 * MIB
    print()
    for kind, size, peak, sent, error in figures:
        print(
            f"{kind:>19}: host offered {size / MB:.0f} M{'B' if kind != 'records' else ' records'}"
            f", wrote {sent / MIB:.1f} MiB before the client hung up, peak RSS "
            f"{peak / MIB:.0f} MiB: {error[:80]}"
        )
