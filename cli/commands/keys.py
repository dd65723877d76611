"""``kpledger key``: create Ed25519 key files and print their ids and verifier keys.

Key files are written and read by the library (``ledger.write_keypair``,
``ledger.load_public_part``); this module only checks the name, finds the passphrase and
prints. It never appends to a ledger.
"""

from __future__ import annotations

import sys

import click

import ledger as lg
from cli.context import Ctx, fail_usage, pass_ctx
from cli.render import b64, echo_json


@click.group()
def key() -> None:
    """Create and inspect Ed25519 keys.

    \b
    Example:
      KPLEDGER_PASSPHRASE=... kpledger key new jwaneng --dir keys
      kpledger key show keys/jwaneng.pub
    """


@key.command("new")
@click.argument("name")
@click.option(
    "--dir", "directory", default=".", show_default=True, help="Where to write keys (made 0700)."
)
@click.option("--no-passphrase", is_flag=True, help="Store the key unencrypted (not advised).")
@click.option(
    "--weak-passphrase",
    is_flag=True,
    help="Accept a passphrase under the strength floor (fewer than 12 characters, ...).",
)
@pass_ctx
def key_new(
    ctx: Ctx, name: str, directory: str, no_passphrase: bool, weak_passphrase: bool
) -> None:
    """Create NAME.key (encrypted, mode 0600) and NAME.pub (mode 0644).

    The passphrase comes from --passphrase-fd, --passphrase-file, KPLEDGER_PASSPHRASE or
    a prompt (asked twice). It needs at least 12 characters, 6 different ones, and about
    50 bits by length and alphabet (--weak-passphrase to override). The modes do not
    depend on the umask.

    \b
    Example:
      kpledger key new bw-authority --dir keys
      kpledger --passphrase-file /run/secrets/kp key new node-operator --dir keys
    """
    if not all(c.isalnum() or c in "-_." for c in name) or not name:
        fail_usage("key name: use letters, digits, '-', '_' and '.' only")
    passphrase: str | None
    if no_passphrase:
        click.echo(
            "WARNING: the private key is stored UNENCRYPTED; anyone who can read the file can "
            "sign as this participant.",
            err=True,
        )
        passphrase = None
    else:
        passphrase = ctx.given_passphrase()
        if passphrase is None:
            if not sys.stdin.isatty():
                fail_usage(
                    "give --passphrase-file or --passphrase-fd, set KPLEDGER_PASSPHRASE, run "
                    "in a terminal, or pass --no-passphrase"
                )
            passphrase = click.prompt(
                "New passphrase", hide_input=True, confirmation_prompt=True, err=True
            )
        if not passphrase:
            fail_usage("the passphrase must not be empty (or pass --no-passphrase)")
    priv, pub, k = lg.write_keypair(directory, name, passphrase, allow_weak=weak_passphrase)
    if ctx.json:
        echo_json({"name": name, "key_id": k.kid.hex(), "private": str(priv), "public": str(pub)})
    else:
        click.echo(k.kid.hex())
        ctx.info(f"wrote {priv} (private, mode 600) and {pub}")


@key.command("show")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_ctx
def key_show(ctx: Ctx, file: str) -> None:
    """Print the key id and public key of a .pub or .key file (no passphrase needed).

    The public part of a private key file is stored in clear; the passphrase is needed
    only to sign.

    \b
    Example:
      kpledger key show keys/jwaneng.pub
    """
    name, public = lg.load_public_part(file)
    kid = lg.key_id(public)
    if ctx.json:
        echo_json({"name": name, "key_id": kid.hex(), "public": b64(public)})
    else:
        click.echo(f"name:    {name}")
        click.echo(f"key id:  {kid.hex()}")
        click.echo(f"public:  {b64(public)}")


@key.command("vkey")
@click.argument("pubfile", type=click.Path(dir_okay=False))
@click.option("--name", "origin", required=True, help="The ledger origin (the key name).")
@pass_ctx
def key_vkey(ctx: Ctx, pubfile: str, origin: str) -> None:
    """Print the signed-note verifier key (name+hash+base64) buyers trust.

    \b
    Example:
      kpledger key vkey keys/operator.pub --name kp.example.org/ledger > operator.vkey
    """
    _, public = lg.load_public(pubfile)
    vkey = lg.format_vkey(origin, public)
    if ctx.json:
        echo_json({"vkey": vkey})
    else:
        click.echo(vkey)


COMMANDS: tuple[click.Command, ...] = (key,)
