"""Shell completion: file names for path options, parcel and participant names from the ledger.

Click completes a command's options and subcommands by itself (``kpledger completion
bash``); this module adds what it cannot know, in one place for every command:

* options and arguments that name a file (``--key``, ``--pub``, ``--trust``, ``--policy``,
  ``--ledger``, ``-o`` ...) complete file names;
* arguments that name a parcel or stone (``ITEM``: trace, prove, report ...) complete
  every id in the ``--ledger`` file; options that name parcels or stones a command acts
  on (``--parcel``, ``--parcels``, ``--stone``: transfer, split, merge, cut, grade, sell
  ...) complete the live ones (not consumed, sold or offered), after the last comma of
  a list and leaving out those already in it; a new parcel's id (``origin``, ``grow``)
  and a number (``simulate --parcels``) are not completed;
* options that name a participant (``--to``, ``--exporter``, ``--importer``, ``NAME``)
  complete participant names.

Completion never reaches a node: with ``--ledger URL`` names are not completed.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from click.shell_completion import CompletionItem

import ledger as lg
from cli.context import is_url

#: Parameter names (click's ``param.name``) that hold a file path.
FILE_PARAMS = {
    "key_file",
    "pubfile",
    "checkpoint_key",
    "out",
    "output",
    "trust",
    "trusted",
    "policy_file",
    "bundle_file",
    "ledger_path",
    "file",
    "files",
    "checkpoint_file",
    "proof_file",
    "state",
}
#: Parameter names that hold parcel or stone ids (a comma-separated list for some).
ITEM_PARAMS = {"parcel", "parcels", "stone", "item"}
#: Commands whose ``--parcel`` names a parcel they create.
NEW_ITEM_COMMANDS = {"origin", "grow"}
#: Parameter names that hold a participant's name.
PARTY_PARAMS = {"receiver", "exporter", "importer", "party", "name"}

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def _files(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(incomplete, type="file")]


def _ledger(ctx: click.Context) -> lg.Ledger | None:
    path = ctx.find_root().params.get("ledger_path") or "kpledger.db"
    if is_url(str(path)):
        return None
    try:
        return lg.Ledger.open(str(path))
    except lg.LedgerError:
        return None


def _names(kind: str, status: str | None = None) -> Completer:
    def complete(
        ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        done, _, last = incomplete.rpartition(",")
        prefix = f"{done}," if done else ""
        listed = set(done.split(",")) if done else set()
        led = _ledger(ctx)
        if led is None:
            return []
        try:
            names = led.store.keys_with_prefix(kind, last, status=status)
        finally:
            led.close()
        return [CompletionItem(prefix + name) for name in names if name not in listed]

    return complete


def install(group: click.Group) -> None:
    """Give every parameter of every command under ``group`` its completer (``key``'s
    commands name new keys, not participants)."""
    for command in group.commands.values():
        if command.name == "key":
            continue
        for param in command.params:
            if isinstance(param.type, click.Choice):
                continue
            if param.name in FILE_PARAMS:
                completer: Completer | None = _files
            elif param.name in ITEM_PARAMS:
                if not isinstance(param.type, click.types.StringParamType):
                    completer = None  # simulate --parcels: a number
                elif isinstance(param, click.Argument):
                    completer = _names("parcel")
                elif command.name in NEW_ITEM_COMMANDS:
                    completer = None
                else:
                    completer = _names("parcel", status="live")
            elif param.name in PARTY_PARAMS:
                completer = _names("party")
            else:
                completer = None
            if completer is not None and param._custom_shell_complete is None:
                param._custom_shell_complete = completer
        if isinstance(command, click.Group):
            install(command)


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script (commands, options, files, parcel and participant
    names).

    \b
    Example:
      eval "$(kpledger completion bash)"     # in ~/.bashrc
      kpledger completion fish > ~/.config/fish/completions/kpledger.fish
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - the choices are the shells click supports
        raise lg.UsageError(f"no completion for {shell}")
    root = ctx.find_root().command
    if not isinstance(root, click.Group):  # pragma: no cover - always the kpledger group
        raise lg.UsageError("completion belongs to the kpledger group")
    click.echo(cls(root, {}, "kpledger", "_KPLEDGER_COMPLETE").source())


COMMANDS: tuple[click.Command, ...] = (completion,)
