"""Coverage-guided fuzzing (atheris, libFuzzer) of the decoders fuzzed by hypothesis.

The targets are those of ``tests/reliability/test_fuzz_decoders.py``.

atheris is not a project dependency; install it into the venv first::

    .venv/bin/pip install atheris
    .venv/bin/python tools/fuzz_atheris.py --target entry --runs 100000
    .venv/bin/python tools/fuzz_atheris.py --target all --runs 20000    # every target in turn

Each run starts from a seed corpus of valid inputs (entries, records and bundles of a small
test ledger, key files, CLI arguments), written to a temporary directory unless corpus
directories are given after the options. Only ``LedgerError`` subclasses may escape a
target; anything else is a crash: libFuzzer stops, prints the traceback and writes the
input to ``crash-<sha1>``. Other libFuzzer flags pass through (``-max_total_time=60``,
``-rss_limit_mb=1024``, ``-jobs=2`` ...).

Entries, records and bundles that decode must also re-encode to the same bytes (one value,
one encoding).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import atheris

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports():
    from cli import parse
    from ledger import read_entry_file
    from ledger.core import keys, note, proofs
    from ledger.core.model import Record, SignedEntry
    from ledger.errors import LedgerError

TEXT_TARGETS = ("carats", "money", "date", "outputs", "id-list", "positive-int")
BYTES_TARGETS = ("entry", "record", "bundle", "verify-bundle", "private-key", "public-key")
TARGETS = (*BYTES_TARGETS, *TEXT_TARGETS, "entry-file")


class Seeds:
    """Valid inputs of every target, from the reliability tests' scene ledger."""

    def __init__(self, workdir: Path) -> None:
        from ledger.core import ed25519
        from tests.reliability.conftest import build_scene

        scene = build_scene(str(workdir / "scene.kpl"))
        self.verifier: note.Verifier = scene.verifier
        records = list(scene.log)
        entries = [Record.from_wire(r).entry_bytes for r in records]
        seed = bytes(range(32))
        self.bytes: dict[str, list[bytes]] = {
            "entry": entries,
            "record": records,
            "bundle": [scene.bundle, scene.sold_bundle],
            "verify-bundle": [scene.bundle, scene.sold_bundle],
            "private-key": [
                keys.encode_private("Fuzz", seed, None, salt=bytes(16), nonce=bytes(12)),
                keys.encode_private(
                    "Fuzz", seed, "pw", salt=bytes(16), nonce=bytes(12), n=keys.SCRYPT_MIN_N
                ),
            ],
            "public-key": [keys.encode_public("Fuzz", ed25519.public_key(seed))],
            "entry-file": [len(e).to_bytes(4, "big") + e for e in entries[28:34]],
        }
        text = {
            "carats": ["12.50", "0.01", "999999999.99"],
            "money": ["1250.00\x00USD", "5\x00JPY", "1.234\x00KWD"],
            "date": ["2026-03-02", "2024-02-29"],
            "outputs": ["A:10.5:40,B:2", "X:1"],
            "id-list": ["P1,P2", "JW-1"],
            "positive-int": ["1", "40"],
        }
        for name, values in text.items():
            self.bytes[name] = [v.encode() for v in values]
        self.workdir = workdir


def round_trip(data: bytes, again: bytes) -> None:
    """What decodes must re-encode to the same bytes (one value, one encoding)."""
    if again != data:
        raise AssertionError(f"decoded, but re-encodes differently: {data.hex()}")


def make_target(name: str, seeds: Seeds) -> Callable[[bytes], None]:
    verifier = seeds.verifier
    entry_file = seeds.workdir / "fuzz.kpe"

    def entry(data: bytes) -> None:
        e = SignedEntry.from_wire(data)
        round_trip(data, SignedEntry.build(e.body_bytes, e.sigs).raw)

    def record(data: bytes) -> None:
        r = Record.from_wire(data)
        round_trip(data, Record.build(r.index, r.prev, r.time, r.entry_bytes).raw)
        r.entry()

    def bundle(data: bytes) -> None:
        round_trip(data, proofs.Bundle.decode(data).encode())

    bytes_fns: dict[str, Callable[[bytes], Any]] = {
        "entry": entry,
        "record": record,
        "bundle": bundle,
        "verify-bundle": lambda d: proofs.verify_bundle(d, verifier),
        "private-key": lambda d: (keys.decode_private(d, None), keys.decode_private(d, "pw")),
        "public-key": keys.decode_public,
    }

    def text_call(text: str) -> Any:
        if name == "money":
            amount, _, currency = text.partition("\x00")
            return parse.money(amount, currency, "--price")
        fn = {
            "carats": parse.carats,
            "date": parse.date,
            "outputs": functools.partial(parse.outputs, stones=True),
            "id-list": parse.id_list,
            "positive-int": parse.positive_int,
        }[name]
        return fn(text, "--arg")

    def one_input(data: bytes) -> None:
        try:
            if name in bytes_fns:
                bytes_fns[name](data)
            elif name == "entry-file":
                entry_file.write_bytes(data)
                read_entry_file(str(entry_file))
            else:
                text_call(atheris.FuzzedDataProvider(data).ConsumeUnicode(len(data)))
        except LedgerError:
            pass

    return one_input


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=[*TARGETS, "all"], required=True)
    parser.add_argument("--runs", type=int, default=10_000, help="inputs per target")
    args, rest = parser.parse_known_args()
    if args.target == "all":
        # libFuzzer runs one target per process: run each in a child.
        failed = []
        for name in TARGETS:
            cmd = [sys.executable, __file__, "--target", name, "--runs", str(args.runs), *rest]
            print(f"== {name}", flush=True)
            if subprocess.call(cmd) != 0:
                failed.append(name)
        print("failed targets:", ", ".join(failed) or "none")
        sys.exit(1 if failed else 0)
    with tempfile.TemporaryDirectory(prefix="kpledger-atheris-") as tmp:
        workdir = Path(tmp)
        seeds = Seeds(workdir)
        corpus = [a for a in rest if not a.startswith("-")]
        if not corpus:
            seed_dir = workdir / "corpus"
            seed_dir.mkdir()
            for data in seeds.bytes[args.target]:
                (seed_dir / hashlib.sha1(data).hexdigest()).write_bytes(data)
            corpus = [str(seed_dir)]
        flags = [a for a in rest if a.startswith("-")]
        argv = [sys.argv[0], f"-runs={args.runs}", "-max_len=70000", *flags, *corpus]
        atheris.Setup(argv, make_target(args.target, seeds))
        atheris.Fuzz()


if __name__ == "__main__":
    main()
