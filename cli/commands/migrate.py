"""``kpledger migrate``: convert a ledger file of an older schema to the current one.

The conversion and its checks are the library's (``lg.migrate_ledger``, specs/log.md
§5.3); this module names the file and prints what was done.
"""

from __future__ import annotations

import click

import ledger as lg
from cli.context import Ctx, pass_ctx
from cli.render import b64, echo_json


@click.command()
@click.argument("ledger_file", metavar="LEDGER", type=click.Path(dir_okay=False))
@pass_ctx
def migrate(ctx: Ctx, ledger_file: str) -> None:
    """Convert LEDGER (a file of schema 2) to the current schema, in place.

    One transaction: the file gets the current tables (the same records, tree,
    state and state map, stored in fewer bytes per append), is checked (the same
    records and tree root, the same map root, the same state), and is left as it
    was if anything fails. A file of the current schema is left alone. Stop
    every process that writes the file first; make a copy if you want one.

    \b
    Example:
      kpledger migrate kp.db
    """
    done = lg.migrate_ledger(ledger_file)
    if ctx.json:
        echo_json({**done, "tree_root": b64(done["tree_root"]), "map_root": b64(done["map_root"])})
        return
    if not done["migrated"]:
        click.echo(f"{ledger_file}: schema {done['to_schema']} already, nothing to do")
        return
    click.echo(
        f"{ledger_file}: schema {done['from_schema']} -> {done['to_schema']}: "
        f"{done['records']} records, tree root {b64(done['tree_root'])}, "
        f"{done['state_rows']} state rows, {done['map_nodes']} map nodes, checked"
    )


COMMANDS: tuple[click.Command, ...] = (migrate,)
