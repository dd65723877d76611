"""Peak RSS of a command: ``python -m bench.rss OUT.json -- COMMAND...``.

Runs COMMAND, then writes ``{"returncode", "seconds", "maxrss_kib"}`` to OUT.json, the
peak RSS being ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of this small process, whose only
child is COMMAND. The benchmark goes through this runner because a child forked (or
vforked) straight from the benchmark process inherits the benchmark's resident pages in
its ``ru_maxrss`` until it execs, which would hide the figure being measured.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    out, command = argv[0], argv[2:]
    start = time.perf_counter()
    code = subprocess.call(command)  # noqa: S603 - the benchmark's own kpledger command
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as f:
        json.dump({"returncode": code, "seconds": seconds, "maxrss_kib": usage.ru_maxrss}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
