"""Offline signing that works offline: context files, and ``--out`` checked before it writes.

A context file (``kpledger context export``) carries the ledger's state to the machine that
holds a key; commands sign against it with ``--out`` after checking every rule, and it
can be neither appended to, verified nor checkpointed. ``--out`` against a full ledger
checks every rule too: a refused entry is never written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import Cli, make_cli
from tests.cli.test_cli import export as ship


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    c = make_cli(tmp_path)
    ship(c)  # P1 at Antwerp
    return c


def offline(cli: Cli, context: str) -> Cli:
    """The same keys, with --ledger pointing at a context file."""
    other = Cli(cli.tmp)
    other.db = context
    return other


def test_a_holders_context_signs_what_the_holder_may_sign(cli: Cli) -> None:
    ctx_file = str(cli.tmp / "ant.kpctx")
    info = json.loads(
        cli("context", "export", "-o", ctx_file, "--for", "Antwerp", json_out=True).stdout
    )
    assert (info["holder"], info["parcels"], info["size"]) == ("Antwerp", 1, 14)
    assert info["bytes"] == Path(ctx_file).stat().st_size
    off = offline(cli, ctx_file)
    before = cli.snapshot()
    entry = str(cli.tmp / "split.kpe")
    off(
        "split",
        "--key",
        cli.key("ant"),
        "--parcel",
        "P1",
        "--into",
        "A:60:200,B:39.5",
        "--out",
        entry,
    )
    assert cli.snapshot() == before  # nothing reached the ledger yet
    appended = json.loads(cli("submit", entry, json_out=True).stdout)
    assert appended["index"] == info["size"] and appended["type"] == "split"
    assert "valid:" in cli("verify").stdout


def test_a_context_refuses_before_writing(cli: Cli) -> None:
    ctx_file = str(cli.tmp / "all.kpctx")
    cli("context", "export", "-o", ctx_file)
    off = offline(cli, ctx_file)
    out = cli.tmp / "bad.kpe"
    inflate = ["split", "--key", cli.key("ant"), "--parcel", "P1", "--into", "A:90,B:90"]
    result = off(*inflate, "--out", str(out), ok=False)
    assert result.exit_code == 1 and "R-MB-1" in result.stderr and not out.exists()
    result = off("split", "--key", cli.key("mine"), "--parcel", "P1", "--into", "A:1,B:1",
                 "--out", str(out), ok=False)  # fmt: skip
    assert "R-CU-1" in result.stderr and not out.exists()
    # a context is no ledger
    for args, says in (
        (["split", "--key", cli.key("ant"), "--parcel", "P1", "--into", "A:60,B:39.5"], "--out"),
        (["verify"], "verify needs the ledger itself"),
        (["checkpoint", "--key", cli.key("op")], "a checkpoint needs the ledger itself"),
        (["context", "export", "-o", str(cli.tmp / "again.kpctx")], "context file already"),
    ):
        result = off(*args, ok=False)
        assert result.exit_code == 2 and says in result.stderr, result.stderr
    # the same dry run works against it
    assert off("split", "--key", cli.key("ant"), "--parcel", "P1", "--into", "A:60,B:39.5",
               "--dry-run").stdout.startswith("would append record 14:")  # fmt: skip


def test_out_against_the_ledger_checks_every_rule_first(cli: Cli) -> None:
    out = cli.tmp / "t.kpe"
    before = cli.snapshot()
    result = cli("transfer", "--key", cli.key("ant"), "--parcels", "P1", "--to", "Gaborone Traders",
                 "--out", str(out), ok=False)  # fmt: skip
    assert result.exit_code == 1 and "R-KP-2" in result.stderr and not out.exists()
    cli("transfer", "--key", cli.key("ant"), "--parcels", "P1", "--to", "Shop", "--out", str(out))
    assert out.stat().st_size > 0 and cli.snapshot() == before


def test_bad_context_exports(cli: Cli) -> None:
    taken = cli.tmp / "taken.kpctx"
    taken.write_bytes(b"x")
    cli.rejected("context", "export", "-o", str(taken), contains="already exists")
    cli.rejected("context", "export", "-o", str(cli.tmp / "n.kpctx"), "--for", "Nobody",
                 contains="no participant 'Nobody'")  # fmt: skip
    cli.rejected("context", "export", "-o", "-", code=2, contains="give -o FILE")
    assert not (cli.tmp / "n.kpctx").exists()


def test_a_context_carries_nobodys_openings(cli: Cli) -> None:
    import sqlite3

    conn = sqlite3.connect(cli.db)
    assert conn.execute("SELECT COUNT(*) FROM openings").fetchone()[0] > 0  # the value of BW-0001
    conn.close()
    ctx_file = str(cli.tmp / "all.kpctx")
    cli("context", "export", "-o", ctx_file)
    conn = sqlite3.connect(ctx_file)
    assert conn.execute("SELECT COUNT(*) FROM openings").fetchone()[0] == 0
    conn.close()
    assert b"13100" not in Path(ctx_file).read_bytes()
