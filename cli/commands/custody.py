"""Custody of parcels and stones: the entries participants sign as goods move.

``origin`` (a mine registers rough), ``certificate issue`` (a KP authority), ``transfer``
and its answers ``accept``, ``reject`` and ``cancel``, ``split``, ``merge``, ``cut``,
``grade``, ``sell``, and ``submit`` for entries signed offline with ``--out``. Each
command parses its options, asks the ledger for the current state it must reference
(parcel heads, participant names, certificate figures), signs one entry and hands it to
``cli.context.emit``. Whether the move is allowed (mass balance, roles, KP status,
double spends) is the rules engine's to decide, not this module's.
"""

from __future__ import annotations

from typing import Any

import click

import ledger as lg
from cli import parse
from cli.context import (
    Ctx,
    dry_run_option,
    emit,
    entry_options,
    fail_usage,
    now_ms,
    output_option,
    pass_ctx,
    sign,
)
from cli.render import echo_json


@click.command()
@entry_options
@click.option("--parcel", required=True, help="New parcel id.")
@click.option("--carats", required=True, help="Weight in carats (2 decimals).")
@click.option("--stones", required=True, help="Number of stones.")
@click.option("--mine", "site", required=True, help="Mine or site name.")
@click.option("--hs", default="7102.10", type=click.Choice(["7102.10", "7102.21", "7102.31"]))
@pass_ctx
def origin(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    parcel: str,
    carats: str,
    stones: str,
    site: str,
    hs: str,
) -> None:
    """Register a new rough parcel at its mine (mine role; KP participant country).

    \b
    Example:
      kpledger origin --key jwaneng.key --parcel JW-2026-001 --carats 1250.00 --stones 3400 \\
          --mine "Jwaneng pit 3"
    """
    fields = {
        "parcel": parcel,
        "carats": parse.carats(carats, "--carats"),
        "stones": parse.positive_int(stones, "--stones"),
        "mine": site,
        "hs": hs,
    }
    emit(ctx, [sign(ctx, key_file, "origin", fields)], out, checkpoint_key)


@click.group()
def certificate() -> None:
    """Issue KP certificates, and confirm imports (the authorities of both countries).

    \b
    Example:
      kpledger certificate issue --key bw-kp.key --number BW-2026-0001 --parcels JW-1 \\
          --exporter Jwaneng --importer "Antwerp Rough" --value-usd 1640000 --expires +30d
    """


@certificate.command("issue")
@entry_options
@click.option("--number", required=True, help="Unique number starting with the country code.")
@click.option("--parcels", required=True, help="Comma-separated parcel ids of the shipment.")
@click.option("--exporter", required=True, help="Exporting participant (name or key-id prefix).")
@click.option("--importer", required=True, help="Importing participant (name or key-id prefix).")
@click.option("--value-usd", required=True, help="Declared value in US dollars.")
@click.option(
    "--expires", required=True, help="Expiry date YYYY-MM-DD, or +Nd: N days from today (UTC)."
)
@pass_ctx
def certificate_issue(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    number: str,
    parcels: str,
    exporter: str,
    importer: str,
    value_usd: str,
    expires: str,
) -> None:
    """Issue a KP certificate for one shipment; carats, count, HS codes and origins are computed.

    \b
    Example:
      kpledger certificate issue --key bw-kp.key --number BW-2026-0001 --parcels JW-1,JW-2 \\
          --exporter Jwaneng --importer "Antwerp Rough" --value-usd 1640000 --expires +30d
    """
    fields = ctx.ledger().certificate_fields(
        number=number,
        parcels=parse.id_list(parcels, "--parcels"),
        exporter=exporter,
        importer=importer,
        value_usd_cents=parse.money(value_usd, "USD", "--value-usd")["amount"],
        expires=parse.date_or_days(expires, "--expires", lg.date_of(now_ms())),
    )
    emit(ctx, [sign(ctx, key_file, "certificate.issue", fields)], out, checkpoint_key)


@certificate.command("confirm")
@entry_options
@click.argument("number")
@click.option(
    "--carats", help="Weight received, in carats (default: the weight the certificate states)."
)
@pass_ctx
def certificate_confirm(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    number: str,
    carats: str | None,
) -> None:
    """Confirm receipt of an accepted import (the importing country's authority, R-KP-3).

    Binds the certificate, the shipment it travelled under and the received weight; a
    confirmation that contradicts the shipment is refused.

    \b
    Example:
      kpledger certificate confirm BW-2026-0001 --key be-kp.key --carats 1250.00
    """
    cert = ctx.ledger().certificate(number)
    if cert.get("used") is None:
        fail_usage(f"KP certificate {number!r} was not used for a shipment yet")
    fields = {
        "number": number,
        "shipment": cert["used"],
        "carats": parse.carats(carats, "--carats") if carats else cert["carats"],
        "count": len(cert["parcels"]),
    }
    emit(ctx, [sign(ctx, key_file, "certificate.confirm", fields)], out, checkpoint_key)


@click.command()
@entry_options
@click.option("--parcels", required=True, help="Comma-separated parcel or stone ids.")
@click.option("--to", "receiver", required=True, help="Receiver (name or key-id prefix).")
@click.option("--certificate", "number", help="KP certificate number (rough across a border).")
@click.option("--price", nargs=2, metavar="AMOUNT CUR", help="Price, e.g. --price 1250.00 USD.")
@click.option("--warranty", is_flag=True, help="Attach the System of Warranties statement (2021).")
@click.option(
    "--legacy-warranty",
    is_flag=True,
    help="Attach the 2002 statement instead (accepted until 2024-09-30 for rough, "
    "2026-09-30 for other goods).",
)
@click.option("--wdc", metavar="ID", help="The seller's WDC System of Warranties registration id.")
@pass_ctx
def transfer(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    parcels: str,
    receiver: str,
    number: str | None,
    price: tuple[str, str] | None,
    warranty: bool,
    legacy_warranty: bool,
    wdc: str | None,
) -> None:
    """Offer parcels to a receiver; they stay locked until accepted, rejected or cancelled.

    \b
    Example:
      kpledger transfer --key jwaneng.key --parcels JW-1 --to "Antwerp Rough" \\
          --certificate BW-2026-0001 --price 1640000 USD --warranty --wdc WDC-BW-0042
    """
    led = ctx.ledger()
    fields: dict[str, Any] = {
        "to": led.party(receiver)["name"],
        "inputs": [led.input_ref(p) for p in parse.id_list(parcels, "--parcels")],
    }
    if number:
        fields["certificate"] = number
    if price:
        fields["price"] = parse.money(price[0], price[1])
    if warranty and legacy_warranty:
        fail_usage("--warranty and --legacy-warranty exclude each other")
    if warranty or legacy_warranty:
        fields["warranty"] = "2021" if warranty else "2002"
    if wdc:
        if not (warranty or legacy_warranty):
            fail_usage("--wdc names the registration of a warranty: add --warranty")
        fields["wdc"] = wdc
    emit(ctx, [sign(ctx, key_file, "transfer", fields)], out, checkpoint_key)


def _answer(entry_type: str, doc: str) -> click.Command:
    @entry_options
    @click.argument("transfer_id")
    @pass_ctx
    def command(
        ctx: Ctx, key_file: str, out: str | None, checkpoint_key: str | None, transfer_id: str
    ) -> None:
        tid = ctx.ledger().resolve_entry(transfer_id)
        emit(ctx, [sign(ctx, key_file, entry_type, {"transfer": tid})], out, checkpoint_key)

    command.__doc__ = doc
    return click.command(entry_type)(command)


accept = _answer(
    "accept",
    """Accept a transfer offered to you: custody moves to you.

    \b
    Example:
      kpledger accept --key antwerp.key 3fa2c1d0
    """,
)
reject = _answer(
    "reject",
    """Reject a transfer offered to you: the parcels unlock at the sender.

    \b
    Example:
      kpledger reject --key antwerp.key 3fa2c1d0
    """,
)
cancel = _answer(
    "cancel",
    """Cancel your own pending transfer offer.

    \b
    Example:
      kpledger cancel --key jwaneng.key 3fa2c1d0
    """,
)


@click.command()
@entry_options
@click.option("--parcel", required=True, help="The parcel to split.")
@click.option("--into", required=True, help="Outputs ID:CARATS[:STONES],...")
@pass_ctx
def split(
    ctx: Ctx, key_file: str, out: str | None, checkpoint_key: str | None, parcel: str, into: str
) -> None:
    """Split a parcel; outputs never weigh more than the input.

    \b
    Example:
      kpledger split --key antwerp.key --parcel JW-1 --into JW-1a:600:1700,JW-1b:649.5:1700
    """
    fields = {
        "input": ctx.ledger().input_ref(parcel),
        "outputs": parse.outputs(into, "--into"),
    }
    emit(ctx, [sign(ctx, key_file, "split", fields)], out, checkpoint_key)


@click.command()
@entry_options
@click.option("--parcels", required=True, help="Parcels to merge.")
@click.option("--into", required=True, help="New parcel id (or ID:CARATS to declare a loss).")
@pass_ctx
def merge(
    ctx: Ctx, key_file: str, out: str | None, checkpoint_key: str | None, parcels: str, into: str
) -> None:
    """Merge parcels into one; origin shares are mass-weighted, may-contain is the union.

    \b
    Example:
      kpledger merge --key dubai.key --parcels JW-1a,DV-7 --into DXB-MIX-1
    """
    led = ctx.ledger()
    ids = parse.id_list(parcels, "--parcels")
    inputs = [led.input_ref(p) for p in ids]
    if ":" in into:
        output = parse.outputs(into, "--into")[0]
    else:
        output = {"parcel": into, "carats": sum(led.parcel(p)["carats"] for p in ids)}
    emit(
        ctx,
        [sign(ctx, key_file, "merge", {"inputs": inputs, "output": output})],
        out,
        checkpoint_key,
    )


@click.command()
@entry_options
@click.option("--parcels", required=True, help="Rough parcels to cut.")
@click.option("--into", required=True, help="Polished stones STONE:CARATS,...")
@click.option("--byproduct", help="By-products ID:CARATS,...")
@pass_ctx
def cut(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    parcels: str,
    into: str,
    byproduct: str | None,
) -> None:
    """Cut rough into polished stones (cutter role); a yield outside 15-70% is flagged.

    \b
    Example:
      kpledger cut --key surat.key --parcels SUR-1 --into ST-001:1.02,ST-002:0.71 \\
          --byproduct SUR-1-chips:0.30
    """
    led = ctx.ledger()
    fields: dict[str, Any] = {
        "inputs": [led.input_ref(p) for p in parse.id_list(parcels, "--parcels")],
        "stones": parse.outputs(into, "--into", stones=False),
    }
    if byproduct:
        fields["byproducts"] = parse.outputs(byproduct, "--byproduct")
    emit(ctx, [sign(ctx, key_file, "cut", fields)], out, checkpoint_key)


@click.command()
@entry_options
@click.option("--stone", required=True, help="The polished stone.")
@click.option("--report", required=True, help="Grading report number.")
@click.option("--carats", help="Graded weight, if re-weighed.")
@pass_ctx
def grade(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    stone: str,
    report: str,
    carats: str | None,
) -> None:
    """Record a grading report for a stone you hold (grader role).

    \b
    Example:
      kpledger grade --key lab.key --stone ST-001 --report GIA-2231457
    """
    fields: dict[str, Any] = {"input": ctx.ledger().input_ref(stone), "report": report}
    if carats:
        fields["carats"] = parse.carats(carats, "--carats")
    emit(ctx, [sign(ctx, key_file, "grade", fields)], out, checkpoint_key)


@click.command()
@entry_options
@click.option("--stone", required=True, help="The polished stone sold.")
@click.option("--price", nargs=2, metavar="AMOUNT CUR", help="Sale price.")
@pass_ctx
def sell(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    stone: str,
    price: tuple[str, str] | None,
) -> None:
    """Record a retail sale (retailer role); the stone's custody chain ends here.

    \b
    Example:
      kpledger sell --key ny-retail.key --stone ST-001 --price 6400.00 USD
    """
    fields: dict[str, Any] = {"input": ctx.ledger().input_ref(stone)}
    if price:
        fields["price"] = parse.money(price[0], price[1])
    emit(ctx, [sign(ctx, key_file, "sell", fields)], out, checkpoint_key)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--checkpoint-key", type=click.Path(dir_okay=False), help="Also sign a checkpoint.")
@dry_run_option
@pass_ctx
def submit(ctx: Ctx, files: tuple[str, ...], checkpoint_key: str | None) -> None:
    """Append entries signed offline with --out (all in one transaction).

    The openings the files carry (values and salts of committed prices) are kept by this
    party (the ledger file, or --openings FILE with a node); they never go to the log.

    \b
    Example:
      kpledger transfer --key offline/trader.key --parcels P1 --to Surat --out t.kpe
      kpledger submit t.kpe
    """
    openings: list[lg.Opening] = []
    entries = [e for f in files for e in lg.read_entry_file(f, openings=openings)]
    # The file's openings (value and salt of its committed prices) stay with this party:
    # a ledger file keeps them beside the log, a node never receives them.
    ctx.ledger().hold(openings)
    emit(ctx, entries, None, checkpoint_key)


@click.group("context")
def context_cmd() -> None:
    """Context files: sign offline, with every rule checked, without the ledger.

    \b
    Example (networked machine, then the offline one):
      kpledger context export -o antwerp.kpctx --for "Antwerp Rough"
      kpledger --ledger antwerp.kpctx transfer --key offline/antwerp.key \\
          --parcels P1 --to Surat --out t.kpe
      kpledger submit t.kpe
    """


@context_cmd.command("export")
@output_option("Context file")
@click.option(
    "--for",
    "holder",
    help="Keep only this participant's parcels and transfers (a small file for its signer).",
)
@pass_ctx
def context_export(ctx: Ctx, output: str, holder: str | None) -> None:
    """Write the ledger's current state for an offline signer (a context file).

    Open it with --ledger on the machine that holds the key: commands read names,
    parcels and offers from it and check every rule before they write --out; it
    cannot be appended to, verified or checkpointed. 'submit' checks it all again.

    \b
    Example:
      kpledger context export -o antwerp.kpctx --for "Antwerp Rough"
    """
    if output == "-":
        raise lg.UsageError("a context file is a SQLite file: give -o FILE")
    info = ctx.ledger_file("context export").export_context(output, holder, now=now_ms())
    if ctx.json:
        echo_json({**info, "file": output})
    else:
        ctx.info(
            f"wrote {output} ({info['bytes']} bytes: the state after record "
            f"{info['size'] - 1}"
            + (f", {info['parcels']} parcels of {holder}" if holder else "")
            + ")"
        )


@click.group()
def openings() -> None:
    """The openings you keep: values and salts of your committed prices and values.

    Prices and declared values are on the log only as salted commitments
    (specs/disclosure.md). Whoever signed one keeps its opening; hand it to a counterparty
    (or a KP authority) with 'openings export', who keeps it with 'openings import'.

    \b
    Example:
      kpledger openings export 3fa2c1d0 -o price.kpe
      kpledger openings import price.kpe
    """


@openings.command("list")
@pass_ctx
def openings_list(ctx: Ctx) -> None:
    """List the openings you keep (field, commitment, value).

    \b
    Example:
      kpledger openings list
      kpledger --ledger https://kp.example.org --openings mine.db openings list
    """
    keeper = ctx.openings()
    held = keeper.all() if keeper is not None else []
    if ctx.json:
        echo_json([{**o.to_json(), "commitment": o.commitment().hex()} for o in held])
        return
    for o in held:
        v = o.value
        click.echo(
            f"{o.commitment().hex()[:16]}  {o.field:<24} {v['amount'] / 100:,.2f} {v['currency']}"
        )
    ctx.info(f"{len(held)} opening(s) kept")


@openings.command("export")
@click.argument("entries", nargs=-1)
@click.option("--certificate", "numbers", multiple=True, help="A KP certificate number.")
@click.option(
    "--out", "-o", "output", required=True, type=click.Path(dir_okay=False), help="New file."
)
@pass_ctx
def openings_export(
    ctx: Ctx, entries: tuple[str, ...], numbers: tuple[str, ...], output: str
) -> None:
    """Write entries and the openings you hold of their commitments to a new entry file.

    Give it to the counterparty of a sale, or to the KP authority that confirms a
    certificate (--certificate), who keeps the openings with 'openings import'.

    \b
    Example:
      kpledger openings export --certificate BW-2026-0001 -o cert.kpe
    """
    led = ctx.ledger()
    ids = [led.resolve_entry(e) for e in entries]
    ids += [bytes(led.certificate(n)["id"]) for n in numbers]
    if not ids:
        fail_usage("name at least one entry id or --certificate")
    signed = [led.entry(eid)[1] for eid in dict.fromkeys(ids)]
    keeper = ctx.openings()
    chosen = [c for e in signed for _, c in lg.entry_commitments(e)]
    held = keeper.get(chosen) if keeper is not None else []
    if not held:
        fail_usage("you hold no opening of these entries' commitments")
    lg.write_entry_file(output, signed, held)
    if ctx.json:
        echo_json({"file": output, "entries": len(signed), "openings": len(held)})
    else:
        ctx.info(f"wrote {len(signed)} entr(ies) and {len(held)} opening(s) to {output}")


@openings.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@pass_ctx
def openings_import(ctx: Ctx, files: tuple[str, ...]) -> None:
    """Keep the openings of entry files (each checked against its entry's commitment).

    \b
    Example:
      kpledger openings import cert.kpe
    """
    got: list[lg.Opening] = []
    for f in files:
        lg.read_entry_file(f, openings=got)
    if not got:
        fail_usage("the files carry no openings")
    keeper = ctx.openings(required=True)
    assert keeper is not None  # noqa: S101 - required=True raises instead
    keeper.add(got)
    if ctx.json:
        echo_json({"openings": len(got)})
    else:
        ctx.info(f"kept {len(got)} opening(s)")


COMMANDS: tuple[click.Command, ...] = (
    origin,
    certificate,
    transfer,
    accept,
    reject,
    cancel,
    split,
    merge,
    cut,
    grade,
    sell,
    submit,
    context_cmd,
    openings,
)
