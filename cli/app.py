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
from collections.abc import Callable, Sequence
from typing import Any

import click

import ledger as lg
from cli import complete
from cli.commands import (
    compliance,
    custody,
    demo,
    export,
    keys,
    migrate,
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


#: Help lists the commands by who runs them, in this order (each module's COMMANDS).
SECTIONS: tuple[tuple[str, tuple[click.Command, ...]], ...] = (
    ("Keys", keys.COMMANDS),
    ("Registry: operator, KP authorities", registry.COMMANDS),
    ("Custody: mines, traders, cutters, labs, retailers", custody.COMMANDS),
    ("Compliance: G7/EU rules, sanctions, warranties", compliance.COMMANDS),
    ("Read the ledger", queries.COMMANDS),
    ("Prove and verify", (*proofs.COMMANDS, *report.COMMANDS)),
    ("Nodes, mirrors, witnesses", node.COMMANDS),
    (
        "Interchange and tools",
        (
            *export.COMMANDS,
            *migrate.COMMANDS,
            *simulate.COMMANDS,
            *demo.COMMANDS,
            *complete.COMMANDS,
        ),
    ),
)


def option_names(params: Sequence[click.Parameter]) -> dict[str, bool]:
    """``{option name: takes a value}`` of the options among ``params``."""
    out: dict[str, bool] = {}
    for param in params:
        if isinstance(param, click.Option):
            for name in (*param.opts, *param.secondary_opts):
                out[name] = not (param.is_flag or param.count)
    return out


def command_option_names(command: click.Command | None) -> set[str]:
    """Every option name of ``command`` and, for a group, of every command under it."""
    if command is None:
        return set()
    names = set(option_names(command.params))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            names |= command_option_names(sub)
    return names


def hoist_global_options(
    args: list[str], globals_: dict[str, bool], own: Callable[[str], set[str]]
) -> list[str]:
    """Move global options written after the command to before it (``kpledger log --json``).

    ``globals_`` are the group's options (name -> takes a value); ``own(command)`` names
    the options the command itself defines, which stay with it (``verify-proof --trust``
    is the command's, not the global ``--trust``). Everything after ``--`` stays where it
    is. An option value that merely looks like a global option (``--reason --json``)
    would be taken as the global option: no command has such values.
    """
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":
        i += 2 if globals_.get(args[i]) and "=" not in args[i] else 1
    head, rest = args[:i], args[i:]
    if not rest:
        return args
    mine = own(rest[0])
    moved: list[str] = []
    kept: list[str] = []
    j = 0
    while j < len(rest):
        token = rest[j]
        if token == "--":  # noqa: S105 - the end-of-options marker, not a password
            kept.extend(rest[j:])
            break
        name = token.split("=", 1)[0]
        if j > 0 and name in globals_ and name not in mine:
            takes_value = globals_[name] and "=" not in token
            moved.extend(rest[j : j + 2] if takes_value else [token])
            j += 2 if takes_value else 1
            continue
        kept.append(token)
        j += 1
    return head + moved + kept


class KpGroup(click.Group):
    """A group that turns every LedgerError into one line and an exit code."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        globals_ = option_names(self.params)
        own = lambda name: command_option_names(self.commands.get(name))  # noqa: E731
        return super().parse_args(ctx, hoist_global_options(args, globals_, own))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        listed: set[str] = set()
        limit = formatter.width - 6 - max(len(name) for name in self.commands)
        for title, commands in SECTIONS:
            rows = []
            for command in commands:
                if command.name is None or command.hidden:
                    continue
                listed.add(command.name)
                rows.append((command.name, command.get_short_help_str(limit)))
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)
        others = [
            (name, cmd.get_short_help_str(limit))
            for name, cmd in sorted(self.commands.items())
            if name not in listed and not cmd.hidden
        ]
        if others:
            with formatter.section("Other commands"):
                formatter.write_dl(others)

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


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: the version and which build runs (``KPLEDGER_PURE=1`` selects pure)."""
    if not value or ctx.resilient_parsing:
        return
    if lg.build() == "compiled":
        built = f"compiled: {len(lg.compiled_modules())} core modules"
    else:
        built = "pure Python"
    click.echo(f"kpledger {lg.__version__} ({built})")
    ctx.exit()


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
@click.option(
    "--openings",
    "openings_path",
    envvar="KPLEDGER_OPENINGS",
    type=click.Path(dir_okay=False),
    help="File keeping the openings (values and salts) of your committed prices and values "
    "(env KPLEDGER_OPENINGS; default: the ledger file; needed with a node URL).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No diagnostics on stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and the build (compiled core or pure Python) and exit.",
)
@click.pass_context
def main(
    ctx: click.Context,
    ledger_path: str,
    trust_vkey: str | None,
    ca_file: str | None,
    passphrase_file: str | None,
    passphrase_fd: int | None,
    openings_path: str | None,
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
        openings_path=openings_path,
    )
    ctx.call_on_close(ctx.obj.close)


for _title, _commands in SECTIONS:
    for _command in _commands:
        main.add_command(_command)
complete.install(main)


def run() -> None:  # pragma: no cover - console entry point
    main(prog_name="kpledger")
