"""Mirrors: sync from a node or a static tile host; refuse a node that forked its log."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.app import main
from ledger.errors import ProofError
from ledger.ledger import Ledger
from ledger.net.mirror import ForkError, sync
from ledger.storage import mirror_tables
from ledger.storage.store import Store
from tests.cli.test_cli import Cli, export, make_cli
from tests.node.conftest import NodeCli, Servers, file_digest


def kp(*argv: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(argv))
    return result.exit_code, result.stdout, result.stderr


def origin(cli: Cli, parcel: str) -> None:
    cli(
        "origin",
        "--key",
        cli.key("mine"),
        "--parcel",
        parcel,
        "--carats",
        "1",
        "--stones",
        "1",
        "--mine",
        "Pit 2",
    )


def copy_ledger(src: str, dst: str) -> None:
    """A consistent copy of a live ledger file (SQLite online backup, WAL included)."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()


def mirror_size(db: str) -> int:
    led = Ledger.open(db)
    try:
        return led.size()
    finally:
        led.close()


def test_mirror_syncs_then_refuses_a_forked_node(tmp_path: Path, servers: Servers) -> None:
    local = make_cli(tmp_path)
    a = servers.node(local.db, key=local.key("op"))
    node_a = NodeCli(local, a.url)
    export(node_a)
    mirror = str(tmp_path / "mirror.db")

    # First sync: trust on first use of the node's genesis, named on stderr.
    code, out, err = kp("--ledger", mirror, "sync", a.url)
    assert code == 0, err
    assert "trusting the operator key" in err and "test.example/ledger+" in err
    assert "checkpoint of size" in out
    assert mirror_size(mirror) == mirror_size(local.db)
    origin(node_a, "P2")
    code, out, err = kp("--ledger", mirror, "--json", "sync", a.url)
    assert code == 0 and json.loads(out)["added"] == 1, err
    code, out, err = kp("--ledger", mirror, "--json", "verify")
    assert code == 0 and json.loads(out)["checkpoints"] >= 1, err

    # The operator forks: a second node on a copy of the file, then different entries.
    forked = str(tmp_path / "forked.db")
    copy_ledger(local.db, forked)
    b = servers.node(forked, key=local.key("op"))
    fork_cli = Cli(tmp_path)
    node_b = NodeCli(fork_cli, b.url)
    node_b.file = forked
    origin(node_a, "P3")
    origin(node_b, "Q3")  # same size as node A now, another root
    code, _, err = kp("--ledger", mirror, "sync", a.url)
    assert code == 0, err
    before = file_digest(mirror)
    size = mirror_size(mirror)

    code, _, err = kp("--ledger", mirror, "sync", b.url)
    assert code == 1
    assert "split view" in err and f"size {size}" in err, err
    assert len(err.strip().splitlines()) == 1
    assert mirror_size(mirror) == size

    origin(node_b, "Q4")  # B grows on its own branch: not an extension of A's tree
    code, _, err = kp("--ledger", mirror, "sync", b.url)
    assert code == 1 and "the log was rewritten" in err, err
    assert mirror_size(mirror) == size

    # Nothing of B was appended; every checkpoint seen is kept as evidence.
    conn = sqlite3.connect(mirror)
    seen = conn.execute("SELECT size, source FROM mirror_checkpoints ORDER BY size").fetchall()
    conn.close()
    assert {src for _, src in seen} == {a.url, b.url}
    assert sorted(s for s, src in seen if src == b.url) == [size, size + 1]
    assert file_digest(mirror) != before  # only the evidence table grew
    code, out, _ = kp("--ledger", mirror, "--json", "verify")
    assert code == 0 and json.loads(out)["size"] == size

    # A mirror pinned to another operator key refuses on the first sync.
    other = local("key", "vkey", local.pub("ant"), "--name", "test.example/ledger").stdout.strip()
    code, _, err = kp("--ledger", str(tmp_path / "pinned.db"), "sync", a.url, "--trust", other)
    assert code == 1 and "not the pinned" in err, err
    assert not (tmp_path / "pinned.db").exists()


def test_sync_from_a_static_tile_host(tmp_path: Path, servers: Servers) -> None:
    local = make_cli(tmp_path)
    export(local)
    local("checkpoint", "--key", local.key("op"))
    site = tmp_path / "site"
    local("publish", "--to", str(site))
    static = servers.static(site)
    mirror = str(tmp_path / "mirror.db")
    code, out, err = kp("--ledger", mirror, "--json", "sync", static.url)
    assert code == 0, err
    assert json.loads(out)["size"] == mirror_size(local.db)
    assert kp("--ledger", mirror, "log")[1] == local("log").stdout
    # Nothing new: a second sync adds nothing and agrees.
    code, out, err = kp("--ledger", mirror, "--json", "sync", static.url)
    assert code == 0 and json.loads(out)["added"] == 0, err


class DirClient:
    """A ``NodeClient`` over a directory ``publish`` wrote; ``corrupt`` flips every
    byte of the hash tiles it serves (a static host serving bad files for a while)."""

    def __init__(self, root: Path, base: str) -> None:
        self.root = root
        self.base = base
        self.corrupt = False

    def get_text(self, path: str, *, max_bytes: int = 1 << 20) -> str:
        return (self.root / path.lstrip("/")).read_text(encoding="utf-8")

    def get_bytes(self, path: str, *, max_bytes: int = 1 << 24) -> bytes:
        data = (self.root / path.lstrip("/")).read_bytes()
        assert len(data) <= max_bytes
        if self.corrupt and not path.startswith("/tile/entries/"):
            data = bytes(b ^ 0xFF for b in data)
        return data

    def close(self) -> None:
        pass


def test_a_corrupt_tile_names_the_host_and_a_later_good_sync_accepts(tmp_path: Path) -> None:
    local = make_cli(tmp_path)
    export(local)
    site = tmp_path / "site"
    local("checkpoint", "--key", local.key("op"))
    local("publish", "--to", str(site))
    host = DirClient(site, "https://tiles.example")
    mirror = str(tmp_path / "mirror.db")
    first = sync(mirror, host.base, client=host)

    origin(local, "P2")
    local("checkpoint", "--key", local.key("op"))
    local("publish", "--to", str(site))
    host.corrupt = True  # bad tiles from the host: the host is named, not the operator
    with pytest.raises(ProofError, match="served a corrupt tile tile/0/000") as info:
        sync(mirror, host.base, client=host)
    assert not isinstance(info.value, ForkError)
    assert "the operator's signed checkpoint is not in question" in str(info.value)
    assert mirror_size(mirror) == first.size
    conn = sqlite3.connect(mirror)
    sizes = [r[0] for r in conn.execute("SELECT size FROM mirror_checkpoints")]
    conn.close()
    assert sizes == [first.size]  # no evidence against the operator was recorded

    host.corrupt = False
    report = sync(mirror, host.base, client=host)
    assert report.size == mirror_size(local.db) > first.size
    conn = sqlite3.connect(mirror)
    verdicts = conn.execute(
        "SELECT size, accepted FROM mirror_checkpoints ORDER BY size"
    ).fetchall()
    conn.close()
    assert verdicts == [(first.size, 1), (report.size, 1)]
    store = Store.open(mirror)
    try:
        assert [s.size for s in mirror_tables.accepted_checkpoints(store)] == [
            first.size,
            report.size,
        ]
    finally:
        store.close()


def test_a_mirror_refuses_a_checkpoint_committing_a_false_state(tmp_path: Path) -> None:
    """The operator signs a checkpoint whose state-map root is not the one its records
    give: the mirror recomputes the map and refuses it, naming the checkpoint; the
    checkpoint is kept as evidence, never accepted (specs/node.md, specs/state-map.md)."""
    from ledger.core import note
    from ledger.storage.keyfile import load_private

    local = make_cli(tmp_path)
    export(local)
    site = tmp_path / "site"
    local("checkpoint", "--key", local.key("op"))
    local("publish", "--to", str(site))
    honest = (site / "checkpoint").read_text(encoding="utf-8")
    cp = note.parse_checkpoint(note.parse_note(honest).text)
    op = load_private(local.key("op"), None)
    lie = note.kpledger_checkpoint(cp.origin, cp.size, cp.root, bytes(range(32)))
    (site / "checkpoint").write_text(note.sign_checkpoint(lie, cp.origin, op.seed))
    host = DirClient(site, "https://tiles.example")
    mirror = str(tmp_path / "mirror.db")
    with pytest.raises(ForkError, match=f"checkpoint at size {cp.size} commits to state-map root"):
        sync(mirror, host.base, client=host)
    conn = sqlite3.connect(mirror)
    verdicts = conn.execute("SELECT size, accepted FROM mirror_checkpoints").fetchall()
    stored = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
    conn.close()
    assert verdicts == [(cp.size, 0)] and stored == 0
    (site / "checkpoint").write_text(honest)
    assert sync(mirror, host.base, client=host).size == cp.size
