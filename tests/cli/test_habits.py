"""The habits users bring from git, gh, sqlite-utils and cosign (issue: a new user's first hour).

Global options after the command, data on stdout and diagnostics on stderr, ``-o -``,
``show INDEX``, the stored id named after a tamper, a verdict object from ``verify --json``
whatever the outcome, "did you mean", completion, help grouped by role, ``--dry-run``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.app import command_option_names, hoist_global_options, main, option_names
from tests.cli.test_cli import Cli, make_cli
from tests.cli.test_cli import export as ship


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


def invoke(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    env = {"KPLEDGER_PASSPHRASE": None, **(env or {})}  # whatever the process holds
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


# -- global options anywhere -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["log", "--json"], ["--json", "log"]),
        (["--json", "log"], ["--json", "log"]),
        (["log", "--ledger", "x.db", "-q"], ["--ledger", "x.db", "-q", "log"]),
        (["--ledger=a.db", "log", "--ledger=b.db"], ["--ledger=a.db", "--ledger=b.db", "log"]),
        (["participant", "list", "--json"], ["--json", "participant", "list"]),
        (["show", "--", "--json"], ["show", "--", "--json"]),
        (["--ledger", "--json", "log"], ["--ledger", "--json", "log"]),
        (["verify", "--trust", "v", "--json"], ["--trust", "v", "--json", "verify"]),
        # verify-proof and witness have a --trust of their own: theirs stays
        (["verify-proof", "b", "--trust", "v", "-q"], ["-q", "verify-proof", "b", "--trust", "v"]),
        (["witness", "cosign", "--trust", "v"], ["witness", "cosign", "--trust", "v"]),
        (["log", "--passphrase-fd", "3"], ["--passphrase-fd", "3", "log"]),
    ],
)
def test_global_options_are_hoisted(args: list[str], expected: list[str]) -> None:
    own = lambda name: command_option_names(main.commands.get(name))  # noqa: E731
    assert hoist_global_options(args, option_names(main.params), own) == expected


def test_global_options_after_the_command(cli: Cli) -> None:
    before = json.loads(cli("log", json_out=True).stdout)
    code, out, _ = invoke("log", "--json", "--ledger", cli.db)
    assert code == 0
    assert json.loads(out) == before
    code, out, _ = invoke("participant", "list", "--ledger", cli.db, "--json")
    assert code == 0 and {p["name"] for p in json.loads(out)} >= {"Jwaneng", "Antwerp"}


def test_help_is_grouped_by_role() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    sections = [line[:-1] for line in out.splitlines() if line.endswith(":") and line[0] != " "]
    assert sections[sections.index("Keys") :] == [
        "Keys",
        "Registry: operator, KP authorities",
        "Custody: mines, traders, cutters, labs, retailers",
        "Compliance: G7/EU rules, sanctions, warranties",
        "Read the ledger",
        "Prove and verify",
        "Nodes, mirrors, witnesses",
        "Interchange and tools",
    ]
    commands = out[out.index("\nKeys:") :].splitlines()
    listed = [line.split()[0] for line in commands if line.startswith("  ")]
    assert sorted(listed) == sorted(main.commands)  # every command, once


# -- stdout is data, stderr is diagnostics -----------------------------------------------


def test_prove_to_stdout_and_wrote_on_stderr(cli: Cli) -> None:
    ship(cli)
    cli("checkpoint", "--key", cli.key("op"))
    path = cli.tmp / "p1.kpproof"
    result = cli("prove", "P1", "-o", str(path))
    assert result.stdout == "" and result.stderr.startswith(f"wrote {path} (")
    quiet = cli("-q", "prove", "P1", "-o", str(path))
    assert quiet.stdout == "" and quiet.stderr == ""
    piped = cli("prove", "P1", "-o", "-")
    assert piped.stdout_bytes == path.read_bytes()
    assert not (Path.cwd() / "-").exists()
    assert (
        piped.stderr
        == f"wrote {len(piped.stdout_bytes)} bytes to stdout ({len(piped.stdout_bytes)} bytes)\n"
    )
    summary = json.loads(cli("prove", "P1", "-o", str(path), json_out=True).stdout)
    assert summary == {"item": "P1", "bytes": path.stat().st_size, "file": str(path)}


def test_report_to_stdout(cli: Cli) -> None:
    ship(cli)
    cli("checkpoint", "--key", cli.key("op"))
    result = cli("report", "P1", "-o", "-")
    assert result.stdout.startswith("<!DOCTYPE html>")
    assert result.stderr.startswith("wrote ") and "valid; bundle sha256" in result.stderr


def test_a_public_key_given_as_key_says_so_first(cli: Cli) -> None:
    os.chmod(cli.pub("op"), 0o644)  # a .pub is world-readable: not the complaint to make
    result = cli.rejected("checkpoint", "--key", cli.pub("op"), contains="is a public key")
    assert "chmod" not in result.stderr


# -- show, verify ---------------------------------------------------------------------


def test_show_accepts_the_index_that_log_lists(cli: Cli) -> None:
    rows = json.loads(cli("log", json_out=True).stdout)
    for row in (rows[0], rows[3], rows[-1]):
        shown = json.loads(cli("show", str(row["index"]), json_out=True).stdout)
        assert shown["id"] == row["id"] and shown["index"] == row["index"]
    cli.rejected("show", str(len(rows)), contains=f"no record {len(rows)}: the log has {len(rows)}")


def _tamper(db: str, index: int) -> str:
    """Flip a bit inside record ``index`` (append-only triggers put back); its stored id."""
    conn = sqlite3.connect(db)
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type='trigger'").fetchall()
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    stored, raw = conn.execute("SELECT id, record FROM records WHERE idx = ?", (index,)).fetchone()
    data = bytearray(raw)
    data[-70] ^= 1  # inside a signature: the entry id changes, the encoding stays valid
    conn.execute("UPDATE records SET record = ? WHERE idx = ?", (bytes(data), index))
    for _, sql in triggers:
        conn.execute(sql)
    conn.commit()
    conn.close()
    return bytes(stored).hex()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_verify_names_the_stored_id_and_always_gives_a_verdict(cli: Cli, jobs: str) -> None:
    ok = json.loads(cli("verify", "--jobs", jobs, json_out=True).stdout)
    assert ok["valid"] is True and ok["record"] is None
    stored = _tamper(cli.db, 4)
    result = cli("verify", "--jobs", jobs, "--json", ok=False)
    assert result.exit_code == 1
    verdict = json.loads(result.stdout)
    assert verdict["valid"] is False
    assert (verdict["record"], verdict["rule"], verdict["size"]) == (4, "R-ST-2", ok["size"])
    assert verdict["message"].startswith(f"record 4: entry {stored[:16]} was altered")
    assert json.loads(result.stderr)["rule"] == "R-ST-2"


# -- did you mean ------------------------------------------------------------------------


def test_did_you_mean(cli: Cli) -> None:
    ship(cli)
    cli.rejected(
        "trace", "p1", contains="no parcel or stone 'p1' in this ledger (did you mean 'P1'?)"
    )
    cli.rejected("history", "P11", contains="(did you mean 'P1'?)")
    cli.rejected(
        "transfer", "--key", cli.key("ant"), "--parcels", "P1", "--to", "Jwanang",
        contains="no participant 'Jwanang' (did you mean 'Jwaneng'?)",
    )  # fmt: skip
    result = cli.rejected("trace", "ZZZ-9", contains="no parcel or stone 'ZZZ-9'")
    assert "did you mean" not in result.stderr


# -- completion --------------------------------------------------------------------------


def complete(cli: Cli, words: str) -> list[tuple[str, str]]:
    env = {
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - 1),
        "_KPLEDGER_COMPLETE": "bash_complete",
        "KPLEDGER_LEDGER": cli.db,
    }
    result = CliRunner().invoke(main, [], env=env, prog_name="kpledger")
    return [tuple(line.split(",", 1)) for line in result.stdout.splitlines() if line]  # type: ignore[misc]


def test_completion_of_names_and_files(cli: Cli) -> None:
    ship(cli)
    cli("split", "--key", cli.key("ant"), "--parcel", "P1", "--into", "PA:50:150,PB:49.5")
    # Queries name any item; the commands that act on parcels are offered the live ones
    # (P1 was consumed by the split) not yet in the list; a new id is not completed.
    assert complete(cli, "kpledger trace P") == [("plain", "P1"), ("plain", "PA"), ("plain", "PB")]
    assert complete(cli, "kpledger merge --parcels PA,P") == [("plain", "PA,PB")]
    assert complete(cli, "kpledger split --parcel P") == [("plain", "PA"), ("plain", "PB")]
    assert complete(cli, "kpledger origin --parcel P") == []
    assert complete(cli, "kpledger simulate --parcels 1") == []
    assert complete(cli, "kpledger transfer --to Ant") == [
        ("plain", "Antwerp"),
        ("plain", "Antwerp Two"),
    ]
    assert complete(cli, "kpledger inventory Jw") == [("plain", "Jwaneng")]
    assert complete(cli, "kpledger prove P1 --key ke") == [("file", "ke")]
    assert complete(cli, "kpledger verify-proof x --trust op") == [("file", "op")]
    assert complete(cli, "kpledger key new J") == []  # a new key's name is not a participant
    code, out, _ = invoke("completion", "bash")
    assert code == 0 and "_KPLEDGER_COMPLETE=bash_complete" in out


# -- dry run -----------------------------------------------------------------------------


def test_dry_run_checks_everything_and_writes_nothing(cli: Cli) -> None:
    ship(cli)
    before = cli.snapshot()
    size = len(json.loads(cli("log", json_out=True).stdout))
    cut = ["split", "--key", cli.key("ant"), "--parcel", "P1", "--into", "PA:50:150,PB:49.5"]
    shown = cli(*cut, "--dry-run")
    assert shown.stdout.startswith(f"would append record {size}:\n")
    assert "type     split" in shown.stdout and "signer   Antwerp (" in shown.stdout
    assert "nothing was written" in shown.stderr
    as_json = json.loads(cli(*cut, "--dry-run", json_out=True).stdout)
    assert as_json["dry_run"] is True
    assert [(e["index"], e["type"]) for e in as_json["entries"]] == [(size, "split")]
    assert as_json["entries"][0]["fields"]["outputs"][0] == {
        "parcel": "PA",
        "carats": "50.00",
        "stones": 150,
    }
    assert cli.snapshot() == before
    # refused exactly as the append would be, and still nothing written
    inflate = ["split", "--key", cli.key("ant"), "--parcel", "P1", "--into", "PA:90,PB:90"]
    dry = cli.rejected(*inflate, "--dry-run", contains="R-MB-1")
    real = cli.rejected(*inflate, contains="R-MB-1")
    assert dry.stderr == real.stderr
    cli.rejected(*cut, "--dry-run", "--out", str(cli.tmp / "x.kpe"), code=2, contains="--dry-run")
    # submit --dry-run checks a file signed offline
    offline = str(cli.tmp / "offline.kpe")
    cli(*cut, "--out", offline)
    assert cli("submit", offline, "--dry-run").stdout.startswith(f"would append record {size}:")
    assert cli.snapshot() == before
    cli(*cut)  # and the real thing appends where the dry run said
    assert json.loads(cli("log", json_out=True).stdout)[-1]["index"] == size


# -- a simulated ledger is ready to use ---------------------------------------------------


def test_simulate_leaves_keys_and_a_checkpoint(tmp_path: Path) -> None:
    db = str(tmp_path / "sim.db")
    code, out, err = invoke("--ledger", db, "--json", "simulate", "--parcels", "2")
    assert code == 0, err
    report = json.loads(out)
    keys = tmp_path / "sim-keys"
    assert report["keys"] == {
        "directory": str(keys),
        "keys": ["operator"] + [f"governor-{i}" for i in range(1, 6)],
        "sealed": False,
    }
    assert oct((keys / "operator.key").stat().st_mode & 0o777) == "0o600"
    code, out, _ = invoke("--ledger", db, "--json", "checkpoint", "--show")
    assert code == 0 and json.loads(out)["size"] == report["size"]
    assert json.loads(out)["root"] == report["root"]  # base64, as every tree root
    rows = json.loads(invoke("--ledger", db, "--json", "log")[1])
    sale = next(r for r in rows if r["type"] == "sell")
    stone = json.loads(invoke("--ledger", db, "--json", "show", str(sale["index"]))[1])
    item = stone["fields"]["input"]["parcel"]
    bundle = str(tmp_path / "stone.kpproof")
    assert invoke("--ledger", db, "prove", item, "-o", bundle)[0] == 0
    vkey = invoke("key", "vkey", str(keys / "operator.pub"), "--name", "kp.example.org/simulation")
    assert invoke("verify-proof", bundle, "--trust", vkey[1].strip())[0] == 0
    assert invoke("--ledger", db, "checkpoint", "--key", str(keys / "operator.key"))[0] == 0
    # the keys are never overwritten, and nothing is simulated when they would be
    again = str(tmp_path / "again.db")
    code, _, err = invoke("--ledger", again, "simulate", "--parcels", "1", "--keys", str(keys))
    assert code == 1 and "already holds operator.key" in err
    assert not Path(again).exists()
    code, _, err = invoke(
        "--ledger", again, "simulate", "--parcels", "1", "--participant-keys", "--seed", "3"
    )
    assert code == 0, err
    assert len(list((tmp_path / "again-keys").glob("*.key"))) > 20
