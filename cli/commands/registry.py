"""The operator's registry: ``init``, ``participant`` and ``kp-status``.

Creating a ledger, admitting, revoking and rotating participants, and recording each
country's Kimberley Process status. Every change is a signed entry made through
``cli.context.emit``; who may make it (the operator only) is the rules engine's to check,
not this module's.
"""

from __future__ import annotations

from typing import Any

import click

import ledger as lg
from cli import parse
from cli.context import (
    Ctx,
    emit,
    entry_options,
    fail_usage,
    is_url,
    load_key,
    now_ms,
    pass_ctx,
    sign,
)
from cli.render import echo_json


@click.command()
@click.option("--key", "key_file", required=True, help="The operator's private key.")
@click.option("--origin", required=True, help="Log origin, e.g. kp.example.org/ledger.")
@pass_ctx
def init(ctx: Ctx, key_file: str, origin: str) -> None:
    """Create a ledger whose genesis entry names the operator key and origin.

    \b
    Example:
      kpledger --ledger kp.db init --key keys/operator.key --origin kp.example.org/ledger
    """
    if is_url(ctx.ledger_path):
        fail_usage("init creates a local ledger file; a node serves one (kpledger serve)")
    k = load_key(ctx, key_file)
    led = lg.Ledger.create(ctx.ledger_path, k, origin, now=now_ms())
    if ctx.json:
        echo_json({"ledger": ctx.ledger_path, "origin": origin, "operator": k.kid.hex()})
    else:
        click.echo(f"created {ctx.ledger_path} for {origin}")
    led.close()


@click.group()
def participant() -> None:
    """Register, revoke, rotate and list participants (operator only for changes).

    \b
    Example:
      kpledger participant add --key operator.key --pub jwaneng.pub --name Jwaneng \\
          --role mine --country BW
    """


@participant.command("add")
@entry_options
@click.option("--pub", "pubfile", required=True, help="The participant's NAME.pub file.")
@click.option("--name", required=True, help="Unique participant name.")
@click.option("--role", "roles", required=True, help="Comma-separated roles.")
@click.option("--country", required=True, help="ISO 3166-1 alpha-2 country code.")
@pass_ctx
def participant_add(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    pubfile: str,
    name: str,
    roles: str,
    country: str,
) -> None:
    """Register a participant with roles and a country.

    Roles: authority, mine, trader, cutter, grader, retailer.

    \b
    Example:
      kpledger participant add --key operator.key --pub bw-kp.pub --name "BW KP Authority" \\
          --role authority --country BW
    """
    _, public = lg.load_public(pubfile)
    fields = {
        "name": name,
        "pub": public,
        "roles": parse.roles(roles),
        "country": parse.country(country),
    }
    emit(ctx, [sign(ctx, key_file, "participant.add", fields)], out, checkpoint_key)


@participant.command("revoke")
@entry_options
@click.argument("name")
@click.option("--reason", help="Why (kept in the entry).")
@pass_ctx
def participant_revoke(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    name: str,
    reason: str | None,
) -> None:
    """Revoke a participant's key: its later entries are rejected.

    \b
    Example:
      kpledger participant revoke --key operator.key "Shady Trading" --reason "key lost"
    """
    fields: dict[str, Any] = {"name": ctx.ledger().party(name)["name"]}
    if reason:
        fields["reason"] = reason
    emit(ctx, [sign(ctx, key_file, "participant.revoke", fields)], out, checkpoint_key)


@participant.command("rotate")
@entry_options
@click.argument("name")
@click.option("--pub", "pubfile", required=True, help="The new NAME.pub file.")
@click.option("--old-key", required=True, help="The participant's current private key (co-signs).")
@pass_ctx
def participant_rotate(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    name: str,
    pubfile: str,
    old_key: str,
) -> None:
    """Replace a participant's key (signed by the operator and the old key).

    \b
    Example:
      kpledger participant rotate --key operator.key Jwaneng --pub jwaneng2.pub \\
          --old-key jwaneng.key
    """
    _, public = lg.load_public(pubfile)
    fields = {"name": ctx.ledger().party(name)["name"], "pub": public}
    old = load_key(ctx, old_key)
    emit(
        ctx,
        [sign(ctx, key_file, "participant.rotate", fields, cosigners=[old])],
        out,
        checkpoint_key,
    )


@participant.command("list")
@pass_ctx
def participant_list(ctx: Ctx) -> None:
    """List participants with roles, country and key id.

    \b
    Example:
      kpledger --json participant list
    """
    parties = ctx.ledger().participants()
    if ctx.json:
        echo_json(
            [
                {
                    "name": p["name"],
                    "roles": p["roles"],
                    "country": p["country"],
                    "key_id": p["kid"].hex(),
                    "revoked_at": p["revoked"],
                }
                for p in parties
            ]
        )
        return
    for p in parties:
        state = f"  REVOKED at record {p['revoked']}" if p["revoked"] is not None else ""
        click.echo(
            f"{p['name']:<24} {p['country']:<3} {','.join(p['roles']):<20} "
            f"{p['kid'].hex()[:16]}{state}"
        )


@click.group("kp-status")
def kp_status() -> None:
    """Record and list each country's KP participation over time.

    \b
    Example:
      kpledger kp-status set --key operator.key --country CF --status suspended --from 2013-05-23
    """


@kp_status.command("set")
@entry_options
@click.option("--country", required=True, help="ISO alpha-2 code.")
@click.option(
    "--status", required=True, type=click.Choice(["participant", "suspended", "withdrawn"])
)
@click.option("--from", "start", required=True, help="First day the status applies (YYYY-MM-DD).")
@pass_ctx
def kp_status_set(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    country: str,
    status: str,
    start: str,
) -> None:
    """Set a country's KP status from a date on (operator only).

    \b
    Example:
      kpledger kp-status set --key operator.key --country BW --status participant --from 2003-01-01
    """
    fields = {
        "country": parse.country(country),
        "status": status,
        "from": parse.date(start, "--from"),
    }
    emit(ctx, [sign(ctx, key_file, "kp-status.set", fields)], out, checkpoint_key)


@kp_status.command("list")
@pass_ctx
def kp_status_list(ctx: Ctx) -> None:
    """List every country's status periods.

    \b
    Example:
      kpledger kp-status list
    """
    statuses = ctx.ledger().kp_statuses()
    if ctx.json:
        echo_json(statuses)
        return
    for cc, periods in sorted(statuses.items()):
        click.echo(f"{cc}: " + "; ".join(f"{s} from {d}" for d, s in periods))


COMMANDS: tuple[click.Command, ...] = (init, participant, kp_status)
