"""Random byte flips anywhere in a whole SQLite ledger file give named errors only.

Not only the records: the file header, B-tree pages, cell headers (a blob turned into
text or an integer into NULL), free pages, indexes and the schema itself. Each flipped
copy is opened, its log and indexes are read (what ``log``, ``history``, ``show`` and
``checkpoint --show`` read) and it is verified; every outcome must be a success or a
:class:`LedgerError`, never another exception (a ``sqlite3`` error, a TypeError, a
UnicodeDecodeError). Lookups of the derived state (participants, parcels, bundles) take
its values as ``verify`` last found them (specs/log.md §5.5) and are not part of this.
``test_byte_flips_in_the_whole_file`` runs a handful
in every ``make test``; ``test_fuzz_whole_file_byte_flips`` (``make fuzz``, slow) runs
``KPLEDGER_FUZZ_EXAMPLES`` of them (default 2000) and prints the tally.
"""

from __future__ import annotations

import os
import random
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.app import main
from ledger.errors import LedgerError
from ledger.ledger import Ledger
from tests.reliability.conftest import build_scene


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a small ledger file, WAL folded in (so the file is the whole ledger)."""
    path = tmp_path_factory.mktemp("flip") / "pristine.kpl"
    build_scene(str(path))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path.read_bytes()


def flipped(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 4, 16))):
        at = rng.randrange(len(out))
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


def outcome(path: Path) -> str:
    """``ok`` or the LedgerError class name; anything else propagates (the test fails)."""
    try:
        led = Ledger.open(str(path))
    except LedgerError as exc:
        return f"open: {type(exc).__name__}"
    try:
        for read in (
            lambda: led.findings(),
            lambda: led.history("STONE-0001"),
            lambda: led.latest_checkpoint(),
            lambda: list(led.records()),
        ):
            try:
                read()
            except LedgerError:
                pass
        try:
            led.verify()
        except LedgerError as exc:
            assert exc.message, exc
            return type(exc).__name__
        return "ok"
    finally:
        led.close()


def run_flips(pristine: bytes, tmp: Path, seeds: range) -> Counter[str]:
    tally: Counter[str] = Counter()
    for seed in seeds:
        path = tmp / f"flip-{seed}.kpl"
        path.write_bytes(flipped(pristine, random.Random(seed)))
        try:
            tally[outcome(path)] += 1
        except Exception as exc:  # the point: name the seed and what escaped
            raise AssertionError(f"seed {seed}: {type(exc).__name__}: {exc}") from exc
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return tally


def test_flips_found_by_the_long_run(pristine: bytes, tmp_path: Path) -> None:
    """Seeds ``make fuzz`` once failed on: 11597 altered the schema so that a records row's
    ``idx`` came back as bytes, which the compiled replay refused with a TypeError."""
    tally = run_flips(pristine, tmp_path, range(11597, 11598))
    assert sum(tally.values()) == 1


def test_a_records_row_whose_idx_is_not_an_integer_is_named(
    pristine: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "idx.kpl"
    path.write_bytes(pristine)
    led = Ledger.open(str(path))
    try:
        store = led.store

        def rows(columns: str, *_: object) -> Iterator[tuple[object, ...]]:
            # An idx stored as a blob, then the record and the other columns asked for.
            yield (b"\xff", b"\x80", *([None] * (columns.count(",") - 1)))

        store._rows = rows  # type: ignore[method-assign,assignment]
        for read in (store.iter_rows, store.iter_rows_cached):
            with pytest.raises(LedgerError, match="idx column of a records row") as caught:
                list(read())
            assert caught.value.rule == "R-ST-2"
    finally:
        led.close()


def test_byte_flips_in_the_whole_file(pristine: bytes, tmp_path: Path) -> None:
    tally = run_flips(pristine, tmp_path, range(40))
    assert sum(tally.values()) == 40
    assert tally["ok"] < 40, "no flip was noticed at all"


def test_a_flipped_file_is_one_line_in_the_cli(pristine: bytes, tmp_path: Path) -> None:
    """Through the CLI, a damaged file is exit 1 and one ``error:`` line, or valid."""
    runner = CliRunner()
    for seed in range(8):
        path = tmp_path / f"cli-{seed}.kpl"
        path.write_bytes(flipped(pristine, random.Random(1000 + seed)))
        for argv in (["verify"], ["log"], ["history", "STONE-0001"]):
            result = runner.invoke(main, ["--ledger", str(path), *argv])
            assert result.exit_code in (0, 1), (seed, argv, result.output, result.exception)
            assert "Traceback" not in result.output
            if result.exit_code == 1:
                assert result.stderr.startswith("error: "), result.stderr
                assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.slow
def test_fuzz_whole_file_byte_flips(pristine: bytes, tmp_path: Path) -> None:
    n = int(os.environ.get("KPLEDGER_FUZZ_EXAMPLES", "2000"))
    tally = run_flips(pristine, tmp_path, range(10_000, 10_000 + n))
    print(f"\n{n} flipped files: " + ", ".join(f"{k} {v}" for k, v in tally.most_common()))
    assert sum(tally.values()) == n
