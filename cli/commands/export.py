"""``kpledger export`` and ``kpledger import``: the ledger in GS1 EPCIS 2.0, out and in.

The document is the library's (``lg.export_epcis``, specs/epcis.md), and so are the
entries an imported document stands for (``lg.entries_from_epcis``); this module checks
the options, reads and writes the JSON (the library's key order kept) and appends
through the one shared path (``cli.context.emit``).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import click

import ledger as lg
from cli import parse
from cli.context import Ctx, emit, entry_options, load_key, output_option, pass_ctx, write_output

#: The largest EPCIS document ``import`` reads.
MAX_DOCUMENT = 64 << 20


@click.command("export")
@click.argument("item", required=False)
@click.option("--epcis", "as_epcis", is_flag=True, help="GS1 EPCIS 2.0 JSON-LD (the format).")
@click.option("--all", "whole", is_flag=True, help="Export the whole log instead of one item.")
@output_option("JSON-LD file")
@click.option(
    "--disclose",
    metavar="FIELDS",
    help="Committed fields to export in clear from the openings you hold: price, value, all.",
)
@pass_ctx
def export(
    ctx: Ctx, item: str | None, as_epcis: bool, whole: bool, output: str, disclose: str | None
) -> None:
    """Export an item's ancestry, or the whole log, as a GS1 EPCIS 2.0 document.

    One event per entry that records a physical or business event (origins,
    KP certificates, transfers and their answers, splits, merges, cuts,
    gradings, sales), with CBV 2.0 vocabulary; each eventID is
    ni:///sha-256;<entry id>, so 'kpledger show' finds the entry again.
    Registry entries are left out (specs/epcis.md). An item's ancestry
    includes the KP certificates its rough travelled under. Prices and declared
    values are exported as their commitments unless --disclose names them and you
    hold their openings.

    \b
    Example:
      kpledger export --epcis ST-0001 -o ST-0001.jsonld
      kpledger export --epcis --all -o ledger.jsonld
      kpledger export --epcis ST-0001 --disclose price -o ST-0001-priced.jsonld
      kpledger export --epcis --all -o - | jq '.epcisBody.eventList | length'
    """
    if not as_epcis:
        raise lg.UsageError("choose the format: --epcis (GS1 EPCIS 2.0)")
    if whole == (item is not None):
        raise lg.UsageError("give one ITEM or --all")
    openings: list[lg.Opening] = []
    if disclose:
        labels = lg.fields_named(disclose.split(","))
        keeper = ctx.openings()
        openings = [o for o in (keeper.all() if keeper else []) if o.field in labels]
    document = lg.export_epcis(ctx.ledger(), None if whole else item, openings)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    events = len(document["epcisBody"]["eventList"])
    skipped: list[dict[str, Any]] = document.get("kpledger:skipped", [])
    if skipped:
        kinds = Counter(s["kpledger:entryType"] for s in skipped)
        listed = ", ".join(f"{t} ({n})" for t, n in sorted(kinds.items()))
        ctx.info(f"warning: {len(skipped)} entries of types this version cannot export: {listed}")
    summary = {"item": item, "events": events, "skipped": len(skipped)}
    write_output(ctx, output, text.encode(), summary, f"{events} events")


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--epcis", "as_epcis", is_flag=True, help="GS1 EPCIS 2.0 JSON-LD (the format).")
@entry_options
@pass_ctx
def import_(
    ctx: Ctx,
    file: str,
    as_epcis: bool,
    key_file: str,
    checkpoint_key: str | None,
    out: str | None,
) -> None:
    """Sign one entry per event of an EPCIS document and append them all, or none.

    Each event must be of a kind 'export --epcis' writes (a commissioning
    becomes an origin, a shipping a transfer, a receiving an accept, and so
    on: specs/epcis.md) and name its goods, parties and offers with
    urn:kpledger identifiers. Every entry is signed by --key and claims its
    event's eventTime; the rules judge them as any other entries, and one
    refused entry refuses the whole document.

    \b
    Example:
      kpledger import --epcis shipments.jsonld --key jwaneng.key
      kpledger import --epcis receipt.jsonld --key antwerp.key --out receipt.kpe
    """
    if not as_epcis:
        raise lg.UsageError("choose the format: --epcis (GS1 EPCIS 2.0)")
    data = parse.read_limited("/dev/stdin" if file == "-" else file, MAX_DOCUMENT, "FILE")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise lg.EncodingError(f"{file} is not JSON: {exc}") from exc
    entries = lg.entries_from_epcis(ctx.ledger(), document, load_key(ctx, key_file))
    emit(ctx, entries, out, checkpoint_key)


COMMANDS: tuple[click.Command, ...] = (export, import_)
