"""Keys on disk and their passphrases (specs/keys.md §3, §5): strength, modes, sources.

* a new key's passphrase must pass the strength floor, or ``--weak-passphrase``;
* key files and folders get fixed modes whatever the umask (000 or 077);
* ``key show`` prints a private key file's public part without asking a passphrase;
* ``--passphrase-file`` (mode 600 only) and ``--passphrase-fd`` give the passphrase to
  services, for new keys and for keys that sign; it is never printed.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cli import context
from ledger.core.keys import passphrase_weakness
from tests.cli.test_cli import Cli, make_cli

GOOD = "Kimberley-2026 rough & ready"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("KPLEDGER_PASSPHRASE", raising=False)
    # The demo (run in-process by other tests) keeps unlocked keys for its process: not here.
    monkeypatch.setattr(context, "_KEY_CACHE", None)
    return make_cli(tmp_path)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def sign_with(cli: Cli, key: str, *extra: str) -> object:
    """Sign an origin with ``key`` into a file (--out checks the rules: the key's holder is
    registered as a mine first, once)."""
    name = Path(key).stem
    listed = json.loads(cli("participant", "list", json_out=True).stdout)
    if name not in {p["name"] for p in listed}:
        pub = str(Path(key).with_suffix(".pub"))
        cli("participant", "add", "--key", cli.key("op"), "--pub", pub, "--name", name,
            "--role", "mine", "--country", "BW")  # fmt: skip
    out = str(cli.tmp / f"signed-{len(list(cli.tmp.glob('signed-*')))}.kpe")
    return cli(
        *extra, "origin", "--key", key, "--parcel", "S-1", "--carats", "1", "--stones", "1",
        "--mine", "Pit 1", "--out", out, ok=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("passphrase", "why"),
    [
        ("x", "at least 12"),
        ("hunter2", "at least 12"),
        ("aaaaaaaaaaaaaaaa", "different characters"),
        ("abcabcabcabcabc", "different characters"),
        ("abcdefabcdefabcdef", "repeated"),
        ("123456789012", "bits"),
    ],
)
def test_weak_passphrases_are_named(passphrase: str, why: str) -> None:
    weakness = passphrase_weakness(passphrase)
    assert weakness is not None and why in weakness
    assert passphrase not in weakness


@pytest.mark.parametrize("passphrase", [GOOD, "correct horse battery staple", "Tr0ub4dor&3x!"])
def test_strong_passphrases_pass(passphrase: str) -> None:
    assert passphrase_weakness(passphrase) is None


def test_a_weak_passphrase_is_refused_unless_overridden(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPLEDGER_PASSPHRASE", "hunter2")
    result = cli("key", "new", "weak", "--dir", str(cli.keys), ok=False)
    assert (
        result.exit_code == 1
        and "too weak" in result.stderr
        and "--weak-passphrase" in result.stderr
    )
    assert "hunter2" not in result.output
    assert not (cli.keys / "weak.key").exists()
    cli("key", "new", "weak", "--dir", str(cli.keys), "--weak-passphrase")
    assert (cli.keys / "weak.key").exists()


@pytest.mark.parametrize("mask", [0o000, 0o077, 0o022])
def test_modes_do_not_depend_on_the_umask(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, mask: int
) -> None:
    monkeypatch.setenv("KPLEDGER_PASSPHRASE", GOOD)
    folder = cli.tmp / f"new-{mask:o}" / "keys"
    with umask(mask):
        cli("key", "new", "k", "--dir", str(folder))
    assert mode(folder) == 0o700 and mode(folder.parent) == 0o700
    assert mode(folder / "k.key") == 0o600
    assert mode(folder / "k.pub") == 0o644


def test_an_existing_folder_is_left_as_it_is(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPLEDGER_PASSPHRASE", GOOD)
    folder = cli.tmp / "existing"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    cli("key", "new", "k", "--dir", str(folder))
    assert mode(folder) == 0o755


def test_key_show_needs_no_passphrase(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPLEDGER_PASSPHRASE", GOOD)
    kid = cli("key", "new", "sealed", "--dir", str(cli.keys)).stdout.strip()
    monkeypatch.delenv("KPLEDGER_PASSPHRASE")
    for path in (cli.key("sealed"), cli.pub("sealed")):
        shown = json.loads(cli("key", "show", path, json_out=True).stdout)
        assert shown["key_id"] == kid and shown["name"] == "sealed"
    # Signing does need it.
    result = sign_with(cli, cli.key("sealed"))
    assert result.exit_code == 1 and "--passphrase-file" in result.stderr  # type: ignore[attr-defined]


def test_passphrase_file(cli: Cli) -> None:
    secret = cli.tmp / "passphrase"
    secret.write_text(GOOD + "\n")
    secret.chmod(0o600)
    kid = cli("--passphrase-file", str(secret), "key", "new", "svc", "--dir", str(cli.keys))
    assert GOOD not in kid.output
    result = sign_with(cli, cli.key("svc"), "--passphrase-file", str(secret))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    secret.chmod(0o640)
    result = sign_with(cli, cli.key("svc"), "--passphrase-file", str(secret))
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert "readable by other users" in result.stderr and "chmod 600" in result.stderr  # type: ignore[attr-defined]
    assert GOOD not in result.output  # type: ignore[attr-defined]


def test_passphrase_fd(cli: Cli) -> None:
    def pipe_with(text: str) -> int:
        read, write = os.pipe()
        os.write(write, text.encode())
        os.close(write)
        return read

    fd = pipe_with(GOOD + "\n")
    cli("--passphrase-fd", str(fd), "key", "new", "piped", "--dir", str(cli.keys))
    fd = pipe_with(GOOD)
    result = sign_with(cli, cli.key("piped"), "--passphrase-fd", str(fd))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    fd = pipe_with("not the passphrase\n")
    result = sign_with(cli, cli.key("piped"), "--passphrase-fd", str(fd))
    assert result.exit_code == 1 and "wrong passphrase" in result.stderr  # type: ignore[attr-defined]
    result = sign_with(cli, cli.key("piped"), "--passphrase-fd", "250")
    assert result.exit_code == 1 and "file descriptor 250" in result.stderr  # type: ignore[attr-defined]
