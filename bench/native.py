"""Where the time goes in the build that is loaded, compiled or not: a sampling profile.

    python -m bench.native [--entries 10000] [--what verify,import] [--rate 250]
        [--reuse-ledgers] [--readme bench/README.md]

cProfile cannot look inside code compiled by mypyc (a compiled function calling another
is one C call, invisible to it) and its fixed cost per call inflates pure-Python code.
This runs ``py-spy record --native`` (installed on first use, like pymerkle for the
Merkle rows) on a child process doing one ``Ledger.verify()`` or one bulk import of a
simulated ledger, and reads its raw samples: every sample is a whole stack, Python
frames and C frames together, so a compiled function appears under its C name
(``CPyDef_<module>___<function>``) and libsodium, SQLite, msgpack and hashlib under
theirs. It prints two tables: self time by area (the frame at the top of each stack,
classified) and inclusive time of the steps of the path (a sample counts for a step when
the step is anywhere on its stack).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

from bench import ledgers
from bench.ledgers import log
from bench.run import replace_block

#: (area, substrings of a frame) in order: the first match names a top-of-stack frame.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Ed25519 verify (libsodium)",
        (
            "crypto_sign",
            "libsodium",
            "_sodium",
            "ge25519",
            "fe25519",
            "sc25519",
            "crypto_verify",
            "sodium",
            "ed25519",
            "sha512",
            "SHA512",
            "slide_vartime",
            "_cffi_backend",
        ),
    ),
    ("SQLite and its reads (C)", ("sqlite3", "libsqlite", "pysqlite", "cursor.c", "pread")),
    ("datetime (C; the rules' calendar)", ("datetime",)),
    ("SHA-256 (hashlib, OpenSSL)", ("sha256", "SHA256", "_hashopenssl", "libcrypto", "EVP_")),
    ("msgpack (C)", ("_cmsgpack", "msgpack", "unpack_", "pack_")),
    ("compiled kpledger code (mypyc)", ("CPyDef_", "CPyPy_", "__mypyc", "CPy_", "CPyStatic")),
    ("JSON rendering (C)", ("_json", "encoder_listencode", "ascii_escape")),
    (
        "memory (malloc, free, GC)",
        (
            "malloc",
            "free",
            "realloc",
            "gc_collect",
            "_PyObject_GC",
            "PyObject_Malloc",
            "PyObject_Free",
            "pymalloc",
            "_int_",
        ),
    ),
    (
        "Python objects (dict, list, bytes, int, str in C)",
        (
            "dict",
            "list",
            "bytes",
            "long_",
            "object.h",
            "Py_DECREF",
            "Py_INCREF",
            "PyObject_TypeCheck",
            "unicode",
            "tuple",
            "set_",
            "Dict",
            "List",
            "Bytes",
            "Long",
            "Unicode",
            "Tuple",
            "_PyLong",
            "PyLong",
        ),
    ),
    (
        "interpreter (pure-Python code)",
        (
            "_PyEval",
            "PyEval",
            "python3",
            "libpython",
            "_PyFunction",
            "method_vectorcall",
            "PyObject_Call",
            "_PyObject_Call",
            "vectorcall",
            "slot_tp",
            "<string>",
            "<frozen",
        ),
    ),
)

#: (step, substrings of a frame): a sample counts for each step whose frame is on its stack.
STEPS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "verify": (
        (
            "Record/SignedEntry.from_wire (decodes, canonical checks, field shapes)",
            ("from_wire (ledger/core/model.py", "___from_wire"),
        ),
        ("  of which field shapes (check_fields)", ("check_fields",)),
        (
            "encoding.decode (all canonical decodes)",
            ("decode (ledger/core/encoding.py", "encoding___decode"),
        ),
        (
            "encoding.encode (all canonical encodes)",
            ("encode (ledger/core/encoding.py", "encoding___encode"),
        ),
        ("check_row_cache (cached columns, JSON rendering)", ("check_row_cache",)),
        (
            "rules.apply (the rules, signatures included)",
            ("apply (ledger/core/rules/engine.py", "engine___apply"),
        ),
        ("Ed25519 verify (libsodium)", ("crypto_sign_open",)),
        (
            "MemoryMap.record (state-map key and value hashes)",
            ("record (ledger/core/statemap.py", "MemoryMap___record"),
        ),
        (
            "state map roots and table comparison",
            ("root (ledger/core/statemap.py", "MemoryMap___root", "check_map_tables"),
        ),
        (
            "state comparison (CheckedState sweep and finish)",
            ("_sweep", "_finish", "_compare_many"),
        ),
        ("the rules' calendar (datetime)", ("date_of", "datetime")),
        ("SQLite (reads)", ("sqlite3_step", "sqlite3VdbeExec", "libsqlite")),
        ("quarantine pass (compromised keys)", ("quarantined_items",)),
    ),
    "import": (
        (
            "SignedEntry.from_wire (parse the pre-signed entries)",
            ("from_wire (ledger/core/model.py", "___from_wire"),
        ),
        (
            "rules.apply (the rules, signatures included)",
            ("apply (ledger/core/rules/engine.py", "engine___apply"),
        ),
        ("Ed25519 verify (libsodium)", ("crypto_sign_open",)),
        ("state-map update (MapUpdate)", ("map_tables.py",)),
        ("state rows (encode, JSON, INSERT)", ("_write_state",)),
        ("tiles (append_to_tiles, INSERT)", ("_write_tiles",)),
        ("SQLite (all statements)", ("sqlite3_step", "sqlite3VdbeExec", "libsqlite")),
        ("fsync and WAL writes", ("fsync", "fdatasync", "pwrite", "write (libc")),
    ),
}

_CHILD = {
    "verify": """
        import sys
        from ledger.ledger import Ledger
        def work():
            led = Ledger.open(sys.argv[1])
            try:
                led.verify(jobs=1)
            finally:
                led.close()
        work()
        """,
    "import": """
        import sys
        from pathlib import Path
        from bench.profile import _records
        from bench.run import IMPORT_WINDOW_MS, _fresh_ledger, import_batches
        from ledger.core.model import SignedEntry
        records = _records(Path(sys.argv[1]))
        batches = import_batches(records[1:], 1000, IMPORT_WINDOW_MS)
        led = _fresh_ledger(Path(sys.argv[2]), records[0])
        def work():
            for batch in batches:
                led.append([SignedEntry.from_wire(r.entry_bytes) for r in batch],
                           now=batch[-1].time)
        try:
            work()
        finally:
            led.close()
        """,
}


def py_spy() -> str:
    """The py-spy executable, installed into this environment on first use."""
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:
        log("installing py-spy (sampling profiler) into this environment")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "py-spy"], check=True)
        found = shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:  # pragma: no cover - pip put it elsewhere
        raise SystemExit("py-spy is not installed: pip install py-spy")
    return found


def sample(what: str, ledger: Path, rate: int) -> tuple[Counter[str], int]:
    """Raw py-spy samples of one run of ``what``: stack text -> count, and their total."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "samples.txt"
        args = [str(ledger), str(Path(tmp) / "import.db")]
        cmd = [
            py_spy(), "record", "--native", "--format", "raw", "--rate", str(rate),
            "-o", str(out), "--",
            sys.executable, "-c", textwrap.dedent(_CHILD[what]), *args,
        ]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True)  # noqa: S603 - our own command
        stacks: Counter[str] = Counter()
        for line in out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[stack] += int(count)
    # The run itself, not the start-up: keep the samples under the work's entry point.
    work = Counter({s: n for s, n in stacks.items() if "work (<string>" in s})
    return work, sum(work.values())


def area_of(frame: str) -> str:
    for area, needles in AREAS:
        if any(n in frame for n in needles):
            return area
    if "(ledger/" in frame or "(cli/" in frame:
        return "interpreter (pure-Python code)"
    return "other"


def tables(what: str, stacks: Counter[str], total: int, build: str) -> str:
    own: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    for stack, n in stacks.items():
        frames = stack.split(";")
        own[area_of(frames[-1])] += n
        for step, needles in STEPS[what]:
            if any(needle in frame for frame in frames for needle in needles):
                steps[step] += n
    out = [
        f"**{what}, {build} build**: {total:,} samples (py-spy --native, "
        f"load average {os.getloadavg()[0]:.2f}).",
        "",
        "| self time by area (top of stack) | samples | share |",
        "|---|---:|---:|",
    ]
    out += [f"| {a} | {n:,} | {100 * n / total:.0f}% |" for a, n in own.most_common()]
    out += ["", "| step of the path (inclusive) | samples | share |", "|---|---:|---:|"]
    out += [
        f"| {step} | {steps[step]:,} | {100 * steps[step] / total:.0f}% |"
        for step, _ in STEPS[what]
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.native", description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000, help="ledger size (simulated)")
    parser.add_argument("--what", default="verify,import", help="verify, import or both")
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--readme", help="replace the profile-native block of this README")
    parser.add_argument("--reuse-ledgers", action="store_true")
    args = parser.parse_args(argv)
    whats = args.what.split(",")
    if set(whats) - set(STEPS):
        parser.error(f"--what: choose from {', '.join(STEPS)}")
    import ledger

    build = ledger.build()
    path = ledgers.build(args.entries, reuse=args.reuse_ledgers)[0]
    parts = []
    for what in whats:
        log(f"sampling {what} ({build} build)")
        stacks, total = sample(what, path, args.rate)
        if not total:
            raise SystemExit(f"py-spy recorded no samples of {what}")
        parts.append(tables(what, stacks, total, build))
    text = "\n\n".join(parts)
    print(text)
    if args.readme:
        replace_block(Path(args.readme), "profile-native", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
