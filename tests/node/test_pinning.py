"""One pinned operator: the remote CLI refuses a rogue node, a man in the middle and a
node that swaps its operator key, each with one clear line (specs/node.md §3.1).

The attacker here holds an operator key of its own and runs a ledger of the same origin
on which it registered the real participants' public keys (they are public), so a
participant's signed entry is valid on it: exactly what would let a rogue node hand out
a receipt for an entry. Every such receipt, checkpoint or genesis must be refused
against the key pinned with ``--trust`` or ``kpledger trust add``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import ledger as lg
from ledger.core import note
from ledger.core.wire import pack, unpack
from tests.cli.test_cli import PARTIES, Cli, export, make_cli
from tests.node.conftest import NodeCli, Scene, Servers, file_digest, operator_vkey
from tests.node.proxy import Proxy

ORIGIN = "test.example/ledger"


def make_rogue(tmp: Path, real: Cli) -> Cli:
    """A ledger of the same origin under another operator key, with the real
    participants' public keys registered."""
    rogue = Cli(tmp)
    rogue("key", "new", "op", "--dir", str(rogue.keys), "--no-passphrase")
    rogue("init", "--key", rogue.key("op"), "--origin", ORIGIN)
    for cc in ("BW", "BE"):
        rogue(
            "kp-status", "set", "--key", rogue.key("op"), "--country", cc,
            "--status", "participant", "--from", "2003-01-01",
        )  # fmt: skip
    for name, full, roles, cc in PARTIES[1:]:
        rogue(
            "participant", "add", "--key", rogue.key("op"), "--pub", real.pub(name),
            "--name", full, "--role", roles, "--country", cc,
        )  # fmt: skip
    return rogue


@pytest.fixture
def attack(scene: Scene, tmp_path: Path, servers: Servers) -> Iterator[tuple[Scene, Cli, str]]:
    rogue = make_rogue(tmp_path / "rogue", scene.local)
    server = servers.node(rogue.db, key=rogue.key("op"))
    yield scene, rogue, server.url


def origin_argv(cli: Cli, parcel: str) -> list[str]:
    return [
        "origin", "--key", cli.key("mine"), "--parcel", parcel, "--carats", "1",
        "--stones", "1", "--mine", "Pit 2",
    ]  # fmt: skip


def one_line(result: object, code: int, *words: str) -> str:
    assert result.exit_code == code, result.output  # type: ignore[attr-defined]
    err: str = result.stderr  # type: ignore[attr-defined]
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in result.output  # type: ignore[attr-defined]
    for w in words:
        assert w in err, err
    return err


def test_the_pinned_node_works_and_a_rogue_one_is_refused(
    attack: tuple[Scene, Cli, str],
) -> None:
    scene, rogue, rogue_url = attack
    real = scene.remote
    real(*origin_argv(real, "GOOD-1"))  # pinned, genuine: the receipt verifies
    # The rogue node: same origin, another operator key, the same participants.
    at_rogue = NodeCli(scene.local, rogue_url, vkey=real.vkey)
    before = file_digest(rogue.db)
    for argv in (origin_argv(real, "EVIL-1"), ["verify"], ["log"], ["checkpoint", "--show"]):
        result = at_rogue(*argv, ok=False)
        one_line(result, 1, "is not the pinned ledger", "rogue node")
    assert file_digest(rogue.db) == before  # refused before anything was sent


def test_a_man_in_the_middle_is_refused(attack: tuple[Scene, Cli, str]) -> None:
    scene, rogue, _ = attack
    real = scene.remote
    forger = lg.load_private(rogue.key("op"), None)

    def resign(text: str) -> str:
        cp = note.parse_checkpoint(note.parse_note(text).text)
        return note.sign_checkpoint(cp, ORIGIN, forger.seed)

    def rewrite(
        method: str, path: str, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if status != 200:
            return status, headers, body
        if path.startswith("/checkpoint"):
            return status, headers, resign(body.decode()).encode()
        if method == "POST" and path.startswith("/api/entries"):
            answer = unpack(body)
            answer["checkpoint"] = resign(answer["checkpoint"])
            return status, headers, pack(answer)
        return status, headers, body

    proxy = Proxy(lambda n, m, p: scene.server.url, rewrite)
    try:
        through = NodeCli(scene.local, proxy.url, vkey=real.vkey)
        through("log")  # reads pass through unchanged: same genesis, same records
        result = through(*origin_argv(real, "MITM-1"), ok=False)
        one_line(result, 1, "not signed by the pinned operator key", "in the middle")
        for argv in (["verify"], ["checkpoint", "--show"]):
            one_line(through(*argv, ok=False), 1, "not signed by the pinned operator key")
    finally:
        proxy.close()

    # A man in the middle that serves another genesis is refused before anything else.
    swap = Proxy(lambda n, m, p: rogue_genesis_route(n, p, scene.server.url, attack[2]))
    try:
        result = NodeCli(scene.local, swap.url, vkey=real.vkey)("log", ok=False)
        one_line(result, 1, "is not the pinned ledger")
    finally:
        swap.close()


def rogue_genesis_route(n: int, path: str, real: str, rogue: str) -> str:
    return rogue if path.startswith("/api/records") else real


def test_a_node_that_swaps_its_operator_key_is_refused(
    attack: tuple[Scene, Cli, str],
) -> None:
    """The first request (the genesis) goes to the real node, every later one to the
    rogue: the rogue appends the entry and answers with its own receipt."""
    scene, rogue, rogue_url = attack
    real = scene.remote
    before = file_digest(real.file)
    for argv in (origin_argv(real, "SWAP-1"), ["verify"], ["checkpoint", "--show"]):
        switch = Proxy(lambda n, m, p: scene.server.url if n == 0 else rogue_url)
        try:
            result = NodeCli(scene.local, switch.url, vkey=real.vkey)(*argv, ok=False)
        finally:
            switch.close()
        one_line(result, 1, "pinned")
    assert file_digest(real.file) == before
    rogue("history", "SWAP-1")  # the rogue did append it and answered with its receipt


def test_trust_add_pins_only_after_confirmation(scene: Scene, tmp_path: Path) -> None:
    local = scene.local
    url = scene.server.url
    vkey = operator_vkey(local)
    unpinned = Cli(tmp_path)
    unpinned.db = url
    one_line(unpinned("log", ok=False), 2, "no operator key is pinned", "kpledger trust add")
    # Not a terminal and no --yes: the key is shown, nothing is pinned.
    result = unpinned("trust", "add", url, ok=False)
    assert result.exit_code == 2 and "not pinned" in result.stderr
    assert vkey in result.stderr and lg.key_id(lg.parse_vkey(vkey).public).hex() in result.stderr
    assert not Path(os.environ["KPLEDGER_TRUST_FILE"]).exists()
    # Confirmed: pinned; remote commands now need no --trust.
    out = unpinned("--json", "trust", "add", url + "/", "--yes").stdout
    assert json.loads(out)["vkey"] == vkey and json.loads(out)["added"] is True
    trust_file = Path(os.environ["KPLEDGER_TRUST_FILE"])
    assert stat.S_IMODE(trust_file.stat().st_mode) == 0o600
    assert unpinned("log").stdout == local("log").stdout
    assert "already pinned" in unpinned("trust", "add", url, "--vkey", vkey).stdout
    assert json.loads(unpinned("--json", "trust", "list").stdout)[0]["url"] == url
    unpinned("trust", "remove", url)
    one_line(unpinned("log", ok=False), 2, "no operator key is pinned")


def test_the_pin_can_come_from_the_environment(
    attack: tuple[Scene, Cli, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``KPLEDGER_TRUST`` pins without a trust file (a service's configuration);
    ``--trust`` on the command line comes first."""
    scene, rogue, rogue_url = attack
    real_vkey = operator_vkey(scene.local)
    c = Cli(tmp_path)
    c.db = scene.server.url
    monkeypatch.setenv("KPLEDGER_TRUST", real_vkey)
    assert c("log").stdout == scene.local("log").stdout
    c.db = rogue_url
    one_line(c("log", ok=False), 1, "is not the pinned ledger")
    monkeypatch.setenv("KPLEDGER_TRUST", operator_vkey(rogue))
    c.db = scene.server.url
    one_line(c("log", ok=False), 1, "is not the pinned ledger")
    assert c("--trust", real_vkey, "log").stdout == scene.local("log").stdout
    assert not Path(os.environ["KPLEDGER_TRUST_FILE"]).exists()


def test_trust_add_refuses_a_node_that_is_not_the_given_key(
    attack: tuple[Scene, Cli, str], tmp_path: Path
) -> None:
    scene, _, rogue_url = attack
    c = Cli(tmp_path)
    result = c("trust", "add", rogue_url, "--vkey", operator_vkey(scene.local), ok=False)
    one_line(result, 1, "is not the pinned ledger")
    assert not Path(os.environ["KPLEDGER_TRUST_FILE"]).exists()
    # A pin never changes silently: another key for a pinned URL is refused.
    c("trust", "add", scene.server.url, "--yes")
    other = c("key", "vkey", str(tmp_path / "rogue" / "keys" / "op.pub"), "--name", ORIGIN)
    path = Path(os.environ["KPLEDGER_TRUST_FILE"])
    pins = path.read_text().replace(operator_vkey(scene.local), other.stdout.strip())
    path.write_text(pins)
    edited = Cli(tmp_path)
    edited.db = scene.server.url
    one_line(edited("log", ok=False), 1, "is not the pinned ledger")


def test_sync_takes_the_pin_and_says_nothing_of_first_use(scene: Scene, tmp_path: Path) -> None:
    local = scene.local
    export(local)
    mirror = Cli(tmp_path)
    mirror.db = str(tmp_path / "mirror.db")
    result = mirror("--trust", operator_vkey(local), "sync", scene.server.url)
    assert "first use" not in result.stderr
    result = mirror("--json", "sync", scene.server.url)
    assert json.loads(result.stdout)["pinned"] is False
    other = Cli(tmp_path / "other")
    other.db = str(tmp_path / "other.db")
    other("trust", "add", scene.server.url, "--yes")
    result = other("--json", "sync", scene.server.url)
    assert "first use" not in result.stderr and json.loads(result.stdout)["pinned"] is True


def test_make_cli_and_the_rogue_share_the_participants(tmp_path: Path) -> None:
    real = make_cli(tmp_path / "real")
    rogue = make_rogue(tmp_path / "rogue", real)

    def others(cli: Cli) -> list[str]:
        rows = json.loads(cli("participant", "list", json_out=True).stdout)
        # who they are; the ids of the entries that registered them differ by origin
        same = ({k: v for k, v in p.items() if k != "entries"} for p in rows)
        return sorted(json.dumps(p, sort_keys=True) for p in same if "operator" not in p["roles"])

    assert others(rogue) == others(real) and len(others(real)) == len(PARTIES) - 1
    assert operator_vkey(rogue) != operator_vkey(real)
