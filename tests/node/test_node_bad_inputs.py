"""The node commands refuse bad input with one line, the right exit code and no change."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import Cli, export, make_cli

#: (id, exit code, text in the error line, argv; {key:X} {pub:X} {tmp} are expanded)
CASES: list[tuple[str, int, str, list[str]]] = [
    ("serve-bad-listen", 2, "--listen", ["serve", "--listen", "localhost"]),
    ("serve-not-operator", 1, "not the operator key", ["serve", "--key", "{key:ant}"]),
    ("serve-bad-policy", 1, "policy", ["serve", "--policy", "{tmp}/garbage"]),
    ("serve-busy-port", 1, "cannot listen", ["serve", "--listen", "192.0.2.1:1"]),
    ("serve-tls-cert-alone", 2, "--tls-key", ["serve", "--tls-cert", "{tmp}/garbage"]),
    (
        "serve-tls-garbage",
        1,
        "TLS",
        [
            "serve", "--listen", "127.0.0.1:0", "--tls-cert", "{tmp}/garbage",
            "--tls-key", "{tmp}/garbage",
        ],
    ),
    ("serve-bad-proxy", 2, "--trusted-proxy", ["serve", "--trusted-proxy", "proxy.example"]),
    (
        "serve-client-cap-over-total",
        2,
        "--max-client-connections",
        ["serve", "--max-connections", "8", "--max-client-connections", "9"],
    ),
    ("serve-zero-timeout", 2, "range", ["serve", "--header-timeout", "0"]),
    ("publish-to-a-file", 2, "--to", ["publish", "--to", "{tmp}/garbage"]),
    ("sync-not-a-url", 2, "URL", ["sync", "ftp://example.org"]),
    ("sync-unreachable", 1, "could not reach", ["sync", "http://127.0.0.1:9"]),
    ("witness-vkey-garbage", 1, "public key", ["witness", "vkey", "{tmp}/garbage"]),
    ("trust-add-not-a-url", 2, "URL", ["trust", "add", "kp.example.org"]),
    ("trust-add-unreachable", 1, "could not reach", ["trust", "add", "http://127.0.0.1:9"]),
    (
        "trust-add-bad-vkey",
        1,
        "vkey",
        ["trust", "add", "http://127.0.0.1:9", "--vkey", "{tmp}/bad.vkey"],
    ),
    ("trust-remove-not-pinned", 1, "no pin", ["trust", "remove", "http://127.0.0.1:9"]),
    ("trust-remove-not-a-url", 2, "URL", ["trust", "remove", "ftp://x"]),
    ("trust-list-bad-file", 1, "trust file", ["trust", "list"]),
    (
        "witness-cosign-garbage",
        1,
        "malformed",
        [
            "witness", "cosign", "--key", "{key:ant}", "--state", "{tmp}/w.json",
            "--trust", "{tmp}/op.vkey", "{tmp}/junk.txt",
        ],
    ),
    (
        "witness-cosign-bad-trust",
        1,
        "vkey",
        [
            "witness", "cosign", "--key", "{key:ant}", "--state", "{tmp}/w.json",
            "--trust", "{tmp}/bad.vkey", "{tmp}/cp.txt",
        ],
    ),
    (
        "witness-serve-bad-listen",
        2,
        "--listen",
        [
            "witness", "serve", "--key", "{key:ant}", "--state", "{tmp}/w.json",
            "--trust", "{tmp}/op.vkey", "--listen", "nope",
        ],
    ),
    ("witness-submit-no-vkey", 2, "--vkey", ["witness", "submit", "{tmp}/cp.txt"]),
    (
        "witness-submit-no-cosignature",
        1,
        "no cosignature",
        ["witness", "submit", "{tmp}/cp.txt", "--vkey", "{tmp}/w.vkey"],
    ),
    (
        "witness-submit-log-key",
        1,
        "type 0x04",
        ["witness", "submit", "{tmp}/cp.txt", "--vkey", "{tmp}/op.vkey"],
    ),
]  # fmt: skip


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    c = make_cli(tmp_path_factory.mktemp("node-bad"))
    export(c)
    (c.tmp / "garbage").write_bytes(b"\x00garbage\xff")
    (c.tmp / "garbage").chmod(0o600)
    vkey = c("key", "vkey", c.pub("op"), "--name", "test.example/ledger").stdout
    (c.tmp / "op.vkey").write_text(vkey)
    (c.tmp / "w.vkey").write_text(c("witness", "vkey", c.pub("ant")).stdout)
    (c.tmp / "bad.vkey").write_text("hello+world\n")
    (c.tmp / "junk.txt").write_text("hello\n")
    return c


def expand(c: Cli, argv: list[str]) -> list[str]:
    out = []
    for a in argv:
        a = a.replace("{tmp}", str(c.tmp))
        if a.startswith("{key:"):
            a = c.key(a[5:-1])
        out.append(a)
    return out


@pytest.mark.parametrize(
    ("code", "text", "argv"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input(
    shared: Cli, code: int, text: str, argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if argv == ["trust", "list"]:  # a trust file others can write to is refused
        bad = shared.tmp / "open-trust"
        bad.write_text("# nothing\n")
        bad.chmod(0o666)
        monkeypatch.setenv("KPLEDGER_TRUST_FILE", str(bad))
    if "{tmp}/cp.txt" in argv and not (shared.tmp / "cp.txt").exists():
        # A stored checkpoint, so that only the cosignature part is wrong.
        shared("checkpoint", "--key", shared.key("op"))
        (shared.tmp / "cp.txt").write_text(shared("checkpoint", "--show").stdout)
    shared.rejected(*expand(shared, argv), code=code, contains=text)


def test_every_node_command_has_a_case() -> None:
    from cli.commands.node import publish, serve, sync, trust_group, witness

    names = {
        "serve",
        "publish",
        "sync",
        *(f"witness {n}" for n in witness.commands),
        *(f"trust {n}" for n in trust_group.commands),
    }
    assert {serve.name, publish.name, sync.name} <= names
    ids = [c[0] for c in CASES]
    for name in names:
        assert any(i.startswith(name.replace(" ", "-") + "-") for i in ids), name


def test_remote_only_commands_refuse_a_url(tmp_path: Path) -> None:
    c = Cli(tmp_path)
    c.db = "http://127.0.0.1:9"
    for argv in (["serve"], ["publish", "--to", str(tmp_path / "s")], ["sync", "http://x"]):
        result = c(*argv, ok=False)
        assert result.exit_code == 2 and "ledger file" in result.stderr, result.stderr
