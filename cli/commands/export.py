"""``kpledger export``: the ledger in another standard's format (GS1 EPCIS 2.0).

The document is the library's (``lg.export_epcis``, specs/epcis.md); this module checks
the options, writes the JSON with the library's key order and reports what it wrote.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import click

import ledger as lg
from cli.context import Ctx, pass_ctx
from cli.render import echo_json


def _write(output: str, text: str) -> None:
    if output == "-":
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise lg.UsageError(f"cannot write {output}: {exc.strerror}") from exc


@click.command("export")
@click.argument("item", required=False)
@click.option("--epcis", "as_epcis", is_flag=True, help="GS1 EPCIS 2.0 JSON-LD (the format).")
@click.option("--all", "whole", is_flag=True, help="Export the whole log instead of one item.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="File to write ('-' for stdout).",
)
@pass_ctx
def export(ctx: Ctx, item: str | None, as_epcis: bool, whole: bool, output: str) -> None:
    """Export an item's ancestry, or the whole log, as a GS1 EPCIS 2.0 document.

    One event per entry that records a physical or business event (origins,
    KP certificates, transfers and their answers, splits, merges, cuts,
    gradings, sales), with CBV 2.0 vocabulary; each eventID is
    ni:///sha-256;<entry id>, so 'kpledger show' finds the entry again.
    Registry entries are left out (specs/epcis.md). An item's ancestry
    includes the KP certificates its rough travelled under.

    \b
    Example:
      kpledger export --epcis ST-0001 -o ST-0001.jsonld
      kpledger export --epcis --all -o ledger.jsonld
      kpledger export --epcis --all -o - | jq '.epcisBody.eventList | length'
    """
    if not as_epcis:
        raise lg.UsageError("choose the format: --epcis (GS1 EPCIS 2.0)")
    if whole == (item is not None):
        raise lg.UsageError("give one ITEM or --all")
    document = lg.export_epcis(ctx.ledger(), None if whole else item)
    _write(output, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    events = len(document["epcisBody"]["eventList"])
    skipped: list[dict[str, Any]] = document.get("kpledger:skipped", [])
    if skipped:
        kinds = Counter(s["kpledger:entryType"] for s in skipped)
        listed = ", ".join(f"{t} ({n})" for t, n in sorted(kinds.items()))
        ctx.info(f"warning: {len(skipped)} entries of types this version cannot export: {listed}")
    if output == "-":
        ctx.info(f"{events} events")
    elif ctx.json:
        echo_json(
            {"file": output, "item": item, "events": events, "skipped": len(skipped)},
        )
    else:
        click.echo(f"wrote {output} ({events} events)")


COMMANDS: tuple[click.Command, ...] = (export,)
