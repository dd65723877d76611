"""Compliance beyond the KP: laboratory-grown goods, sanctions lists, warranties.

``grow`` (a producer registers laboratory-grown rough, R-SW-3), ``sanction designate``,
``sanction delist`` and ``sanction list`` (a list publisher's signed designations, R-SA-4)
and ``warranty reconcile`` (the System of Warranties received against issued, R-SW-1/2).
Each signing command makes one entry through ``cli.context.emit``; whether it is allowed
(roles, a list kept by one publisher, designation dates) is the rules engine's to decide.
"""

from __future__ import annotations

from typing import Any

import click

from cli import parse
from cli.context import Ctx, emit, entry_options, pass_ctx, sign
from cli.render import echo_json


@click.command()
@entry_options
@click.option("--parcel", required=True, help="New parcel id.")
@click.option("--carats", required=True, help="Weight in carats (2 decimals).")
@click.option("--stones", required=True, help="Number of stones.")
@click.option("--facility", required=True, help="The growing facility (reactor, plant).")
@pass_ctx
def grow(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    parcel: str,
    carats: str,
    stones: str,
    facility: str,
) -> None:
    """Register laboratory-grown rough (producer role; HS 7104.21, outside the KP).

    Grown goods need no KP certificate and can never be merged or cut with natural goods
    (R-SW-3); every stone cut from them is laboratory-grown, and 'require natural' in a
    buyer's policy refuses them.

    \b
    Example:
      kpledger grow --key surat-lab.key --parcel LG-2026-001 --carats 300.00 --stones 900 \\
          --facility "CVD hall 2"
    """
    fields = {
        "parcel": parcel,
        "carats": parse.carats(carats, "--carats"),
        "stones": parse.positive_int(stones, "--stones"),
        "facility": facility,
    }
    emit(ctx, [sign(ctx, key_file, "grow", fields)], out, checkpoint_key)


@click.group()
def sanction() -> None:
    """Sanctions lists as signed data (R-SA-4): designations and de-listings.

    A list publisher (a participant with the 'publisher' role, registered by the operator)
    keeps each list it first publishes to. A buyer's policy line 'deny-listed LIST' fails
    an item any party of which acted on it while designated on LIST.

    \b
    Example:
      kpledger sanction designate --key eu-list.key EU-CONSOLIDATED "Moscow Rough" \\
          --from 2026-02-24
      kpledger sanction list EU-CONSOLIDATED
    """


def _designation_options(f: Any) -> Any:
    f = click.option(
        "--from",
        "start",
        required=True,
        help="The day it takes effect (YYYY-MM-DD; at most 30 days before today).",
    )(f)
    f = click.argument("party")(f)
    f = click.argument("list_id", metavar="LIST")(f)
    return entry_options(f)


def _designate(
    ctx: Ctx,
    entry_type: str,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    list_id: str,
    party: str,
    start: str,
    reason: str | None = None,
) -> None:
    fields: dict[str, Any] = {
        "list": list_id,
        "party": ctx.ledger().party(party)["name"],
        "from": parse.date(start, "--from"),
    }
    if reason:
        fields["reason"] = reason
    emit(ctx, [sign(ctx, key_file, entry_type, fields)], out, checkpoint_key)


@sanction.command("designate")
@_designation_options
@click.option("--reason", help="The legal act or grounds (kept in the entry).")
@pass_ctx
def sanction_designate(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    list_id: str,
    party: str,
    start: str,
    reason: str | None,
) -> None:
    """Designate a participant on a sanctions list from a date (publisher role).

    \b
    Example:
      kpledger sanction designate --key eu-list.key EU-CONSOLIDATED "Moscow Rough" \\
          --from 2026-02-24 --reason "Reg. 269/2014 Annex I"
    """
    _designate(
        ctx, "sanction.designate", key_file, out, checkpoint_key, list_id, party, start, reason
    )


@sanction.command("delist")
@_designation_options
@pass_ctx
def sanction_delist(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    list_id: str,
    party: str,
    start: str,
) -> None:
    """Remove a participant from a sanctions list from a date (its publisher only).

    \b
    Example:
      kpledger sanction delist --key eu-list.key EU-CONSOLIDATED "Moscow Rough" --from 2027-01-01
    """
    _designate(ctx, "sanction.delist", key_file, out, checkpoint_key, list_id, party, start)


@sanction.command("list")
@click.argument("list_id", metavar="[LIST]", required=False)
@pass_ctx
def sanction_list(ctx: Ctx, list_id: str | None) -> None:
    """Show every designation (of one LIST, or of all), with its periods.

    \b
    Example:
      kpledger sanction list EU-CONSOLIDATED
    """
    rows = [
        {"list": name, "party": p["name"], "periods": [list(x) for x in periods]}
        for p in ctx.ledger().participants()
        for name, periods in sorted(p.get("lists", {}).items())
        if list_id is None or name == list_id
    ]
    rows.sort(key=lambda r: (r["list"], r["party"]))
    if ctx.json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no designations" + (f" on {list_id}" if list_id else ""))
    for r in rows:
        history = ", ".join(f"{status} from {day}" for day, status in r["periods"])
        click.echo(f"{r['list']:<20} {r['party']:<24} {history}")


@click.group()
def warranty() -> None:
    """The System of Warranties: what a participant received and issued (R-SW-1/2).

    \b
    Example:
      kpledger warranty reconcile "Antwerp Rough" --from 2026-01-01 --to 2026-12-31
    """


@warranty.command("reconcile")
@click.argument("name")
@click.option("--from", "start", required=True, help="First append day (YYYY-MM-DD).")
@click.option("--to", "end", required=True, help="Last append day (YYYY-MM-DD), inclusive.")
@pass_ctx
def warranty_reconcile(ctx: Ctx, name: str, start: str, end: str) -> None:
    """Reconcile the warranties a participant received and issued over a period.

    Lists accepted transfers to and from NAME appended in the period, with their warranty
    statement and WDC registration id, the goods it produced, and the differences: carats
    warranted out beyond those received warranted or produced in the period (stock bought
    earlier shows here too), and transfers either way that carried no warranty. The rules
    already refuse a warranty on goods whose chain of warranties broke (R-SW-2); this is
    the participant's and the auditor's ledger of it.

    \b
    Example:
      kpledger warranty reconcile "Antwerp Rough" --from 2026-01-01 --to 2026-12-31
    """
    first, last = parse.date(start, "--from"), parse.date(end, "--to")
    if last < first:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    result = ctx.ledger().warranties(name, first, last)
    if ctx.json:
        weights = ("warranted_in", "produced", "warranted_out", "unbacked")
        echo_json({f"{k}_carats" if k in weights else k: v for k, v in result.items()})
    else:
        click.echo(f"{result['participant']}: warranties from {first} to {last}")
        for label, rows in (("received", result["received"]), ("issued", result["issued"])):
            click.echo(f"  {label} ({len(rows)})")
            for r in rows:
                who = r["from"] if label == "received" else r["to"]
                text = f"{r['warranty']} text" if r["warranty"] else "NO WARRANTY"
                wdc = f", WDC {r['wdc']}" if r["wdc"] else ""
                click.echo(
                    f"    #{r['index']:<7} {r['day']}  {who:<24} "
                    f"{r['carats'] / 100:>10.2f} ct  {text}{wdc}"
                )
        click.echo(
            f"  warranted in {result['warranted_in'] / 100:.2f} ct, produced "
            f"{result['produced'] / 100:.2f} ct, warranted out "
            f"{result['warranted_out'] / 100:.2f} ct"
        )
        if result["unbacked"]:
            click.echo(f"  UNBACKED: {result['unbacked'] / 100:.2f} ct warranted beyond the inflow")
        for key, label in (("without_warranty_in", "received"), ("without_warranty_out", "issued")):
            if result[key]:
                click.echo(f"  {len(result[key])} {label} transfer(s) without warranty")


COMMANDS: tuple[click.Command, ...] = (grow, sanction, warranty)
