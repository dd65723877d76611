"""The ``kpledger`` command line (docs/cli.md is generated from its --help).

This module is the top group ``main``: the global options, the one place where every
``LedgerError`` becomes one readable line on stderr and an exit code (``KpGroup.invoke``;
``--debug`` shows the traceback instead), and ``run``, the console entry point. It is the
only module that imports the commands (``cli.commands.*``) and adds them to the group;
no other module imports it.

It defines no command of its own and holds no ledger logic: each command parses its
input, makes one library call and formats the result.

Exit codes: 0 ok, 1 rejected or invalid (any ledger error), 2 usage error.
"""

from __future__ import annotations

import json
from typing import Any

import click

import ledger as lg
from cli.commands import (
    compliance,
    custody,
    demo,
    export,
    keys,
    node,
    proofs,
    queries,
    registry,
    report,
    simulate,
)
from cli.context import Ctx

EXIT_INVALID = 1
EXIT_USAGE = 2


class KpGroup(click.Group):
    """A group that turns every LedgerError into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except lg.LedgerError as exc:
            obj = ctx.obj if isinstance(ctx.obj, Ctx) else None
            if obj is not None and obj.debug:
                raise
            code = EXIT_USAGE if isinstance(exc, lg.UsageError) else EXIT_INVALID
            if obj is not None and obj.json:
                click.echo(
                    json.dumps({"error": exc.code, "rule": exc.rule, "message": exc.message}),
                    err=True,
                )
            else:
                click.echo(f"error: {exc}", err=True)
            ctx.exit(code)
        except click.UsageError as exc:
            # One line, like every other error (click's default prints three).
            where = exc.ctx.command_path if exc.ctx is not None else "kpledger"
            click.echo(f"error: {exc.format_message()} (see '{where} --help')", err=True)
            ctx.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo("interrupted; nothing was written", err=True)
            ctx.exit(130)


@click.group(cls=KpGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--ledger",
    "ledger_path",
    envvar="KPLEDGER_LEDGER",
    default="kpledger.db",
    show_default=True,
    help="Ledger file, or the http(s):// URL of a node (env KPLEDGER_LEDGER).",
)
@click.option(
    "--trust",
    "trust_vkey",
    envvar="KPLEDGER_TRUST",
    metavar="VKEY",
    help="With a node URL: the operator's verifier key (or a file holding it) that the "
    "node's genesis, checkpoints and receipts must match (env KPLEDGER_TRUST; default: "
    "the key 'kpledger trust add' pinned for the URL).",
)
@click.option(
    "--ca-file",
    envvar="KPLEDGER_CA_FILE",
    type=click.Path(dir_okay=False),
    help="PEM file of the CA certificates that https:// nodes are checked against "
    "(env KPLEDGER_CA_FILE; default: the system's).",
)
@click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False),
    help="Read key passphrases from the first line of FILE (mode 600), for services.",
)
@click.option(
    "--passphrase-fd",
    type=click.IntRange(0, 65535),
    help="Read key passphrases from the open file descriptor N (to its first newline).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No diagnostics on stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(lg.__version__, prog_name="kpledger")
@click.pass_context
def main(
    ctx: click.Context,
    ledger_path: str,
    trust_vkey: str | None,
    ca_file: str | None,
    passphrase_file: str | None,
    passphrase_fd: int | None,
    as_json: bool,
    quiet: bool,
    debug: bool,
) -> None:
    """kpledger: a verifiable provenance ledger for rough diamonds.

    Participants sign custody transfers of rough parcels; anyone can replay the
    chain; buyers verify provenance proofs offline.

    \b
    Example:
      kpledger --ledger kp.db init --key operator.key --origin kp.example.org/ledger
      kpledger --ledger kp.db --json log
      kpledger --ledger https://kp.example.org --trust operator.vkey history JW-1

    Exit codes: 0 ok, 1 rejected or invalid, 2 usage error.
    """
    ctx.obj = Ctx(
        ledger_path,
        as_json,
        quiet,
        debug,
        trust=trust_vkey,
        ca_file=ca_file,
        passphrase_file=passphrase_file,
        passphrase_fd=passphrase_fd,
    )
    ctx.call_on_close(ctx.obj.close)


# Help lists the commands alphabetically (click.Group.list_commands), whatever the order here.
for _command in (
    *keys.COMMANDS,
    *registry.COMMANDS,
    *custody.COMMANDS,
    *compliance.COMMANDS,
    *queries.COMMANDS,
    *proofs.COMMANDS,
    *node.COMMANDS,
    *simulate.COMMANDS,
    *report.COMMANDS,
    *export.COMMANDS,
    *demo.COMMANDS,
):
    main.add_command(_command)


def run() -> None:  # pragma: no cover - console entry point
    main(prog_name="kpledger")
