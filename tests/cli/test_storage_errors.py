"""A ledger file that cannot be written or read is one line naming the problem.

SQLite's own errors (a read-only file or folder, a file that is not a database, a damaged
page) leave the storage layer as ``StoreError``: the CLI prints ``error: ...`` once and
exits 1, never a ``sqlite3`` traceback.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import StoreError
from ledger.storage import store as store_module
from ledger.storage.sqlerrors import database_error
from tests.cli.test_cli import Cli, make_cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


def origin(cli: Cli, parcel: str) -> Any:
    return cli(
        "origin", "--key", cli.key("mine"), "--parcel", parcel, "--carats", "1", "--stones", "1",
        "--mine", "Pit 1", ok=False,
    )  # fmt: skip


def test_appending_to_a_read_only_ledger_is_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``query_only`` makes SQLite refuse every write as a read-only file does (root can
    write to a file whatever its mode, so a chmod alone would prove nothing here)."""
    connect = sqlite3.connect

    def read_only(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.execute("PRAGMA query_only = ON")
        return conn

    before = cli.snapshot()
    monkeypatch.setattr(store_module.sqlite3, "connect", read_only)
    result = origin(cli, "RO-1")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: cannot write ledger "), result.stderr
    assert "read-only" in result.stderr and len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output
    monkeypatch.undo()
    assert cli.snapshot() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files")
def test_a_chmod_read_only_ledger_is_one_line(cli: Cli) -> None:
    path = Path(cli.db)
    path.chmod(0o444)
    try:
        result = origin(cli, "RO-2")
    finally:
        path.chmod(0o644)
    assert result.exit_code == 1 and "read-only" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "not a kpledger ledger"),
        (b"hello, this is not a database" * 100, "not a kpledger ledger"),
        (b"SQLite format 3\x00" + b"\xff" * 4080, "ledger"),
    ],
    ids=["empty", "text", "bad-header"],
)
def test_a_file_that_is_not_a_ledger_is_one_line(
    tmp_path: Path, content: bytes, words: str
) -> None:
    cli = Cli(tmp_path)
    Path(cli.db).write_bytes(content)
    for argv in (["verify"], ["log"]):
        result = cli(*argv, ok=False)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("error: ") and words in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ("attempt to write a readonly database", "read-only"),
        ("database disk image is malformed", "damaged"),
        ("file is not a database", "not a kpledger ledger"),
        ("database is locked", "locked by another process"),
        ("database or disk is full", "disk is full"),
        ("unable to open database file", "cannot open"),
    ],
)
def test_sqlite_errors_are_worded(message: str, words: str) -> None:
    err = database_error("kp.db", sqlite3.OperationalError(message), "write")
    assert isinstance(err, StoreError)
    assert "kp.db" in err.message and words in err.message, err.message
